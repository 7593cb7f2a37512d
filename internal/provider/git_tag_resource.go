package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
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
)

var (
	_ resource.ResourceWithConfigure   = (*gitTagResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*gitTagResource)(nil)
	_ resource.ResourceWithImportState = (*gitTagResource)(nil)
)

// NewGitTagResource returns the release_git_tag resource.
func NewGitTagResource() resource.Resource {
	return &gitTagResource{resourceBase{typeName: "_git_tag"}}
}

type gitTagResource struct {
	resourceBase
}

type gitTagResourceModel struct {
	ID            types.String `tfsdk:"id"`
	Repository    types.String `tfsdk:"repository"`
	Name          types.String `tfsdk:"name"`
	Commit        types.String `tfsdk:"commit"`
	Message       types.String `tfsdk:"message"`
	Remote        types.String `tfsdk:"remote"`
	Force         types.Bool   `tfsdk:"force"`
	OnDestroy     types.String `tfsdk:"on_destroy"`
	CommitSHA     types.String `tfsdk:"commit_sha"`
	PlannedAction types.String `tfsdk:"planned_action"`
}

const (
	gitOnDestroyKeep   = "keep"
	gitOnDestroyDelete = "delete"
)

func (r *gitTagResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = gitTagResourceSchema()
}

func gitTagResourceSchema() schema.Schema {
	return schema.Schema{
		MarkdownDescription: "Tags the released commit in a git clone and, with `remote`, on the remote: the state is the tag as the repository " +
			"holds it. The plan resolves `commit` to its full hash and says what the apply will do in `planned_action` " +
			"(\"tag 3f2a9c1 as 1.7.4 on origin\"). A tag that already names another commit is refused with both commits named and " +
			"never moved, unless `force = true` (the plan then warns \"tag 1.7.4 on origin names 1a2b3c4 now\", and over the state says " +
			"\"move tag 1.7.4 from 1a2b3c4 to 3f2a9c1\"). The apply looks again and refuses, changing nothing, a tag that moved since " +
			"refresh read it, or a tag pushed meanwhile on another commit without `force`. Pushes are `git push --atomic`; a forced move replaces " +
			"the remote tag only while it still holds what the apply saw (`--force-with-lease`). Refresh follows the tag: a tag moved " +
			"by hand shows as drift, a deleted tag is removed from the state. Credentials come from git's own configuration " +
			"(SSH agent, credential helper, `GIT_SSH_COMMAND`); git never prompts. Import with `<repository>:<name>`.",
		Attributes: gitRefAttributes("tag", "1.7.4",
			"The commit to tag: a full or abbreviated hash (e.g. an artifact's `git_commit` metadata), or a ref of the clone. "+
				"Prefer a hash: a branch name that moves between plan and apply makes the apply fail (Terraform plans again at apply).",
			"Remote to push the tag to: a configured remote (`origin`), a path or a URL without a password. Omit to keep the tag in the clone. "+
				"With a remote, the remote's tag is the truth that refresh reads (`git ls-remote`).",
			map[string]schema.Attribute{
				"message": schema.StringAttribute{
					MarkdownDescription: "Makes an annotated tag holding this message verbatim (Markdown headings included); omit for a lightweight tag. " +
						"Changing it on an existing tag needs `force = true` (the tag is rewritten on the same commit).",
					Optional: true,
				},
				"force": schema.BoolAttribute{
					MarkdownDescription: "Lets the apply move (or rewrite) a tag that already names another commit. Default `false`: such a tag is refused.",
					Optional:            true,
					Computed:            true,
					Default:             booldefault.StaticBool(false),
				},
				"on_destroy": schema.StringAttribute{
					MarkdownDescription: "`keep` (default) leaves the tag when the resource is destroyed; `delete` deletes it from the clone and the remote " +
						"(only while it still names `commit_sha`).",
					Optional:   true,
					Computed:   true,
					Default:    stringdefault.StaticString(gitOnDestroyKeep),
					Validators: []validator.String{stringvalidator.OneOf(gitOnDestroyKeep, gitOnDestroyDelete)},
				},
				"commit_sha": schema.StringAttribute{
					MarkdownDescription: "Full hash of the commit the tag names (the peeled commit of an annotated tag); known at plan time when `commit` is a hash " +
						"and the clone is readable (a ref may name another commit at apply).",
					Computed: true,
				},
				"planned_action": schema.StringAttribute{
					MarkdownDescription: "What the apply does, in one sentence. For a new tag, what is asked, whatever the remote holds meanwhile: " +
						"`tag 3f2a9c1 as 1.7.4 on origin` (with force: `tag 3f2a9c1 as 1.7.4 on origin, moving the tag if it exists (force)`); " +
						"over the state, from where refresh found the tag: `move tag 1.7.4 from 1a2b3c4 to 3f2a9c1 on origin`. " +
						"Kept from the last apply while nothing changes.",
					Computed: true,
				},
			}),
	}
}

// request is the domain's view of the model, tagging commit (a full hash).
func (m *gitTagResourceModel) request(commit string) gitrepo.TagRequest {
	return gitrepo.TagRequest{
		Repo: m.Repository.ValueString(), Name: m.Name.ValueString(), Commit: commit,
		Message: m.Message.ValueString(), Remote: m.Remote.ValueString(), Force: m.Force.ValueBool(),
	}
}

func (m *gitTagResourceModel) label() string {
	return gitRefLabel("tag", m.Name, m.Remote, m.Repository)
}

// gitRefLabel names a tag or branch (kind) in messages: on its remote when
// there is one, else in the clone.
func gitRefLabel(kind string, name, remote, repo types.String) string {
	if remote.ValueString() != "" {
		return fmt.Sprintf("%s %s on %s", kind, name.ValueString(), remote.ValueString())
	}
	return fmt.Sprintf("%s %s in %s", kind, name.ValueString(), repo.ValueString())
}

// importGitRef imports a tag or branch (kind) from its id, <repository>:<name>;
// the next refresh reads the rest.
func importGitRef(ctx context.Context, kind string, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	repo, name, err := splitGitID(req.ID, kind)
	if err != nil {
		resp.Diagnostics.AddError("Unable to import release_git_"+kind, err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("repository"), repo)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}

// gitID is the id of a tag or branch resource, <repository>:<name>.
func gitID(repo, name types.String) types.String {
	if repo.IsUnknown() || name.IsUnknown() {
		return types.StringUnknown()
	}
	return types.StringValue(repo.ValueString() + ":" + name.ValueString())
}

// splitGitID reads an import id <repository>:<name>, split on the last colon (the
// repository is a path, which may hold colons; a ref name cannot).
func splitGitID(id, kind string) (repo, name string, err error) {
	i := strings.LastIndex(id, ":")
	if i <= 0 || i == len(id)-1 {
		return "", "", fmt.Errorf("%q is not <repository>:<%s>; import with e.g. .:1.7.4 or /srv/git/app:%s", id, kind, kind)
	}
	repo, name = id[:i], id[i+1:]
	if err := gitrepo.CheckRefName(name); err != nil {
		return "", "", err
	}
	return repo, name, nil
}

// gitPlanReady tells whether the plan can look at the repository: every value it
// needs is known and the clone's directory exists (it may be created by the apply).
func gitPlanReady(repo types.String, values ...attrValue) bool {
	if repo.IsUnknown() {
		return false
	}
	for _, v := range values {
		if v.IsUnknown() {
			return false
		}
	}
	_, err := os.Stat(repo.ValueString())
	return err == nil
}

type attrValue interface{ IsUnknown() bool }

// resolveGitCommit resolves the model's commit to a full hash, or says at the commit
// attribute why it cannot.
func resolveGitCommit(ctx context.Context, repo, ref, what string, diags *diag.Diagnostics) (string, bool) {
	hash, err := gitrepo.ResolveCommit(ctx, repo, ref)
	if err != nil {
		diags.AddAttributeError(path.Root("commit"), "Unable to "+what, gitRefErrorDetail(repo, ref, err))
		return "", false
	}
	return hash, true
}

// ModifyPlan resolves commit and looks the tag up, so that the plan shows the full
// hash and what the apply will do, and refuses now what the apply would refuse.
//
// Terraform plans a second time at apply (the final plan) and a value planned as
// known must come out the same, so only what cannot change between the two is
// planned as known: the full hash a hash resolves to, and what follows from the
// state. Over a state, the plan is made from the state (which refresh has just
// read) and the fresh look only checks that the tag is still there, refusing with
// both commits named when it moved: a tag moved between plan and apply is refused
// by the final plan. A new resource (or a new remote) cannot rely on where the tag
// is: planned_action says what is asked (TagRequest.Intent) and the apply checks
// again, refusing a tag on another commit without force.
func (r *gitTagResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	plan, state, ok := planAndPrior[gitTagResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	plan.ID = gitID(plan.Repository, plan.Name)
	plan.CommitSHA, plan.PlannedAction = types.StringUnknown(), types.StringUnknown()
	if gitPlanReady(plan.Repository, plan.Name, plan.Commit, plan.Message, plan.Remote, plan.Force) {
		r.planTag(ctx, &plan, state, &resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// messageChanged tells whether the configured message differs from the one the tag
// was made with (a rewrite of an existing tag).
func messageChanged(state, plan *gitTagResourceModel) bool {
	return state != nil && !state.Message.Equal(plan.Message)
}

func (r *gitTagResource) planTag(ctx context.Context, plan, state *gitTagResourceModel, diags *diag.Diagnostics) {
	repo, name := plan.Repository.ValueString(), plan.Name.ValueString()
	commit, ok := resolveGitCommit(ctx, repo, plan.Commit.ValueString(), "tag "+name, diags)
	if !ok {
		return
	}
	tagReq := plan.request(commit)
	tagReq.Rewrite = messageChanged(state, plan)
	now, err := gitrepo.ObserveTag(ctx, repo, name, tagReq.Remote)
	if err != nil {
		diags.AddError("Unable to look up "+plan.label(), gitErrorDetail(err))
		return
	}
	base := state != nil && state.Remote.Equal(plan.Remote) // a new remote is a new tag
	if base {
		// Planned over the state: the tag must still be where refresh found it.
		if err := gitrepo.TagUnchanged(tagReq, state.CommitSHA.ValueString(), now); err != nil {
			diags.AddError("Unable to plan "+plan.label(), gitErrorDetail(err))
			return
		}
	}
	p, err := gitrepo.PlanTag(tagReq, now)
	if err != nil {
		diags.AddAttributeError(path.Root("commit"), "Refusing to tag "+gitrepo.Short(commit)+" as "+name, gitErrorDetail(err))
		return
	}
	if cur := now.Current(tagReq.Remote); !base && cur != nil && cur.Commit != commit {
		diags.AddAttributeWarning(path.Root("force"), "The apply moves "+plan.label(),
			fmt.Sprintf("%s names %s now; with force = true the apply moves it to %s (move tag %s from %s to %s).",
				plan.label(), cur.Commit, commit, name, gitrepo.Short(cur.Commit), gitrepo.Short(commit)))
	}
	unchanged := base && !p.Changes() && state.CommitSHA.ValueString() == commit && !state.PlannedAction.IsNull()
	// A ref may name another commit at apply: commit_sha and planned_action then stay
	// unknown, unless nothing changes (a no-op is not planned again at apply).
	if stable := fixedCommit(plan.Commit.ValueString(), commit) || (unchanged && sameTagConfig(state, plan)); !stable {
		return
	}
	plan.CommitSHA = types.StringValue(commit)
	switch {
	case unchanged:
		plan.PlannedAction = state.PlannedAction // nothing to do: the last apply's sentence stays
	case base:
		plan.PlannedAction = types.StringValue(p.Action)
	default:
		plan.PlannedAction = types.StringValue(tagReq.Intent())
	}
}

// sameTagConfig tells whether the configuration is the state's: the plan is then
// a no-op, which Terraform does not plan again at apply.
func sameTagConfig(state, plan *gitTagResourceModel) bool {
	return state.Commit.Equal(plan.Commit) && state.Message.Equal(plan.Message) && state.Remote.Equal(plan.Remote) &&
		state.Force.Equal(plan.Force) && state.OnDestroy.Equal(plan.OnDestroy)
}

// fixedCommit tells whether commit, as configured, names hash for good: it is the
// hash or an abbreviation of it (a branch or other ref may move).
func fixedCommit(configured, hash string) bool {
	c := strings.ToLower(configured)
	if len(c) < 4 || !strings.HasPrefix(hash, c) {
		return false
	}
	return strings.Trim(c, "0123456789abcdef") == ""
}

// gitErrorDetail is err as a diagnostic's detail, with what to do for the errors
// every git resource meets.
func gitErrorDetail(err error) string {
	switch {
	case errors.Is(err, gitrepo.ErrGitNotFound):
		return "The git command is not installed on the machine running Terraform. Install git, then run Terraform again."
	case errors.Is(err, gitrepo.ErrNotRepository):
		return err.Error() + ". Set repository to the path of a clone (relative paths start from the directory Terraform runs in)."
	}
	msg := strings.TrimSuffix(err.Error(), ".")
	return msg + "."
}

func (r *gitTagResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan gitTagResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.apply(ctx, &plan, nil, &resp.Diagnostics)
	if !resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

func (r *gitTagResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan, state, ok := planAndState[gitTagResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	r.apply(ctx, &plan, &state, &resp.Diagnostics)
	if !resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// apply tags as planned, checking that the commit still resolves to the planned
// hash and, over a state, that the tag is still where refresh found it, and
// completes plan with what was done.
func (r *gitTagResource) apply(ctx context.Context, plan, state *gitTagResourceModel, diags *diag.Diagnostics) {
	repo, name := plan.Repository.ValueString(), plan.Name.ValueString()
	commit, ok := resolveGitCommit(ctx, repo, plan.Commit.ValueString(), "tag "+name, diags)
	if !ok {
		return
	}
	summary := "Unable to tag " + gitrepo.Short(commit) + " as " + name
	if planned := plan.CommitSHA; !planned.IsUnknown() && planned.ValueString() != commit {
		diags.AddAttributeError(path.Root("commit"), summary, fmt.Sprintf("%q named %s when planned and names %s now. Nothing was tagged; run plan again.",
			plan.Commit.ValueString(), planned.ValueString(), commit))
		return
	}
	tagReq := plan.request(commit)
	tagReq.Rewrite = messageChanged(state, plan)
	plannedAt := "" // a new tag: the plan did not rely on where it was
	if state != nil && state.Remote.Equal(plan.Remote) {
		plannedAt = state.CommitSHA.ValueString()
	}
	p, err := gitrepo.ApplyTag(ctx, tagReq, plannedAt)
	if err != nil {
		diags.AddError(summary, gitErrorDetail(err))
		return
	}
	if p.Changes() {
		tflog.Info(ctx, "git tag applied", map[string]any{"action": p.Action, "repository": repo})
	}
	plan.ID = gitID(plan.Repository, plan.Name)
	plan.CommitSHA = types.StringValue(commit)
	if plan.PlannedAction.IsUnknown() {
		plan.PlannedAction = types.StringValue(p.Action)
	}
}

// Read follows the tag where it counts (the remote when set, else the clone): a
// tag moved elsewhere updates commit_sha (drift), a deleted tag leaves the state.
func (r *gitTagResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state gitTagResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	repo, name, remote := state.Repository.ValueString(), state.Name.ValueString(), state.Remote.ValueString()
	now, err := gitrepo.ObserveTag(ctx, repo, name, remote)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read "+state.label(), gitErrorDetail(err))
		return
	}
	cur := now.Current(remote)
	if cur == nil {
		tflog.Warn(ctx, "git tag is gone; removing it from state", map[string]any{"tag": name, "repository": repo, "remote": remote})
		resp.State.RemoveResource(ctx)
		return
	}
	imported := state.PlannedAction.IsNull()
	state.ID = gitID(state.Repository, state.Name)
	state.CommitSHA = types.StringValue(cur.Commit)
	if imported {
		r.fillImported(ctx, &state, cur, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// fillImported completes an imported tag's state from the repository.
func (r *gitTagResource) fillImported(ctx context.Context, state *gitTagResourceModel, cur *gitrepo.Tag, diags *diag.Diagnostics) {
	state.Commit = types.StringValue(cur.Commit)
	state.Force = types.BoolValue(false)
	state.OnDestroy = types.StringValue(gitOnDestroyKeep)
	state.PlannedAction = types.StringValue(fmt.Sprintf("import tag %s on %s", state.Name.ValueString(), gitrepo.Short(cur.Commit)))
	state.Message = types.StringNull()
	if cur.Annotated {
		msg, err := gitrepo.TagMessage(ctx, state.Repository.ValueString(), state.Name.ValueString())
		if err != nil {
			diags.AddError("Unable to read the message of "+state.label(), gitErrorDetail(err))
			return
		}
		state.Message = types.StringValue(msg)
	}
}

func (r *gitTagResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state gitTagResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.OnDestroy.ValueString() != gitOnDestroyDelete {
		tflog.Info(ctx, "git tag kept (on_destroy = keep)", map[string]any{"tag": state.Name.ValueString()})
		return
	}
	err := gitrepo.DeleteReleaseTag(ctx, state.Repository.ValueString(), state.Name.ValueString(), state.Remote.ValueString(), state.CommitSHA.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Unable to delete "+state.label(), gitErrorDetail(err)+" The tag is where it was; fix it by hand or set on_destroy = \"keep\".")
	}
}

func (r *gitTagResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importGitRef(ctx, "tag", req, resp)
}
