package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// unknownHostsConfig deploys app@version to the hosts a terraform_data resource
// outputs: at the first plan, and whenever that list changes, the hosts are
// known only at the apply (as servers created in the same apply are).
func (e *sshDeployEnv) unknownHostsConfig(version string, n int) string {
	base := e.config(version, n, e.fleet.KnownHosts())
	base = strings.Replace(base, "hosts        = "+hclList(e.fleet.Addrs()[:n]), "hosts        = terraform_data.servers.output", 1)
	return base + fmt.Sprintf(`
resource "terraform_data" "servers" {
  input = %s
}
`, hclList(e.fleet.Addrs()[:n]))
}

// TestAccDeploymentResource_sshUnknownHosts: the fleet's hosts come from a
// resource created in the same apply. The plan leaves what depends on them
// unknown, the apply deploys to every host, a host added later (the list is
// unknown again) gets the release, and the state then plans empty.
func TestAccDeploymentResource_sshUnknownHosts(t *testing.T) {
	e := newSSHDeployEnv(t, 3, "1.0.0", "1.1.0")
	res := "release_deployment.fleet"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: e.unknownHostsConfig("1.0.0", 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("directory").AtMapKey("ssh").AtMapKey("hosts")),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("hosts_live")),
				}},
				Check: resource.ComposeTestCheckFunc(e.serves("1.0.0", 2), e.hostsLiveAgree(2)),
			},
			emptyPlanStep(e.unknownHostsConfig("1.0.0", 2)),
			{
				Config: e.unknownHostsConfig("1.1.0", 3),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("directory").AtMapKey("ssh").AtMapKey("hosts")),
				}},
				Check: resource.ComposeTestCheckFunc(e.serves("1.1.0", 3), e.hostsLiveAgree(3),
					resource.TestCheckResourceAttr(res, "previous_version", "1.0.0")),
			},
			emptyPlanStep(e.unknownHostsConfig("1.1.0", 3)),
		},
	})
}
