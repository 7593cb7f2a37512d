package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/freeze"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

// freezeOverrideAttribute is the freeze_override attribute of the types that
// release into an environment (deployments and promotions).
func freezeOverrideAttribute(what string) schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "Let this " + what + " through a `release_freeze` window: the ticket and the reason, e.g. `INC-4711 invoice hotfix`. " +
			"The plan shows it; the apply records it in the history (`freeze_overridden`, with the actor and the windows it went through). " +
			"Without it, a " + what + " into a frozen environment is refused at plan time and again at apply time.",
		Optional:   true,
		Validators: []validator.String{validate.NotBlank("Empty freeze_override", "Say which ticket and why the freeze is overridden, e.g. \"INC-4711 invoice hotfix\", or remove freeze_override.")},
	}
}

// planFreeze is the plan's view of the freezes of env, now: an error on
// diags when env is frozen and override is not set (with the reason and when
// it ends), a warning that the override lets it through when it is, and a
// warning announcing the next window when it starts within freeze.Lookahead.
// The apply checks again (deploy.StepFreeze, promotions): a window may start
// between the plan and the apply.
func (d *providerData) planFreeze(ctx context.Context, env string, override types.String, summary string, diags *diag.Diagnostics) {
	st, err := freeze.Check(ctx, d.Backend, env, time.Now())
	if err != nil {
		diags.AddError(summary, sentenceCase(err.Error())+". Nothing will be changed.")
		return
	}
	if ferr := st.Err(); ferr != nil {
		switch {
		case override.IsUnknown():
			diags.AddWarning(env+" is frozen", ferr.Error()+". freeze_override is not known yet: the apply refuses unless it lets the change through.")
		case override.IsNull():
			diags.AddAttributeError(path.Root("freeze_override"), summary,
				ferr.Error()+". Nothing will be changed. Release after the freeze, or set freeze_override = \"<ticket: why>\" to release anyway (the override is recorded in the history).")
		default:
			diags.AddWarning("Releasing into frozen "+env+" (freeze_override)",
				fmt.Sprintf("%v. freeze_override = %q lets this change through; the apply records the override, its text and the actor in the history.", ferr, override.ValueString()))
		}
		return
	}
	if next := st.NextWithin(freeze.Lookahead); next != nil {
		diags.AddWarning("Next freeze of "+env+" in "+freeze.Human(next.Start.Sub(st.At)),
			fmt.Sprintf("%s is not frozen now; its next freeze window is %s. An apply after %s is refused.", env, next, freeze.Stamp(next.Start)))
	}
}
