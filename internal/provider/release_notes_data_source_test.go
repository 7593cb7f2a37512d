package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo/gitrepotest"
)

func releaseNotesConfig(providerBlock, repo, extra string) string {
	return providerBlock + fmt.Sprintf(`
data "release_notes" "next" {
  repository = %q
  %s
}
`, repo, extra)
}

func TestAccReleaseNotesDataSource(t *testing.T) {
	r := gitrepotest.New(t)
	r.Commit("chore: initial import")
	r.Tag("1.7.3")
	r.Branch("feature")
	r.Commit("wip: export")
	r.Checkout("main")
	fix := r.Commit("fix: footer typo")
	r.Checkout("feature")
	r.Merge("main", "Merge branch 'main' into feature") // a merge without a pull request
	r.Commit("feat(api): add CSV export")
	r.Checkout("main")
	pr := r.Merge("feature", "Merge pull request #12 from acme/feature\n\nfeat(api): add CSV export")
	breaking := r.Commit("refactor!: drop the v1 API")
	other := r.Commit("Update README")
	r.AnnotatedTag("1.7.4", "release 1.7.4")
	r.Commit("feat: after the release")

	providerBlock := acctest.ProviderBlock(t)
	const ds = "data.release_notes.next"
	entry := func(section, typ, scope, subject, hash string, breaking bool, pr knownvalue.Check) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"section": knownvalue.StringExact(section), "type": knownvalue.StringExact(typ),
			"scope": knownvalue.StringExact(scope), "subject": knownvalue.StringExact(subject),
			"hash": knownvalue.StringExact(hash), "author": knownvalue.StringExact("Ada Lovelace"),
			"breaking": knownvalue.Bool(breaking), "pull_request": pr,
		})
	}
	wantMarkdown := fmt.Sprintf(`# 1.7.4 (2024-03-01)

## Features

* **api:** add CSV export (#12) (%s)

## Bug fixes

* footer typo (%s)

## Changes

* Update README (%s)
* **BREAKING** drop the v1 API (%s)

**Full Changelog**: https://github.com/acme/app/compare/1.7.3...1.7.4
`, pr[:7], fix[:7], other[:7], breaking[:7])

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: releaseNotesConfig(providerBlock, r.Dir, `
  from                 = "1.7.3"
  to                   = "1.7.4"
  compare_url_template = "https://github.com/acme/app/compare/{from}...{to}"
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("markdown"), knownvalue.StringExact(wantMarkdown)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("version"), knownvalue.StringExact("1.7.4")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("date"), knownvalue.StringExact("2024-03-01")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("to_commit"), knownvalue.StringExact(other)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("compare_url"), knownvalue.StringExact("https://github.com/acme/app/compare/1.7.3...1.7.4")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("entries"), knownvalue.ListExact([]knownvalue.Check{
						entry("Features", "feat", "api", "add CSV export", pr, false, knownvalue.Int64Exact(12)),
						entry("Bug fixes", "fix", "", "footer typo", fix, false, knownvalue.Null()),
						entry("Changes", "", "", "Update README", other, false, knownvalue.Null()),
						entry("Changes", "refactor", "", "drop the v1 API", breaking, true, knownvalue.Null()),
					})),
				},
			},
			{
				// Overrides, first-parent history, and a first release without from.
				Config: releaseNotesConfig(providerBlock, r.Dir, `
  to           = "1.7.4"
  version      = "v1.7.4-rc"
  date         = "2024-04-02"
  first_parent = true
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("from_commit"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("compare_url"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("markdown"), knownvalue.StringRegexp(errorRe(
						`^# v1.7.4-rc \(2024-04-02\)\n`))),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("entries"), knownvalue.ListSizeExact(5)),
				},
			},
			{
				Config:      releaseNotesConfig(providerBlock, r.Dir, `from = "1.7.2"`+"\n"+`to = "1.7.4"`),
				ExpectError: errorRe(`Unable to read release notes 1.7.2..1.7.4 .* "1.7.2" names no commit in the clone at`),
			},
			{
				Config:      releaseNotesConfig(providerBlock, t.TempDir(), `to = "main"`),
				ExpectError: errorRe(`is not a git repository`),
			},
			{
				Config:      releaseNotesConfig(providerBlock, r.Dir, `to = "1.7.4"`+"\n"+`date = "April 2nd"`),
				ExpectError: errorRe(`must be a date in the form YYYY-MM-DD`),
			},
			{
				// New commits after the tag do not change the notes of 1.7.4.
				Config: releaseNotesConfig(providerBlock, r.Dir, `
  from = "1.7.3"
  to   = "1.7.4"
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("entries"), knownvalue.ListSizeExact(4)),
				},
			},
		},
	})
}

func TestAccReleaseNotesDataSource_shallowClone(t *testing.T) {
	r := gitrepotest.New(t)
	r.Commit("feat: one")
	r.Tag("1.0.0")
	r.Commit("fix: two")
	r.Tag("1.0.1")
	shallow := r.ShallowClone(1)

	providerBlock := acctest.ProviderBlock(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      releaseNotesConfig(providerBlock, shallow, `from = "1.0.0"`+"\n"+`to = "HEAD"`),
				ExpectError: errorRe(`which is shallow .*git fetch --tags --unshallow`),
			},
			{
				// What the shallow clone holds is enough for a first release's notes.
				Config: releaseNotesConfig(providerBlock, shallow, `to = "HEAD"`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.release_notes.next", tfjsonpath.New("markdown"), knownvalue.StringRegexp(errorRe(`## Bug fixes\n\n\* two `))),
				},
			},
		},
	})
}

// TestWarnNotDescendant: release notes whose from is not contained in to (a
// newer release, another branch) warn that from's changes are left out; an
// older from, the same commit or no from say nothing.
func TestWarnNotDescendant(t *testing.T) {
	repo := gitrepotest.New(t)
	older := repo.Commit("feat: one")
	newer := repo.Commit("fix: two")
	for _, tc := range []struct {
		name      string
		from, to  string
		wantWarns int
	}{
		{"older from", older, newer, 0},
		{"same commit", newer, newer, 0},
		{"no from", "", newer, 0},
		{"newer from", newer, older, 1},
	} {
		var diags diag.Diagnostics
		warnNotDescendant(context.Background(), repo.Dir, "from", "to", tc.from, tc.to, &diags)
		if diags.WarningsCount() != tc.wantWarns || diags.HasError() {
			t.Errorf("%s: diagnostics %v, want %d warning(s)", tc.name, diags, tc.wantWarns)
		}
	}
}
