package provider

import (
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
