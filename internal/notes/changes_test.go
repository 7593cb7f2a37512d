package notes_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo/gitrepotest"
	"github.com/releaseplan/terraform-provider-release/internal/notes"
)

func TestEntryLine(t *testing.T) {
	for _, tc := range []struct {
		e    notes.Entry
		want string
	}{
		{notes.Entry{Section: notes.SectionFeatures, Scope: "api", Subject: "add CSV export", PullRequestRef: "#12", Hash: "3f2a9c1d"}, "Features: api: add CSV export (#12)"},
		{notes.Entry{Section: notes.SectionChanges, Subject: "drop the v1 API", Breaking: true, PullRequestRef: "!34"}, "Changes (BREAKING): drop the v1 API (!34)"},
		{notes.Entry{Section: notes.SectionFixes, Subject: "trim spaces", Hash: "3f2a9c1d0e"}, "Bug fixes: trim spaces (3f2a9c1)"},
	} {
		if got := tc.e.Line(); got != tc.want {
			t.Errorf("Line() = %q, want %q", got, tc.want)
		}
	}
}

// TestBetween reads real histories: a release that descends from the live
// one, a rollback, a release from a branch that left main, and a shallow clone.
func TestBetween(t *testing.T) {
	ctx := context.Background()
	r := gitrepotest.New(t)
	v100 := r.Commit("chore: initial import")
	r.Branch("feature")
	r.Commit("wip")
	r.Commit("feat: add export")
	r.Checkout("main")
	r.Merge("feature", "Merge pull request #42 from acme/feature\n\nfeat: add export")
	fix := r.Commit("fix(login): keep the session")
	v110 := r.Head()
	r.Checkout(v100)
	r.Branch("stale")
	stale := r.Commit("feat: old experiment")

	c, err := notes.Between(ctx, r.Dir, v100, v110)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Features: add export (#42)", "Bug fixes: login: keep the session (" + fix[:7] + ")"}
	if got := c.Lines(); !c.Descends || !slices.Equal(got, want) {
		t.Errorf("1.0.0 → 1.1.0: descends %v, lines %q; want true, %q", c.Descends, got, want)
	}

	c, err = notes.Between(ctx, r.Dir, v110, v100)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"Removed: Features: add export (#42)", "Removed: Bug fixes: login: keep the session (" + fix[:7] + ")"}
	if got := c.Lines(); c.Descends || !slices.Equal(got, want) {
		t.Errorf("rollback 1.1.0 → 1.0.0: descends %v, lines %q; want false, %q", c.Descends, got, want)
	}

	c, err = notes.Between(ctx, r.Dir, v110, stale)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"Features: old experiment (" + stale[:7] + ")", "Removed: Features: add export (#42)", "Removed: Bug fixes: login: keep the session (" + fix[:7] + ")"}
	if got := c.Lines(); c.Descends || !slices.Equal(got, want) {
		t.Errorf("stale branch: descends %v, lines %q; want false, %q", c.Descends, got, want)
	}

	c, err = notes.Between(ctx, r.Dir, v110, v110)
	if err != nil || !c.Descends || len(c.Lines()) != 0 {
		t.Errorf("same commit: %+v, %v; want no changes", c, err)
	}

	r.Checkout("main")
	if _, err := notes.Between(ctx, r.ShallowClone(1), v100, v110); !errors.Is(err, gitrepo.ErrShallow) {
		t.Errorf("shallow clone: err = %v, want ErrShallow", err)
	}
	if _, err := notes.Between(ctx, r.Dir, v100, "0123456789abcdef0123456789abcdef01234567"); !errors.Is(err, gitrepo.ErrUnknownCommit) {
		t.Errorf("unknown commit: err = %v, want ErrUnknownCommit", err)
	}
}
