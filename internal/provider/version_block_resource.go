package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var (
	_ resource.ResourceWithConfigure   = (*versionBlockResource)(nil)
	_ resource.ResourceWithImportState = (*versionBlockResource)(nil)
)

// NewVersionBlockResource returns the release_version_block resource.
func NewVersionBlockResource() resource.Resource {
	return &versionBlockResource{resourceBase{typeName: "_version_block"}}
}

type versionBlockResource struct {
	resourceBase
}

type versionBlockResourceModel struct {
	ID        types.String `tfsdk:"id"`
	Name      types.String `tfsdk:"name"`
	Version   types.String `tfsdk:"version"`
	Reason    types.String `tfsdk:"reason"`
	BlockedBy types.String `tfsdk:"blocked_by"`
	BlockedAt types.String `tfsdk:"blocked_at"`
}

func (r *versionBlockResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = versionBlockResourceSchema()
}

func versionBlockResourceSchema() schema.Schema {
	return schema.Schema{
		MarkdownDescription: "Marks a version as known-bad in the backend, shared by every runner. " +
			"`release_deployment` refuses to deploy it (unless its `allow_blocked = true`) and `release_promotion` refuses to promote it, " +
			"both quoting `reason`. Destroying the resource unblocks the version. Blocking and unblocking are recorded in the release history.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The blocked artifact, `name@version`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Artifact name, e.g. `histologe`.",
				Required:            true,
				Validators:          []validator.String{validate.ArtifactName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"version": schema.StringAttribute{
				MarkdownDescription: "The version to block, e.g. `1.7.4`. It does not need to be published: a version can be blocked before anyone publishes it.",
				Required:            true,
				Validators:          []validator.String{validate.Semver()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"reason": schema.StringAttribute{
				MarkdownDescription: "Why the version must not run, e.g. `corrupts invoices`; shown in every refusal. Changing it updates the block in place.",
				Required:            true,
				Validators:          []validator.String{validate.NotBlank("Missing reason", "Say why the version is blocked: the reason is shown in every refusal.")},
			},
			"blocked_by": schema.StringAttribute{
				MarkdownDescription: "Who blocked the version (the provider's `actor`).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"blocked_at": schema.StringAttribute{
				MarkdownDescription: "When the version was blocked (RFC 3339).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *versionBlockResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan versionBlockResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := historyOperation(ctx, &resp.Diagnostics)
	defer done()
	b := backend.Block{
		Name:      plan.Name.ValueString(),
		Version:   plan.Version.ValueString(),
		Reason:    plan.Reason.ValueString(),
		BlockedBy: r.data.Actor,
		BlockedAt: time.Now().UTC().Truncate(time.Second),
	}
	// An existing block (set by another configuration) keeps its origin.
	if existing, err := r.data.Backend.GetBlock(ctx, b.Name, b.Version); err == nil && existing != nil {
		b.BlockedBy, b.BlockedAt = existing.BlockedBy, existing.BlockedAt
	}
	if err := r.data.Backend.SetBlock(ctx, b); err != nil {
		resp.Diagnostics.AddError("Unable to block "+b.Name+"@"+b.Version,
			fmt.Sprintf("The backend refused the block: %v. Nothing was blocked; deployments and promotions of this version are still allowed. Check the backend, then apply again.", err))
		return
	}
	tflog.Info(ctx, "version blocked", map[string]any{"artifact": b.Name + "@" + b.Version, "reason": b.Reason})
	r.record(ctx, backend.KindBlocked, b, b.Reason, &resp.Diagnostics)
	setVersionBlockModel(&plan, b)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// record appends the history event of a change of b: the block itself is done.
func (r *versionBlockResource) record(ctx context.Context, kind string, b backend.Block, detail string, diags *diag.Diagnostics) {
	r.data.recordEvent(ctx, backend.Event{Kind: kind, Name: b.Name, Version: b.Version, Detail: detail},
		fmt.Sprintf("%s@%s is %s", b.Name, b.Version, kind), diags)
}

func setVersionBlockModel(m *versionBlockResourceModel, b backend.Block) {
	m.ID = types.StringValue(b.Name + "@" + b.Version)
	m.Name = types.StringValue(b.Name)
	m.Version = types.StringValue(b.Version)
	m.Reason = types.StringValue(b.Reason)
	m.BlockedBy = types.StringValue(b.BlockedBy)
	m.BlockedAt = types.StringValue(b.BlockedAt.UTC().Format(time.RFC3339))
}

func (r *versionBlockResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state versionBlockResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name, version := state.Name.ValueString(), state.Version.ValueString()
	b, err := r.data.Backend.GetBlock(ctx, name, version)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the block of "+name+"@"+version, err.Error())
		return
	}
	if b == nil {
		tflog.Warn(ctx, "version is no longer blocked; removing the block from state", map[string]any{"artifact": name + "@" + version})
		resp.State.RemoveResource(ctx)
		return
	}
	setVersionBlockModel(&state, *b)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update changes the reason only (name and version force a new block).
func (r *versionBlockResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan, state, ok := planAndState[versionBlockResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	ctx, done := historyOperation(ctx, &resp.Diagnostics)
	defer done()
	b := backend.Block{Name: plan.Name.ValueString(), Version: plan.Version.ValueString(), Reason: plan.Reason.ValueString(), BlockedBy: state.BlockedBy.ValueString()}
	if t, err := time.Parse(time.RFC3339, state.BlockedAt.ValueString()); err == nil {
		b.BlockedAt = t
	} else {
		b.BlockedAt = time.Now().UTC().Truncate(time.Second)
	}
	if err := r.data.Backend.SetBlock(ctx, b); err != nil {
		resp.Diagnostics.AddError("Unable to update the block of "+b.Name+"@"+b.Version,
			fmt.Sprintf("The backend refused the change: %v. The version stays blocked with its previous reason.", err))
		return
	}
	if plan.Reason.ValueString() != state.Reason.ValueString() {
		r.record(ctx, backend.KindBlocked, b, b.Reason+" (was: "+state.Reason.ValueString()+")", &resp.Diagnostics)
	}
	setVersionBlockModel(&plan, b)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *versionBlockResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state versionBlockResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := historyOperation(ctx, &resp.Diagnostics)
	defer done()
	b := backend.Block{Name: state.Name.ValueString(), Version: state.Version.ValueString(), Reason: state.Reason.ValueString()}
	if err := r.data.Backend.RemoveBlock(ctx, b.Name, b.Version); err != nil {
		resp.Diagnostics.AddError("Unable to unblock "+b.Name+"@"+b.Version,
			fmt.Sprintf("The backend refused to remove the block: %v. The version is still blocked; apply again once the backend is reachable.", err))
		return
	}
	tflog.Info(ctx, "version unblocked", map[string]any{"artifact": b.Name + "@" + b.Version})
	r.record(ctx, backend.KindUnblocked, b, "was blocked: "+b.Reason, &resp.Diagnostics)
}

func (r *versionBlockResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name, version, err := store.ParseID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Unable to import release_version_block", err.Error()+". Import with the blocked artifact's id, e.g. histologe@1.7.4.")
		return
	}
	b, err := r.data.Backend.GetBlock(ctx, name, version)
	if err != nil {
		resp.Diagnostics.AddError("Unable to import release_version_block", err.Error())
		return
	}
	if b == nil {
		resp.Diagnostics.AddError("Unable to import release_version_block",
			fmt.Sprintf("%s is not blocked: there is nothing to import. Create the block with a release_version_block resource instead.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("version"), version)...)
}
