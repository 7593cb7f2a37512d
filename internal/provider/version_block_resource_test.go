package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

const blockAddr = "release_version_block.bad"

var releaseTimeRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

func blockConfig(env *acctest.Env, version, reason string) string {
	return env.ProviderBlock() + fmt.Sprintf(`
resource "release_version_block" "bad" {
  name    = "histologe"
  version = %q
  reason  = %q
}
`, version, reason)
}

// historyKinds returns the kinds of the events of name@version, oldest first.
func historyKinds(t *testing.T, b backend.Backend, name, version string) []string {
	t.Helper()
	events, err := b.History(context.Background(), backend.HistoryQuery{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Version == version {
			kinds = append(kinds, events[i].Kind)
		}
	}
	return kinds
}

func checkHistory(t *testing.T, env *acctest.Env, version string, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got := historyKinds(t, env.Backend(t), "histologe", version)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Errorf("history of histologe@%s = %v, want %v", version, got, want)
		}
		return nil
	}
}

func TestAccVersionBlockResource_lifecycle(t *testing.T) {
	env := acctest.NewEnv(t)
	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			b, err := env.Backend(t).GetBlock(context.Background(), "histologe", "1.7.4")
			if err != nil || b != nil {
				return fmt.Errorf("after destroy the block is %+v (%v), want none", b, err)
			}
			return checkHistory(t, env, "1.7.4", backend.KindBlocked, backend.KindBlocked, backend.KindBlocked, backend.KindUnblocked)(nil)
		},
		Steps: []resource.TestStep{
			{
				Config: blockConfig(env, "1.7.4", "corrupts invoices"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(blockAddr, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(blockAddr, tfjsonpath.New("id"), knownvalue.StringExact("histologe@1.7.4")),
					statecheck.ExpectKnownValue(blockAddr, tfjsonpath.New("reason"), knownvalue.StringExact("corrupts invoices")),
					statecheck.ExpectKnownValue(blockAddr, tfjsonpath.New("blocked_by"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(blockAddr, tfjsonpath.New("blocked_at"), knownvalue.StringRegexp(releaseTimeRe)),
				},
				Check: resource.ComposeTestCheckFunc(
					func(*terraform.State) error {
						b, err := env.Backend(t).GetBlock(context.Background(), "histologe", "1.7.4")
						if err != nil || b == nil || b.Reason != "corrupts invoices" {
							return fmt.Errorf("block in the backend = %+v, %v", b, err)
						}
						return nil
					},
					checkHistory(t, env, "1.7.4", backend.KindBlocked),
				),
			},
			{
				ResourceName:      blockAddr,
				ImportState:       true,
				ImportStateId:     "histologe@1.7.4",
				ImportStateVerify: true,
			},
			emptyPlanStep(blockConfig(env, "1.7.4", "corrupts invoices")),
			{
				// A new reason updates the block in place and keeps its origin.
				Config: blockConfig(env, "1.7.4", "corrupts invoices and emails"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(blockAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(blockAddr, tfjsonpath.New("reason"), knownvalue.StringExact("corrupts invoices and emails")),
				},
				Check: checkHistory(t, env, "1.7.4", backend.KindBlocked, backend.KindBlocked),
			},
			{
				// Someone changes the reason by hand: the plan shows it back.
				PreConfig: func() {
					if err := env.Backend(t).SetBlock(context.Background(), backend.Block{Name: "histologe", Version: "1.7.4", Reason: "edited by hand"}); err != nil {
						t.Fatal(err)
					}
				},
				Config: blockConfig(env, "1.7.4", "corrupts invoices and emails"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(blockAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(blockAddr, tfjsonpath.New("reason"), knownvalue.StringExact("corrupts invoices and emails")),
					},
				},
			},
		},
	})
}

func TestAccVersionBlockResource_disappears(t *testing.T) {
	env := acctest.NewEnv(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: blockConfig(env, "2.0.0", "leaks memory"),
			},
			{
				// The block is lifted outside Terraform: the plan blocks the version again.
				PreConfig: func() {
					if err := env.Backend(t).RemoveBlock(context.Background(), "histologe", "2.0.0"); err != nil {
						t.Fatal(err)
					}
				},
				Config: blockConfig(env, "2.0.0", "leaks memory"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(blockAddr, plancheck.ResourceActionCreate)},
				},
			},
		},
	})
}

func TestAccVersionBlockResource_errors(t *testing.T) {
	env := acctest.NewEnv(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      blockConfig(env, "1.7.4", "  "),
				ExpectError: errorRe(`Missing reason.*shown in every refusal`),
			},
			{
				Config:      blockConfig(env, "not-a-version", "bad"),
				ExpectError: errorRe(`Invalid version`),
			},
			{
				Config:        blockConfig(env, "1.7.4", "bad"),
				ResourceName:  blockAddr,
				ImportState:   true,
				ImportStateId: "histologe@1.7.4",
				ExpectError:   errorRe(`histologe@1.7.4 is not blocked: there is nothing to import`),
			},
			{
				Config:        blockConfig(env, "1.7.4", "bad"),
				ResourceName:  blockAddr,
				ImportState:   true,
				ImportStateId: "histologe",
				ExpectError:   errorRe(`expected name@version`),
			},
		},
	})
}
