package provider

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// Read reports what the target really serves; it never downloads an artifact.
func (r *deploymentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state deploymentResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.sshKeyOnlyWriteOnly(&state) {
		sshReadCredentialWarning(&resp.Diagnostics, deploymentSSHPath, "the live release")
		return
	}
	tgt, _, done := r.openTarget(ctx, &state, types.StringNull(), &resp.Diagnostics)
	defer done()
	if tgt == nil {
		return
	}
	live, err := tgt.Current(ctx)
	if errors.Is(err, target.ErrNotFound) {
		tflog.Info(ctx, "the target is gone; removing the deployment from the state", map[string]any{"target": tgt.Describe(), "error": err.Error()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to read deployment "+state.ID.ValueString(), fmt.Sprintf("%s: %v", tgt.Describe(), err))
		return
	}
	if live == nil {
		tflog.Info(ctx, "nothing is live on the target any more; removing the deployment from the state", map[string]any{"target": tgt.Describe()})
		resp.State.RemoveResource(ctx)
		return
	}
	if state.ReleaseID.ValueString() != "" && state.ReleaseID.ValueString() != live.ID {
		tflog.Info(ctx, "the live release changed outside Terraform", map[string]any{"state": state.ReleaseID.ValueString(), "live": live.ID})
	}
	if live.Problem != "" {
		tflog.Warn(ctx, "the live release is not a finished deployment", map[string]any{"target": tgt.Describe(), "problem": live.Problem})
	}
	if live.Name == "" && live.ID != "" && state.Artifact.IsNull() {
		resp.Diagnostics.AddError("Unable to read deployment "+state.ID.ValueString(),
			fmt.Sprintf("The live release %s of %s records no artifact name (it was not deployed by this provider).", live.ID, tgt.Describe()))
		return
	}
	applyLive(&state, live)
	state.Scalingo.observeVariables(ctx, tgt, &resp.Diagnostics)
	hl, err := state.hostsLive(ctx, tgt)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read deployment "+state.ID.ValueString(), fmt.Sprintf("%s: %v", tgt.Describe(), err))
		return
	}
	state.HostsLive = hl
	if state.PlannedSteps.IsNull() || state.PlannedSteps.IsUnknown() {
		state.PlannedSteps = types.ListValueMust(types.StringType, []attr.Value{})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *deploymentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state deploymentResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.OnDestroy.ValueString() != "remove" {
		tflog.Info(ctx, "on_destroy = keep: the live release keeps serving", map[string]any{"id": state.ID.ValueString()})
		return
	}
	if state.Scalingo != nil {
		resp.Diagnostics.AddWarning("The Scalingo app keeps running",
			fmt.Sprintf("on_destroy = \"remove\" does not delete Scalingo app %s nor its deployments: the resource only leaves the state. Delete or scale down the app with Scalingo's tools if it must stop.", state.Scalingo.App.ValueString()))
		return
	}
	if r.sshKeyOnlyWriteOnly(&state) {
		resp.Diagnostics.AddAttributeError(deploymentSSHPath.AtName("private_key_wo"), "Unable to remove deployment "+state.ID.ValueString(),
			"on_destroy = \"remove\" must log in to the hosts, and their key is write-only (private_key_wo), which a destroy cannot read. "+
				"Give a credential that is kept (private_key, agent = true, or the provider's ssh block), or set on_destroy = \"keep\" first.")
		return
	}
	tgt, _, done := r.openTarget(ctx, &state, types.StringNull(), &resp.Diagnostics)
	defer done()
	if tgt == nil {
		return
	}
	// Removing releases is a change of the target like a deployment: it honours
	// the same fencing, so a pipeline whose lock was taken over deletes nothing.
	if !state.LockToken.IsNull() && r.data != nil {
		if err := backend.CheckToken(ctx, r.data.Backend, state.Environment.ValueString(), state.LockToken.ValueInt64()); err != nil {
			resp.Diagnostics.AddError("Unable to remove deployment "+state.ID.ValueString(),
				fmt.Sprintf("on_destroy = \"remove\" was refused before anything was deleted: %v. %s keeps serving. Acquire the environment lock again and destroy with its token, or set on_destroy = \"keep\".", err, tgt.Describe()))
			return
		}
	}
	if err := tgt.Remove(ctx); err != nil {
		resp.Diagnostics.AddError("Unable to remove deployment "+state.ID.ValueString(),
			fmt.Sprintf("Removing the releases of %s failed: %v. Some release folders may remain; remove them by hand or destroy again.", tgt.Describe(), err))
	}
}

const importSummary = "Unable to import release_deployment"

// ImportState takes `<environment>:<absolute path>` for a directory target and
// `<environment>:scalingo:<app>` (optionally `:<artifact name>`) for a Scalingo app;
// Read then fills in the live release.
func (r *deploymentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	m, name, diags := importModel(ctx, req.ID)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	tgt, _, done := r.openTarget(ctx, &m, types.StringNull(), &resp.Diagnostics)
	defer done()
	if tgt == nil {
		if !resp.Diagnostics.HasError() {
			resp.Diagnostics.AddError(importSummary, "The provider is not configured: the target cannot be read.")
		}
		return
	}
	live, err := tgt.Current(ctx)
	if err != nil || live == nil {
		resp.Diagnostics.AddError(importSummary,
			fmt.Sprintf("Nothing is live on %s (%v): there is no deployment to import.", tgt.Describe(), orPlaceholder(errMessage(err), "no current release")))
		return
	}
	var deployed []backend.Event
	if r.data != nil {
		deployed, _ = r.data.Backend.History(ctx, backend.HistoryQuery{Environment: m.Environment.ValueString(), Kinds: []string{backend.KindDeployed}, Limit: 20})
	}
	if m.Scalingo != nil {
		if live, diags = r.importScalingoLive(ctx, &m, name, tgt, live, deployed); diags.HasError() {
			resp.Diagnostics.Append(diags...)
			return
		}
	}
	if live.Name == "" {
		resp.Diagnostics.AddError(importSummary,
			fmt.Sprintf("The live release %s of %s records no artifact name: it was not deployed by this provider. Deploy it with release_deployment instead.", live.ID, tgt.Describe()))
		return
	}
	applyLive(&m, live)
	if m.HostsLive, err = m.hostsLive(ctx, tgt); err != nil {
		resp.Diagnostics.AddError(importSummary, fmt.Sprintf("%s: %v", tgt.Describe(), err))
		return
	}
	// The version that was live before, from the history, when the backend knows it.
	var same []backend.Event
	for _, ev := range deployed {
		if ev.Name == live.Name {
			same = append(same, ev)
		}
	}
	if len(same) >= 2 && same[0].Version == live.Version {
		m.PreviousVersion = types.StringValue(same[1].Version)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// importModel is the deployment an import id names, before its live release is
// read; name is the artifact name a Scalingo id gives ("" when it gives none).
func importModel(ctx context.Context, id string) (deploymentResourceModel, string, diag.Diagnostics) {
	var diags diag.Diagnostics
	env, rest, ok := strings.Cut(id, ":")
	if !ok || backend.ValidateEnvironment(env) != nil {
		diags.AddError(importSummary, fmt.Sprintf("The import id %q must be <environment>:<absolute path> for a directory target (e.g. staging:/srv/histologe) "+
			"or <environment>:scalingo:<app> for a Scalingo app (e.g. staging:scalingo:histologe-staging).", id))
		return deploymentResourceModel{}, "", diags
	}
	m := deploymentResourceModel{
		Environment:       types.StringValue(env),
		Artifact:          types.StringNull(),
		SHA256:            types.StringNull(),
		LockToken:         types.Int64Null(),
		LockTokenWO:       types.Int64Null(),
		RollbackOnFailure: types.BoolValue(true),
		AllowBlocked:      types.BoolValue(false),
		AllowDowngrade:    types.BoolValue(false),
		OnDestroy:         types.StringValue("keep"),
		DeployedVersion:   types.StringNull(),
		PreviousVersion:   types.StringNull(),
		DeployedAt:        types.StringNull(),
		ReleaseID:         types.StringNull(),
		BackupID:          types.StringNull(),
		PlannedSteps:      types.ListValueMust(types.StringType, []attr.Value{}),
		Status:            types.StringNull(),
		HostsLive:         types.MapNull(types.StringType),
		Changes:           types.ListNull(types.StringType),
		Timeouts:          timeouts.Value{Object: typesObjectNull(ctx)},
	}
	name := ""
	if app, isScalingo := strings.CutPrefix(rest, "scalingo:"); isScalingo {
		app, name, _ = strings.Cut(app, ":")
		if app == "" || (name != "" && store.ValidateName(name) != nil) {
			diags.AddError(importSummary, fmt.Sprintf("The import id %q must be <environment>:scalingo:<app>, or <environment>:scalingo:<app>:<artifact name> when the release history does not know which artifact the app runs.", id))
			return m, "", diags
		}
		m.ID = types.StringValue(deploymentID(env, "scalingo:"+app))
		m.Scalingo = newScalingoModel(app)
		return m, name, diags
	}
	sshBlock, rest, remote, err := parseSSHImportID(rest)
	if err != nil || !filepath.IsAbs(rest) {
		diags.AddError(importSummary, fmt.Sprintf("The import id %q must be <environment>:<absolute path of the directory target>, e.g. staging:/srv/histologe, "+
			"<environment>:ssh://[user@]web1,web2:2222/<absolute path> for one on SSH hosts (the credentials and known_hosts come from the provider's ssh block), "+
			"or <environment>:scalingo:<app> for a Scalingo app.", id))
		return m, "", diags
	}
	p := filepath.Clean(rest)
	m.ID = types.StringValue(deploymentID(env, p))
	if remote {
		var hosts []string
		diags.Append(sshBlock.Hosts.ElementsAs(ctx, &hosts, false)...)
		m.ID = types.StringValue(deploymentID(env, "ssh://"+strings.Join(hosts, ",")+p))
	}
	m.Directory = &deploymentDirectoryModel{
		SSH:          sshBlock,
		Path:         types.StringValue(p),
		KeepReleases: types.Int64Value(deploymentDefaultKeep),
		Shared:       types.ListNull(types.StringType),

		MaxExtractedSize: types.StringNull(),
		MaxFileSize:      types.StringNull(),
	}
	return m, name, diags
}

// importScalingoLive names the artifact a Scalingo app runs and reads its live
// release again under that name: a Scalingo deployment records only its
// git_ref, and the history of the environment tells which artifact that
// version was.
func (r *deploymentResource) importScalingoLive(ctx context.Context, m *deploymentResourceModel, name string, tgt target.Target, live *target.Release, deployed []backend.Event) (*target.Release, diag.Diagnostics) {
	var diags diag.Diagnostics
	env := m.Environment.ValueString()
	for i := 0; name == "" && i < len(deployed); i++ {
		if deployed[i].Version == live.Version {
			name = deployed[i].Name
		}
	}
	if name == "" {
		diags.AddError(importSummary, fmt.Sprintf("%s runs %s, but the release history of %s has no deployment of that version, so the artifact name is unknown. "+
			"Import with %s:scalingo:%s:<artifact name>.", tgt.Describe(), live.Version, env, env, m.Scalingo.App.ValueString()))
		return nil, diags
	}
	m.Artifact = types.StringValue(name + "@" + live.Version)
	// Read the live release again under the artifact's name: sha256 and git commit.
	if tgt, _, _, diags = deploymentTarget(ctx, r.data, m, types.StringNull()); diags.HasError() {
		return nil, diags
	}
	live, err := tgt.Current(ctx)
	if err != nil || live == nil {
		diags.AddError(importSummary, fmt.Sprintf("Could not read what %s serves: %v.", tgt.Describe(), orPlaceholder(errMessage(err), "no current release")))
		return nil, diags
	}
	return live, diags
}

func typesObjectNull(context.Context) types.Object {
	return types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType})
}
