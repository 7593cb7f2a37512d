package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/freeze"
	"github.com/releaseplan/terraform-provider-release/internal/promote"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var (
	_ resource.ResourceWithConfigure        = (*promotionResource)(nil)
	_ resource.ResourceWithImportState      = (*promotionResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*promotionResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*promotionResource)(nil)
	_ resource.ResourceWithConfigValidators = (*promotionResource)(nil)
)

// NewPromotionResource returns the release_promotion resource.
func NewPromotionResource() resource.Resource {
	return &promotionResource{resourceBase{typeName: "_promotion"}}
}

type promotionResource struct {
	resourceBase
}

type promotionResourceModel struct {
	ID                  types.String       `tfsdk:"id"`
	Name                types.String       `tfsdk:"name"`
	FromVersion         types.String       `tfsdk:"from_version"`
	ToVersion           types.String       `tfsdk:"to_version"`
	SHA256              types.String       `tfsdk:"sha256"`
	RequireDeployedIn   types.List         `tfsdk:"require_deployed_in"`
	RequireDescendantOf *descendantOfModel `tfsdk:"require_descendant_of"`
	RetainOnDestroy     types.Bool         `tfsdk:"retain_on_destroy"`
	RequireHealthyFor   types.String       `tfsdk:"require_healthy_for"`
	Environment         types.String       `tfsdk:"environment"`
	FreezeOverride      types.String       `tfsdk:"freeze_override"`
	GitCommit           types.String       `tfsdk:"git_commit"`
	PromotedAt          types.String       `tfsdk:"promoted_at"`
	URI                 types.String       `tfsdk:"uri"`
}

type descendantOfModel struct {
	Repository types.String `tfsdk:"repository"`
	Commit     types.String `tfsdk:"commit"`
}

func (r *promotionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = promotionResourceSchema()
}

func promotionResourceSchema() schema.Schema {
	computed := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	return schema.Schema{
		MarkdownDescription: "Promotes the *same bytes* to the next channel: publishes the artifact `name@from_version` again as `name@to_version` " +
			"(e.g. `1.7.4-staging` → `1.7.4-rc` → `1.7.4`), re-verifying the sha256 while copying, once every guard passed. " +
			"Each failing guard is reported by name with its reason, and nothing is published. " +
			"The new version's metadata is the source's plus `promoted_from` and `promoted_by`; a `promoted` event is recorded in the release history. " +
			"Guards are checked when the promotion is made; changing them later changes nothing.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The promoted artifact, `name@to_version`; pass it to `release_deployment.artifact`.",
				Computed:            true,
				PlanModifiers:       computed,
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Artifact name, e.g. `histologe`.",
				Required:            true,
				Validators:          []validator.String{validate.ArtifactName()},
				PlanModifiers:       replace,
			},
			"from_version": schema.StringAttribute{
				MarkdownDescription: "The published version whose bytes are promoted, e.g. `1.7.4-staging`.",
				Required:            true,
				Validators:          []validator.String{validate.Semver()},
				PlanModifiers:       replace,
			},
			"to_version": schema.StringAttribute{
				MarkdownDescription: "The version to publish, e.g. `1.7.4-rc` (see `provider::release::semver_channel`). It must not be published already with other bytes.",
				Required:            true,
				Validators:          []validator.String{validate.Semver()},
				PlanModifiers:       replace,
			},
			"sha256": schema.StringAttribute{
				MarkdownDescription: "The sha256 that the stored bytes of `from_version` must have, usually `release_artifact.<x>.sha256`: the bytes reviewed are the bytes promoted.",
				Required:            true,
				Validators:          []validator.String{validate.SHA256()},
				// Upper or lower case name the same bytes: only another checksum
				// promotes other bytes.
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(otherChecksum,
					"Another sha256 promotes other bytes.", "Another sha256 promotes other bytes.")},
			},
			"require_deployed_in": schema.ListAttribute{
				MarkdownDescription: "Environments where `from_version` must be live, its last deployment there a success (from the release history): the guard that the bytes were validated. E.g. `[\"staging\"]`.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.ValueStringsAre(validate.EnvironmentName())},
			},
			"require_healthy_for": schema.StringAttribute{
				MarkdownDescription: "Soak time, e.g. `24h`: `from_version` must have been live in each `require_deployed_in` environment for at least this long " +
					"without a failed deployment since (from the release history). The plan says how long it has been live; the refusal says how long is left.",
				Optional: true,
				Validators: []validator.String{
					validate.PositiveDuration("Invalid require_healthy_for", "would require nothing: remove require_healthy_for instead"),
					stringvalidator.AlsoRequires(path.MatchRoot("require_deployed_in")),
				},
			},
			"environment": schema.StringAttribute{
				MarkdownDescription: "The environment this promotion releases into, e.g. `production` for `1.7.4`: while a `release_freeze` window of it is in force, " +
					"the promotion is refused at plan time and again at apply time, unless `freeze_override` is set.",
				Optional:   true,
				Validators: []validator.String{validate.EnvironmentName()},
			},
			"freeze_override": freezeOverrideAttribute("promotion"),
			"retain_on_destroy": schema.BoolAttribute{
				MarkdownDescription: "Keep the promoted version in the artifact store when the resource is destroyed, as artifact repositories do. Default: `true`; `false` deletes it.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
			},
			"git_commit": schema.StringAttribute{
				MarkdownDescription: "The `git_commit` metadata of the promoted bytes (`\"\"` when they have none): known at plan time when `from_version` is already published, so the plan shows which commit goes on.",
				Computed:            true,
				PlanModifiers:       computed,
			},
			"promoted_at": schema.StringAttribute{
				MarkdownDescription: "When `to_version` was published (RFC 3339).",
				Computed:            true,
				PlanModifiers:       computed,
			},
			"uri": schema.StringAttribute{
				MarkdownDescription: "Where the promoted bytes are stored (`file://` or `https://`).",
				Computed:            true,
				PlanModifiers:       computed,
			},
		},
		Blocks: map[string]schema.Block{
			"require_descendant_of": schema.SingleNestedBlock{
				MarkdownDescription: "The deploy-by-sha guard: the `git_commit` metadata of `from_version` must descend from `commit` (or be it) in a local git clone. " +
					"A shallow clone that cannot tell, or a commit the clone lacks, fails the guard: it never passes by default.",
				Attributes: map[string]schema.Attribute{
					"repository": schema.StringAttribute{
						MarkdownDescription: "Path of a local git clone with enough history. Default: `.`.",
						Optional:            true,
					},
					"commit": schema.StringAttribute{
						MarkdownDescription: "The commit to descend from, usually what production runs: `data.release_environment.production.git_commit`.",
						Optional:            true,
					},
				},
			},
		},
	}
}

func (r *promotionResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		validate.RequiredInBlock("require_descendant_of", "commit",
			"It is the commit to descend from, e.g. commit = data.release_environment.production.git_commit"),
	}
}

// ValidateConfig refuses a promotion onto its own version.
func (r *promotionResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg promotionResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !cfg.FromVersion.IsUnknown() && !cfg.ToVersion.IsUnknown() && !cfg.FromVersion.IsNull() && cfg.FromVersion.Equal(cfg.ToVersion) {
		resp.Diagnostics.AddAttributeError(path.Root("to_version"), "Invalid promotion",
			fmt.Sprintf("from_version and to_version are both %s: a promotion publishes the bytes under the next channel's version, e.g. provider::release::semver_channel(%q, \"rc\").", cfg.ToVersion.ValueString(), cfg.ToVersion.ValueString()))
	}
}

// ModifyPlan computes the id and refuses at plan time what the apply would refuse
// for sure: a sha256 that the stored bytes do not have, a blocked version, a
// to_version published with other bytes. The environment guards run at apply
// time, since a deployment in the same apply may satisfy them.
func (r *promotionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil {
		return
	}
	plan, ok := plannedModel[promotionResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	if plan.Name.IsUnknown() || plan.ToVersion.IsUnknown() {
		return
	}
	name, to := plan.Name.ValueString(), plan.ToVersion.ValueString()
	plan.ID = types.StringValue(name + "@" + to)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), plan.ID)...)
	if !req.State.Raw.IsNull() || plan.FromVersion.IsUnknown() {
		return // an existing promotion: nothing is published by this plan
	}
	from := plan.FromVersion.ValueString()
	summary := fmt.Sprintf("Unable to promote %s@%s to %s", name, from, to)
	if !plan.Environment.IsUnknown() && !plan.Environment.IsNull() {
		r.data.planFreeze(ctx, plan.Environment.ValueString(), plan.FreezeOverride, summary, &resp.Diagnostics)
	}
	r.planSoak(ctx, plan, &resp.Diagnostics)
	for _, v := range []string{from, to} {
		b, err := r.data.Backend.GetBlock(ctx, name, v)
		if err != nil {
			resp.Diagnostics.AddWarning("Unable to check version blocks", err.Error())
			continue
		}
		if b != nil {
			resp.Diagnostics.AddAttributeError(path.Root("from_version"), summary,
				fmt.Sprintf("The guard %s refused it: %s@%s is blocked: %s. Remove the release_version_block to promote it.", promote.GuardBlocked, name, v, b.Reason))
		}
	}
	src, err := r.data.Store.Stat(ctx, name, from)
	if err == nil && !plan.SHA256.IsUnknown() && !strings.EqualFold(src.SHA256, plan.SHA256.ValueString()) {
		resp.Diagnostics.AddAttributeError(path.Root("sha256"), summary,
			fmt.Sprintf("The guard sha256 refused it: %s has sha256 %s, the promotion expects %s: these are not the bytes that were reviewed. Nothing will be published.", src.ID(), src.SHA256, plan.SHA256.ValueString()))
	}
	if err == nil {
		// The promoted bytes carry the source's metadata: their git_commit is
		// known now, from the immutable record of from_version.
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("git_commit"), types.StringValue(src.Metadata[promote.MetaGitCommit]))...)
	}
	if existing, err := r.data.Store.Stat(ctx, name, to); err == nil && existing.Metadata[promote.MetaPromotedFrom] != from {
		resp.Diagnostics.AddAttributeError(path.Root("to_version"), summary, toVersionTaken(existing, from))
	}
}

// toVersionTaken says that to_version is published with another origin: at
// plan time it was so already; at apply (the final plan) it appeared since the
// plan, and the message says what the plan expected, as every stale plan does.
func toVersionTaken(existing store.Object, from string) string {
	origin := "published directly"
	if f := existing.Metadata[promote.MetaPromotedFrom]; f != "" {
		origin = "promoted from " + f
		if by := existing.Metadata[promote.MetaPromotedBy]; by != "" {
			origin += " by " + by
		}
	}
	now := fmt.Sprintf("it is published (%s at %s, sha256 %s)", origin, existing.PublishedAt.UTC().Format(time.RFC3339), existing.SHA256)
	return fmt.Sprintf("%s is already published (%s, sha256 %s). Published versions are immutable: promote to another version, or import the existing promotion. If it was not published when this plan was made: %s",
		existing.ID(), origin, existing.SHA256, staleMessage(existing.ID(), "publish it from "+from, now))
}

// planSoak shows how long from_version has been live in each
// require_deployed_in environment, against require_healthy_for. The apply
// checks again (promote.GuardHealthyFor): time passes between plan and apply.
func (r *promotionResource) planSoak(ctx context.Context, plan promotionResourceModel, diags *diag.Diagnostics) {
	if plan.RequireHealthyFor.IsNull() || plan.RequireHealthyFor.IsUnknown() || plan.RequireDeployedIn.IsUnknown() {
		return
	}
	var envs []string
	diags.Append(plan.RequireDeployedIn.ElementsAs(ctx, &envs, true)...)
	want := validate.ParseDuration(plan.RequireHealthyFor.ValueString())
	name, from := plan.Name.ValueString(), plan.FromVersion.ValueString()
	for _, env := range envs {
		if env == "" {
			continue // not known yet
		}
		since, ok, err := promote.HealthySince(ctx, r.data.Backend, env, name, from)
		switch {
		case err != nil:
			diags.AddWarning("Unable to read the release history of "+env, err.Error())
		case !ok:
			diags.AddWarning(fmt.Sprintf("%s@%s is not live in %s", name, from, env),
				fmt.Sprintf("The history shows no healthy deployment of %s@%s in %s: the apply refuses the promotion unless one is made by then and has been live for %s.", name, from, env, want))
		case time.Since(since) >= want:
			diags.AddWarning(fmt.Sprintf("%s@%s has been live in %s for %s", name, from, env, freeze.Human(time.Since(since))),
				fmt.Sprintf("Live and healthy in %s since %s, without a failed deployment: require_healthy_for = %s is met.", env, since.UTC().Format(time.RFC3339), want))
		default:
			left := want - time.Since(since)
			diags.AddWarning(fmt.Sprintf("%s@%s has been live in %s for %s only", name, from, env, freeze.Human(time.Since(since))),
				fmt.Sprintf("Live and healthy in %s since %s; require_healthy_for = %s is met in %s (at %s): an apply before then is refused.",
					env, since.UTC().Format(time.RFC3339), want, freeze.Human(left), since.Add(want).UTC().Format(time.RFC3339)))
		}
	}
}

func (r *promotionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan promotionResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := historyOperation(ctx, &resp.Diagnostics)
	defer done()

	preq := promote.Request{
		Name:              plan.Name.ValueString(),
		FromVersion:       plan.FromVersion.ValueString(),
		ToVersion:         plan.ToVersion.ValueString(),
		SHA256:            plan.SHA256.ValueString(),
		Actor:             r.data.Actor,
		Store:             r.data.Store,
		Backend:           r.data.Backend,
		RequireHealthyFor: validate.ParseDuration(plan.RequireHealthyFor.ValueString()),
		Environment:       plan.Environment.ValueString(),
		FreezeOverride:    plan.FreezeOverride.ValueString(),
	}
	resp.Diagnostics.Append(plan.RequireDeployedIn.ElementsAs(ctx, &preq.RequireDeployedIn, false)...)
	if d := plan.RequireDescendantOf; d != nil {
		preq.RequireDescendantOf = &promote.DescendantOf{Repository: firstNonEmpty(d.Repository.ValueString(), "."), Commit: d.Commit.ValueString()}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	start := time.Now()
	res, err := promote.Promote(ctx, preq)
	if err != nil {
		resp.Diagnostics.Append(promotionError(preq, err)...)
		return
	}
	tflog.Info(ctx, "artifact promoted", map[string]any{"artifact": res.Object.ID(), "from": preq.FromVersion, "sha256": res.Object.SHA256, "already_promoted": res.AlreadyPromoted, "elapsed": time.Since(start).String()})
	setPromotionComputed(&plan, res.Object)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// otherChecksum replaces a promotion only when its sha256 names other bytes, not
// when the same checksum is written in another case (as after an import).
func otherChecksum(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = req.PlanValue.IsUnknown() || !strings.EqualFold(req.PlanValue.ValueString(), req.StateValue.ValueString())
}

// promotionError says which guards refused the promotion, and that nothing was published.
func promotionError(req promote.Request, err error) diag.Diagnostics {
	var diags diag.Diagnostics
	summary := fmt.Sprintf("Unable to promote %s@%s to %s", req.Name, req.FromVersion, req.ToVersion)
	if errors.Is(err, promote.ErrGuard) {
		var lines []string
		for _, e := range flattenJoined(err) {
			var ge *promote.GuardError
			if errors.As(e, &ge) {
				lines = append(lines, fmt.Sprintf("- the guard %s refused it: %s.", ge.Guard, ge.Reason))
			}
		}
		diags.AddError(summary, strings.Join(lines, "\n")+"\nNothing was published. Fix what the guards report (or the guards themselves), then apply again.")
		return diags
	}
	switch {
	case errors.Is(err, store.ErrChecksumMismatch):
		diags.AddError(summary, fmt.Sprintf("The stored bytes of %s@%s no longer have their recorded sha256: %v. Nothing was published; publish the artifact again under a new version.", req.Name, req.FromVersion, err))
	case errors.Is(err, store.ErrConflict):
		diags.AddAttributeError(path.Root("to_version"), summary, err.Error()+". Nothing was changed.")
	default:
		diags.AddError(summary, err.Error()+".")
	}
	return diags
}

func flattenJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			if _, isGuard := e.(*promote.GuardError); isGuard {
				out = append(out, e)
				continue
			}
			out = append(out, flattenJoined(e)...)
		}
		return out
	}
	return []error{err}
}

func setPromotionComputed(m *promotionResourceModel, obj store.Object) {
	m.ID = types.StringValue(obj.ID())
	m.SHA256 = sha256Spelling(m.SHA256, obj.SHA256)
	m.URI = types.StringValue(obj.URI)
	m.PromotedAt = types.StringValue(obj.PublishedAt.UTC().Format(time.RFC3339))
	m.GitCommit = types.StringValue(obj.Metadata[promote.MetaGitCommit])
}

func (r *promotionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state promotionResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	obj, ok := r.data.readPublished(ctx, state.Name.ValueString(), state.ToVersion.ValueString(), state.SHA256, resp)
	if !ok {
		return
	}
	if from := obj.Metadata[promote.MetaPromotedFrom]; from != "" {
		state.FromVersion = types.StringValue(from)
	}
	setPromotionComputed(&state, obj)
	if state.RetainOnDestroy.IsNull() {
		state.RetainOnDestroy = types.BoolValue(true)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update only runs when guards or retain_on_destroy changed: guards apply to the
// making of the promotion, so only the state changes.
func (r *promotionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan, state, ok := planAndState[promotionResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	// The configured spelling of the same checksum is kept, as planned.
	plan.ID, plan.URI, plan.PromotedAt, plan.GitCommit = state.ID, state.URI, state.PromotedAt, state.GitCommit
	plan.SHA256 = sha256Spelling(plan.SHA256, state.SHA256.ValueString())
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *promotionResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state promotionResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.RetainOnDestroy.IsNull() || state.RetainOnDestroy.ValueBool() {
		tflog.Info(ctx, "keeping promoted artifact (retain_on_destroy)", map[string]any{"artifact": state.ID.ValueString()})
		return
	}
	if err := r.data.Store.Delete(ctx, state.Name.ValueString(), state.ToVersion.ValueString()); err != nil {
		resp.Diagnostics.AddError("Unable to delete "+state.ID.ValueString(),
			fmt.Sprintf("%v. The promoted version is still published; apply again once the artifact store is reachable.", err))
	}
}

func (r *promotionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	summary := "Unable to import release_promotion"
	name, to, err := store.ParseID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error()+". Import with the promoted artifact's id, name@to_version, e.g. histologe@1.7.4-rc.")
		return
	}
	obj, err := r.data.Store.Stat(ctx, name, to)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error()+".")
		return
	}
	from := obj.Metadata[promote.MetaPromotedFrom]
	if from == "" {
		resp.Diagnostics.AddError(summary,
			fmt.Sprintf("%s was published directly, not promoted (its metadata has no promoted_from). Import it as a release_artifact instead.", req.ID))
		return
	}
	for attr, v := range map[string]any{"id": req.ID, "name": name, "to_version": to, "from_version": from, "sha256": obj.SHA256, "retain_on_destroy": true} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
	}
}
