package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

// echoFactories adds the echo provider, which copies an ephemeral value into state so
// the test can see what the run held.
func echoFactories() map[string]func() (tfprotov6.ProviderServer, error) {
	f := map[string]func() (tfprotov6.ProviderServer, error){"echo": echoprovider.NewProviderServer()}
	for k, v := range testAccProtoV6ProviderFactories {
		f[k] = v
	}
	return f
}

func ephemeralLockConfig(env *acctest.Env, body string) string {
	return lockProviderBlock(env) + fmt.Sprintf(`
ephemeral "release_environment_lock" "run" {
  environment = "staging"
%s
}

provider "echo" {
  data = ephemeral.release_environment_lock.run
}

resource "echo" "lock" {}
`, body)
}

// The run's lock is held while Terraform runs and released at its end.
func TestAccEnvironmentLockEphemeralResource(t *testing.T) {
	env := acctest.NewEnv(t)
	var other backend.Lock
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: echoFactories(),
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
		Steps: []resource.TestStep{
			{
				Config: ephemeralLockConfig(env, `  reason = "deploy 1.7.4"`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("echo.lock", tfjsonpath.New("data").AtMapKey("holder"), knownvalue.StringExact(lockActor)),
					statecheck.ExpectKnownValue("echo.lock", tfjsonpath.New("data").AtMapKey("reason"), knownvalue.StringExact("deploy 1.7.4")),
					statecheck.ExpectKnownValue("echo.lock", tfjsonpath.New("data").AtMapKey("ttl"), knownvalue.StringExact("2m")),
					statecheck.ExpectKnownValue("echo.lock", tfjsonpath.New("data").AtMapKey("id"), knownvalue.StringRegexp(uuidRE)),
					statecheck.ExpectKnownValue("echo.lock", tfjsonpath.New("data").AtMapKey("expires_at"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-`))),
				},
				Check: func(*terraform.State) error {
					b := env.Backend(t)
					if cur, err := b.Inspect(t.Context(), "staging"); err != nil || cur != nil {
						return fmt.Errorf("lock after apply = %+v, %v; want released", cur, err)
					}
					evs, err := b.History(t.Context(), backend.HistoryQuery{Environment: "staging"})
					if err != nil {
						return err
					}
					acquired, released := 0, 0
					for _, ev := range evs {
						switch ev.Kind {
						case backend.KindLockAcquired:
							acquired++
						case backend.KindLockReleased:
							released++
						}
						if ev.Actor != lockActor {
							return fmt.Errorf("event %+v not by %s", ev, lockActor)
						}
					}
					if acquired == 0 || acquired != released {
						return fmt.Errorf("history has %d acquisitions and %d releases: every run's lock must be released", acquired, released)
					}
					return nil
				},
			},
			{
				// Someone else holds the environment: the run fails naming them.
				PreConfig: func() {
					var err error
					other, err = env.Backend(t).Acquire(t.Context(), backend.AcquireRequest{Environment: "staging", Holder: "pipeline-b", Reason: "deploying 1.7.5"})
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:      ephemeralLockConfig(env, ""),
				ExpectError: regexp.MustCompile(`(?s)locked\s+by\s+pipeline-b\s+\(deploying\s+1\.7\.5\)`),
			},
			{
				// With a wait_timeout the run queues behind pipeline-b and gets the
				// lock once pipeline-b releases it.
				PreConfig: func() {
					go func() {
						time.Sleep(time.Second)
						_ = env.Backend(t).Release(context.Background(), "staging", other.ID)
					}()
				},
				Config: ephemeralLockConfig(env, `  wait_timeout = "60s"`),
				Check: func(*terraform.State) error {
					b := env.Backend(t)
					if cur, err := b.Inspect(t.Context(), "staging"); err != nil || cur != nil {
						return fmt.Errorf("lock after apply = %+v, %v; want released", cur, err)
					}
					evs, err := b.History(t.Context(), backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockAcquired}, Limit: 1})
					if err != nil || len(evs) != 1 || evs[0].Actor != lockActor || evs[0].LockToken <= other.Token {
						return fmt.Errorf("last acquisition = %+v, %v; want the run's, after pipeline-b's token %d", evs, err, other.Token)
					}
					return nil
				},
			},
		},
	})
}

// A run lock that never expires is refused before anything is locked: Terraform
// cannot guarantee its release.
func TestAccEnvironmentLockEphemeralResource_ttlZeroRefused(t *testing.T) {
	env := acctest.NewEnv(t)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: echoFactories(),
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
		Steps: []resource.TestStep{{
			Config: ephemeralLockConfig(env, `  ttl = "0s"`),
			ExpectError: wrapped(`Invalid ttl`, `"0s" would never expire, but a run lock must expire`,
				`Terraform cannot guarantee its release`, `when the apply fails or the process is killed`, `such as "2m"`),
		}},
	})
	if cur, err := env.Backend(t).Inspect(t.Context(), "staging"); err != nil || cur != nil {
		t.Fatalf("lock after the refused configuration = %+v, %v; want none", cur, err)
	}
}

// A run whose deployment fails does not leave its lock behind: the deployment
// releases it (Terraform skips the ephemeral Close), the history says who released
// it and why, and the re-run right after is not refused as locked by itself. A lock
// held across runs is never released by a failed deployment.
func TestAccEnvironmentLockEphemeralResource_failedRunReleasesItsLock(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok", "1.0.1": "fail"})
	withActor := func(cfg string) string {
		return strings.Replace(cfg, `provider "release" {`, "provider \"release\" {\n  actor = \""+lockActor+"\"", 1)
	}
	run := func(version string) string {
		return withActor(e.config(version, "  lock_token_wo = ephemeral.release_environment_lock.run.token\n") + `
ephemeral "release_environment_lock" "run" {
  environment = "staging"
  reason      = "deploy"
}
`)
	}
	held := func(version string) string {
		return withActor(e.config(version, "  lock_token = release_environment_lock.validation.token\n") + `
resource "release_environment_lock" "validation" {
  environment = "staging"
  reason      = "manual validation"
}
`)
	}
	failed := wrapped("Unable to deploy app@1.0.1 to staging", "The previous release 1.0.0 was restored")
	var lastToken int64
	released := func() {
		t.Helper()
		b := e.Backend(t)
		if cur, err := b.Inspect(t.Context(), "staging"); err != nil || cur != nil {
			t.Fatalf("after the failed run the lock is %+v (%v); want it released", cur, err)
		}
		evs, err := b.History(t.Context(), backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockReleased, backend.KindLockAcquired}, Limit: 2})
		if err != nil || len(evs) != 2 || evs[0].Kind != backend.KindLockReleased || evs[0].Actor != lockActor ||
			evs[0].LockToken != evs[1].LockToken || evs[0].LockToken <= lastToken || !strings.Contains(evs[0].Detail, "failed") {
			t.Fatalf("history = %+v, %v; want the failed run's lock (after token %d) released by %s because the deployment failed", evs, err, lastToken, lockActor)
		}
		lastToken = evs[0].LockToken
	}
	accTest(t, resource.TestCase{
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		Steps: []resource.TestStep{
			{Config: run("1.0.0"), Check: e.checkServing("1.0.0")},
			{Config: run("1.0.1"), ExpectError: failed},
			// Right away, without waiting for the ttl: the lock is free again.
			{PreConfig: released, Config: run("1.0.1"), ExpectError: failed},
			{PreConfig: released, Config: run("1.0.0"), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			// A lock held across runs stays held when the deployment fails.
			{Config: held("1.0.0")},
			{Config: held("1.0.1"), ExpectError: failed},
			{
				PreConfig: func() {
					cur, err := e.Backend(t).Inspect(t.Context(), "staging")
					if err != nil || cur == nil || cur.RunScoped || cur.Reason != "manual validation" {
						t.Fatalf("lock after the failed deployment = %+v, %v; want the validation lock still held", cur, err)
					}
				},
				Config: held("1.0.0"),
			},
		},
	})
}

// The run's Close finds its lock already released by the run's failed deployment
// and says nothing; a lock lost otherwise is left to its holder with a warning.
func TestEnvironmentLockEphemeralCloseAfterTheLockWasReleased(t *testing.T) {
	cases := []struct {
		name    string
		before  func(t *testing.T, b backend.Backend, l backend.Lock)
		warning string // "" : no diagnostics
		kept    bool   // another holder's lock is held afterwards
	}{
		{"still held: released by the run's actor", func(*testing.T, backend.Backend, backend.Lock) {}, "", false},
		{"released by the failed deployment", func(t *testing.T, b backend.Backend, l backend.Lock) {
			if ok, err := backend.ReleaseRunLock(t.Context(), b, "staging", l.Token, lockActor, "the deployment failed"); !ok || err != nil {
				t.Fatalf("ReleaseRunLock = %v, %v", ok, err)
			}
		}, "", false},
		{"force-released", func(t *testing.T, b backend.Backend, l backend.Lock) {
			if _, err := b.ForceReleaseID(t.Context(), "staging", l.ID, "ops", "stuck"); err != nil {
				t.Fatal(err)
			}
		}, "already released", false},
		{"taken over after its ttl", func(t *testing.T, b backend.Backend, l backend.Lock) {
			if _, err := b.Acquire(t.Context(), backend.AcquireRequest{Environment: "staging", Holder: "next-run", RunScoped: true, TTL: time.Hour, WaitTimeout: 10 * time.Second}); err != nil {
				t.Fatal(err)
			}
		}, "now held by next-run", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := acctest.NewBackend(t)
			l, err := b.Acquire(t.Context(), backend.AcquireRequest{Environment: "staging", Holder: "ci-job-1", RunScoped: true, TTL: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			tc.before(t, b, l)
			r := &environmentLockEphemeralResource{data: &providerData{Backend: b, Actor: lockActor}}
			var diags diag.Diagnostics
			r.release(t.Context(), ephemeralLockPrivate{Environment: "staging", ID: l.ID, Token: l.Token, TTL: 20 * time.Millisecond}, &diags)
			switch {
			case tc.warning == "" && len(diags) != 0:
				t.Fatalf("diagnostics = %v; want none", diags)
			case tc.warning != "" && (diags.HasError() || diags.WarningsCount() != 1 || !strings.Contains(fmt.Sprint(diags), tc.warning)):
				t.Fatalf("diagnostics = %v; want one warning saying %q", diags, tc.warning)
			}
			cur, err := b.Inspect(t.Context(), "staging")
			if err != nil || (cur != nil) != tc.kept {
				t.Fatalf("lock after Close = %+v, %v; want another holder's lock kept: %v", cur, err, tc.kept)
			}
			evs, err := b.History(t.Context(), backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockReleased}})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.Actor != lockActor {
					t.Errorf("lock_released by %s, want by the run's actor %s: %+v", ev.Actor, lockActor, ev)
				}
			}
		})
	}
}
