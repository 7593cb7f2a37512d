package provider

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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

const lockActor = "ci@runner"

// lockProviderBlock is the environment's provider block with a fixed actor, so the
// default holder and the history's actor are known.
func lockProviderBlock(env *acctest.Env) string {
	return strings.Replace(env.ProviderBlock(), `provider "release" {`, `provider "release" {
  actor = "`+lockActor+`"`, 1)
}

func lockConfig(env *acctest.Env, name, body string) string {
	return lockProviderBlock(env) + fmt.Sprintf(`
resource "release_environment_lock" %q {
  environment = "staging"
%s
}
`, name, body)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// stateAttr reads one attribute of a resource from the state.
func stateAttr(s *terraform.State, addr, attr string) (string, error) {
	rs, ok := s.RootModule().Resources[addr]
	if !ok {
		return "", fmt.Errorf("%s is not in the state", addr)
	}
	return rs.Primary.Attributes[attr], nil
}

// checkBackendLock verifies from Go that the backend holds the lock in the state.
func checkBackendLock(t *testing.T, env *acctest.Env, addr string, into *backend.Lock) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		id, err := stateAttr(s, addr, "id")
		if err != nil {
			return err
		}
		cur, err := env.Backend(t).Inspect(t.Context(), "staging")
		if err != nil {
			return err
		}
		if cur == nil || cur.ID != id {
			return fmt.Errorf("backend lock = %+v, want id %s from the state", cur, id)
		}
		if into != nil {
			*into = *cur
		}
		return nil
	}
}

func TestAccEnvironmentLockResource_lifecycle(t *testing.T) {
	env := acctest.NewEnv(t)
	var first backend.Lock
	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			b := env.Backend(t)
			if cur, err := b.Inspect(t.Context(), "staging"); err != nil || cur != nil {
				return fmt.Errorf("lock after destroy = %+v, %v; want released", cur, err)
			}
			evs, err := b.History(t.Context(), backend.HistoryQuery{Environment: "staging", Limit: 1})
			if err != nil || len(evs) != 1 || evs[0].Kind != backend.KindLockReleased || evs[0].Actor != lockActor {
				return fmt.Errorf("last history event = %+v, %v; want lock_released by %s", evs, err, lockActor)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: lockConfig(env, "staging", `  reason = "release 1.7.4"
  ttl    = "4h"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("release_environment_lock.staging", plancheck.ResourceActionCreate),
						// The reviewer sees who will hold the lock.
						plancheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("holder"), knownvalue.StringExact(lockActor)),
						plancheck.ExpectUnknownValue("release_environment_lock.staging", tfjsonpath.New("token")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("id"), knownvalue.StringRegexp(uuidRE)),
					statecheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("token"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("holder"), knownvalue.StringExact(lockActor)),
					statecheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("reason"), knownvalue.StringExact("release 1.7.4")),
					statecheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("ttl"), knownvalue.StringExact("4h")),
					statecheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("wait_timeout"), knownvalue.StringExact("0s")),
					statecheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("expires_at"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT`))),
				},
				Check: checkBackendLock(t, env, "release_environment_lock.staging", &first),
			},
			{
				ResourceName:                         "release_environment_lock.staging",
				ImportState:                          true,
				ImportStateId:                        "staging",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "environment",
			},
			{
				// Reason and ttl change in place: same lock, same token, new expiry.
				Config: lockConfig(env, "staging", `  reason = "release 1.7.4: manual validation"
  ttl    = "8h"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("release_environment_lock.staging", plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue("release_environment_lock.staging", tfjsonpath.New("expires_at")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("token"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("reason"), knownvalue.StringExact("release 1.7.4: manual validation")),
				},
				Check: func(s *terraform.State) error {
					var cur backend.Lock
					if err := checkBackendLock(t, env, "release_environment_lock.staging", &cur)(s); err != nil {
						return err
					}
					if cur.ID != first.ID || cur.Reason != "release 1.7.4: manual validation" || cur.ExpiresAt.Sub(first.ExpiresAt) < 3*time.Hour {
						return fmt.Errorf("renewed lock %+v does not extend %+v", cur, first)
					}
					return nil
				},
			},
			{
				Config: lockConfig(env, "staging", `  reason = "release 1.7.4: manual validation"
  ttl    = "8h"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				Config:      lockConfig(env, "staging", `  ttl = "soon"`),
				ExpectError: regexp.MustCompile(`(?s)Invalid duration.*"soon" is not a duration`),
			},
			{
				Config:      strings.Replace(lockConfig(env, "staging", ""), `environment = "staging"`, `environment = "../prod"`, 1),
				ExpectError: regexp.MustCompile(`Invalid environment name`),
			},
			{
				// Force-released behind Terraform's back: the refresh drops it and the
				// apply acquires it again with a larger token.
				PreConfig: func() {
					if _, err := env.Backend(t).ForceRelease(t.Context(), "staging", "ops", "test"); err != nil {
						t.Fatal(err)
					}
				},
				Config: lockConfig(env, "staging", `  reason = "release 1.7.4: manual validation"
  ttl    = "8h"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("release_environment_lock.staging", plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_environment_lock.staging", tfjsonpath.New("token"), knownvalue.Int64Exact(2)),
				},
			},
		},
	})
}

// Two configurations race for one environment: the second fails naming the holder,
// then succeeds with a larger token once the first is destroyed.
func TestAccEnvironmentLockResource_race(t *testing.T) {
	env := acctest.NewEnv(t)
	configA := lockProviderBlock(env) + `
resource "release_environment_lock" "a" {
  environment = "staging"
  holder      = "pipeline-a"
  reason      = "manual validation of 1.7.4"
}
`
	configB := lockProviderBlock(env) + `
resource "release_environment_lock" "b" {
  environment = "staging"
  holder      = "pipeline-b"
}
`
	var tokenA int64
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: configA,
				Check: func(s *terraform.State) error {
					v, err := stateAttr(s, "release_environment_lock.a", "token")
					if err != nil {
						return err
					}
					tokenA, err = strconv.ParseInt(v, 10, 64)
					return err
				},
			},
			{
				// While A holds the lock, B (its own configuration and state) fails.
				PreConfig: func() {
					t.Run("second configuration is refused", func(t *testing.T) {
						resource.Test(t, resource.TestCase{
							ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
							Steps: []resource.TestStep{{
								Config:      configB,
								ExpectError: regexp.MustCompile(`(?s)Unable to acquire the lock of staging.*locked\s+by\s+pipeline-a\s+\(manual\s+validation\s+of\s+1\.7\.4\)\s+since.*release_environment_lock_force_release`),
							}},
						})
					})
				},
				Config:   configA,
				PlanOnly: true,
			},
		},
	})
	// A was destroyed at the end of its test: B now gets the lock, with a larger token.
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config: configB,
			Check: func(s *terraform.State) error {
				v, err := stateAttr(s, "release_environment_lock.b", "token")
				if err != nil {
					return err
				}
				if tok, _ := strconv.ParseInt(v, 10, 64); tokenA == 0 || tok <= tokenA {
					return fmt.Errorf("token of B %d is not larger than A's %d", tok, tokenA)
				}
				return nil
			},
		}},
	})
}

// An expired lock is taken over by another holder: the refresh notices, the apply is
// refused while the new holder has it, and the old token is stale for deployments.
func TestAccEnvironmentLockResource_ttlTakeover(t *testing.T) {
	env := acctest.NewEnv(t)
	config := lockConfig(env, "staging", `  holder = "crashed-job"
  ttl    = "1s"`)
	var old, taker backend.Lock
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  checkBackendLock(t, env, "release_environment_lock.staging", &old),
			},
			{
				PreConfig: func() {
					b := env.Backend(t)
					var err error
					// Waits for the 1s ttl to run out, then takes the lock over.
					taker, err = b.Acquire(t.Context(), backend.AcquireRequest{Environment: "staging", Holder: "next-job", WaitTimeout: 30 * time.Second})
					if err != nil {
						t.Fatal(err)
					}
					if taker.Token <= old.Token {
						t.Fatalf("takeover token %d <= %d", taker.Token, old.Token)
					}
					// Fencing: a deployment still carrying the old token is refused.
					var stale *backend.StaleTokenError
					if err := backend.CheckToken(t.Context(), b, "staging", old.Token); !errors.As(err, &stale) || stale.Current != taker.Token {
						t.Fatalf("CheckToken(old token) = %v, want stale with current %d", err, taker.Token)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("release_environment_lock.staging", plancheck.ResourceActionCreate)},
				},
				ExpectError: regexp.MustCompile(`locked by next-job`),
			},
			{
				PreConfig: func() {
					if err := env.Backend(t).Release(t.Context(), "staging", taker.ID); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				Check: func(s *terraform.State) error {
					v, _ := stateAttr(s, "release_environment_lock.staging", "token")
					if tok, _ := strconv.ParseInt(v, 10, 64); tok <= taker.Token {
						return fmt.Errorf("token %d after the takeover was released is not larger than %d", tok, taker.Token)
					}
					evs, err := env.Backend(t).History(t.Context(), backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockTakenOver}})
					if err != nil || len(evs) != 1 || evs[0].Actor != "next-job" {
						return fmt.Errorf("takeover history = %+v, %v", evs, err)
					}
					return nil
				},
			},
		},
	})
}

// Destroying a lock that was taken over releases nothing and warns.
func TestAccEnvironmentLockResource_deleteKeepsOthersLock(t *testing.T) {
	env := acctest.NewEnv(t)
	var taker backend.Lock
	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			cur, err := env.Backend(t).Inspect(t.Context(), "staging")
			if err != nil || cur == nil || cur.ID != taker.ID {
				return fmt.Errorf("lock after destroy = %+v, %v; want the other holder's lock kept", cur, err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: lockConfig(env, "staging", `  ttl = "1s"`),
				Check: func(*terraform.State) error {
					var err error
					taker, err = env.Backend(t).Acquire(t.Context(), backend.AcquireRequest{Environment: "staging", Holder: "other", WaitTimeout: 30 * time.Second})
					return err
				},
				// The refresh after apply already sees the takeover.
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

// TestAccEnvironmentLockResource_importedLockIsNotReleased: mallory imports alice's
// lock; renewing or destroying it is refused with a pointer to the force release,
// alice keeps her lock, and the history never says that alice released it.
func TestAccEnvironmentLockResource_importedLockIsNotReleased(t *testing.T) {
	env := acctest.NewEnv(t)
	be := env.Backend(t)
	alice, err := be.Acquire(t.Context(), backend.AcquireRequest{Environment: "staging", Holder: "alice", Reason: "validating 1.7.4"})
	if err != nil {
		t.Fatal(err)
	}
	provider := strings.Replace(env.ProviderBlock(), `provider "release" {`, "provider \"release\" {\n  actor = \"mallory\"", 1)
	cfg := func(reason string) string {
		return provider + fmt.Sprintf(`
resource "release_environment_lock" "l" {
  environment = "staging"
  holder      = "alice"
  reason      = %q
}
`, reason)
	}
	stillAlices := func() {
		t.Helper()
		cur, err := be.Inspect(t.Context(), "staging")
		if err != nil || cur == nil || cur.ID != alice.ID || cur.Holder != "alice" || cur.Reason != "validating 1.7.4" {
			t.Fatalf("lock = %+v, %v; want alice's lock held as she left it", cur, err)
		}
		evs, err := be.History(t.Context(), backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockReleased, backend.KindLockForceReleased}})
		if err != nil || len(evs) != 0 {
			t.Fatalf("history records a release of alice's lock: %+v %v", evs, err)
		}
	}
	refused := func(verb string) *regexp.Regexp {
		return wrapped("Unable to "+verb+" the lock of staging", "held by alice (validating 1.7.4)",
			"this resource did not acquire it: it was imported, and this provider acts as mallory",
			"nothing was changed and the lock is still held by alice", "release_environment_lock_force_release", `lock_id = "`+alice.ID+`"`,
			"terraform state rm")
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg("validating 1.7.4"), ResourceName: "release_environment_lock.l", ImportState: true, ImportStateId: "staging", ImportStatePersist: true},
			emptyPlanStep(cfg("validating 1.7.4")),
			{Config: cfg("mine now"), ExpectError: refused("renew")},
			{PreConfig: stillAlices, Config: cfg("validating 1.7.4"), Destroy: true, ExpectError: refused("release")},
			{ // once alice released it herself, destroying only forgets it
				PreConfig: func() {
					stillAlices()
					if err := be.Release(t.Context(), "staging", alice.ID); err != nil {
						t.Fatal(err)
					}
				},
				Config:  cfg("validating 1.7.4"),
				Destroy: true,
			},
		},
	})
	evs, err := be.History(t.Context(), backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockReleased}})
	if err != nil || len(evs) != 1 || evs[0].Actor != "alice" || evs[0].Detail != "released by its holder" {
		t.Fatalf("lock_released events = %+v, %v; want only alice's own release", evs, err)
	}
}

// Every lock_released event names who really released the lock: the provider's
// actor, also when the lock was held under another holder name, and also for a lock
// imported by its own holder.
func TestAccEnvironmentLockResource_releaseNamesTheActor(t *testing.T) {
	env := acctest.NewEnv(t)
	be := env.Backend(t)
	lastRelease := func(want backend.Event) func() {
		return func() {
			t.Helper()
			evs, err := be.History(t.Context(), backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockReleased}, Limit: 1})
			if err != nil || len(evs) != 1 || evs[0].Actor != want.Actor || evs[0].Detail != want.Detail {
				t.Fatalf("last lock_released = %+v, %v; want actor %s, detail %q", evs, err, want.Actor, want.Detail)
			}
		}
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: lockConfig(env, "job", `  holder = "ci-job-4711"`)},
			{Config: lockConfig(env, "job", `  holder = "ci-job-4711"`), Destroy: true},
			{
				PreConfig: func() {
					lastRelease(backend.Event{Actor: lockActor, Detail: "released by " + lockActor + "; the lock was held as ci-job-4711"})()
					if _, err := be.Acquire(t.Context(), backend.AcquireRequest{Environment: "staging", Holder: lockActor}); err != nil {
						t.Fatal(err)
					}
				},
				Config: lockConfig(env, "mine", ""), ResourceName: "release_environment_lock.mine", ImportState: true, ImportStateId: "staging", ImportStatePersist: true,
			},
			{Config: lockConfig(env, "mine", ""), Destroy: true},
		},
	})
	if cur, err := be.Inspect(t.Context(), "staging"); err != nil || cur != nil {
		t.Fatalf("lock = %+v, %v; want the imported lock of %s released", cur, err, lockActor)
	}
	lastRelease(backend.Event{Actor: lockActor, Detail: "released by its holder"})()
}

// Delete releases the resource's own lock only: when its lock expired and another
// holder took the environment, or it was force-released, nothing is released, the
// current holder keeps the lock, and a warning says so. (Terraform's destroy
// refreshes first and usually forgets such a lock before Delete; this covers a
// destroy with -refresh=false and a lock lost between refresh and Delete.)
func TestEnvironmentLockDeleteNeverReleasesAnotherHoldersLock(t *testing.T) {
	cases := []struct {
		name string
		lose func(t *testing.T, b backend.Backend, mine backend.Lock) *backend.Lock // returns the lock held afterwards
	}{
		{"taken over after its ttl", func(t *testing.T, b backend.Backend, mine backend.Lock) *backend.Lock {
			next, err := b.Acquire(t.Context(), backend.AcquireRequest{Environment: "staging", Holder: "next-job", WaitTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return &next
		}},
		{"force-released", func(t *testing.T, b backend.Backend, mine backend.Lock) *backend.Lock {
			if _, err := b.ForceReleaseID(t.Context(), "staging", mine.ID, "ops", "stuck"); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			b := acctest.NewBackend(t)
			mine, err := b.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: lockActor, TTL: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			held := tc.lose(t, b, mine)
			r := &environmentLockResource{resourceBase: resourceBase{data: &providerData{Backend: b, Actor: lockActor}}}
			sch := environmentLockSchema()
			state := tfsdk.State{Schema: sch, Raw: tftypes.NewValue(sch.Type().TerraformType(ctx), map[string]tftypes.Value{
				"environment":  tftypes.NewValue(tftypes.String, "staging"),
				"holder":       tftypes.NewValue(tftypes.String, lockActor),
				"reason":       tftypes.NewValue(tftypes.String, ""),
				"ttl":          tftypes.NewValue(tftypes.String, "20ms"),
				"wait_timeout": tftypes.NewValue(tftypes.String, "0s"),
				"id":           tftypes.NewValue(tftypes.String, mine.ID),
				"token":        tftypes.NewValue(tftypes.Number, mine.Token),
				"acquired_at":  tftypes.NewValue(tftypes.String, mine.AcquiredAt.Format(time.RFC3339)),
				"expires_at":   tftypes.NewValue(tftypes.String, mine.ExpiresAt.Format(time.RFC3339)),
			})}
			resp := fwresource.DeleteResponse{State: state}
			r.Delete(ctx, fwresource.DeleteRequest{State: state}, &resp)
			if resp.Diagnostics.HasError() || resp.Diagnostics.WarningsCount() != 1 ||
				!strings.Contains(fmt.Sprint(resp.Diagnostics), "nothing was released: the current holder keeps it") {
				t.Fatalf("diagnostics = %v; want one warning that nothing was released", resp.Diagnostics)
			}
			cur, err := b.Inspect(ctx, "staging")
			if err != nil {
				t.Fatal(err)
			}
			if (held == nil) != (cur == nil) || (held != nil && cur.ID != held.ID) {
				t.Fatalf("lock after Delete = %+v, want %+v", cur, held)
			}
			evs, err := b.History(ctx, backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockReleased}})
			if err != nil || len(evs) != 0 {
				t.Fatalf("lock_released events = %+v, %v; want none", evs, err)
			}
		})
	}
}

// TestAccEnvironmentLockResource_ttlKnownAtApply: a ttl that comes from another
// resource and changes in an update (unknown at plan) renews the lock: its
// expires_at is planned as known after apply.
func TestAccEnvironmentLockResource_ttlKnownAtApply(t *testing.T) {
	env := acctest.NewEnv(t)
	cfg := func(ttl string) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "terraform_data" "policy" {
  input = %q
}

resource "release_environment_lock" "staging" {
  environment = "staging"
  ttl         = terraform_data.policy.output
}
`, ttl)
	}
	const addr = "release_environment_lock.staging"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg("1h")},
			{
				Config: cfg("4h"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("expires_at")),
				}},
				Check: func(s *terraform.State) error {
					exp, err := time.Parse(time.RFC3339, s.RootModule().Resources[addr].Primary.Attributes["expires_at"])
					if err != nil || time.Until(exp) < 3*time.Hour {
						return fmt.Errorf("expires_at = %v (%v), want about 4h from now", exp, err)
					}
					return nil
				},
			},
			emptyPlanStep(cfg("4h")),
		},
	})
}
