package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
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
