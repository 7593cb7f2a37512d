package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/deploy"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// ModifyPlan makes the plan the approval: it shows the live version that will be
// replaced, the version and sha256 that go live, whether the release folder is
// reused, and every step; it refuses at plan time what apply would refuse.
func (r *deploymentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan deploymentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *deploymentResourceModel
	if !req.State.Raw.IsNull() {
		state = &deploymentResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	tgt, key, diags := deploymentTarget(ctx, r.data, &plan)
	resp.Diagnostics.Append(diags...)
	if tgt == nil || resp.Diagnostics.HasError() {
		return
	}
	if !plan.Environment.IsUnknown() {
		plan.ID = types.StringValue(deploymentID(plan.Environment.ValueString(), key))
	}
	name, version, known := plan.nameVersion()
	var wo types.Int64
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("lock_token_wo"), &wo)...)

	var cfgSHA types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("sha256"), &cfgSHA)...)
	if cfgSHA.IsNull() && known {
		obj, err := r.data.Store.Stat(ctx, name, version)
		switch {
		case err == nil:
			plan.SHA256 = types.StringValue(obj.SHA256)
		case errors.Is(err, store.ErrNotFound) && state != nil && plan.Artifact.Equal(state.Artifact):
			// Deleted from the store since: what is deployed does not change.
			plan.SHA256 = state.SHA256
		case errors.Is(err, store.ErrNotFound):
			// Published by this same apply (or missing: apply says so).
			plan.SHA256 = types.StringUnknown()
		default:
			resp.Diagnostics.AddAttributeError(path.Root("artifact"), "Unable to read the artifact store", err.Error())
			return
		}
	} else if !cfgSHA.IsNull() && !cfgSHA.IsUnknown() {
		plan.SHA256 = types.StringValue(strings.ToLower(cfgSHA.ValueString()))
	}

	changing := state == nil || !known || plan.SHA256.IsUnknown() ||
		!plan.Artifact.Equal(state.Artifact) || !plan.SHA256.Equal(state.SHA256) || !plan.ID.Equal(state.ID)
	if !changing {
		// Only settings change: nothing is deployed, the computed values stay.
		plan.DeployedVersion, plan.PreviousVersion, plan.DeployedAt = state.DeployedVersion, state.PreviousVersion, state.DeployedAt
		plan.ReleaseID, plan.BackupID, plan.PlannedSteps = state.ReleaseID, state.BackupID, state.PlannedSteps
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}

	live, err := tgt.Current(ctx)
	if err != nil {
		resp.Diagnostics.AddAttributeError(plan.targetPath(), "Unable to read the deployment target", fmt.Sprintf("%s: %v. Fix the target, then plan again.", tgt.Describe(), err))
		return
	}
	plan.DeployedAt, plan.ReleaseID = types.StringUnknown(), types.StringUnknown()
	plan.PreviousVersion = types.StringNull()
	if live != nil {
		plan.PreviousVersion = types.StringValue(live.Version)
	}
	plan.BackupID = types.StringNull()
	if plan.Backup != nil {
		plan.BackupID = types.StringUnknown()
	}
	plan.DeployedVersion = types.StringUnknown()
	if known {
		plan.DeployedVersion = types.StringValue(version)
		resp.Diagnostics.Append(r.planRefusals(ctx, &plan, wo, name, version)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	steps := types.ListUnknown(types.StringType)
	if known && !plan.SHA256.IsUnknown() && !plan.Environment.IsUnknown() {
		var reuse *target.Prepared
		if p, err := tgt.Find(ctx, target.Spec{Name: name, Version: version, SHA256: plan.SHA256.ValueString()}); err == nil {
			reuse = p
		}
		s, d := types.ListValueFrom(ctx, types.StringType, plannedSteps(ctx, &plan, wo, tgt, live, reuse))
		resp.Diagnostics.Append(d...)
		steps = s
	}
	plan.PlannedSteps = steps
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// planRefusals reports at plan time a blocked version and a stale lock token.
func (r *deploymentResource) planRefusals(ctx context.Context, plan *deploymentResourceModel, wo types.Int64, name, version string) diag.Diagnostics {
	var diags diag.Diagnostics
	if plan.Environment.IsUnknown() {
		return diags
	}
	env := plan.Environment.ValueString()
	summary := "Unable to deploy " + name + "@" + version + " to " + env
	if b, err := r.data.Backend.GetBlock(ctx, name, version); err != nil {
		diags.AddWarning("Unable to check version blocks", err.Error())
	} else if b != nil {
		if !plan.AllowBlocked.ValueBool() {
			diags.AddAttributeError(path.Root("artifact"), summary,
				fmt.Sprintf("%s@%s is blocked: %s. Deploy another version, remove the release_version_block, or set allow_blocked = true to override it.", name, version, b.Reason))
		} else {
			diags.AddWarning("Deploying a blocked version", fmt.Sprintf("%s@%s is blocked (%s); allow_blocked = true overrides the block.", name, version, b.Reason))
		}
	}
	for attr, token := range map[string]types.Int64{"lock_token": plan.LockToken, "lock_token_wo": wo} {
		if token.IsNull() || token.IsUnknown() {
			continue
		}
		if err := backend.CheckToken(ctx, r.data.Backend, env, token.ValueInt64()); err != nil {
			diags.AddAttributeError(path.Root(attr), summary,
				fmt.Sprintf("The deployment would be refused: %v. Acquire the environment lock again and plan with its new token.", err))
		}
	}
	return diags
}

func plannedSteps(ctx context.Context, m *deploymentResourceModel, wo types.Int64, tgt target.Target, live *target.Release, reuse *target.Prepared) []string {
	name, version, _ := m.nameVersion()
	id := name + "@" + version
	var steps []string
	switch {
	case m.LockToken.IsUnknown():
		// The lock is acquired in the same apply: its token is only known then.
		steps = append(steps, fmt.Sprintf("check that the token of the lock acquired by this apply is still the lock of %s", m.Environment.ValueString()))
	case !m.LockToken.IsNull():
		steps = append(steps, fmt.Sprintf("check that lock token %d is still the lock of %s", m.LockToken.ValueInt64(), m.Environment.ValueString()))
	case !wo.IsNull():
		// A run lock is acquired again by the apply: its token is only known then.
		steps = append(steps, fmt.Sprintf("check that the run's lock token (lock_token_wo) is still the lock of %s", m.Environment.ValueString()))
	}
	if m.AllowBlocked.ValueBool() {
		steps = append(steps, "deploy "+id+" even if it is blocked (allow_blocked)")
	} else {
		steps = append(steps, "refuse "+id+" if it is blocked")
	}
	switch {
	case reuse != nil:
		steps = append(steps, fmt.Sprintf("reuse release %s on %s (same sha256 %s, nothing downloaded)", reuse.Release.ID, tgt.Describe(), m.SHA256.ValueString()))
	case m.Scalingo != nil:
		steps = append(steps, fmt.Sprintf("read %s from the artifact store, verifying sha256 %s before anything goes to %s", id, m.SHA256.ValueString(), tgt.Describe()))
	default:
		steps = append(steps, fmt.Sprintf("stream %s into a new release on %s, verifying sha256 %s before anything goes live", id, tgt.Describe(), m.SHA256.ValueString()))
	}
	if b := m.Backup; b != nil {
		if !b.ScalingoAddon.IsNull() {
			steps = append(steps, fmt.Sprintf("take a manual backup of the %s addon of %s through Scalingo's database API and wait until it is done; a failure stops here", b.ScalingoAddon.ValueString(), tgt.Describe()))
		} else {
			steps = append(steps, fmt.Sprintf("run the backup command and store its file as %s%s@%s+<timestamp>", name, deploy.BackupSuffix, version))
		}
	}
	if m.Hooks != nil {
		if n := len(m.Hooks.BeforeSwitch.Elements()); n > 0 {
			steps = append(steps, fmt.Sprintf("run %d before_switch hook(s) in the new release; a failure stops here", n))
		}
	}
	from := "nothing"
	if live != nil {
		from = live.Version + " (" + live.ID + ")"
	}
	if m.Scalingo != nil {
		src := "upload the verified bytes as a source archive"
		if m.Scalingo.SourceURLFromStore.ValueBool() {
			src = "pass the artifact store's URL of " + id
		}
		steps = append(steps, fmt.Sprintf("%s, deploy git_ref %s to %s (live now: %s) and wait for success; a failed build keeps the previous containers running", src, version, tgt.Describe(), from))
	} else {
		steps = append(steps, fmt.Sprintf("switch %s from %s to %s atomically", tgt.Describe(), from, version))
	}
	if m.Hooks != nil {
		if n := len(m.Hooks.AfterSwitch.Elements()); n > 0 {
			steps = append(steps, fmt.Sprintf("run %d after_switch hook(s)", n))
		}
	}
	if st := m.SmokeTest; st != nil {
		steps = append(steps, fmt.Sprintf("smoke test %s %s expecting %d (%d attempts)", st.Method.ValueString(), st.URL.ValueString(), st.ExpectStatus.ValueInt64(), st.Attempts.ValueInt64()))
	}
	if m.RollbackOnFailure.ValueBool() {
		switch {
		case live != nil && m.Scalingo != nil:
			steps = append(steps, "on failure after a successful build, deploy "+live.Version+"'s artifact again and smoke-test it")
		case live != nil:
			steps = append(steps, "on failure, switch back to "+live.Version+" and smoke-test it")
		default:
			steps = append(steps, "on failure, stop serving the failed release (nothing was live before)")
		}
	} else {
		steps = append(steps, "on failure, leave "+version+" live (rollback_on_failure = false)")
	}
	if m.Directory != nil {
		steps = append(steps, fmt.Sprintf("keep the %d newest releases, the previous one and failed ones", m.Directory.KeepReleases.ValueInt64()))
	}
	_ = ctx
	return steps
}
