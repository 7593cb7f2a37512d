package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
)

// testAccProtoV6ProviderFactories serves this provider in-process to the acceptance tests.
var testAccProtoV6ProviderFactories = acctest.Factories(New("test"))

func testAccPreCheck(t *testing.T) { acctest.PreCheck(t) }

// accTest runs the acceptance test case c against this provider, served
// in-process, after the pre-check (c sets neither).
func accTest(t *testing.T, c resource.TestCase) {
	t.Helper()
	resource.Test(t, withThisProvider(t, c))
}

// accParallelTest is accTest for a case that may run alongside other tests.
func accParallelTest(t *testing.T, c resource.TestCase) {
	t.Helper()
	resource.ParallelTest(t, withThisProvider(t, c))
}

func withThisProvider(t *testing.T, c resource.TestCase) resource.TestCase {
	c.PreCheck = func() { testAccPreCheck(t) }
	c.ProtoV6ProviderFactories = testAccProtoV6ProviderFactories
	return c
}

// errorRe compiles an ExpectError pattern whose spaces match any run of white space,
// since Terraform wraps long diagnostics across lines.
func errorRe(pattern string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)` + strings.ReplaceAll(pattern, " ", `\s+`))
}

// emptyPlanStep plans config again and expects nothing to do: what the
// previous step applied is what config asks for.
func emptyPlanStep(config string) resource.TestStep {
	return resource.TestStep{
		Config:           config,
		ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
	}
}

// forgetStep has Terraform forget the resource addr without destroying it (a
// removed block), so that the next step can import it again.
func forgetStep(providerBlock, addr string) resource.TestStep {
	return resource.TestStep{Config: providerBlock + fmt.Sprintf(`
removed {
  from = %s
  lifecycle {
    destroy = false
  }
}
`, addr)}
}

// importPersistStep imports addr again by id after a forgetStep, keeping the
// imported state for the next steps; check, when not nil, checks what was read.
func importPersistStep(config, addr, id string, check resource.ImportStateCheckFunc) resource.TestStep {
	return resource.TestStep{
		Config:             config,
		ResourceName:       addr,
		ImportState:        true,
		ImportStateId:      id,
		ImportStatePersist: true,
		ImportStateCheck:   check,
	}
}
