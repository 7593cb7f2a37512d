package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var (
	_ resource.ResourceWithConfigure  = (*lockForceReleaseResource)(nil)
	_ resource.ResourceWithModifyPlan = (*lockForceReleaseResource)(nil)
)

// NewEnvironmentLockForceReleaseResource is release_environment_lock_force_release:
// an operator's reviewed, recorded way to free a lock whose holder is gone.
//
// It is a managed resource rather than an ephemeral resource or a function because a
// force release is a change to shared state: it belongs in the apply of a reviewed
// plan (which shows whose lock will be broken), never in a plan or a refresh.
func NewEnvironmentLockForceReleaseResource() resource.Resource {
	return &lockForceReleaseResource{resourceBase{typeName: "_environment_lock_force_release"}}
}

type lockForceReleaseResource struct {
	resourceBase
}

type environmentLockForceReleaseResourceModel struct {
	Environment    types.String `tfsdk:"environment"`
	Reason         types.String `tfsdk:"reason"`
	LockID         types.String `tfsdk:"lock_id"`
	Triggers       types.Map    `tfsdk:"triggers"`
	ID             types.String `tfsdk:"id"`
	ReleasedHolder types.String `tfsdk:"released_holder"`
	ReleasedToken  types.Int64  `tfsdk:"released_token"`
	ReleasedAt     types.String `tfsdk:"released_at"`
}

func (r *lockForceReleaseResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Frees an environment's lock whatever its holder, for example a lock left by a cancelled job without a `ttl`. " +
			"Creating the resource performs the force release once, in the apply; the plan shows whose lock will be broken " +
			"(`released_holder`, `released_token`), so the review of the plan is the approval. The release is recorded in the " +
			"history as `lock_force_released` with the provider's `actor` and the `reason`. The holder's fencing token becomes " +
			"stale: a deployment still running with it is refused.\n\n" +
			"Set `lock_id` (printed in every \"locked\" error) to break only that lock: if another lock was acquired since, " +
			"the apply fails and nothing is released. Destroying the resource changes nothing; change `lock_id`, `reason` or " +
			"`triggers` to force-release again.",
		Attributes: map[string]schema.Attribute{
			"environment": schema.StringAttribute{MarkdownDescription: "Environment whose lock to free.", Required: true, Validators: []validator.String{validate.EnvironmentName()}, PlanModifiers: replace},
			"reason": schema.StringAttribute{MarkdownDescription: "Why the lock is forced, recorded in the history, e.g. `job 4711 was cancelled`.", Required: true, PlanModifiers: replace,
				Validators: []validator.String{validate.NotBlank("Missing reason", "Say why the lock is forced: the reason is recorded in the history with your name.")}},
			"lock_id": schema.StringAttribute{
				MarkdownDescription: "Only release the lock with this id; fail if the environment's lock is another one. Default: release whatever lock is held.",
				Optional:            true, PlanModifiers: replace,
			},
			"triggers": schema.MapAttribute{
				MarkdownDescription: "Arbitrary values; changing any of them force-releases again.",
				Optional:            true, ElementType: types.StringType,
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"id": schema.StringAttribute{
				MarkdownDescription: "The released lock's id, or the environment name when it was not locked.",
				Computed:            true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"released_holder": schema.StringAttribute{
				MarkdownDescription: "Holder of the lock that was (in a plan: will be) released; empty when the environment was not locked.",
				Computed:            true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"released_token": schema.Int64Attribute{
				MarkdownDescription: "Fencing token of the released lock; 0 when the environment was not locked.",
				Computed:            true,
			},
			"released_at": schema.StringAttribute{
				MarkdownDescription: "When the force release happened (RFC 3339).",
				Computed:            true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

// ModifyPlan shows, at plan time, whose lock the apply will break.
func (r *lockForceReleaseResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || !req.State.Raw.IsNull() || r.data == nil || r.data.Backend == nil {
		if !req.Plan.Raw.IsNull() && !req.State.Raw.IsNull() {
			var state environmentLockForceReleaseResourceModel
			resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("released_token"), state.ReleasedToken)...)
		}
		return
	}
	var plan environmentLockForceReleaseResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.Environment.IsUnknown() {
		return
	}
	cur, err := r.data.Backend.Inspect(ctx, plan.Environment.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the lock of "+plan.Environment.ValueString(), err.Error())
		return
	}
	if cur == nil {
		resp.Diagnostics.AddWarning("The environment "+plan.Environment.ValueString()+" is not locked",
			"There is no lock to force-release now; the apply releases whatever lock is held then.")
		return
	}
	if !plan.LockID.IsNull() && !plan.LockID.IsUnknown() && plan.LockID.ValueString() != cur.ID {
		resp.Diagnostics.AddAttributeError(path.Root("lock_id"), "Unable to force-release the lock of "+cur.Environment,
			"The environment's lock is now "+cur.ID+", held by "+describeLock(*cur)+", not "+plan.LockID.ValueString()+". Nothing will be released. Check that this lock is stuck too, then set lock_id to its id.")
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("released_holder"), cur.Holder)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("released_token"), cur.Token)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), cur.ID)...)
}

func (r *lockForceReleaseResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan environmentLockForceReleaseResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !configured(r.data, &resp.Diagnostics) {
		return
	}
	env := plan.Environment.ValueString()
	summary := "Unable to force-release the lock of " + env
	// The plan showed whose lock would be broken: break that one or none. The backend
	// compares and releases in one step, so a lock acquired after the plan (or after
	// the holder released the stuck one) is never broken.
	wantID := plan.LockID.ValueString()
	if wantID == "" && !plan.ID.IsUnknown() && !plan.ID.IsNull() && plan.ID.ValueString() != env {
		wantID = plan.ID.ValueString()
	}
	var released *backend.Lock
	var err error
	if wantID != "" {
		released, err = r.data.Backend.ForceReleaseID(ctx, env, wantID, r.data.Actor, plan.Reason.ValueString())
	} else {
		released, err = r.data.Backend.ForceRelease(ctx, env, r.data.Actor, plan.Reason.ValueString())
	}
	switch {
	case errors.Is(err, backend.ErrNotHolder):
		resp.Diagnostics.AddError(summary, "The environment's lock changed since the plan: "+err.Error()+
			". Nothing was released. Plan again to review the lock that would be broken.")
		return
	case err != nil && released != nil:
		// Released, but the history entry is missing: the state must still say so.
		resp.Diagnostics.AddWarning("The force release of "+env+" is not in the history", err.Error()+
			"\n\nThe lock was released. Record who released it and why by other means.")
	case err != nil:
		resp.Diagnostics.AddError(summary, err.Error()+"\n\nNothing was released.")
		return
	}
	plan.ReleasedAt = types.StringValue(time.Now().UTC().Format(time.RFC3339))
	if released == nil {
		resp.Diagnostics.AddWarning("The environment "+env+" was not locked", "There was no lock to force-release; nothing was recorded.")
		plan.ID = types.StringValue(env)
		plan.ReleasedHolder = types.StringValue("")
		plan.ReleasedToken = types.Int64Value(0)
	} else {
		tflog.Info(ctx, "Force-released the environment lock", map[string]any{"environment": env, "holder": released.Holder, "token": released.Token, "actor": r.data.Actor})
		r.data.announceRecorded(ctx, &resp.Diagnostics, env, released.Token, backend.KindLockForceReleased)
		plan.ID = types.StringValue(released.ID)
		plan.ReleasedHolder = types.StringValue(released.Holder)
		plan.ReleasedToken = types.Int64Value(released.Token)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Read keeps the record as it is: the force release happened once.
func (r *lockForceReleaseResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state environmentLockForceReleaseResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update only happens for attributes that do not force a new release; there are none
// besides those, so it keeps the plan.
func (r *lockForceReleaseResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan environmentLockForceReleaseResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete forgets the record; the lock stays as it is.
func (r *lockForceReleaseResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}
