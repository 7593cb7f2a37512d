package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var (
	_ ephemeral.EphemeralResourceWithConfigure = (*environmentLockEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithRenew     = (*environmentLockEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithClose     = (*environmentLockEphemeralResource)(nil)
)

// NewEnvironmentLockEphemeralResource is the ephemeral release_environment_lock: held
// for one plan or apply, renewed while Terraform runs, released at its end.
func NewEnvironmentLockEphemeralResource() ephemeral.EphemeralResource {
	return &environmentLockEphemeralResource{}
}

type environmentLockEphemeralResource struct {
	data *providerData
}

// ephemeralLockDefaultTTL bounds how long the lock of a run that ended without
// closing it outlives the run. It is short because Terraform renews the lock halfway
// through each ttl while the run lasts, and because a run that fails (or is killed)
// may never call Close: the lock must then free itself soon.
const ephemeralLockDefaultTTL = 2 * time.Minute

// ephemeralLockPrivate is what Renew and Close need, kept in private data.
type ephemeralLockPrivate struct {
	Environment string        `json:"environment"`
	ID          string        `json:"id"`
	Token       int64         `json:"token"`
	Reason      string        `json:"reason"`
	TTL         time.Duration `json:"ttl"`
}

const ephemeralLockKey = "lock"

func (r *environmentLockEphemeralResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_environment_lock"
}

func (r *environmentLockEphemeralResource) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Holds an environment's lock for the length of one `terraform plan` or `terraform apply`: acquired when Terraform opens it, " +
			"renewed while the run lasts, and released when the run ends. The lock is recorded as run-scoped: it exists for this run only.\n\n" +
			"Pass its `token` to `release_deployment.lock_token_wo` (a write-only argument, which accepts ephemeral values): the deployment checks right before it changes the target that the " +
			"token is still the environment's current one, so a run whose lock was taken over or force-released cannot deploy over " +
			"the run that now holds the lock.\n\n" +
			"**When the run fails.** Terraform does not close an ephemeral resource when a resource that used it failed, so the release cannot be left to Terraform: " +
			"a `release_deployment` that fails releases the run lock whose token it was given in `lock_token_wo` (recorded in the history as `lock_released` by the provider's `actor`), " +
			"so a re-run right after the failure acquires the lock at once. It only ever releases a run-scoped lock that still has that token: never a " +
			"`release_environment_lock` resource held across applies, never a lock another run holds now. A run that fails elsewhere, or that is killed outright " +
			"(SIGKILL, lost runner), leaves the lock until its `ttl` runs out (`2m` by default), after which the next run takes it over. " +
			"This is why `ttl` cannot be `0s` here.",
		Attributes: map[string]schema.Attribute{
			"environment": schema.StringAttribute{MarkdownDescription: lockEnvironmentDesc, Required: true, Validators: []validator.String{validate.EnvironmentName()}},
			"holder":      schema.StringAttribute{MarkdownDescription: lockHolderDesc, Optional: true, Computed: true},
			"reason":      schema.StringAttribute{MarkdownDescription: lockReasonDesc, Optional: true, Computed: true},
			"ttl": schema.StringAttribute{
				MarkdownDescription: "How long the lock outlives a run that stopped renewing it, as a duration. Default `2m` (renewed every minute while the run lasts, so long applies keep it). " +
					"It must be more than `0s`: Terraform cannot guarantee the release of an ephemeral resource when the apply fails or the process is killed, so a run lock must expire. " +
					"A failed deployment that was given the token through `lock_token_wo` releases the lock itself; otherwise a run that fails or is killed leaves it until its ttl runs out.",
				Optional: true, Computed: true, Validators: []validator.String{validate.PositiveDuration("Invalid ttl", ttlZeroWhy)},
			},
			"wait_timeout": schema.StringAttribute{MarkdownDescription: lockWaitDesc, Optional: true, Computed: true, Validators: []validator.String{validate.Duration()}},
			"id":           schema.StringAttribute{MarkdownDescription: lockIDDesc, Computed: true},
			"token":        schema.Int64Attribute{MarkdownDescription: lockTokenDesc, Computed: true},
			"acquired_at":  schema.StringAttribute{MarkdownDescription: lockAcquiredDesc, Computed: true},
			"expires_at":   schema.StringAttribute{MarkdownDescription: lockExpiresDesc, Computed: true},
		},
	}
}

func (r *environmentLockEphemeralResource) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *environmentLockEphemeralResource) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m environmentLockResourceModel // the managed lock's attributes
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !configured(r.data, &resp.Diagnostics) {
		return
	}
	if m.Holder.ValueString() == "" {
		m.Holder = types.StringValue(r.data.Actor)
	}
	if m.TTL.IsNull() || m.TTL.IsUnknown() {
		m.TTL = types.StringValue(shortDuration(ephemeralLockDefaultTTL))
	}
	if m.WaitTimeout.IsNull() || m.WaitTimeout.IsUnknown() {
		m.WaitTimeout = types.StringValue("0s")
	}
	ttl := validate.ParseDuration(m.TTL.ValueString())
	lock, ok := acquireLock(ctx, r.data, backend.AcquireRequest{
		Environment: m.Environment.ValueString(),
		Holder:      m.Holder.ValueString(),
		Reason:      m.Reason.ValueString(),
		Operation:   backend.OperationRunLock,
		RunScoped:   true,
		TTL:         ttl,
		WaitTimeout: validate.ParseDuration(m.WaitTimeout.ValueString()),
	}, &resp.Diagnostics)
	if !ok {
		return
	}
	setLockComputed(&m, lock)

	priv, err := json.Marshal(ephemeralLockPrivate{Environment: lock.Environment, ID: lock.ID, Token: lock.Token, Reason: lock.Reason, TTL: ttl})
	if err != nil {
		resp.Diagnostics.AddError("Unable to record the lock of "+lock.Environment, err.Error())
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, ephemeralLockKey, priv)...)
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		// Without private data Close could not release it: release now.
		_, _ = r.data.Backend.ReleaseBy(context.WithoutCancel(ctx), lock.Environment, lock.ID, r.data.Actor, "released at once: the run could not record the lock it acquired")
		return
	}
	resp.RenewAt = renewAt(lock.ExpiresAt, ttl)
}

// renewAt asks for a renewal halfway through the ttl; zero (never) without one.
func renewAt(expires time.Time, ttl time.Duration) time.Time {
	if expires.IsZero() || ttl <= 0 {
		return time.Time{}
	}
	return expires.Add(-ttl / 2)
}

func (r *environmentLockEphemeralResource) Renew(ctx context.Context, req ephemeral.RenewRequest, resp *ephemeral.RenewResponse) {
	p, ok := runLockFrom(ctx, req.Private, &resp.Diagnostics)
	if !ok || !configured(r.data, &resp.Diagnostics) {
		return
	}
	lock, err := r.data.Backend.Renew(ctx, p.Environment, p.ID, p.TTL, p.Reason)
	if err != nil {
		detail := err.Error()
		if errors.Is(err, backend.ErrNotHolder) {
			detail += "\n\nThis run lost the lock of " + p.Environment + " (token " + fmt.Sprint(p.Token) + "): a deployment fenced with this token will be refused. Run again to acquire it anew."
		}
		resp.Diagnostics.AddError("Unable to renew the lock of "+p.Environment, detail)
		return
	}
	tflog.Debug(ctx, "Renewed the environment lock", map[string]any{"environment": p.Environment, "expires_at": formatExpiry(lock.ExpiresAt)})
	resp.RenewAt = renewAt(lock.ExpiresAt, p.TTL)
}

func (r *environmentLockEphemeralResource) Close(ctx context.Context, req ephemeral.CloseRequest, resp *ephemeral.CloseResponse) {
	p, ok := runLockFrom(ctx, req.Private, &resp.Diagnostics)
	if !ok || !configured(r.data, &resp.Diagnostics) {
		return
	}
	r.release(ctx, p, &resp.Diagnostics)
}

// release frees the run's lock at the end of the run. A lock that a failed
// deployment of this run released already is not reported; a lock that is no
// longer this run's is left to its holder, with a warning.
func (r *environmentLockEphemeralResource) release(ctx context.Context, p ephemeralLockPrivate, diags *diag.Diagnostics) {
	_, err := r.data.Backend.ReleaseBy(ctx, p.Environment, p.ID, r.data.Actor, "")
	if errors.Is(err, backend.ErrNotHolder) {
		if r.releasedForThisRun(ctx, p) {
			tflog.Info(ctx, "The environment lock of this run was already released", map[string]any{"environment": p.Environment, "token": p.Token})
			return
		}
		diags.AddWarning("Did not release the lock of "+p.Environment,
			err.Error()+"\n\nThis run's lock was no longer the environment's lock, so nothing was released: the current holder keeps it.")
		return
	}
	if err != nil {
		diags.AddError("Unable to release the lock of "+p.Environment,
			err.Error()+"\n\nThe lock is still held until its ttl runs out; force-release it with release_environment_lock_force_release if it must be freed sooner.")
		return
	}
	tflog.Info(ctx, "Released the environment lock of this run", map[string]any{"environment": p.Environment, "token": p.Token})
	r.data.announceRecorded(ctx, diags, p.Environment, p.Token, backend.KindLockReleased)
}

// releasedForThisRun tells whether the run's lock was released by a lock_released
// event of its own token (a failed deployment's ReleaseRunLock), rather than
// force-released or taken over after it expired: then Close has nothing to report.
// Tokens are never given twice, so the newest release event of the token decides.
func (r *environmentLockEphemeralResource) releasedForThisRun(ctx context.Context, p ephemeralLockPrivate) bool {
	evs, err := r.data.Backend.History(ctx, backend.HistoryQuery{
		Environment: p.Environment,
		Kinds:       []string{backend.KindLockReleased, backend.KindLockForceReleased},
		Limit:       20,
	})
	if err != nil {
		return false
	}
	for _, ev := range evs {
		if ev.LockToken == p.Token {
			return ev.Kind == backend.KindLockReleased
		}
	}
	return false
}

// runLockFrom reads the run's lock from the private data Open kept (Renew and Close).
func runLockFrom(ctx context.Context, priv privateGetter, diags *diag.Diagnostics) (p ephemeralLockPrivate, ok bool) {
	raw, d := priv.GetKey(ctx, ephemeralLockKey)
	diags.Append(d...)
	if d.HasError() {
		return p, false
	}
	if len(raw) == 0 || json.Unmarshal(raw, &p) != nil || p.ID == "" {
		diags.AddError("Unable to find the lock of this run",
			"The ephemeral lock's private data is missing or unreadable, so its lock id is unknown. The lock, if any, stays until its ttl runs out. Please report this issue to the provider developers.")
		return p, false
	}
	return p, true
}

// ttlZeroWhy explains why a run lock refuses a ttl of 0s: Terraform skips Close when
// the apply fails or the process is killed, so a run lock that never expired could
// stay held until someone force-released it.
const ttlZeroWhy = "would never expire, but a run lock must expire: Terraform cannot guarantee its release, because it does not close an ephemeral resource " +
	"when the apply fails or the process is killed. Use a ttl after which the lock expires, such as \"2m\" (the default; it is renewed while the run lasts), " +
	"or a release_environment_lock resource for a lock held until it is destroyed."
