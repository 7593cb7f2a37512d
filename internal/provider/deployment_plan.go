package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
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
	if r.data == nil {
		return
	}
	plan, state, ok := planAndPrior[deploymentResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	var cfgSHA types.String
	wo, keyWO := deploymentWriteOnly(ctx, req.Config, &resp.Diagnostics)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("sha256"), &cfgSHA)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tgt, key, done := r.openTarget(ctx, &plan, keyWO, &resp.Diagnostics)
	defer done()
	if tgt == nil {
		if state != nil && !resp.Diagnostics.HasError() {
			// The target is known only at the apply (a path or hosts from another
			// resource): so is the id that names it, which may change with it.
			plan.ID = types.StringUnknown()
			resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		}
		return
	}
	if state != nil && state.Directory != nil && r.data.sshPlanMustRead(state.Directory.SSH) {
		// Refresh could not log in (write-only key): read the hosts now.
		if state = r.refreshForPlan(ctx, state, tgt, &resp.Diagnostics); resp.Diagnostics.HasError() {
			return
		}
	}
	if !plan.Environment.IsUnknown() {
		plan.ID = types.StringValue(deploymentID(plan.Environment.ValueString(), key))
	}
	resp.Diagnostics.Append(r.planSHA256(ctx, &plan, state, cfgSHA)...)
	if name, version, known := plan.nameVersion(); plan.Scalingo != nil && known {
		plan.Scalingo.checkPlan(ctx, r.data, name, version, &resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.deploys(state) {
		resp.Diagnostics.Append(r.planDeployment(ctx, &plan, state, wo, tgt)...)
	} else {
		plan.keepDeployed(state)
	}
	if !resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	}
}

// refreshForPlan is Read for a plan whose refresh could not reach the hosts
// (their key is write-only): the state as the hosts make it now, nil when
// nothing is live there any more.
func (r *deploymentResource) refreshForPlan(ctx context.Context, state *deploymentResourceModel, tgt target.Target, diags *diag.Diagnostics) *deploymentResourceModel {
	live, err := tgt.Current(ctx)
	if err != nil {
		diags.AddAttributeError(deploymentSSHPath, "Unable to read the deployment target", fmt.Sprintf("%s: %v. Fix the target, then plan again.", tgt.Describe(), err))
		return state
	}
	if live == nil {
		return nil
	}
	m := *state
	applyLive(&m, live)
	m.setHostsLive(ctx, tgt, diags)
	return &m
}

// planSHA256 plans the sha256: as configured, else the store's record of the
// artifact (unknown when the artifact is published by this same apply).
func (r *deploymentResource) planSHA256(ctx context.Context, plan, state *deploymentResourceModel, cfgSHA types.String) diag.Diagnostics {
	var diags diag.Diagnostics
	if !cfgSHA.IsNull() {
		// A configured sha256 is planned as written (upper case included); it is
		// compared without regard to case everywhere.
		plan.SHA256 = cfgSHA
		return diags
	}
	name, version, known := plan.nameVersion()
	if !known {
		return diags
	}
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
		diags.AddAttributeError(path.Root("artifact"), "Unable to read the artifact store", err.Error())
	}
	return diags
}

// deploys tells whether applying the plan deploys: a new artifact or sha256, a
// new target, or a live release that is not a finished deployment.
func (m *deploymentResourceModel) deploys(state *deploymentResourceModel) bool {
	_, _, known := m.nameVersion()
	return state == nil || !known || m.SHA256.IsUnknown() || !state.isSound() ||
		!m.Artifact.Equal(state.Artifact) || !sameSHA256(m.SHA256, state.SHA256) || !m.ID.Equal(state.ID) ||
		m.Scalingo.redeploysForVariables(state.Scalingo)
}

// keepDeployed plans a change of settings only: nothing is deployed, the
// computed values stay.
func (m *deploymentResourceModel) keepDeployed(state *deploymentResourceModel) {
	m.SHA256 = state.SHA256
	m.DeployedVersion, m.PreviousVersion, m.DeployedAt = state.DeployedVersion, state.PreviousVersion, state.DeployedAt
	m.ReleaseID, m.BackupID, m.PlannedSteps = state.ReleaseID, state.BackupID, state.PlannedSteps
	m.Status, m.HostsLive, m.Changes = state.Status, state.HostsLive, state.Changes
}

// planDeployment plans a deployment over what the state says is live, after
// checking that the target still serves that, and refuses at plan time what the
// apply would refuse.
func (r *deploymentResource) planDeployment(ctx context.Context, plan, state *deploymentResourceModel, wo types.Int64, tgt target.Target) diag.Diagnostics {
	var diags diag.Diagnostics
	live, err := tgt.Current(ctx)
	if err != nil {
		diags.AddAttributeError(plan.targetPath(), "Unable to read the deployment target", fmt.Sprintf("%s: %v. Fix the target, then plan again.", tgt.Describe(), err))
		return diags
	}
	// A plan for another target (a host added to the ssh hosts) has no live
	// release of its own in the state to be stale against.
	if state != nil && !plan.Environment.IsUnknown() && plan.ID.Equal(state.ID) {
		if d := r.staleState(ctx, plan.Environment.ValueString(), tgt, state, live); d != "" {
			diags.AddError(fmt.Sprintf("Unable to deploy %s to %s", plan.Artifact.ValueString(), plan.Environment.ValueString()), d)
			return diags
		}
	}
	if state != nil && !state.isSound() && live != nil && live.Problem != "" {
		diags.AddWarning("The live release of "+plan.Environment.ValueString()+" is not a finished deployment",
			fmt.Sprintf("On %s, %s. This apply deploys %s again: it runs the after_switch hooks and the smoke test, and rolls back when they fail.",
				tgt.Describe(), live.Problem, plan.Artifact.ValueString()))
	}
	plan.DeployedAt, plan.ReleaseID = types.StringUnknown(), types.StringUnknown()
	plan.Status = types.StringValue(deploymentStatusLive)
	plan.HostsLive = types.MapNull(types.StringType)
	if plan.Directory != nil && plan.Directory.SSH != nil {
		plan.HostsLive = types.MapUnknown(types.StringType)
	}
	diags.Append(plan.planPrevious(state, live, tgt)...)
	plan.BackupID = types.StringNull()
	if plan.Backup != nil {
		plan.BackupID = types.StringUnknown()
	}
	plan.DeployedVersion = types.StringUnknown()
	if name, version, known := plan.nameVersion(); known {
		plan.DeployedVersion = types.StringValue(version)
		diags.Append(r.planRefusals(ctx, plan, wo, name, version)...)
		if diags.HasError() {
			return diags
		}
	}
	plan.Changes = r.planChanges(ctx, plan, &diags)
	steps, d := plannedSteps(ctx, r.data.Backend, plan, state, wo, tgt)
	diags.Append(d...)
	plan.PlannedSteps = steps
	return diags
}

// planPrevious plans previous_version, the version a failure goes back to.
func (m *deploymentResourceModel) planPrevious(state *deploymentResourceModel, live *target.Release, tgt target.Target) diag.Diagnostics {
	var diags diag.Diagnostics
	switch {
	case state == nil && live == nil:
		m.PreviousVersion = types.StringNull()
	case state == nil:
		// Not in the state: shown as a warning, known at apply.
		m.PreviousVersion = types.StringUnknown()
		if live.Problem == "" {
			what := orPlaceholder(live.Version, "nothing")
			if live.ID != "" && live.ID != live.Version {
				what += " (release " + live.ID + ")"
			}
			diags.AddWarning("The target already serves a release that is not in this state",
				fmt.Sprintf("%s serves %s now. This deployment replaces it; import the deployment first to review it as previous_version.", tgt.Describe(), what))
		}
	case !state.isSound():
		// Read put the release to go back to (the last verified one) there.
		m.PreviousVersion = state.PreviousVersion
	default:
		m.PreviousVersion = state.DeployedVersion
	}
	return diags
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
	return staleMessage(env, fmt.Sprintf("replace %s on %s", orPlaceholder(planned, "nothing"), tgt.Describe()), now)
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
	r.data.planFreeze(ctx, env, plan.FreezeOverride, summary, &diags)
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

// plannedSteps is planned_steps: the descriptions of deploy.Steps for the facts
// the apply will run from, or unknown while one of those facts is unknown, so
// that the final plan at apply cannot show other steps than the plan did.
// A downgrade that is no rollback is refused here (nil hist: not checked).
func plannedSteps(ctx context.Context, hist backend.History, plan, state *deploymentResourceModel, wo types.Int64, tgt target.Target) (types.List, diag.Diagnostics) {
	facts, known, diags := plan.deployFacts(ctx, state, wo, tgt)
	if diags.HasError() {
		return types.ListUnknown(types.StringType), diags
	}
	diags.Append(downgradeFacts(ctx, hist, plan, &facts, "The deployment will be refused")...)
	if !known || diags.HasError() {
		return types.ListUnknown(types.StringType), diags
	}
	return stepDescriptions(ctx, deploy.Steps(facts))
}

func stepDescriptions(ctx context.Context, steps []deploy.Step) (types.List, diag.Diagnostics) {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Description
	}
	return types.ListValueFrom(ctx, types.StringType, out)
}

// deployFacts is what the plan knows of the deployment m over the prior state:
// built the same way at plan time and at apply, so the steps the plan shows
// are the steps the apply runs. Only the configuration, the planned values and
// the prior state go in, never a fresh look at the target. known is false when
// a value the facts hold is unknown; the facts then have its zero value.
func (m *deploymentResourceModel) deployFacts(ctx context.Context, state *deploymentResourceModel, wo types.Int64, tgt target.Target) (deploy.Facts, bool, diag.Diagnostics) {
	name, version, known := m.nameVersion()
	f := deploy.Facts{
		Environment:       m.Environment.ValueString(),
		Name:              name,
		Version:           version,
		SHA256:            m.SHA256.ValueString(),
		Lock:              lockOf(m.LockToken, wo),
		AllowBlocked:      m.AllowBlocked.ValueBool(),
		FreezeOverride:    m.FreezeOverride.ValueString(),
		AllowDowngrade:    m.AllowDowngrade.ValueBool(),
		TargetName:        tgt.Describe(),
		RollbackOnFailure: m.RollbackOnFailure.ValueBool(),
		KeepReleases:      -1, // a target without release folders has nothing to prune
	}
	known = known && allKnown(m.Environment, m.SHA256, m.AllowBlocked, m.AllowDowngrade, m.RollbackOnFailure, m.FreezeOverride)
	var diags diag.Diagnostics
	if d := m.Directory; d != nil {
		f.KeepReleases = int(d.KeepReleases.ValueInt64())
		known = known && !d.KeepReleases.IsUnknown()
		if d.SSH != nil {
			hostsKnown := knownStrings(ctx, d.SSH.Hosts, &f.Hosts, &diags)
			f.MaxParallel = sshMaxParallel(d.SSH)
			known = known && hostsKnown && !d.SSH.MaxParallel.IsUnknown()
		}
	}
	if s := m.Scalingo; s != nil {
		known = s.scalingoFacts(ctx, &f, tgt, &diags) && known
	}
	f.Live, f.Previous, f.Reverify = m.expectedLive(state)
	if h := m.Hooks; h != nil {
		known = knownStrings(ctx, h.BeforeSwitch, &f.Hooks.BeforeSwitch, &diags) && known
		known = knownStrings(ctx, h.BeforeSwitchOnce, &f.Hooks.BeforeSwitchOnce, &diags) && known
		known = knownStrings(ctx, h.AfterSwitch, &f.Hooks.AfterSwitch, &diags) && known
	}
	if b := m.Backup; b != nil {
		known = known && allKnown(b.Command, b.ScalingoAddon)
		if !b.ScalingoAddon.IsNull() && m.Scalingo != nil {
			addon := b.ScalingoAddon.ValueString()
			f.BackupFunc = fmt.Sprintf("a manual backup of the %s addon of %s through Scalingo's database API", addon, tgt.Describe())
			f.BackupName = fmt.Sprintf("the Scalingo backup of the %s addon of %s", addon, m.Scalingo.App.ValueString())
		} else {
			f.BackupCommand = b.Command.ValueString()
		}
	}
	if s := m.SmokeTest; s != nil {
		if s.known() {
			c := s.httpCheck(ctx, path.Root("smoke_test"), &diags)
			f.SmokeTest = &c
		} else {
			known = false
		}
	}
	return f, known, diags
}

// expectedLive says what the plan expects to be live when the apply starts,
// from the prior state (nil when there is none and the target served something
// at plan time), the version a failure goes back to, and whether the apply
// verifies again a release an earlier deployment left unfinished.
func (m *deploymentResourceModel) expectedLive(state *deploymentResourceModel) (*deploy.Live, string, bool) {
	previous := m.PreviousVersion.ValueString()
	if state == nil {
		if m.PreviousVersion.IsNull() {
			return &deploy.Live{}, "", false
		}
		return nil, previous, false
	}
	live := &deploy.Live{}
	if state.ReleaseID.IsNull() || state.ReleaseID.ValueString() == "" {
		live.Problem = statusSentence(deploymentStatusDrifted)
	} else {
		live.ReleaseID, live.Version = state.ReleaseID.ValueString(), state.DeployedVersion.ValueString()
	}
	if !state.isSound() {
		live.Status = state.Status.ValueString()
		live.Problem = statusSentence(live.Status)
	}
	reverify := !state.isSound() && m.Artifact.Equal(state.Artifact) && sameSHA256(m.SHA256, state.SHA256) && !state.ReleaseID.IsNull()
	return live, previous, reverify
}

// lockOf says how the deployment is fenced; the token itself may be unknown at
// plan time (a lock acquired in the same apply), and the plan does not quote it.
func lockOf(token, wo types.Int64) deploy.Lock {
	switch {
	case !token.IsNull():
		return deploy.LockToken
	case !wo.IsNull():
		return deploy.RunLockToken
	}
	return deploy.NoLock
}

func allKnown(vals ...attr.Value) bool {
	for _, v := range vals {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}

// knownStrings reads a list of strings into out and tells whether it is known,
// each element included.
func knownStrings(ctx context.Context, l types.List, out *[]string, diags *diag.Diagnostics) bool {
	if l.IsNull() {
		return true
	}
	if l.IsUnknown() || !allKnown(l.Elements()...) {
		return false
	}
	diags.Append(l.ElementsAs(ctx, out, false)...)
	return true
}
