package notes

import (
	"fmt"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		title, body         string
		typ, scope, subject string
		breaking            bool
		section             string
	}{
		{"feat: add export", "", "feat", "", "add export", false, SectionFeatures},
		{"feat(api): add export", "", "feat", "api", "add export", false, SectionFeatures},
		{"feat(api)!: drop v1", "", "feat", "api", "drop v1", true, SectionFeatures},
		{"feat!: drop v1", "", "feat", "", "drop v1", true, SectionFeatures},
		{"Fix: crash on empty cart", "", "fix", "", "crash on empty cart", false, SectionFixes},
		{"fix(ui):   trim spaces ", "", "fix", "ui", "trim spaces", false, SectionFixes},
		{"refactor: split module", "body\n\nBREAKING CHANGE: config moved", "refactor", "", "split module", true, SectionChanges},
		{"chore(deps): bump pgx", "BREAKING-CHANGE: go 1.26", "chore", "deps", "bump pgx", true, SectionChanges},
		{"docs: readme", "mentions BREAKING CHANGE: inline only", "docs", "", "readme", false, SectionChanges},
		{"Update README", "", "", "", "Update README", false, SectionChanges},
		{"see http://example.org", "", "", "", "see http://example.org", false, SectionChanges},
		{"fix:no space", "", "", "", "fix:no space", false, SectionChanges},
		{"Revert \"feat: x\"", "", "", "", "Revert \"feat: x\"", false, SectionChanges},
	}
	for _, tt := range tests {
		typ, scope, subject, breaking := Classify(tt.title, tt.body)
		if typ != tt.typ || scope != tt.scope || subject != tt.subject || breaking != tt.breaking {
			t.Errorf("Classify(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", tt.title, typ, scope, subject, breaking, tt.typ, tt.scope, tt.subject, tt.breaking)
		}
		if got := SectionOf(typ); got != tt.section {
			t.Errorf("SectionOf(%q) = %q, want %q", typ, got, tt.section)
		}
	}
}

// commits mirrors a history (newest first):
//
//	base ─ c3 ─ m1 ───── m2 ─ c5 ─ m3
//	  └ c2 ───┘         │        │
//	          c4 ───────┘  d1 ───┘   (m3: "Merge branch 'develop'", no pull request)
func commits() []gitrepo.Commit {
	return []gitrepo.Commit{
		{Hash: "m3000000000", Parents: []string{"c5000000000", "d1000000000"}, Subject: "Merge branch 'develop'", Author: "Bot"},
		{Hash: "d1000000000", Parents: []string{"base"}, Subject: "perf: cache templates", Author: "Dee"},
		{Hash: "c5000000000", Parents: []string{"m2000000000"}, Subject: "docs: explain exports (#56)", Author: "Ada",
			PullRequest: 56, PullRequestTitle: "docs: explain exports", PullRequestRef: "#56"},
		{Hash: "m2000000000", Parents: []string{"m1000000000", "c4000000000"}, Subject: "Merge branch 'gl' into 'main'", Author: "Bob",
			Body: "feat!: drop the v1 API\n\nSee merge request acme/app!34", PullRequest: 34, PullRequestTitle: "feat!: drop the v1 API", PullRequestRef: "!34"},
		{Hash: "c4000000000", Parents: []string{"m1000000000"}, Subject: "wip", Author: "Bob"},
		{Hash: "m1000000000", Parents: []string{"c3000000000", "c2000000000"}, Subject: "Merge pull request #12 from acme/feature", Author: "Ada",
			Body: "feat(api): add CSV export", PullRequest: 12, PullRequestTitle: "feat(api): add CSV export", PullRequestRef: "#12"},
		{Hash: "c3000000000", Parents: []string{"base"}, Subject: "fix: typo in footer", Author: "Cy"},
		{Hash: "c2000000000", Parents: []string{"base"}, Subject: "feat(api): start export", Author: "Ada"},
	}
}

func TestFromCommits(t *testing.T) {
	got := FromCommits(commits())
	want := []Entry{
		{Section: SectionFeatures, Type: "feat", Subject: "drop the v1 API", Hash: "m2000000000", Author: "Bob", Breaking: true, PullRequest: 34, PullRequestRef: "!34"},
		{Section: SectionFeatures, Type: "feat", Scope: "api", Subject: "add CSV export", Hash: "m1000000000", Author: "Ada", PullRequest: 12, PullRequestRef: "#12"},
		{Section: SectionFixes, Type: "fix", Subject: "typo in footer", Hash: "c3000000000", Author: "Cy"},
		{Section: SectionChanges, Type: "perf", Subject: "cache templates", Hash: "d1000000000", Author: "Dee"},
		{Section: SectionChanges, Type: "docs", Subject: "explain exports", Hash: "c5000000000", Author: "Ada", PullRequest: 56, PullRequestRef: "#56"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v\nwant        %+v", i, got[i], want[i])
		}
	}
}

func TestFromCommitsFirstParent(t *testing.T) {
	// A first-parent log has the merges but not the commits they brought in.
	var first []gitrepo.Commit
	for _, c := range commits() {
		switch c.Hash {
		case "d1000000000", "c4000000000", "c2000000000":
		default:
			first = append(first, c)
		}
	}
	got := FromCommits(first)
	var hashes []string
	for _, e := range got {
		hashes = append(hashes, e.Hash[:2])
	}
	if want := "[m2 m1 c3 c5]"; fmt.Sprint(hashes) != want {
		t.Errorf("entries = %v, want %s", hashes, want)
	}
}

func TestMarkdown(t *testing.T) {
	got := Markdown(Release{
		Version:    "1.7.4",
		Date:       time.Date(2024, 3, 1, 23, 30, 0, 0, time.FixedZone("CET", -3600)),
		Entries:    FromCommits(commits()),
		CompareURL: CompareURL("https://github.com/acme/app/compare/{from}...{to}", "1.7.3", "1.7.4"),
	})
	want := `# 1.7.4 (2024-03-02)

## Features

* **BREAKING** drop the v1 API (!34) (m200000)
* **api:** add CSV export (#12) (m100000)

## Bug fixes

* typo in footer (c300000)

## Changes

* cache templates (d100000)
* explain exports (#56) (c500000)

**Full Changelog**: https://github.com/acme/app/compare/1.7.3...1.7.4
`
	if got != want {
		t.Errorf("Markdown =\n%s\nwant\n%s", got, want)
	}

	empty := Markdown(Release{Version: "1.7.5"})
	if empty != "# 1.7.5\n\nNo changes.\n" {
		t.Errorf("empty release = %q", empty)
	}
}

func TestCompareURL(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"https://github.com/acme/app/compare/{from}...{to}", "https://github.com/acme/app/compare/v1...v2"},
		{"https://gitlab.example.org/acme/app/-/compare/{from}...{to}?from_project_id=1", "https://gitlab.example.org/acme/app/-/compare/v1...v2?from_project_id=1"},
		{"https://example.org/changes", "https://example.org/changes"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := CompareURL(tt.tmpl, "v1", "v2"); got != tt.want {
			t.Errorf("CompareURL(%q) = %q, want %q", tt.tmpl, got, tt.want)
		}
	}
}
