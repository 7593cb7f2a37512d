package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

func forceReleaseConfig(env *acctest.Env, lockID string) string {
	return lockProviderBlock(env) + fmt.Sprintf(`
resource "release_environment_lock_force_release" "unstick" {
  environment = "staging"
  lock_id     = %q
  reason      = "job 4711 was cancelled"
}
`, lockID)
}

func TestAccEnvironmentLockForceReleaseResource(t *testing.T) {
	env := acctest.NewEnv(t)
	stuck, err := env.Backend(t).Acquire(t.Context(), backend.AcquireRequest{Environment: "staging", Holder: "stuck-job", Reason: "deploy 1.7.4"})
	if err != nil {
		t.Fatal(err)
	}
	var other backend.Lock
	const addr = "release_environment_lock_force_release.unstick"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: forceReleaseConfig(env, stuck.ID),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
						// The plan shows whose lock the apply breaks.
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("released_holder"), knownvalue.StringExact("stuck-job")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("released_token"), knownvalue.Int64Exact(stuck.Token)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(stuck.ID)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("released_holder"), knownvalue.StringExact("stuck-job")),
				},
				Check: func(*terraform.State) error {
					b := env.Backend(t)
					if cur, err := b.Inspect(t.Context(), "staging"); err != nil || cur != nil {
						return fmt.Errorf("lock after force release = %+v, %v", cur, err)
					}
					evs, err := b.History(t.Context(), backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockForceReleased}})
					if err != nil || len(evs) != 1 || evs[0].Actor != lockActor || evs[0].LockToken != stuck.Token ||
						!strings.Contains(evs[0].Detail, "job 4711 was cancelled") || !strings.Contains(evs[0].Detail, "stuck-job") {
						return fmt.Errorf("force release history = %+v, %v", evs, err)
					}
					return nil
				},
			},
			emptyPlanStep(forceReleaseConfig(env, stuck.ID)),
			{
				// Another lock was taken since: a lock_id of the stuck one breaks nothing.
				PreConfig: func() {
					var err error
					other, err = env.Backend(t).Acquire(t.Context(), backend.AcquireRequest{Environment: "staging", Holder: "pipeline-b"})
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:      strings.Replace(forceReleaseConfig(env, stuck.ID), "job 4711 was cancelled", "again", 1),
				ExpectError: regexp.MustCompile(`(?s)held\s+by\s+pipeline-b`),
				Check: func(*terraform.State) error {
					cur, err := env.Backend(t).Inspect(t.Context(), "staging")
					if err != nil || cur == nil || cur.ID != other.ID {
						return fmt.Errorf("lock = %+v, %v; want pipeline-b's kept", cur, err)
					}
					return nil
				},
			},
		},
	})
}

// unconditionalRefused fails the test when the resource breaks whatever lock is held
// although the plan named one.
type unconditionalRefused struct {
	backend.Backend
	t *testing.T
}

func (b unconditionalRefused) ForceRelease(context.Context, string, string, string) (*backend.Lock, error) {
	b.t.Error("ForceRelease called although the plan named the lock to break")
	return nil, errors.New("refused by the test")
}

// The apply breaks the planned lock or nothing, even when the lock changed after the
// plan: the check and the release are one backend step.
func TestEnvironmentLockForceReleaseApplyBreaksOnlyThePlannedLock(t *testing.T) {
	cases := []struct {
		name      string
		swap      bool // the stuck lock is released and another acquired after the plan
		useLockID bool // lock_id set; otherwise the id the plan showed
	}{
		{"planned lock still held, by lock_id", false, true},
		{"planned lock still held, by planned id", false, false},
		{"lock changed after the plan, by lock_id", true, true},
		{"lock changed after the plan, by planned id", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			b := acctest.NewBackend(t)
			stuck, err := b.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "stuck-job"})
			if err != nil {
				t.Fatal(err)
			}
			held := stuck
			if tc.swap {
				if err := b.Release(ctx, "staging", stuck.ID); err != nil {
					t.Fatal(err)
				}
				if held, err = b.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "pipeline-b"}); err != nil {
					t.Fatal(err)
				}
			}
			r := &lockForceReleaseResource{resourceBase: resourceBase{data: &providerData{Backend: unconditionalRefused{Backend: b, t: t}, Actor: "ops@laptop"}}}
			var sresp fwresource.SchemaResponse
			r.Schema(ctx, fwresource.SchemaRequest{}, &sresp)
			typ := sresp.Schema.Type().TerraformType(ctx)
			lockID, id := tftypes.NewValue(tftypes.String, nil), tftypes.NewValue(tftypes.String, stuck.ID)
			if tc.useLockID {
				lockID, id = tftypes.NewValue(tftypes.String, stuck.ID), tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
			}
			plan := tfsdk.Plan{Schema: sresp.Schema, Raw: tftypes.NewValue(typ, map[string]tftypes.Value{
				"environment":     tftypes.NewValue(tftypes.String, "staging"),
				"reason":          tftypes.NewValue(tftypes.String, "job 4711 was cancelled"),
				"lock_id":         lockID,
				"triggers":        tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, nil),
				"id":              id,
				"released_holder": tftypes.NewValue(tftypes.String, "stuck-job"),
				"released_token":  tftypes.NewValue(tftypes.Number, stuck.Token),
				"released_at":     tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
			})}
			resp := fwresource.CreateResponse{State: tfsdk.State{Schema: sresp.Schema, Raw: tftypes.NewValue(typ, nil)}}
			r.Create(ctx, fwresource.CreateRequest{Plan: plan}, &resp)

			cur, err := b.Inspect(ctx, "staging")
			if err != nil {
				t.Fatal(err)
			}
			evs, err := b.History(ctx, backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockForceReleased}})
			if err != nil {
				t.Fatal(err)
			}
			if tc.swap {
				if !resp.Diagnostics.HasError() || !strings.Contains(fmt.Sprint(resp.Diagnostics), "pipeline-b") {
					t.Fatalf("diagnostics = %v; want an error naming pipeline-b", resp.Diagnostics)
				}
				if cur == nil || cur.ID != held.ID || len(evs) != 0 {
					t.Fatalf("lock = %+v, force releases = %+v; want pipeline-b's lock kept and nothing recorded", cur, evs)
				}
				if !resp.State.Raw.IsNull() {
					t.Fatal("state saved for a refused force release")
				}
				return
			}
			if resp.Diagnostics.HasError() {
				t.Fatal(resp.Diagnostics)
			}
			var got environmentLockForceReleaseResourceModel
			resp.Diagnostics.Append(resp.State.Get(ctx, &got)...)
			if cur != nil || len(evs) != 1 || evs[0].Actor != "ops@laptop" || got.ID.ValueString() != stuck.ID || got.ReleasedToken.ValueInt64() != stuck.Token {
				t.Fatalf("lock = %+v, force releases = %+v, state = %+v; want the stuck lock released and recorded", cur, evs, got)
			}
		})
	}
}
