package notes_test

import (
	"context"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo/gitrepotest"
	"github.com/releaseplan/terraform-provider-release/internal/notes"
)

// TestNotesFromRealRepository runs the whole path on a repository built with git:
// tags, a GitHub merge, a GitLab merge, a local merge, and plain subjects.
func TestNotesFromRealRepository(t *testing.T) {
	r := gitrepotest.New(t)
	r.Commit("chore: initial import")
	r.Tag("1.7.3")
	r.Branch("feature")
	r.Commit("wip: export")
	r.Commit("feat(api): add CSV export")
	r.Checkout("main")
	r.Commit("Fix the footer")
	r.Merge("feature", "Merge pull request #12 from acme/feature\n\nfeat(api): add CSV export")
	r.Branch("gl")
	r.Commit("remove v1 handlers")
	r.Checkout("main")
	r.Merge("gl", "Merge branch 'gl' into 'main'\n\nrefactor!: drop the v1 API\n\nSee merge request acme/app!34")
	r.Branch("develop")
	r.Commit("fix(ui): trim spaces")
	r.Checkout("main")
	r.Merge("develop", "Merge branch 'develop'")
	r.Tag("1.7.4")

	commits, err := gitrepo.Log(context.Background(), r.Dir, "1.7.3", "1.7.4")
	if err != nil {
		t.Fatal(err)
	}
	md := notes.Markdown(notes.Release{Version: "1.7.4", Entries: notes.FromCommits(commits),
		CompareURL: notes.CompareURL("https://example.org/compare/{from}...{to}", "1.7.3", "1.7.4")})
	for _, want := range []string{
		"# 1.7.4\n",
		"## Features\n\n* **api:** add CSV export (#12) (",
		"## Bug fixes\n\n* **ui:** trim spaces (",
		"## Changes\n\n* **BREAKING** drop the v1 API (!34) (",
		"* Fix the footer (",
		"**Full Changelog**: https://example.org/compare/1.7.3...1.7.4\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("notes lack %q:\n%s", want, md)
		}
	}
	for _, absent := range []string{"wip", "remove v1 handlers", "Merge", "initial import"} {
		if strings.Contains(md, absent) {
			t.Errorf("notes contain %q:\n%s", absent, md)
		}
	}
}
