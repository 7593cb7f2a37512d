package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/deploy"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// deploymentWriteOnly reads the write-only arguments, which only the
// configuration holds: lock_token_wo and the ssh block's private_key_wo.
func deploymentWriteOnly(ctx context.Context, cfg tfsdk.Config, diags *diag.Diagnostics) (lockToken types.Int64, sshKey types.String) {
	diags.Append(cfg.GetAttribute(ctx, path.Root("lock_token_wo"), &lockToken)...)
	sshKey, d := sshWriteOnlyKey(ctx, cfg, deploymentSSHPath)
	diags.Append(d...)
	return lockToken, sshKey
}

func (r *deploymentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	// A webhook that cannot be reached is a warning, never a failed deployment.
	ctx, done := historyOperation(ctx, &resp.Diagnostics)
	defer done()
	var plan deploymentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	wo, keyWO := deploymentWriteOnly(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, deploymentDefaultCreateFor)
	resp.Diagnostics.Append(diags...)
	r.deploy(ctx, timeout, &plan, nil, wo, keyWO, &resp.State, &resp.Diagnostics)
}

func (r *deploymentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	ctx, done := historyOperation(ctx, &resp.Diagnostics)
	defer done()
	var plan, state deploymentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	wo, keyWO := deploymentWriteOnly(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.Artifact.Equal(state.Artifact) && plan.SHA256.Equal(state.SHA256) && !plan.DeployedAt.IsUnknown() {
		// Settings only (hooks, smoke test, lock token...): nothing to deploy.
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, deploymentDefaultCreateFor)
	resp.Diagnostics.Append(diags...)
	r.deploy(ctx, timeout, &plan, &state, wo, keyWO, &resp.State, &resp.Diagnostics)
}

// deploy runs, within timeout, the changes the plan announced and the
// deployment (prior: the state, nil for a new resource); when it fails, the run
// lock whose token was given in lock_token_wo is released.
func (r *deploymentResource) deploy(ctx context.Context, timeout time.Duration, plan, prior *deploymentResourceModel, wo types.Int64, keyWO types.String, out stateSetter, diags *diag.Diagnostics) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.applyChanges(ctx, plan, diags)
	r.apply(ctx, plan, prior, wo, keyWO, out, diags)
	r.releaseRunLockOnFailure(ctx, plan.Environment.ValueString(), wo, diags)
}

// releaseRunLockOnFailure frees the run-scoped lock whose token the failed
// deployment was given: Terraform does not close an ephemeral resource when a
// resource that used it failed, and a re-run must not find the lock held by the
// run that failed. Locks held across runs, and locks someone else holds now, stay.
func (r *deploymentResource) releaseRunLockOnFailure(ctx context.Context, env string, wo types.Int64, diags *diag.Diagnostics) {
	if !diags.HasError() || wo.IsNull() || wo.IsUnknown() || r.data == nil {
		return
	}
	released, err := backend.ReleaseRunLock(context.WithoutCancel(ctx), r.data.Backend, env, wo.ValueInt64(), r.data.Actor, "the deployment that held this run's lock failed")
	switch {
	case err != nil:
		diags.AddWarning("Unable to release the run lock of "+env,
			fmt.Sprintf("The deployment failed and its run lock (token %d) could not be released: %v. It expires at the end of its ttl.", wo.ValueInt64(), err))
	case released:
		tflog.Info(ctx, "released the run lock of the failed deployment", map[string]any{"environment": env, "token": wo.ValueInt64()})
	}
}

// apply runs the deployment and saves what is really live: on success the plan
// with its computed values; on failure, the live release over the prior state (or
// nothing after a failed first deployment that left nothing live). wo is the
// write-only lock token from the configuration (null when not set), keyWO the
// ssh block's write-only key.
func (r *deploymentResource) apply(ctx context.Context, plan, prior *deploymentResourceModel, wo types.Int64, keyWO types.String, st stateSetter, diags *diag.Diagnostics) {
	if !configured(r.data, diags) {
		return
	}
	plan.LockTokenWO = types.Int64Null() // write-only: never saved
	summary := fmt.Sprintf("Unable to deploy %s to %s", plan.Artifact.ValueString(), plan.Environment.ValueString())
	if _, _, ok := plan.nameVersion(); !ok {
		diags.AddAttributeError(path.Root("artifact"), summary, "artifact must be name@version.")
		return
	}
	tgt, key, done := r.openTarget(ctx, plan, keyWO, diags)
	defer done()
	if tgt == nil {
		if !diags.HasError() {
			diags.AddError(summary, "The deployment target is not known at apply time: its path or ssh settings are still unknown.")
		}
		return
	}
	if prior != nil && r.sshKeyOnlyWriteOnly(prior) {
		prior = r.refreshForPlan(ctx, prior, tgt, diags)
	}
	req, d := r.deployRequest(ctx, plan, prior, wo, tgt)
	diags.Append(d...)
	if diags.HasError() {
		if prior != nil {
			diags.Append(st.Set(ctx, prior)...) // nothing changed
		}
		return
	}
	if r.refuseMoved(ctx, plan, prior, tgt, summary, st, diags) {
		return
	}
	res, err := deploy.Deploy(ctx, req)
	for _, w := range res.Warnings {
		diags.AddWarning("Deployment of "+req.Name+"@"+req.Version+" to "+req.Environment+" finished with a warning", w)
	}
	switch {
	case err == nil:
		r.saveSuccess(ctx, plan, key, tgt, res, st, diags)
	case res.Live != nil && res.Release != nil && res.Live.ID == res.Release.ID:
		// rollback_on_failure = false: the failed release is what serves, and
		// the state says it failed, so the next plan deploys again.
		diags.AddError(summary, err.Error())
		r.saveSuccess(ctx, plan, key, tgt, res, st, diags)
	default:
		diags.AddError(summary, err.Error())
		if prior != nil {
			r.saveLive(ctx, prior, tgt, res.Live, st, diags)
		}
	}
}

// refuseMoved refuses, saving what is live, when the target moved since the
// plan was approved against it (the final plan checks it too; this closes the
// gap up to the deploy).
func (r *deploymentResource) refuseMoved(ctx context.Context, plan, prior *deploymentResourceModel, tgt target.Target, summary string, st stateSetter, diags *diag.Diagnostics) bool {
	env := plan.Environment.ValueString()
	live, err := tgt.Current(ctx)
	if err != nil {
		diags.AddError(summary, fmt.Sprintf("Could not read what %s serves: %v. Nothing was changed.", tgt.Describe(), err))
		return true
	}
	stale := ""
	switch {
	case prior != nil && plan.ID.Equal(prior.ID):
		stale = r.staleState(ctx, env, tgt, prior, live)
	case prior != nil:
		// Another target than the state's (a host added): nothing of it to compare.
	case plan.PreviousVersion.IsNull() && live != nil:
		stale = staleDetail(ctx, r.data.Backend, env, tgt, "", live.Version, live.ID)
	}
	if stale == "" {
		return false
	}
	diags.AddError(summary, stale)
	if prior != nil {
		r.saveLive(ctx, prior, tgt, live, st, diags)
	}
	return true
}

// deployRequest is what the apply runs: the facts the plan showed as
// planned_steps, made the same way, and what reaches the world. planned_steps
// left unknown by the plan become the steps this apply runs; known ones must be
// those steps, or nothing is done.
func (r *deploymentResource) deployRequest(ctx context.Context, plan, prior *deploymentResourceModel, wo types.Int64, tgt target.Target) (deploy.Request, diag.Diagnostics) {
	facts, _, diags := plan.deployFacts(ctx, prior, wo, tgt)
	// The history decides again: refused now if it would be refused at plan.
	diags.Append(downgradeFacts(ctx, r.data.Backend, plan, &facts, "Nothing was changed")...)
	if diags.HasError() {
		return deploy.Request{}, diags
	}
	steps, d := stepDescriptions(ctx, deploy.Steps(facts))
	diags.Append(d...)
	if diags.HasError() {
		return deploy.Request{}, diags
	}
	if plan.PlannedSteps.IsUnknown() {
		plan.PlannedSteps = steps
	} else if !plan.PlannedSteps.Equal(steps) {
		diags.AddError(fmt.Sprintf("Unable to deploy %s to %s", plan.Artifact.ValueString(), facts.Environment),
			fmt.Sprintf("The steps this apply would run are not the planned_steps of the plan: planned %s, now %s. Nothing was changed. Plan again and review; please report this as a bug of the provider.", plan.PlannedSteps, steps))
		return deploy.Request{}, diags
	}
	req := deploy.Request{
		Facts:     facts,
		LockToken: plan.LockToken.ValueInt64(),
		Target:    tgt, Store: r.data.Store, Backend: r.data.Backend, Actor: r.data.Actor,
	}
	if !wo.IsNull() && !wo.IsUnknown() {
		req.LockToken = wo.ValueInt64()
	}
	if facts.BackupFunc != "" {
		app, addon := plan.Scalingo.App.ValueString(), plan.Backup.ScalingoAddon.ValueString()
		req.Backup = func(ctx context.Context) (string, error) { return r.data.scalingoBackup(ctx, app, addon) }
	}
	if len(facts.OneOffs) > 0 {
		req.OneOff = scalingoOneOff(tgt)
	}
	return req, diags
}

func (r *deploymentResource) saveSuccess(ctx context.Context, plan *deploymentResourceModel, key string, tgt target.Target, res deploy.Result, st stateSetter, diags *diag.Diagnostics) {
	m := *plan
	m.ID = types.StringValue(deploymentID(m.Environment.ValueString(), key))
	live := res.Live
	if cur, err := tgt.Current(ctx); err == nil && cur != nil && cur.ID == live.ID {
		live = cur // its activation time as the target records it, like Read
	}
	m.DeployedVersion = types.StringValue(live.Version)
	if !sameSHA256(m.SHA256, types.StringValue(live.SHA256)) {
		m.SHA256 = types.StringValue(live.SHA256)
	}
	m.Status = types.StringValue(liveStatus(live))
	if !diags.HasError() && m.Status.ValueString() != deploymentStatusLive {
		diags.AddError(fmt.Sprintf("Unable to deploy %s to %s", m.Artifact.ValueString(), m.Environment.ValueString()),
			fmt.Sprintf("Release %s passed its checks and is live on %s, but the target reports it as %s (%s): recording it as verified failed. The next plan deploys it again.",
				live.ID, tgt.Describe(), m.Status.ValueString(), statusSentence(m.Status.ValueString())))
	}
	m.ReleaseID = types.StringValue(live.ID)
	m.DeployedAt = types.StringValue(activatedAt(live))
	m.PreviousVersion = types.StringNull()
	if res.Previous != nil {
		m.PreviousVersion = types.StringValue(res.Previous.Version)
	}
	m.BackupID = types.StringNull()
	if res.BackupID != "" {
		m.BackupID = types.StringValue(res.BackupID)
	}
	m.setHostsLive(ctx, tgt, diags)
	diags.Append(st.Set(ctx, &m)...)
}

// saveLive keeps the prior state but makes it say what is live now.
func (r *deploymentResource) saveLive(ctx context.Context, prior *deploymentResourceModel, tgt target.Target, live *target.Release, st stateSetter, diags *diag.Diagnostics) {
	m := *prior
	if live != nil {
		applyLive(&m, live)
	}
	m.setHostsLive(ctx, tgt, diags)
	diags.Append(st.Set(ctx, &m)...)
}

// applyLive makes m describe the live release; the artifact keeps its name when
// the release does not record one (a folder made by hand). A live release that is
// not a finished deployment gets its status, and previous_version names the
// release a new deployment would go back to.
func applyLive(m *deploymentResourceModel, live *target.Release) {
	m.Status = types.StringValue(liveStatus(live))
	if live.ID == "" {
		// current is not one of the target's releases, or the hosts serve
		// different ones: nothing can be named live. previous_version names the
		// verified release a failure would go back to, when there is one.
		m.DeployedVersion, m.ReleaseID, m.PreviousVersion = types.StringNull(), types.StringNull(), types.StringNull()
		if live.Replaced != nil && live.Replaced.Version != "" {
			m.PreviousVersion = types.StringValue(live.Replaced.Version)
		}
		return
	}
	name := live.Name
	if name == "" {
		name, _, _ = m.nameVersion()
	}
	if !m.ReleaseID.Equal(types.StringValue(live.ID)) || m.DeployedAt.IsNull() || m.DeployedAt.IsUnknown() {
		m.DeployedAt = types.StringValue(activatedAt(live))
	}
	m.Artifact = types.StringValue(name + "@" + live.Version)
	m.DeployedVersion = types.StringValue(live.Version)
	m.ReleaseID = types.StringValue(live.ID)
	if live.SHA256 != "" && !sameSHA256(m.SHA256, types.StringValue(live.SHA256)) {
		m.SHA256 = types.StringValue(live.SHA256)
	}
	if live.Unverified || live.Failed {
		m.PreviousVersion = types.StringNull()
		if live.Replaced != nil {
			m.PreviousVersion = types.StringValue(live.Replaced.Version)
		}
	}
}

func activatedAt(rel *target.Release) string {
	t := rel.ActivatedAt
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(time.RFC3339)
}

// known tells whether every setting of an HTTP check is known, so that the
// plan can describe it.
func (s *httpCheckModel) known() bool {
	if !allKnown(s.URL, s.Method, s.ExpectStatus, s.BodyContains, s.Headers, s.Attempts, s.Interval, s.Timeout, s.CAFile, s.Insecure, s.Host) {
		return false
	}
	for _, v := range s.Headers.Elements() {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}
