package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

const freezeAddr = "release_freeze.test"

// freezeBlock is a one-off freeze of environment from start to end, in the
// +01:00 offset (kept as written in the state).
func freezeBlock(environment, reason string, start, end time.Time) string {
	cet := time.FixedZone("", 3600)
	return fmt.Sprintf(`
resource "release_freeze" "test" {
  environments = [%q]
  reason       = %q
  start        = %q
  end          = %q
}
`, environment, reason, start.In(cet).Format(time.RFC3339), end.In(cet).Format(time.RFC3339))
}

// freezeEvents returns the freeze_overridden events of env.
func freezeEvents(t *testing.T, env *acctest.Env, environment string) []backend.Event {
	t.Helper()
	evs, err := env.Backend(t).History(context.Background(), backend.HistoryQuery{Environment: environment, Kinds: []string{backend.KindFreezeOverridden}})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestAccFreezeResource_deployment: a freeze in the backend refuses the
// deployment at plan time, with its reason and end; freeze_override shows in
// the planned steps and lets it through, and the history records the override,
// its text and the actor. The freeze imports by id.
func TestAccFreezeResource_deployment(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok", "1.0.1": "ok"})
	now := time.Now().Truncate(time.Second)
	frz := freezeBlock("staging", "End-of-year freeze", now.Add(-time.Hour), now.Add(2*time.Hour))
	override := "  freeze_override = \"INC-4711 invoice hotfix\"\n"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			e.deployStep("1.0.0"),
			{
				Config: e.config("1.0.0", "") + frz,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(freezeAddr, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^freeze-[0-9a-f]{12}$`))),
					statecheck.ExpectKnownValue(freezeAddr, tfjsonpath.New("start"), knownvalue.StringRegexp(regexp.MustCompile(`\+01:00$`))),
				},
				Check: func(*terraform.State) error {
					list, err := e.Backend(t).ListFreezes(context.Background())
					if err != nil || len(list) != 1 || list[0].Reason != "End-of-year freeze" || !list[0].End.Equal(now.Add(2*time.Hour)) {
						return fmt.Errorf("freezes in the backend: %+v, %v", list, err)
					}
					return nil
				},
			},
			{
				Config:      e.config("1.0.1", "") + frz,
				PlanOnly:    true,
				ExpectError: wrapped("Unable to deploy app@1.0.1 to staging", "staging is frozen", `"End-of-year freeze" (release_freeze freeze-`, "until "+now.Add(2*time.Hour).UTC().Format(time.RFC3339), "freeze_override"),
			},
			{
				Config: e.config("1.0.1", override) + frz,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						2: knownvalue.StringExact(`deploy to staging even if a release_freeze window is in force (freeze_override: "INC-4711 invoice hotfix"), recording the override in the history`),
					})),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("freeze_override"), knownvalue.StringExact("INC-4711 invoice hotfix")),
				}},
				Check: resource.ComposeTestCheckFunc(e.checkServing("1.0.1"), func(*terraform.State) error {
					evs := freezeEvents(t, e.Env, "staging")
					if len(evs) != 1 {
						return fmt.Errorf("freeze_overridden events: %+v", evs)
					}
					ev := evs[0]
					if ev.Actor == "" || ev.Version != "1.0.1" || !strings.Contains(ev.Detail, `freeze_override "INC-4711 invoice hotfix" let it through`) || !strings.Contains(ev.Detail, "End-of-year freeze") {
						return fmt.Errorf("freeze_overridden event: %+v", ev)
					}
					return nil
				}),
			},
			// The backend keeps instants: an imported window is spelled in UTC.
			{ResourceName: freezeAddr, ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"start", "end"}},
		},
	})
}

// TestAccFreezeResource_windowStartsAfterPlan: a window that starts between
// the plan and the apply refuses the apply, and nothing changes.
func TestAccFreezeResource_windowStartsAfterPlan(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok", "1.0.1": "ok"})
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			e.deployStep("1.0.0"),
			{
				Config: e.config("1.0.1", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					worldChangeCheck{t, func(t *testing.T) {
						now := time.Now()
						if err := e.Backend(t).SetFreeze(context.Background(), backend.Freeze{ID: "incident-42", Environments: []string{"staging"},
							Reason: "Incident 42 in progress", Start: now, End: now.Add(time.Hour)}); err != nil {
							t.Fatal(err)
						}
					}},
				}},
				ExpectError: wrapped("staging is frozen", `"Incident 42 in progress" (release_freeze incident-42)`, "Nothing"),
			},
			{Config: e.config("1.0.0", ""), PlanOnly: true, Check: e.checkServing("1.0.0")},
		},
	})
}

// TestAccFreezeResource_cron: a recurring window, its validation, and import.
func TestAccFreezeResource_cron(t *testing.T) {
	env := acctest.NewEnv(t)
	cfg := func(extra string) string {
		return env.ProviderBlock() + `
resource "release_freeze" "test" {
  environments = ["production", "preproduction"]
  reason       = "No weekend releases"
  cron         = "0 14 * * FRI"
  duration     = "62h"
  time_zone    = "Europe/Paris"
` + extra + `
}
`
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg(`  start = "2026-12-20T00:00:00+01:00"`), ExpectError: wrapped("Invalid freeze window", "not both")},
			{Config: strings.Replace(cfg(""), "0 14 * * FRI", "every friday", 1), ExpectError: wrapped("Invalid freeze window", "not a standard 5-field cron expression")},
			{Config: strings.Replace(cfg(""), "Europe/Paris", "Europe/Atlantis", 1), ExpectError: wrapped("Invalid freeze window", "IANA time zone")},
			{
				Config: cfg(""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(freezeAddr, tfjsonpath.New("cron"), knownvalue.StringExact("0 14 * * FRI")),
					statecheck.ExpectKnownValue(freezeAddr, tfjsonpath.New("start"), knownvalue.Null()),
					statecheck.ExpectKnownValue(freezeAddr, tfjsonpath.New("created_by"), knownvalue.NotNull()),
				},
			},
			{Config: strings.Replace(cfg(""), "No weekend releases", "No Friday releases", 1), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(freezeAddr, plancheck.ResourceActionUpdate),
			}}},
			{ResourceName: freezeAddr, ImportState: true, ImportStateVerify: true},
		},
	})
}

// planFreeze announces the next window within 7 days, refuses a frozen
// environment, and lets an override through with a warning.
func TestPlanFreeze(t *testing.T) {
	be := acctest.NewBackend(t)
	d := &providerData{Backend: be}
	ctx := context.Background()
	now := time.Now()
	if err := be.SetFreeze(ctx, backend.Freeze{ID: "year-end", Environments: []string{"production"}, Reason: "End-of-year freeze",
		Start: now.Add(49 * time.Hour), End: now.Add(100 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := be.SetFreeze(ctx, backend.Freeze{ID: "far", Environments: []string{"staging"}, Reason: "later", Start: now.Add(8 * 24 * time.Hour), End: now.Add(9 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := be.SetFreeze(ctx, backend.Freeze{ID: "now", Environments: []string{"preproduction"}, Reason: "migration", Start: now.Add(-time.Minute), End: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	run := func(env string, override types.String) diag.Diagnostics {
		var diags diag.Diagnostics
		d.planFreeze(ctx, env, override, "Unable to deploy", &diags)
		return diags
	}
	diags := run("production", types.StringNull())
	if diags.HasError() || diags.WarningsCount() != 1 || diags[0].Summary() != "Next freeze of production in 2d1h" ||
		!strings.Contains(diags[0].Detail(), `"End-of-year freeze" (release_freeze year-end) from `+now.Add(49*time.Hour).UTC().Format(time.RFC3339)) {
		t.Fatalf("production, 49h before its freeze: %v", diags)
	}
	if diags := run("staging", types.StringNull()); len(diags) != 0 {
		t.Fatalf("a window 8 days ahead is announced: %v", diags)
	}
	if diags := run("preproduction", types.StringNull()); !diags.HasError() || !strings.Contains(diags[0].Detail(), "preproduction is frozen") {
		t.Fatalf("a frozen environment is not refused: %v", diags)
	}
	if diags := run("preproduction", types.StringValue("INC-1 hotfix")); diags.HasError() || diags.WarningsCount() != 1 ||
		!strings.Contains(diags[0].Detail(), `freeze_override = "INC-1 hotfix" lets this change through`) {
		t.Fatalf("an override: %v", diags)
	}
}
