package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/maintenance"
	"github.com/releaseplan/terraform-provider-release/internal/router"
)

// TestAccBlueGreenRouterResource_stalePlan: the active colour moved between
// the plan and the apply (another pipeline switched): the apply refuses with
// what the plan expected and what is active now, and switches nothing.
func TestAccBlueGreenRouterResource_stalePlan(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := colourDirs(t)
	cfg := func(active string) string {
		return directoryRouterConfig(env, dir, active, `environment = "production"`)
	}
	live := func(want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			got, err := os.Readlink(filepath.Join(dir, router.LiveLink))
			if err != nil || got != want {
				return fmt.Errorf("live -> %q (%v), want %q", got, err, want)
			}
			return nil
		}
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg("blue"), Check: live("blue")},
			{
				// The plan switches blue → green; meanwhile someone puts the
				// live link on a third release folder by hand.
				Config: cfg("green"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("release_blue_green_router.site", plancheck.ResourceActionUpdate),
					worldChangeCheck{t, func(t *testing.T) {
						if err := os.MkdirAll(filepath.Join(dir, "hotfix"), 0o755); err != nil {
							t.Fatal(err)
						}
						link := filepath.Join(dir, router.LiveLink)
						if err := os.Remove(link); err != nil {
							t.Fatal(err)
						}
						if err := os.Symlink("hotfix", link); err != nil {
							t.Fatal(err)
						}
					}},
				}},
				ExpectError: wrapped("Directory router "+dir+"/live changed since this plan was made: it planned to switch from blue to green", "and traffic goes to", "hotfix now, neither colour", "Nothing was changed. Plan again and review."),
			},
			{Config: cfg("blue"), PlanOnly: true, ExpectNonEmptyPlan: true, Check: live("hotfix")},
		},
	})
}

// TestAccBlueGreenRouterResource_stalePlanSwitched: another run switched to
// the colour this plan switches away from; the refusal names who did it.
func TestAccBlueGreenRouterResource_stalePlanSwitched(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := colourDirs(t)
	cfg := func(active string) string {
		return directoryRouterConfig(env, dir, active, `environment = "production"`)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg("green")},
			{
				// The plan switches green → blue; another run switches to blue first.
				Config: cfg("blue"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{worldChangeCheck{t, func(t *testing.T) {
					rt := &router.Directory{Path: dir}
					if _, err := rt.Switch(context.Background(), router.Blue, nil); err != nil {
						t.Fatal(err)
					}
					if err := env.Backend(t).Append(context.Background(), backend.Event{Environment: "production", Kind: backend.KindSwitched, Actor: "other-pipeline", Detail: "green → blue"}); err != nil {
						t.Fatal(err)
					}
				}}}},
				ExpectError: wrapped("it planned to switch from green to blue", "and blue is active now", "switched by other-pipeline at", "Nothing was changed. Plan again and review."),
			},
		},
	})
}

// TestAccMaintenanceModeResource_stalePlan: maintenance was turned on by
// someone else between the plan and the apply: the apply refuses and changes
// nothing.
func TestAccMaintenanceModeResource_stalePlan(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := t.TempDir()
	cfg := func(attrs string) string {
		return maintenanceDirectoryConfig(env, dir, `environment = "production"
  `+attrs)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg(`enabled = false`)},
			{
				Config: cfg(`enabled = true
  banner  = true
  message = "Maintenance tonight"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{worldChangeCheck{t, func(t *testing.T) {
					d := &maintenance.Directory{Path: dir}
					if err := d.Apply(context.Background(), maintenance.State{Enabled: true, Message: "Down for an incident"}); err != nil {
						t.Fatal(err)
					}
					if err := env.Backend(t).Append(context.Background(), backend.Event{Environment: "production", Kind: backend.KindMaintenance, Actor: "oncall", Detail: "maintenance on"}); err != nil {
						t.Fatal(err)
					}
				}}}},
				ExpectError: wrapped("Maintenance on directory "+dir+" changed since this plan was made: it planned to turn it banner (it was off)", "and it is on now, maintenance by oncall at", "Nothing was changed. Plan again and review."),
				Check: func(*terraform.State) error {
					s, err := (&maintenance.Directory{Path: dir}).Read(context.Background())
					if err != nil || s.Banner || s.Message != "Down for an incident" {
						return fmt.Errorf("maintenance now %+v (%v), want the incident page untouched", s, err)
					}
					return nil
				},
			},
		},
	})
}
