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
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var (
	_ resource.ResourceWithConfigure   = (*environmentLockResource)(nil)
	_ resource.ResourceWithImportState = (*environmentLockResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*environmentLockResource)(nil)
)

// lockImportedKey marks, in the resource's private state, a lock that this
// resource imported instead of acquiring it. (Terraform does not hand the private
// state to the destroy half of a replace, so a missing mark means acquired here.)
const lockImportedKey = "imported"

// NewEnvironmentLockResource is the managed release_environment_lock: a lock held
// across applies, for example while a person validates a release by hand.

func NewEnvironmentLockResource() resource.Resource {
	return &environmentLockResource{resourceBase{typeName: "_environment_lock"}}
}

type environmentLockResource struct {
	resourceBase
}

type environmentLockResourceModel struct {
	Environment types.String `tfsdk:"environment"`
	Holder      types.String `tfsdk:"holder"`
	Reason      types.String `tfsdk:"reason"`
	TTL         types.String `tfsdk:"ttl"`
	WaitTimeout types.String `tfsdk:"wait_timeout"`
	ID          types.String `tfsdk:"id"`
	Token       types.Int64  `tfsdk:"token"`
	AcquiredAt  types.String `tfsdk:"acquired_at"`
	ExpiresAt   types.String `tfsdk:"expires_at"`
}

func (r *environmentLockResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = environmentLockSchema()
}

// Descriptions shared by the managed and the ephemeral lock.
const (
	lockEnvironmentDesc = "Environment to lock, e.g. `staging`: 1 to 128 letters, digits, `-`, `_` or `.`."
	lockHolderDesc      = "Who holds the lock, shown to everyone who finds the environment locked. Default: the provider's `actor` (`<user>@<host>`)."
	lockReasonDesc      = "Why the lock is held, shown to everyone who finds the environment locked, e.g. `release 1.7.4: manual validation`."
	lockWaitDesc        = "How long to wait while another holder has the lock, as a duration (`10m`). Default `0s`: fail at once, naming the holder. Waiting is logged at INFO every 10 seconds with the holder and the time waited."
	lockIDDesc          = "Lock id: releasing needs it, so a lock is never released by someone who does not hold it."
	lockTokenDesc       = "Fencing token: greater than every token given before for this environment. Pass it to `release_deployment.lock_token` so a deployment whose lock was taken over is refused."
	lockAcquiredDesc    = "When the lock was acquired (RFC 3339)."
	lockExpiresDesc     = "When the lock expires (RFC 3339); empty when it never expires."
)

func environmentLockSchema() schema.Schema {
	return schema.Schema{
		MarkdownDescription: "Holds an environment's lock across applies — for example from the start of a deploy until a person has validated the release — " +
			"so that no other pipeline deploys meanwhile. Every acquisition gets a fencing `token` greater than any before it. " +
			"Destroying the resource releases the lock, but only if it is still this resource's lock: a lock taken over after its `ttl` " +
			"or force-released is never released on someone else's behalf. When the lock was taken over or force-released, the next " +
			"refresh removes the resource from state and the plan shows it will be acquired again. The release is recorded in the history " +
			"as `lock_released` by the provider's `actor`.\n\n" +
			"Importing adopts the environment's current lock. If its holder is not the provider's `actor`, the lock stays its holder's: " +
			"destroying or renewing it is refused (nothing is released in the holder's name); use `release_environment_lock_force_release` " +
			"to break it on the record, or `terraform state rm` to stop managing it.\n\n" +
			"For a lock held only for the length of one plan or apply, use the `release_environment_lock` ephemeral resource. " +
			"To free a lock whose holder is gone, use `release_environment_lock_force_release`.",
		Attributes: map[string]schema.Attribute{
			"environment": schema.StringAttribute{
				MarkdownDescription: lockEnvironmentDesc + " Changing it releases this lock and acquires the other environment's.",
				Required:            true,
				Validators:          []validator.String{validate.EnvironmentName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"holder": schema.StringAttribute{
				MarkdownDescription: lockHolderDesc + " Changing it acquires the lock again under the new name.",
				Optional:            true,
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()},
			},
			"reason": schema.StringAttribute{
				MarkdownDescription: lockReasonDesc + " Changing it updates the lock in place.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
			},
			"ttl": schema.StringAttribute{
				MarkdownDescription: "How long the lock lasts without being renewed, as a duration (`4h`). After it, another holder may take the lock over (the takeover is recorded in the history). " +
					"Default `0s`: never expires. Changing it renews the lock in place: the new expiry is counted from the apply.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString("0s"),
				Validators: []validator.String{validate.Duration()},
			},
			"wait_timeout": schema.StringAttribute{
				MarkdownDescription: lockWaitDesc,
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("0s"),
				Validators:          []validator.String{validate.Duration()},
			},
			"id": schema.StringAttribute{
				MarkdownDescription: lockIDDesc,
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"token": schema.Int64Attribute{
				MarkdownDescription: lockTokenDesc,
				Computed:            true,
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"acquired_at": schema.StringAttribute{
				MarkdownDescription: lockAcquiredDesc,
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"expires_at": schema.StringAttribute{
				MarkdownDescription: lockExpiresDesc,
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

// ModifyPlan shows the default holder at plan time and marks expires_at as changing
// when the lock will be renewed.
func (r *environmentLockResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	plan, state, ok := planAndPrior[environmentLockResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	if plan.Holder.IsUnknown() && r.data != nil {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("holder"), r.data.Actor)...)
	}
	// A ttl or reason known only at the apply may renew the lock: expires_at
	// is then unknown too.
	if state != nil && needsRenew(plan, *state) {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("expires_at"), types.StringUnknown())...)
	}
}

func needsRenew(plan, state environmentLockResourceModel) bool {
	return !plan.TTL.Equal(state.TTL) || !plan.Reason.Equal(state.Reason)
}

func (r *environmentLockResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan environmentLockResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !configured(r.data, &resp.Diagnostics) {
		return
	}
	holder := plan.Holder.ValueString()
	if holder == "" {
		holder = r.data.Actor
	}
	lock, ok := acquireLock(ctx, r.data, backend.AcquireRequest{
		Environment: plan.Environment.ValueString(),
		Holder:      holder,
		Reason:      plan.Reason.ValueString(),
		Operation:   "release_environment_lock",
		TTL:         validate.ParseDuration(plan.TTL.ValueString()),
		WaitTimeout: validate.ParseDuration(plan.WaitTimeout.ValueString()),
	}, &resp.Diagnostics)
	if !ok {
		return
	}
	setLockComputed(&plan, lock)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *environmentLockResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state environmentLockResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !configured(r.data, &resp.Diagnostics) {
		return
	}
	env := state.Environment.ValueString()
	cur, err := r.data.Backend.Inspect(ctx, env)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the lock of "+env, err.Error()+"\n\nThe state was left unchanged; check the backend and refresh again.")
		return
	}
	if cur == nil || cur.ID != state.ID.ValueString() {
		detail := "The lock of " + env + " acquired by " + state.Holder.ValueString() + " (token " + fmt.Sprint(state.Token.ValueInt64()) + ") is no longer held: "
		if cur == nil {
			detail += "it was force-released, or taken over after its ttl and released since."
		} else {
			detail += "it is now held by " + describeLock(*cur) + "."
		}
		detail += " It was removed from the state; the next apply acquires the lock again."
		resp.Diagnostics.AddWarning("Lost the lock of "+env, detail)
		resp.State.RemoveResource(ctx)
		return
	}
	if cur.Expired(time.Now()) {
		resp.Diagnostics.AddWarning("The lock of "+env+" has expired",
			"The lock expired at "+cur.ExpiresAt.UTC().Format(time.RFC3339)+" and may be taken over by another holder at any time. Apply to renew it (change ttl or reason), or release it.")
	}
	setLockComputed(&state, *cur)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *environmentLockResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan, state, ok := planAndState[environmentLockResourceModel](ctx, req, &resp.Diagnostics)
	if !ok || !configured(r.data, &resp.Diagnostics) {
		return
	}
	if !needsRenew(plan, state) {
		// Only wait_timeout changed: it matters for the next acquisition only.
		plan.ExpiresAt = state.ExpiresAt
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	env := state.Environment.ValueString()
	if r.refusedForeign(ctx, req.Private, state, "renew", &resp.Diagnostics) {
		return
	}
	lock, err := r.data.Backend.Renew(ctx, env, state.ID.ValueString(), validate.ParseDuration(plan.TTL.ValueString()), plan.Reason.ValueString())
	if err != nil {
		detail := err.Error() + "\n\nThe lock was not changed."
		if errors.Is(err, backend.ErrNotHolder) {
			detail += " Refresh (the lock is then removed from the state) and apply again to acquire it anew."
		}
		resp.Diagnostics.AddError("Unable to renew the lock of "+env, detail)
		return
	}
	setLockComputed(&plan, lock)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *environmentLockResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state environmentLockResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !configured(r.data, &resp.Diagnostics) {
		return
	}
	env := state.Environment.ValueString()
	if r.refusedForeign(ctx, req.Private, state, "release", &resp.Diagnostics) {
		return
	}
	// By id, and in the provider actor's name: a lock taken over or force-released
	// since is never released on someone else's behalf, and the history names who
	// really released it.
	_, err := r.data.Backend.ReleaseBy(ctx, env, state.ID.ValueString(), r.data.Actor, "")
	if errors.Is(err, backend.ErrNotHolder) {
		resp.Diagnostics.AddWarning("Did not release the lock of "+env,
			err.Error()+"\n\nThis resource's lock is no longer the environment's lock, so nothing was released: the current holder keeps it. The resource was removed from the state.")
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to release the lock of "+env, err.Error()+"\n\nThe lock is still held; destroy again once the backend is reachable.")
		return
	}
	tflog.Info(ctx, "Released the environment lock", map[string]any{"environment": env, "token": state.Token.ValueInt64(), "actor": r.data.Actor})
	r.data.announceRecorded(ctx, &resp.Diagnostics, env, state.Token.ValueInt64(), backend.KindLockReleased)
}

// privateGetter is the private state of a request (Update and Delete).
type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// foreignImport tells whether the state holds a lock that this resource imported
// and whose holder is not the provider's actor: a lock someone else acquired.
// Releasing or renewing it here would act in the holder's name, so Update and
// Delete refuse it. The configured holder cannot decide it, since an imported
// lock's configuration must name the lock's holder to plan without replacement;
// the provider's actor says who runs this apply. A lock this resource acquired
// itself is its own, whatever its holder.
func (r *environmentLockResource) foreignImport(ctx context.Context, private privateGetter, state environmentLockResourceModel) (bool, diag.Diagnostics) {
	imported, diags := private.GetKey(ctx, lockImportedKey)
	if diags.HasError() || string(imported) != "true" {
		return false, diags
	}
	return state.Holder.ValueString() != r.data.Actor, diags
}

// refusedForeign is the guard of Update ("renew") and Delete ("release"): it
// tells whether they must stop, because the private state could not be read or
// because the lock is an imported lock of another holder (foreignImport), which
// is then refused.
func (r *environmentLockResource) refusedForeign(ctx context.Context, private privateGetter, state environmentLockResourceModel, verb string, diags *diag.Diagnostics) bool {
	foreign, readDiags := r.foreignImport(ctx, private, state)
	diags.Append(readDiags...)
	if foreign {
		r.refuseForeign(ctx, diags, verb, state)
	}
	return foreign || readDiags.HasError()
}

// refuseForeign refuses to act on an imported lock of another holder. When that
// lock is not the environment's lock any more there is nothing to protect: the
// resource is then only forgotten (a warning), as for any lock lost.
func (r *environmentLockResource) refuseForeign(ctx context.Context, diags *diag.Diagnostics, verb string, state environmentLockResourceModel) {
	env, id := state.Environment.ValueString(), state.ID.ValueString()
	cur, err := r.data.Backend.Inspect(ctx, env)
	if err != nil {
		diags.AddError("Unable to "+verb+" the lock of "+env, err.Error()+"\n\nNothing was changed; check the backend and apply again.")
		return
	}
	if cur == nil || cur.ID != id {
		if verb == "release" {
			diags.AddWarning("Did not release the lock of "+env,
				"The imported lock of "+state.Holder.ValueString()+" (token "+fmt.Sprint(state.Token.ValueInt64())+") is no longer the environment's lock, so nothing was released. The resource was removed from the state.")
			return
		}
		diags.AddError("Unable to renew the lock of "+env,
			"The imported lock of "+state.Holder.ValueString()+" (token "+fmt.Sprint(state.Token.ValueInt64())+") is no longer the environment's lock. Nothing was changed. Refresh (the lock is then removed from the state) and apply again to acquire it anew.")
		return
	}
	diags.AddError("Unable to "+verb+" the lock of "+env, foreignLockDetail(verb, *cur, r.data.Actor))
}

// foreignLockDetail is the refusal to release or renew another holder's imported lock.
func foreignLockDetail(verb string, cur backend.Lock, actor string) string {
	return fmt.Sprintf("The lock of %s is held by %s, and this resource did not acquire it: it was imported, and this provider acts as %s. "+
		"To %s it here would act in %s's name, so nothing was changed and the lock is still held by %s.\n\n"+
		"To free the lock anyway, with the release recorded under your own name, apply a release_environment_lock_force_release "+
		"with environment = %q and lock_id = %q (its plan shows whose lock it breaks). "+
		"To stop managing this lock without releasing it, run terraform state rm on this resource.",
		cur.Environment, describeLock(cur), actor, verb, cur.Holder, cur.Holder, cur.Environment, cur.ID)
}

// ImportState adopts the environment's current lock: `terraform import
// release_environment_lock.staging staging`.
func (r *environmentLockResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !configured(r.data, &resp.Diagnostics) {
		return
	}
	env := req.ID
	if err := backend.ValidateEnvironment(env); err != nil {
		resp.Diagnostics.AddError("Unable to import the lock of "+env, err.Error()+"\n\nThe import id is the environment name, e.g. `staging`.")
		return
	}
	cur, err := r.data.Backend.Inspect(ctx, env)
	if err != nil {
		resp.Diagnostics.AddError("Unable to import the lock of "+env, err.Error())
		return
	}
	if cur == nil {
		resp.Diagnostics.AddError("Unable to import the lock of "+env,
			"The environment "+env+" is not locked, so there is no lock to import. Apply a release_environment_lock to acquire it instead.")
		return
	}
	m := environmentLockResourceModel{
		Environment: types.StringValue(env),
		TTL:         types.StringValue("0s"),
		WaitTimeout: types.StringValue("0s"),
	}
	if !cur.ExpiresAt.IsZero() {
		m.TTL = types.StringValue(shortDuration(cur.ExpiresAt.Sub(cur.AcquiredAt)))
	}
	setLockComputed(&m, *cur)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, lockImportedKey, []byte(`true`))...)
}

func setLockComputed(m *environmentLockResourceModel, l backend.Lock) {
	m.ID = types.StringValue(l.ID)
	m.Holder = types.StringValue(l.Holder)
	m.Reason = types.StringValue(l.Reason)
	m.Token = types.Int64Value(l.Token)
	m.AcquiredAt = types.StringValue(l.AcquiredAt.UTC().Format(time.RFC3339))
	m.ExpiresAt = types.StringValue(formatExpiry(l.ExpiresAt))
}

func formatExpiry(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// shortDuration prints whole seconds without zero units: "4h", "1h30m", "90s" → "1m30s".
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func describeLock(l backend.Lock) string {
	s := l.Holder
	if l.Reason != "" {
		s += " (" + l.Reason + ")"
	}
	s += " since " + l.AcquiredAt.UTC().Format(time.RFC3339) + ", token " + fmt.Sprint(l.Token)
	if !l.ExpiresAt.IsZero() {
		s += ", expiring " + l.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return s
}

// acquireLock acquires the lock req asks for (explaining a refusal with
// addAcquireError) and announces the history events the acquisition recorded.
func acquireLock(ctx context.Context, data *providerData, req backend.AcquireRequest, diags *diag.Diagnostics) (backend.Lock, bool) {
	lock, err := data.Backend.Acquire(ctx, req)
	if err != nil {
		addAcquireError(diags, req.Environment, err)
		return lock, false
	}
	msg := "Acquired the environment lock"
	if req.RunScoped {
		msg += " for this run"
	}
	tflog.Info(ctx, msg, map[string]any{"environment": lock.Environment, "holder": lock.Holder, "token": lock.Token})
	data.announceRecorded(ctx, diags, lock.Environment, lock.Token, backend.KindLockAcquired, backend.KindLockTakenOver)
	return lock, true
}

// addAcquireError explains a failed acquisition: who holds the lock, since when, and
// how to get past it.
func addAcquireError(diags *diag.Diagnostics, env string, err error) {
	summary := "Unable to acquire the lock of " + env
	var le *backend.LockedError
	if !errors.As(err, &le) {
		diags.AddError(summary, err.Error()+"\n\nNothing was locked; check the backend and apply again.")
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The environment %s is locked by %s.\n", env, describeLock(le.Lock))
	if w := le.Waited.Round(100 * time.Millisecond); w > 0 {
		fmt.Fprintf(&b, "Waited %s for it to be released.\n", w)
	}
	b.WriteString("\nNothing was changed. Wait for the holder to release it (it destroys its release_environment_lock or its run ends), " +
		"or set wait_timeout to queue behind it.")
	if !le.Lock.ExpiresAt.IsZero() {
		fmt.Fprintf(&b, " The lock expires at %s and may then be taken over.", le.Lock.ExpiresAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "\nIf the holder is gone (a cancelled job), force the lock free, which is recorded in the history with your name:\n\n"+
		"  resource \"release_environment_lock_force_release\" \"unstick\" {\n"+
		"    environment = %q\n"+
		"    lock_id     = %q\n"+
		"    reason      = \"why the lock is forced\"\n"+
		"  }\n", env, le.Lock.ID)
	diags.AddError(summary, b.String())
}
