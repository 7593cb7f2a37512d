package provider

import (
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
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
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
			{
				Config:           forceReleaseConfig(env, stuck.ID),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
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
