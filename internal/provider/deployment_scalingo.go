package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/deploy"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
	"github.com/releaseplan/terraform-provider-release/internal/target"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

// deploymentScalingoModel is release_deployment's scalingo { } target block.
type deploymentScalingoModel struct {
	App                types.String `tfsdk:"app"`
	SourceURLFromStore types.Bool   `tfsdk:"source_url_from_store"`
	Variables          types.Map    `tfsdk:"variables"`
	SensitiveVariables types.Map    `tfsdk:"sensitive_variables"`
	OneOff             types.List   `tfsdk:"one_off"`
	OneOffTimeout      types.String `tfsdk:"one_off_timeout"`
	OneOffSize         types.String `tfsdk:"one_off_size"`
}

// newScalingoModel is the block of an imported deployment of app: only what
// the app says; variables and one-offs come from the configuration.
func newScalingoModel(app string) *deploymentScalingoModel {
	return &deploymentScalingoModel{
		App: types.StringValue(app), SourceURLFromStore: types.BoolValue(false),
		Variables: types.MapNull(types.StringType), SensitiveVariables: types.MapNull(types.StringType),
		OneOff: types.ListNull(types.StringType), OneOffTimeout: types.StringNull(), OneOffSize: types.StringNull(),
	}
}

// defaultOneOffTimeout bounds each one-off command when one_off_timeout is not set.
const defaultOneOffTimeout = 10 * time.Minute

var scalingoVariableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// deploymentScalingoBlock is the schema of release_deployment's scalingo block.
func deploymentScalingoBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Deploy to a Scalingo app: the verified bytes are uploaded as a source archive and deployed with " +
			"`git_ref` = version; the apply waits until the deployment ends (`timeouts`). Scalingo needs a tar.gz with one top-level " +
			"folder (a flat archive is wrapped in one while it is prepared) of at most 300 MiB, and a version usable as an image tag " +
			"(no leading `-`, no `+`): both are refused before anything changes. A failed build leaves the previous " +
			"containers running. The live version is the `git_ref` of the app's last successful deployment, so a deploy made " +
			"by hand shows as drift. Rollback deploys the previous version's artifact again. Requests share a budget of 60 per minute " +
			"(Scalingo's rate limit) across the run. Needs the provider's `scalingo` block.",
		Attributes: map[string]schema.Attribute{
			"app": schema.StringAttribute{
				MarkdownDescription: "Scalingo app name.",
				Optional:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"source_url_from_store": schema.BoolAttribute{
				MarkdownDescription: "Give Scalingo the artifact's own URL instead of uploading the bytes: Scalingo's build machines download it, so it must be reachable from the internet without credentials in the URL (loopback and private addresses are refused at plan time), and the archive must already hold one top-level folder. The bytes are still read and verified first. Default `false`.",
				Optional:            true, Computed: true, Default: booldefault.StaticBool(false),
			},
			"variables": schema.MapAttribute{
				ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Environment variables set on the app with the deployment, before it starts (one request), so that the new containers start with them; " +
					"put back as they were when the deployment fails or is rolled back. Variables not named here are left alone. Refresh reads the named ones back: " +
					"one changed by hand shows in the next plan. A change redeploys the version.",
			},
			"sensitive_variables": schema.MapAttribute{
				ElementType: types.StringType, Optional: true, Sensitive: true,
				MarkdownDescription: "Like `variables`, for secrets: the plan shows their names only, and values are never logged.",
			},
			"one_off": schema.ListAttribute{
				ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Commands run after a successful deployment (and its smoke test), in order, each in an attached one-off container as `scalingo run` does " +
					"(e.g. `php bin/console app:migrate-signalements`). A non-zero exit fails the apply with the command's last output lines; with `rollback_on_failure` the previous version is deployed again.",
			},
			"one_off_timeout": schema.StringAttribute{
				Optional: true, Validators: []validator.String{validate.Duration()},
				MarkdownDescription: "How long each one-off command may run, e.g. `30m`. Default `10m`. Scalingo also stops an attached one-off that sends no output for too long.",
			},
			"one_off_size": schema.StringAttribute{
				Optional: true, Validators: []validator.String{stringvalidator.OneOf("S", "M", "L", "XL", "2XL")},
				MarkdownDescription: "Container size of the one-off commands (`S`, `M`, `L`, `XL`, `2XL`). Default: Scalingo's.",
			},
		},
	}
}

// scalingoDeploymentTarget builds the Scalingo target for artifact name; the key is
// "scalingo:<app>".
func (d *providerData) scalingoDeploymentTarget(ctx context.Context, m *deploymentScalingoModel, name string) (target.Target, string, diag.Diagnostics) {
	var diags diag.Diagnostics
	if m.App.IsUnknown() || m.App.IsNull() {
		return nil, "", diags
	}
	c, err := d.scalingoClient(ctx)
	if err != nil {
		diags.AddAttributeError(path.Root("scalingo"), "Unable to use the Scalingo target", err.Error()+".")
		return nil, "", diags
	}
	vars, _ := m.variables(ctx, &diags)
	t := &target.Scalingo{
		Client: c, App: m.App.ValueString(), Name: name, Store: d.Store,
		SourceURLFromStore: m.SourceURLFromStore.ValueBool(),
		PollInterval:       scalingoPollInterval,
		Variables:          vars,
		OneOffSize:         m.OneOffSize.ValueString(),
		OneOffTimeout:      m.oneOffTimeout(),
	}
	return t, "scalingo:" + t.App, diags
}

func (m *deploymentScalingoModel) oneOffTimeout() time.Duration {
	if m.OneOffTimeout.IsNull() || m.OneOffTimeout.IsUnknown() {
		return defaultOneOffTimeout
	}
	return validate.ParseDuration(m.OneOffTimeout.ValueString())
}

// variables merges variables and sensitive_variables; known is false while
// either is unknown. A name in both, or not a variable name, is an error.
func (m *deploymentScalingoModel) variables(ctx context.Context, diags *diag.Diagnostics) (map[string]string, bool) {
	out := map[string]string{}
	known := true
	for _, src := range []struct {
		v    types.Map
		attr string
	}{{m.Variables, "variables"}, {m.SensitiveVariables, "sensitive_variables"}} {
		if src.v.IsUnknown() || !mapKnown(src.v) {
			known = false
			continue
		}
		vals := map[string]string{}
		diags.Append(src.v.ElementsAs(ctx, &vals, false)...)
		for k, v := range vals {
			at := path.Root("scalingo").AtName(src.attr)
			switch _, dup := out[k]; {
			case dup:
				diags.AddAttributeError(at, "Invalid Scalingo variables", fmt.Sprintf("%s is in both variables and sensitive_variables: name it in one only.", k))
			case !scalingoVariableName.MatchString(k):
				diags.AddAttributeError(at, "Invalid Scalingo variables", fmt.Sprintf("%q is not a variable name Scalingo accepts: letters, digits and underscores, not starting with a digit.", k))
			}
			out[k] = v
		}
	}
	return out, known
}

// scalingoFacts adds to f what the scalingo block changes in the steps: the
// variable names, the one-offs. known is false while one of them is unknown.
func (m *deploymentScalingoModel) scalingoFacts(ctx context.Context, f *deploy.Facts, tgt target.Target, diags *diag.Diagnostics) bool {
	f.Build = &deploy.Build{FromStoreURL: m.SourceURLFromStore.ValueBool()}
	known := !m.SourceURLFromStore.IsUnknown() && !m.OneOffTimeout.IsUnknown() && !m.OneOffSize.IsUnknown()
	var names []string
	for _, src := range []struct {
		v      types.Map
		suffix string
	}{{m.Variables, ""}, {m.SensitiveVariables, " (sensitive value)"}} {
		if src.v.IsUnknown() {
			known = false
			continue
		}
		for k := range src.v.Elements() {
			names = append(names, k+src.suffix)
		}
	}
	sort.Strings(names)
	f.Build.Variables = names
	known = knownStrings(ctx, m.OneOff, &f.OneOffs, diags) && known
	if len(f.OneOffs) > 0 {
		size := ""
		if !m.OneOffSize.IsNull() {
			size = " of size " + m.OneOffSize.ValueString()
		}
		f.OneOffWhere = fmt.Sprintf("in attached one-off containers%s of %s, each within %s", size, tgt.Describe(), m.oneOffTimeout())
	}
	return known
}

// oneOffRunner is a target that runs one-off commands.
type oneOffRunner interface {
	RunOneOff(ctx context.Context, command string) error
}

// scalingoOneOff is the deploy.Request.OneOff of a Scalingo target.
func scalingoOneOff(tgt target.Target) func(context.Context, string) error {
	if r, ok := tgt.(oneOffRunner); ok {
		return r.RunOneOff
	}
	return nil
}

// redeploysForVariables tells whether the variables changed since the state:
// setting them goes with a deployment.
func (m *deploymentScalingoModel) redeploysForVariables(state *deploymentScalingoModel) bool {
	if m == nil || state == nil {
		return false
	}
	return !m.Variables.Equal(state.Variables) || !m.SensitiveVariables.Equal(state.SensitiveVariables)
}

// checkPlan refuses at plan time what Scalingo would refuse at apply: a version
// that cannot be a git_ref, and with source_url_from_store a store URL its
// build machines cannot download.
func (m *deploymentScalingoModel) checkPlan(ctx context.Context, d *providerData, name, version string, diags *diag.Diagnostics) {
	if version == "" {
		return
	}
	if err := scalingo.ValidGitRef(version); err != nil {
		diags.AddAttributeError(path.Root("artifact"), "Version not deployable to Scalingo", err.Error()+".")
		return
	}
	if !m.SourceURLFromStore.ValueBool() || d.Store == nil {
		return
	}
	obj, err := d.Store.Stat(ctx, name, version)
	if err != nil {
		return // published by this apply, or missing: the apply says so
	}
	if err := scalingo.CheckSourceURL(ctx, obj.URI); err != nil {
		diags.AddAttributeError(path.Root("scalingo").AtName("source_url_from_store"), "Artifact URL unreachable from Scalingo",
			fmt.Sprintf("%s@%s: %v.", name, version, err))
	}
}

// scalingoBackup takes a manual backup of the app's database addon (id or provider
// name such as "postgresql") and waits until it is done; it returns the backup id.
func (d *providerData) scalingoBackup(ctx context.Context, app, addon string) (string, error) {
	c, err := d.scalingoClient(ctx)
	if err != nil {
		return "", err
	}
	tflog.Info(ctx, "taking a Scalingo database backup", map[string]any{"app": app, "addon": addon})
	b, err := c.BackupDatabase(ctx, app, addon, scalingoPollInterval)
	if err != nil {
		return "", err
	}
	tflog.Info(ctx, "Scalingo database backup done", map[string]any{"app": app, "backup": b.ID, "bytes": b.Size, "took": time.Since(b.CreatedAt).Round(time.Second).String()})
	return b.ID, nil
}

// observeVariables makes the state's variables say what the app has now, for
// the names the configuration sets: one changed or deleted by hand shows in
// the next plan, and the apply sets it again with a deployment.
func (m *deploymentScalingoModel) observeVariables(ctx context.Context, tgt target.Target, diags *diag.Diagnostics) {
	s, ok := tgt.(*target.Scalingo)
	if m == nil || !ok || len(m.Variables.Elements())+len(m.SensitiveVariables.Elements()) == 0 {
		return
	}
	vs, err := s.Client.VariablesList(ctx, s.App)
	if err != nil {
		diags.AddWarning("Unable to read the variables of Scalingo app "+s.App, err.Error()+". The variables are compared again by the next refresh.")
		return
	}
	m.Variables = observedVariables(m.Variables, vs)
	m.SensitiveVariables = observedVariables(m.SensitiveVariables, vs)
}

// observedVariables is m with the app's values; a variable the app no longer
// has is left out.
func observedVariables(m types.Map, vs scalingo.Variables) types.Map {
	if m.IsNull() || m.IsUnknown() {
		return m
	}
	out := map[string]attr.Value{}
	for k := range m.Elements() {
		if cur := vs.Get(k); cur != nil {
			out[k] = types.StringValue(cur.Value)
		}
	}
	return types.MapValueMust(types.StringType, out)
}

func mapKnown(m types.Map) bool {
	for _, v := range m.Elements() {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}
