package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

// deployedAt records a successful deployment of version in env at a given time.
func (w *promotionWorld) deployedAt(t *testing.T, env, version string, at time.Time) {
	t.Helper()
	if err := w.Backend(t).Append(context.Background(), backend.Event{Time: at.UTC(), Environment: env, Kind: backend.KindDeployed, Name: "app", Version: version, SHA256: w.sum, Actor: "deployer"}); err != nil {
		t.Fatal(err)
	}
}

// TestAccPromotionResource_soakTime: from_version live in staging for 2h
// (history events with times) does not meet require_healthy_for = "24h": the
// refusal says how long is left; it meets "90m", and the promoted event says so.
func TestAccPromotionResource_soakTime(t *testing.T) {
	w := newPromotionWorld(t)
	w.deployedAt(t, "staging", "1.0.0-staging", time.Now().Add(-2*time.Hour))
	soak := func(d string) string {
		return fmt.Sprintf("  require_deployed_in = [\"staging\"]\n  require_healthy_for = %q\n", d)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: w.config("1.0.0-rc", w.sum, "  require_healthy_for = \"1h\"\n"), ExpectError: wrapped("require_deployed_in")},
			{
				Config:      w.config("1.0.0-rc", w.sum, soak("24h")),
				ExpectError: wrapped("the guard require_healthy_for refused it: app@1.0.0-staging has been live in staging for 2h0m only", "require_healthy_for is 24h0m0s: 22h0m left", "Nothing was published"),
				Check:       w.checkNotPublished(t, "1.0.0-rc"),
			},
			{
				Config: w.config("1.0.0-rc", w.sum, soak("90m")),
				Check: func(*terraform.State) error {
					evs, err := w.Backend(t).History(context.Background(), backend.HistoryQuery{Kinds: []string{backend.KindPromoted}})
					if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, "healthy for 1h30m0s") {
						return fmt.Errorf("promoted events: %+v, %v", evs, err)
					}
					return nil
				},
			},
		},
	})
}

// TestAccPromotionResource_soakTimeRestartsAfterAFailure: a failed deployment
// in staging since from_version went live restarts the soak time.
func TestAccPromotionResource_soakTimeRestartsAfterAFailure(t *testing.T) {
	w := newPromotionWorld(t)
	w.deployedAt(t, "staging", "1.0.0-staging", time.Now().Add(-48*time.Hour))
	if err := w.Backend(t).Append(context.Background(), backend.Event{Time: time.Now().Add(-3 * time.Hour).UTC(), Environment: "staging", Kind: backend.KindFailed, Name: "app", Version: "1.0.1-staging", Detail: "smoke test answered 502"}); err != nil {
		t.Fatal(err)
	}
	w.deployedAt(t, "staging", "1.0.0-staging", time.Now().Add(-time.Hour))
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:      w.config("1.0.0-rc", w.sum, "  require_deployed_in = [\"staging\"]\n  require_healthy_for = \"24h\"\n"),
			ExpectError: wrapped("has been live in staging for 1h0m only", "23h0m left"),
		}},
	})
}

// TestAccPromotionResource_freeze: a promotion into a frozen environment is
// refused at plan time; freeze_override lets it through and is recorded.
func TestAccPromotionResource_freeze(t *testing.T) {
	w := newPromotionWorld(t)
	now := time.Now().Truncate(time.Second)
	if err := w.Backend(t).SetFreeze(context.Background(), backend.Freeze{ID: "year-end", Environments: []string{"production"}, Reason: "End-of-year freeze",
		Start: now.Add(-time.Hour), End: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      w.config("1.0.0", w.sum, "  environment = \"production\"\n"),
				PlanOnly:    true,
				ExpectError: wrapped("Unable to promote app@1.0.0-staging to 1.0.0", "production is frozen", `"End-of-year freeze" (release_freeze year-end)`),
			},
			{
				Config: w.config("1.0.0", w.sum, "  environment = \"production\"\n  freeze_override = \"INC-4711 invoice hotfix\"\n"),
				Check: func(*terraform.State) error {
					evs := freezeEvents(t, w.Env, "production")
					if len(evs) != 1 || evs[0].Version != "1.0.0" || evs[0].Actor == "" || !strings.Contains(evs[0].Detail, `"INC-4711 invoice hotfix"`) {
						return fmt.Errorf("freeze_overridden events: %+v", evs)
					}
					return nil
				},
			},
		},
	})
}

// TestAccPromotionResource_stalePlan: to_version published by another run
// between the plan and the apply is refused with what the plan expected and
// what is there now; nothing is changed.
func TestAccPromotionResource_stalePlan(t *testing.T) {
	w := newPromotionWorld(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config: w.config("1.0.0-rc", w.sum, ""),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionCreate),
				worldChangeCheck{t, func(t *testing.T) {
					if _, err := w.Store(t).Put(context.Background(), "app", "1.0.0-rc", strings.NewReader("other bytes"), "", nil); err != nil {
						t.Fatal(err)
					}
				}},
			}},
			ExpectError: wrapped("app@1.0.0-rc changed since this plan was made: it planned to publish it from 1.0.0-staging", "and it is published (published directly at", "Nothing was changed. Plan again and review."),
		}},
	})
}
