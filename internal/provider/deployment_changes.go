package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/deploy"
	"github.com/releaseplan/terraform-provider-release/internal/notes"
	"github.com/releaseplan/terraform-provider-release/internal/promote"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// planChanges is `changes` for the plan of a deployment: known when both
// artifacts' git_commit and the repository can tell, unknown when the new
// artifact is not published yet (it is by this apply) or the repository
// cannot answer now, null without a changelog block or nothing to compare.
// Every input is immutable (store records, commits), so the final plan at
// apply computes the same value.
func (r *deploymentResource) planChanges(ctx context.Context, m *deploymentResourceModel, diags *diag.Diagnostics) types.List {
	unknown, null := types.ListUnknown(types.StringType), types.ListNull(types.StringType)
	if m.Changelog == nil {
		return null
	}
	name, version, ok := m.nameVersion()
	if !ok || m.PreviousVersion.IsUnknown() || m.Changelog.Repository.IsUnknown() || m.Environment.IsUnknown() {
		return unknown
	}
	if m.PreviousVersion.IsNull() {
		return null // nothing verified is live: no release to compare with
	}
	live := m.PreviousVersion.ValueString()
	newCommit, err := r.gitCommit(ctx, name, version)
	if errors.Is(err, store.ErrNotFound) {
		return unknown // published by this same apply
	}
	liveCommit, lerr := r.gitCommit(ctx, name, live)
	summary := fmt.Sprintf("Unable to list the changes of %s@%s", name, version)
	if err = errors.Join(err, lerr); err != nil {
		diags.AddWarning(summary, fmt.Sprintf("%v. changes is left to the apply.", err))
		return unknown
	}
	if newCommit == "" || liveCommit == "" {
		without := name + "@" + version
		if newCommit != "" {
			without = name + "@" + live
		}
		diags.AddWarning(summary, fmt.Sprintf("%s records no git_commit in its metadata, so there is no commit range to read: changes is null. Publish artifacts with it (release_artifact: metadata = { git_commit = ... }) to list them.", without))
		return null
	}
	repo := firstNonEmpty(m.Changelog.Repository.ValueString(), ".")
	c, err := notes.Between(ctx, repo, liveCommit, newCommit)
	if err != nil {
		diags.AddWarning(summary, fmt.Sprintf("The git clone %s cannot tell what changed from %s (commit %s) to %s (commit %s): %v. changes is left to the apply; fix the clone (a full history: git fetch --unshallow) to review it in the plan.",
			repo, live, shortCommit(liveCommit), version, shortCommit(newCommit), err))
		return unknown
	}
	if !c.Descends && len(c.Added) > 0 {
		diags.AddWarning(fmt.Sprintf("%s@%s does not descend from the release live in %s", name, version, m.Environment.ValueString()),
			fmt.Sprintf("Commit %s of %s does not descend from commit %s of %s, which is live: the deployment leaves out %d change(s) that are live now, listed in changes as \"Removed: ...\". Check that this is the release you mean to deploy.",
				shortCommit(newCommit), version, shortCommit(liveCommit), live, len(c.Removed)))
	}
	v, d := types.ListValueFrom(ctx, types.StringType, c.Lines())
	diags.Append(d...)
	return v
}

// applyChanges gives `changes` a value at apply when the plan could not: the
// new artifact is published now. What still cannot be known is null.
func (r *deploymentResource) applyChanges(ctx context.Context, plan *deploymentResourceModel, diags *diag.Diagnostics) {
	if !configured(r.data, diags) || !plan.Changes.IsUnknown() {
		return
	}
	plan.Changes = r.planChanges(ctx, plan, diags)
	if plan.Changes.IsUnknown() {
		plan.Changes = types.ListNull(types.StringType)
	}
}

// gitCommit is the git_commit metadata of name@version in the store ("" when
// it has none).
func (r *deploymentResource) gitCommit(ctx context.Context, name, version string) (string, error) {
	obj, err := r.data.Store.Stat(ctx, name, version)
	if err != nil {
		return "", err
	}
	return obj.Metadata[promote.MetaGitCommit], nil
}

func shortCommit(hash string) string {
	if len(hash) > 7 {
		return hash[:7]
	}
	return hash
}

// downgradeFacts decides with the history whether a version lower than the
// verified live one goes through (a rollback, or allow_downgrade) and sets
// f.Downgrade; a refusal is an error on artifact whose message ends with
// outcome. The plan and the apply both call it, so the apply refuses what the
// plan would, and shows the same steps. Nothing is decided while the plan
// does not know what is live (the apply's downgrade step does) or hist is nil.
func downgradeFacts(ctx context.Context, hist backend.History, m *deploymentResourceModel, f *deploy.Facts, outcome string) diag.Diagnostics {
	var diags diag.Diagnostics
	if hist == nil || f.Live == nil || f.Version == "" || m.AllowDowngrade.IsUnknown() || m.Environment.IsUnknown() {
		return diags
	}
	d, err := deploy.CheckDowngrade(ctx, hist, f.Environment, f.Name, f.Previous, f.Version, f.AllowDowngrade)
	f.Downgrade = d
	summary := fmt.Sprintf("Unable to deploy %s@%s to %s", f.Name, f.Version, f.Environment)
	switch {
	case errors.Is(err, deploy.ErrDowngrade):
		diags.AddAttributeError(path.Root("artifact"), summary, fmt.Sprintf("%s. %s.", strings.TrimPrefix(err.Error(), deploy.ErrDowngrade.Error()+": "), outcome))
	case err != nil:
		diags.AddError(summary, fmt.Sprintf("%v. %s.", err, outcome))
	}
	return diags
}
