package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
// replaced, the version and sha256 that go live and every step; it refuses at plan
// time what apply would refuse.
//
// Terraform plans every resource a second time at apply (the "final plan"), and a
// value planned as known must come out the same then. So planned values are
// computed from the configuration, the prior state (which the plan's refresh has
// just read from the target) and the store's immutable records only — never from a
// fresh look at the target. The fresh look happens too, to detect that the target
// moved since the state was read: that is refused with a message, never planned.
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
			if state != nil && plan.Artifact.Equal(state.Artifact) && strings.EqualFold(state.SHA256.ValueString(), obj.SHA256) {
				plan.SHA256 = state.SHA256 // the spelling already in the state
			}
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
	} else if !cfgSHA.IsNull() {
		// A configured sha256 is planned as written (upper case included); it is
		// compared without regard to case everywhere.
		plan.SHA256 = cfgSHA
	}

	unsound := state != nil && !state.isSound()
	changing := state == nil || !known || plan.SHA256.IsUnknown() || unsound ||
		!plan.Artifact.Equal(state.Artifact) || !sameSHA256(plan.SHA256, state.SHA256) || !plan.ID.Equal(state.ID)
	if !changing {
		// Only settings change: nothing is deployed, the computed values stay.
		plan.SHA256 = state.SHA256
		plan.DeployedVersion, plan.PreviousVersion, plan.DeployedAt = state.DeployedVersion, state.PreviousVersion, state.DeployedAt
		plan.ReleaseID, plan.BackupID, plan.PlannedSteps = state.ReleaseID, state.BackupID, state.PlannedSteps
		plan.Status = state.Status
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}

	live, err := tgt.Current(ctx)
	if err != nil {
		resp.Diagnostics.AddAttributeError(plan.targetPath(), "Unable to read the deployment target", fmt.Sprintf("%s: %v. Fix the target, then plan again.", tgt.Describe(), err))
		return
	}
	if state != nil && !plan.Environment.IsUnknown() {
		if d := r.staleState(ctx, plan.Environment.ValueString(), tgt, state, live); d != "" {
			resp.Diagnostics.AddError(fmt.Sprintf("Unable to deploy %s to %s", plan.Artifact.ValueString(), plan.Environment.ValueString()), d)
			return
		}
	}
	if unsound && live != nil && live.Problem != "" {
		resp.Diagnostics.AddWarning("The live release of "+plan.Environment.ValueString()+" is not a finished deployment",
			fmt.Sprintf("On %s, %s. This apply deploys %s again: it runs the after_switch hooks and the smoke test, and rolls back when they fail.",
				tgt.Describe(), live.Problem, plan.Artifact.ValueString()))
	}

	plan.DeployedAt, plan.ReleaseID = types.StringUnknown(), types.StringUnknown()
	plan.Status = types.StringValue(deploymentStatusLive)
	switch {
	case state == nil && live == nil:
		plan.PreviousVersion = types.StringNull()
	case state == nil:
		// Not in the state: shown as a warning, known at apply.
		plan.PreviousVersion = types.StringUnknown()
		if live.Problem == "" {
			resp.Diagnostics.AddWarning("The target already serves a release that is not in this state",
				fmt.Sprintf("%s serves %s now (%s). This deployment replaces it; import the deployment first to review it as previous_version.", tgt.Describe(), orPlaceholder(live.Version, "nothing"), live.ID))
		}
	case unsound:
		// Read put the release to go back to (the last verified one) there.
		plan.PreviousVersion = state.PreviousVersion
	default:
		plan.PreviousVersion = state.DeployedVersion
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
		s, d := types.ListValueFrom(ctx, types.StringType, plannedSteps(&plan, state, wo, tgt))
		resp.Diagnostics.Append(d...)
		steps = s
	}
	plan.PlannedSteps = steps
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// sameSHA256 compares two sha256 values without regard to case.
func sameSHA256(a, b types.String) bool {
	if a.IsUnknown() || b.IsUnknown() || a.IsNull() || b.IsNull() {
		return a.Equal(b)
	}
	return strings.EqualFold(a.ValueString(), b.ValueString())
}

// staleState says how the target differs from what the state (and so the plan)
// recorded as live, or "" when it does not: the plan replaces what the state says,
// so a target that moved since must not be planned over.
func (r *deploymentResource) staleState(ctx context.Context, env string, tgt target.Target, state *deploymentResourceModel, live *target.Release) string {
	liveID, liveVersion := "", ""
	if live != nil {
		liveID, liveVersion = live.ID, live.Version
	}
	if liveID == state.ReleaseID.ValueString() {
		return ""
	}
	return staleDetail(ctx, r.data.Backend, env, tgt, state.DeployedVersion.ValueString(), liveVersion, liveID)
}

// staleDetail phrases "the environment changed since the plan": what the plan
// expected to replace, what is live now and who deployed it when the history says.
func staleDetail(ctx context.Context, be backend.Backend, env string, tgt target.Target, planned, liveVersion, liveID string) string {
	now := "nothing is live now"
	if liveID != "" || liveVersion != "" {
		now = fmt.Sprintf("%s is live now (release %s", orPlaceholder(liveVersion, "nothing"), orPlaceholder(liveID, "nothing"))
		if evs, err := be.History(ctx, backend.HistoryQuery{Environment: env, Kinds: []string{backend.KindDeployed, backend.KindRolledBack}, Limit: 1}); err == nil && len(evs) == 1 && evs[0].Version == liveVersion {
			now += fmt.Sprintf(", %s by %s at %s", evs[0].Kind, orPlaceholder(evs[0].Actor, "an unknown actor"), evs[0].Time.UTC().Format(time.RFC3339))
		}
		now += ")"
	}
	return fmt.Sprintf("%s changed since this plan was made: it planned to replace %s on %s, and %s. Nothing was changed. Plan again and review.",
		env, orPlaceholder(planned, "nothing"), tgt.Describe(), now)
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

// plannedSteps describes the apply in order. It reads only the planned model and
// the prior state, never the target, so the steps are the same at plan and at apply
// (see ModifyPlan); values that may be unknown at plan (the lock token of a lock
// acquired in the same apply) are named, not quoted: the plan shows them in their
// own attributes.
func plannedSteps(m, state *deploymentResourceModel, wo types.Int64, tgt target.Target) []string {
	name, version, _ := m.nameVersion()
	id := name + "@" + version
	env := m.Environment.ValueString()
	sha := m.SHA256.ValueString()
	var steps []string
	switch {
	case !m.LockToken.IsNull():
		steps = append(steps, fmt.Sprintf("check that lock_token is still the token of the lock of %s, before anything changes and again just before the switch", env))
	case !wo.IsNull():
		steps = append(steps, fmt.Sprintf("check that the run's lock token (lock_token_wo) is still the lock of %s", env))
	}
	if m.AllowBlocked.ValueBool() {
		steps = append(steps, "deploy "+id+" even if it is blocked (allow_blocked)")
	} else {
		steps = append(steps, "refuse "+id+" if it is blocked")
	}
	reverify := state != nil && !state.isSound() && m.Artifact.Equal(state.Artifact) && sameSHA256(m.SHA256, state.SHA256) && !state.ReleaseID.IsNull()
	switch {
	case reverify:
		steps = append(steps, fmt.Sprintf("verify release %s on %s again: it is live but %s", state.ReleaseID.ValueString(), tgt.Describe(), statusSentence(state.Status.ValueString())))
	case m.Scalingo != nil:
		steps = append(steps, fmt.Sprintf("read %s from the artifact store, verifying sha256 %s before anything goes to %s", id, sha, tgt.Describe()))
	default:
		steps = append(steps, fmt.Sprintf("reuse a release of %s with sha256 %s when one is still on %s (nothing downloaded), else stream it into a new release, verifying the sha256 before anything goes live", id, sha, tgt.Describe()))
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
	from := "whatever it serves when the apply starts"
	switch {
	case state != nil:
		from = describeState(state)
	case m.PreviousVersion.IsNull():
		from = "nothing"
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
	switch {
	case !m.RollbackOnFailure.ValueBool():
		steps = append(steps, "on failure, leave "+version+" live (rollback_on_failure = false)")
	case m.PreviousVersion.IsUnknown():
		steps = append(steps, "on failure, switch back to what was live before and smoke-test it (stop serving the failed release when nothing was)")
	case m.PreviousVersion.IsNull():
		steps = append(steps, "on failure, stop serving the failed release (nothing verified was live before)")
	case m.Scalingo != nil:
		steps = append(steps, "on failure after a successful build, deploy "+m.PreviousVersion.ValueString()+"'s artifact again and smoke-test it")
	default:
		steps = append(steps, "on failure, switch back to "+m.PreviousVersion.ValueString()+" and smoke-test it")
	}
	if m.Directory != nil {
		steps = append(steps, fmt.Sprintf("keep the %d newest releases, the previous one and failed ones", m.Directory.KeepReleases.ValueInt64()))
	}
	return steps
}

// describeState names what the state says is live, for the switch step.
func describeState(s *deploymentResourceModel) string {
	if s.ReleaseID.IsNull() || s.ReleaseID.ValueString() == "" {
		return "a current link that is not one of its releases"
	}
	d := s.DeployedVersion.ValueString() + " (" + s.ReleaseID.ValueString() + ")"
	if !s.isSound() {
		d += ", " + s.Status.ValueString()
	}
	return d
}
