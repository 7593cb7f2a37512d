package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
)

func TestAccSemverFunctions(t *testing.T) {
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: `
output "bump"      { value = provider::release::semver_bump("1.7.3", "patch") }
output "minor"     { value = provider::release::semver_bump("1.7.3", "minor") }
output "pre"       { value = provider::release::semver_bump("1.7.4-rc.1", "prerelease") }
output "channel"   { value = provider::release::semver_channel("1.7.4", "rc") }
output "strip"     { value = provider::release::semver_channel("1.7.4-rc", "") }
output "compare"   { value = provider::release::semver_compare("1.7.4-rc", "1.7.4") }
output "same"      { value = provider::release::semver_compare("1.7.4+a", "1.7.4") }
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("bump", knownvalue.StringExact("1.7.4")),
					statecheck.ExpectKnownOutputValue("minor", knownvalue.StringExact("1.8.0")),
					statecheck.ExpectKnownOutputValue("pre", knownvalue.StringExact("1.7.4-rc.2")),
					statecheck.ExpectKnownOutputValue("channel", knownvalue.StringExact("1.7.4-rc")),
					statecheck.ExpectKnownOutputValue("strip", knownvalue.StringExact("1.7.4")),
					statecheck.ExpectKnownOutputValue("compare", knownvalue.Int64Exact(-1)),
					statecheck.ExpectKnownOutputValue("same", knownvalue.Int64Exact(0)),
				},
			},
			{
				Config:      `output "x" { value = provider::release::semver_bump("1.x.banana", "patch") }`,
				ExpectError: errorRe(`version.*Invalid version: "1\.x\.banana" is not a semantic version`),
			},
			{
				Config:      `output "x" { value = provider::release::semver_bump("1.7.3", "build") }`,
				ExpectError: errorRe(`part.*invalid part "build"`),
			},
			{
				Config:      `output "x" { value = provider::release::semver_channel("1.7.3", "r c") }`,
				ExpectError: errorRe(`channel.*invalid channel "r c"`),
			},
			{
				Config:      `output "x" { value = provider::release::semver_compare("1.7.3", "latest") }`,
				ExpectError: errorRe(`b.*Invalid version: "latest"`),
			},
		},
	})
}
