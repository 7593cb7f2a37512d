package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var (
	_ resource.ResourceWithConfigure   = (*gitBranchResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*gitBranchResource)(nil)
	_ resource.ResourceWithImportState = (*gitBranchResource)(nil)
)

// NewGitBranchResource returns the release_git_branch resource.
func NewGitBranchResource() resource.Resource {
	return &gitBranchResource{resourceBase{typeName: "_git_branch"}}
}

type gitBranchResource struct {
	resourceBase
}

type gitBranchResourceModel struct {
	ID            types.String `tfsdk:"id"`
	Repository    types.String `tfsdk:"repository"`
	Name          types.String `tfsdk:"name"`
	Commit        types.String `tfsdk:"commit"`
	Remote        types.String `tfsdk:"remote"`
	FastForward   types.Bool   `tfsdk:"fast_forward"`
	OnDestroy     types.String `tfsdk:"on_destroy"`
	CommitSHA     types.String `tfsdk:"commit_sha"`
	PreviousSHA   types.String `tfsdk:"previous_sha"`
	PlannedAction types.String `tfsdk:"planned_action"`
}

func (r *gitBranchResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = gitBranchResourceSchema()
}

func gitBranchResourceSchema() schema.Schema {
	return schema.Schema{
		MarkdownDescription: "Moves a release branch (e.g. `master`) forward to the released commit, in a git clone or, with `remote`, on the remote: " +
			"the state is the branch as the repository holds it. The branch only moves forward: the plan refuses, naming both commits, " +
			"unless the branch's tip is an ancestor of `commit` (`git merge-base --is-ancestor`, the remote's tip fetched first), and " +
			"says what the apply will do in `planned_action` (\"move master on origin from 1a2b3c4 to 3f2a9c1 (fast-forward, 12 commits)\"; " +
			"for a new resource, whose plan cannot rely on the tip, \"move master on origin to 3f2a9c1 (fast-forward only; refused if it is not)\"). " +
			"The apply looks again: it refuses, pushing nothing, a tip that moved since refresh read it, or a move that is not a fast-forward; the push is `git push --atomic`, never forced. " +
			"Without `remote`, the clone's branch is moved (with `git merge --ff-only` when it is checked out). Refresh follows the branch: " +
			"a branch that moved on shows as drift, and a plan keeps it where it is when it already contains `commit`; a deleted branch " +
			"is removed from the state. Destroy leaves the branch alone. Credentials come from git's own configuration (SSH agent, " +
			"credential helper, `GIT_SSH_COMMAND`); git never prompts. Import with `<repository>:<branch>`.",
		Attributes: gitRefAttributes("branch", "master",
			"The commit to move the branch to: a full or abbreviated hash (e.g. an artifact's `git_commit` metadata), or a ref of the clone. "+
				"Prefer a hash: a ref that moves between plan and apply makes the apply fail (Terraform plans again at apply).",
			"Remote whose branch is moved: a configured remote (`origin`), a path or a URL without a password. "+
				"Omit to move the clone's branch. With a remote, the remote's branch is the truth that refresh reads (`git ls-remote`).",
			map[string]schema.Attribute{
				"fast_forward": schema.BoolAttribute{
					MarkdownDescription: "The only mode: the branch moves only forward. `false` is refused.",
					Optional:            true,
					Computed:            true,
					Default:             booldefault.StaticBool(true),
					Validators:          []validator.Bool{onlyFastForward{}},
				},
				"on_destroy": schema.StringAttribute{
					MarkdownDescription: "`keep`, the only value: destroying the resource leaves the branch where it is.",
					Optional:            true,
					Computed:            true,
					Default:             stringdefault.StaticString(gitOnDestroyKeep),
					Validators: []validator.String{validate.String(`value must be "keep"`, "Branches are never deleted", func(s string) error {
						if s != gitOnDestroyKeep {
							return fmt.Errorf("on_destroy = %q: destroying a release_git_branch leaves the branch alone; only \"keep\" is accepted", s)
						}
						return nil
					})},
				},
				"commit_sha": schema.StringAttribute{
					MarkdownDescription: "Full hash of the branch's tip after the apply: the commit, or the tip when the branch already contains it. " +
						"Known at plan time over the state when `commit` is a hash; unknown until the apply for a new resource.",
					Computed: true,
				},
				"previous_sha": schema.StringAttribute{
					MarkdownDescription: "Full hash of the branch's tip before the move: known at plan time over the state, read by the apply for a new resource; null when the branch is created.",
					Computed:            true,
				},
				"planned_action": schema.StringAttribute{
					MarkdownDescription: "What the apply does, in one sentence: over the state, `move master on origin from 1a2b3c4 to 3f2a9c1 (fast-forward, 12 commits)`; " +
						"for a new resource, what is asked: `move master on origin to 3f2a9c1 (fast-forward only; refused if it is not)`. " +
						"Kept from the last apply while nothing changes.",
					Computed: true,
				},
			}),
	}
}

// onlyFastForward refuses fast_forward = false.
type onlyFastForward struct{}

func (onlyFastForward) Description(context.Context) string {
	return "value must be true: a release branch only moves forward"
}

func (v onlyFastForward) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (onlyFastForward) ValidateBool(_ context.Context, req validator.BoolRequest, resp *validator.BoolResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || req.ConfigValue.ValueBool() {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Only fast-forward moves are supported",
		"fast_forward = false would let the branch move to a commit that drops its history; release_git_branch never forces a branch. "+
			"Remove fast_forward (it defaults to true), or move the branch by hand if rewriting it is really intended.")
}

func (m *gitBranchResourceModel) request(commit string) gitrepo.BranchRequest {
	return gitrepo.BranchRequest{Repo: m.Repository.ValueString(), Name: m.Name.ValueString(), Commit: commit, Remote: m.Remote.ValueString()}
}

func (m *gitBranchResourceModel) label() string {
	return gitRefLabel("branch", m.Name, m.Remote, m.Repository)
}

func shaOrNull(hash string) types.String {
	if hash == "" {
		return types.StringNull()
	}
	return types.StringValue(hash)
}

// ModifyPlan resolves commit and looks the branch up, so that the plan shows where
// the branch is, where it goes and how far, and refuses now a non-fast-forward.
// As for the tag (see its ModifyPlan), only what cannot change before the final
// plan Terraform makes at apply is planned as known. Over a state, the branch's tip
// must still be where refresh found it: the final plan refuses, naming both
// commits, a branch pushed to between plan and apply. A new resource cannot rely
// on where the branch is: commit_sha and previous_sha are unknown, planned_action
// says what is asked (BranchRequest.Intent), and the apply moves the branch only
// forward from wherever it is then, refusing otherwise with both commits named.
func (r *gitBranchResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	plan, state, ok := planAndPrior[gitBranchResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	plan.ID = gitID(plan.Repository, plan.Name)
	plan.CommitSHA, plan.PreviousSHA, plan.PlannedAction = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
	if gitPlanReady(plan.Repository, plan.Name, plan.Commit, plan.Remote) {
		r.planBranch(ctx, &plan, state, &resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *gitBranchResource) planBranch(ctx context.Context, plan, state *gitBranchResourceModel, diags *diag.Diagnostics) {
	repo, name := plan.Repository.ValueString(), plan.Name.ValueString()
	commit, ok := resolveGitCommit(ctx, repo, plan.Commit.ValueString(), "move "+name, diags)
	if !ok {
		return
	}
	from, err := gitrepo.ObserveBranch(ctx, repo, name, plan.Remote.ValueString())
	if err != nil {
		diags.AddError("Unable to look up "+plan.label(), gitErrorDetail(err))
		return
	}
	base := state != nil && state.Remote.Equal(plan.Remote) // a new remote is a new branch
	if base {
		// Planned over the state: the tip must still be where refresh found it.
		if err := gitrepo.BranchUnchanged(plan.request(commit), state.CommitSHA.ValueString(), from); err != nil {
			diags.AddError("Unable to plan "+plan.label(), gitErrorDetail(err))
			return
		}
	}
	p, err := gitrepo.PlanBranch(ctx, plan.request(commit), from)
	if err != nil {
		diags.AddAttributeError(path.Root("commit"), "Refusing to move "+plan.label()+" to "+gitrepo.Short(commit), gitErrorDetail(err))
		return
	}
	// Nothing to do when the branch stays where refresh found it for the same commit
	// (at the commit, or already past it): the last apply's sentence stays.
	unchanged := base && !p.Move && state.Commit.Equal(plan.Commit) && !state.PlannedAction.IsNull()
	if base {
		plan.PreviousSHA = shaOrNull(from)
	}
	// A ref may name another commit at apply: commit_sha and planned_action then stay
	// unknown, unless nothing changes (a no-op is not planned again at apply).
	if stable := fixedCommit(plan.Commit.ValueString(), commit) || (unchanged && sameBranchConfig(state, plan)); !stable {
		return
	}
	switch {
	case unchanged:
		plan.CommitSHA, plan.PreviousSHA, plan.PlannedAction = state.CommitSHA, state.PreviousSHA, state.PlannedAction
	case base:
		plan.CommitSHA, plan.PlannedAction = types.StringValue(p.To), types.StringValue(p.Action)
	default:
		plan.PlannedAction = types.StringValue(plan.request(commit).Intent())
	}
}

// sameBranchConfig tells whether the configuration is the state's: the plan is
// then a no-op, which Terraform does not plan again at apply.
func sameBranchConfig(state, plan *gitBranchResourceModel) bool {
	return state.Commit.Equal(plan.Commit) && state.Remote.Equal(plan.Remote) &&
		state.FastForward.Equal(plan.FastForward) && state.OnDestroy.Equal(plan.OnDestroy)
}

func (r *gitBranchResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan gitBranchResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.apply(ctx, &plan, "", &resp.Diagnostics)
	if !resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

func (r *gitBranchResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan, state, ok := planAndState[gitBranchResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	plannedFrom := "" // a new remote: the plan did not rely on where the branch was
	if state.Remote.Equal(plan.Remote) {
		plannedFrom = state.CommitSHA.ValueString()
	}
	r.apply(ctx, &plan, plannedFrom, &resp.Diagnostics)
	if !resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// apply moves the branch forward, only while the commit resolves to the planned
// hash and, when the plan was made over the branch's tip plannedFrom (the state
// refresh read; "" for a new branch), the tip is still there; it completes plan.
func (r *gitBranchResource) apply(ctx context.Context, plan *gitBranchResourceModel, plannedFrom string, diags *diag.Diagnostics) {
	repo, name := plan.Repository.ValueString(), plan.Name.ValueString()
	commit, ok := resolveGitCommit(ctx, repo, plan.Commit.ValueString(), "move "+name, diags)
	if !ok {
		return
	}
	summary := "Unable to move " + plan.label() + " to " + gitrepo.Short(commit)
	p, err := gitrepo.ApplyBranch(ctx, plan.request(commit), plannedFrom)
	if err != nil {
		diags.AddError(summary, gitErrorDetail(err))
		return
	}
	if p.Move {
		tflog.Info(ctx, "git branch moved", map[string]any{"action": p.Action, "repository": repo})
	}
	plan.ID = gitID(plan.Repository, plan.Name)
	if plan.CommitSHA.IsUnknown() {
		plan.CommitSHA = types.StringValue(p.To)
	}
	if plan.PreviousSHA.IsUnknown() {
		plan.PreviousSHA = shaOrNull(p.From)
	}
	if plan.PlannedAction.IsUnknown() {
		plan.PlannedAction = types.StringValue(p.Action)
	}
}

// Read follows the branch where it counts (the remote when set, else the clone):
// a branch that moved updates commit_sha (drift), a deleted branch leaves the state.
func (r *gitBranchResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state gitBranchResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	repo, name, remote := state.Repository.ValueString(), state.Name.ValueString(), state.Remote.ValueString()
	tip, err := gitrepo.ObserveBranch(ctx, repo, name, remote)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read "+state.label(), gitErrorDetail(err))
		return
	}
	if tip == "" {
		tflog.Warn(ctx, "git branch is gone; removing it from state", map[string]any{"branch": name, "repository": repo, "remote": remote})
		resp.State.RemoveResource(ctx)
		return
	}
	state.ID = gitID(state.Repository, state.Name)
	state.CommitSHA = types.StringValue(tip)
	if state.PlannedAction.IsNull() { // imported
		state.Commit = types.StringValue(tip)
		state.FastForward = types.BoolValue(true)
		state.OnDestroy = types.StringValue(gitOnDestroyKeep)
		state.PreviousSHA = types.StringValue(tip)
		state.PlannedAction = types.StringValue(fmt.Sprintf("import branch %s at %s", name, gitrepo.Short(tip)))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Delete leaves the branch alone (on_destroy = "keep" is the only value).
func (r *gitBranchResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state gitBranchResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	tflog.Info(ctx, "git branch kept (on_destroy = keep)", map[string]any{"branch": state.Name.ValueString()})
}

func (r *gitBranchResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importGitRef(ctx, "branch", req, resp)
}
