package gitrepo_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo/gitrepotest"
)

type history struct {
	repo                              *gitrepotest.Repo
	c1, c2, c3, m1, c4, m2, c5, other string
	v100Date, c5Date, m2Date          time.Time
}

// build makes:
//
//	c1 (v1.0.0, annotated) ─ c3 ─ m1 ─ m2 ─ c5 (v1.1.0)      main
//	  └ c2 ──────────────────┘    │
//	    (feature)      c4 ────────┘ (gl)
//	c1 ─ other                                              other
func build(t *testing.T) history {
	r := gitrepotest.New(t)
	h := history{repo: r}
	h.c1 = r.Commit("chore: initial import")
	h.v100Date = gitrepotest.Start.Add(time.Minute)
	r.AnnotatedTag("v1.0.0", "first release")
	r.Branch("feature")
	h.c2 = r.Commit("feat(api): add CSV export\n\nExports every invoice.")
	r.Checkout("main")
	h.c3 = r.Commit("fix: typo in footer")
	h.m1 = r.Merge("feature", "Merge pull request #12 from acme/feature\n\nfeat(api): add CSV export")
	r.Branch("gl")
	h.c4 = r.Commit("feat!: drop the v1 API")
	r.Checkout("main")
	h.m2Date = gitrepotest.Start.Add(6 * time.Minute)
	h.m2 = r.Merge("gl", "Merge branch 'gl' into 'main'\n\nfeat!: drop the v1 API\n\nBREAKING CHANGE: clients must use /v2.\n\nSee merge request acme/app!34")
	h.c5Date = gitrepotest.Start.Add(7 * time.Minute)
	h.c5 = r.Commit("docs: explain exports (#56)")
	r.Tag("v1.1.0")
	r.Checkout(h.c1)
	r.Branch("other")
	h.other = r.Commit("experiment")
	r.Checkout("main")
	return h
}

// TestRepository builds one history (git is slow to start on a busy machine) and
// asks it every question.
func TestRepository(t *testing.T) {
	h := build(t)
	t.Run("IsAncestor", func(t *testing.T) { testIsAncestor(t, h) })
	t.Run("IsAncestorShallowClone", func(t *testing.T) { testIsAncestorShallowClone(t, h) })
	t.Run("ResolveCommit", func(t *testing.T) { testResolveCommit(t, h) })
	t.Run("Log", func(t *testing.T) { testLog(t, h) })
	t.Run("Dates", func(t *testing.T) { testDates(t, h) })
}

func testIsAncestor(t *testing.T, h history) {
	ctx := context.Background()
	tests := []struct {
		name                 string
		ancestor, descendant string
		want                 bool
		wantErr              error
	}{
		{"root of head", h.c1, h.c5, true, nil},
		{"same commit", h.c5, h.c5, true, nil},
		{"merged branch commit", h.c2, h.c5, true, nil},
		{"tags and branches", "v1.0.0", "main", true, nil},
		{"abbreviated hash", h.c1[:8], "v1.1.0", true, nil},
		{"reversed", h.c5, h.c1, false, nil},
		{"diverged", h.other, h.c5, false, nil},
		{"unknown commit", "0123456789abcdef0123456789abcdef01234567", h.c5, false, gitrepo.ErrUnknownCommit},
		{"unknown ref", h.c1, "no-such-branch", false, gitrepo.ErrUnknownCommit},
		{"option injection", "--output=/tmp/x", h.c5, false, gitrepo.ErrUnknownCommit},
		{"empty", "", h.c5, false, gitrepo.ErrUnknownCommit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gitrepo.IsAncestor(ctx, h.repo.Dir, tt.ancestor, tt.descendant)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("IsAncestor = %v, want %v", got, tt.want)
			}
			if err != nil && errors.Is(err, gitrepo.ErrShallow) {
				t.Errorf("full clone reported as shallow: %v", err)
			}
		})
	}
}

func testIsAncestorShallowClone(t *testing.T, h history) {
	ctx := context.Background()
	shallow := h.repo.ShallowClone(1)
	if ok, err := gitrepo.IsShallow(ctx, shallow); err != nil || !ok {
		t.Fatalf("IsShallow = %v, %v; want true", ok, err)
	}
	_, err := gitrepo.IsAncestor(ctx, shallow, h.c1, h.c5)
	if !errors.Is(err, gitrepo.ErrShallow) || !errors.Is(err, gitrepo.ErrUnknownCommit) {
		t.Fatalf("err = %v, want ErrShallow (the ancestor is not fetched)", err)
	}
	if want := "fetch with --unshallow"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if ok, err := gitrepo.IsAncestor(ctx, shallow, h.c5, "HEAD"); err != nil || !ok {
		t.Errorf("HEAD descends from itself in a shallow clone: got %v, %v", ok, err)
	}

	// Both commits present, but the history joining them is cut: no false "no".
	deeper := h.repo.ShallowClone(2)
	if _, err := gitrepo.IsAncestor(ctx, deeper, h.c5, h.m2); !errors.Is(err, gitrepo.ErrShallow) {
		t.Errorf("negative answer from a shallow clone: err = %v, want ErrShallow", err)
	}
	if ok, err := gitrepo.IsAncestor(ctx, deeper, h.m2, h.c5); err != nil || !ok {
		t.Errorf("IsAncestor(m2, c5) in depth-2 clone = %v, %v; want true", ok, err)
	}
}

func TestNotARepository(t *testing.T) {
	_, err := gitrepo.ResolveCommit(context.Background(), t.TempDir(), "HEAD")
	if !errors.Is(err, gitrepo.ErrNotRepository) {
		t.Fatalf("err = %v, want ErrNotRepository", err)
	}
}

func testResolveCommit(t *testing.T, h history) {
	for ref, want := range map[string]string{"v1.0.0": h.c1, "v1.1.0": h.c5, "main": h.c5, "main~1": h.m2, h.c3[:10]: h.c3, "feature": h.c2} {
		got, err := gitrepo.ResolveCommit(context.Background(), h.repo.Dir, ref)
		if err != nil || got != want {
			t.Errorf("ResolveCommit(%s) = %s, %v; want %s", ref, got, err, want)
		}
	}
}

func testLog(t *testing.T, h history) {
	ctx := context.Background()
	commits, err := gitrepo.Log(ctx, h.repo.Dir, "v1.0.0", "v1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, c := range commits {
		hashes = append(hashes, c.Hash)
	}
	if want := []string{h.c5, h.m2, h.c4, h.m1, h.c3, h.c2}; !slices.Equal(hashes, want) {
		t.Fatalf("Log hashes = %v, want %v", hashes, want)
	}
	byHash := map[string]gitrepo.Commit{}
	for _, c := range commits {
		byHash[c.Hash] = c
	}
	m1 := byHash[h.m1]
	if m1.PullRequest != 12 || m1.Title() != "feat(api): add CSV export" || !m1.IsMerge() {
		t.Errorf("GitHub merge = %+v", m1)
	}
	m2 := byHash[h.m2]
	if m2.PullRequest != 34 || m2.PullRequestRef != "!34" || m1.PullRequestRef != "#12" || m2.PullRequestTitle != "feat!: drop the v1 API" || !m2.Date.Equal(h.m2Date) {
		t.Errorf("GitLab merge = %+v", m2)
	}
	c5 := byHash[h.c5]
	if c5.PullRequest != 56 || c5.Title() != "docs: explain exports" || c5.IsMerge() {
		t.Errorf("squash merge = %+v", c5)
	}
	c2 := byHash[h.c2]
	if c2.Subject != "feat(api): add CSV export" || c2.Body != "Exports every invoice." || c2.Author != "Ada Lovelace" ||
		c2.AuthorEmail != "ada@example.org" || c2.PullRequest != 0 || c2.Title() != c2.Subject || len(c2.Parents) != 1 {
		t.Errorf("plain commit = %+v", c2)
	}

	first, err := gitrepo.Log(ctx, h.repo.Dir, "v1.0.0", "v1.1.0", gitrepo.FirstParent())
	if err != nil {
		t.Fatal(err)
	}
	hashes = hashes[:0]
	for _, c := range first {
		hashes = append(hashes, c.Hash)
	}
	if want := []string{h.c5, h.m2, h.m1, h.c3}; !slices.Equal(hashes, want) {
		t.Errorf("first-parent Log = %v, want %v", hashes, want)
	}

	all, err := gitrepo.Log(ctx, h.repo.Dir, "", "v1.0.0")
	if err != nil || len(all) != 1 || all[0].Hash != h.c1 {
		t.Errorf("Log of the whole history of v1.0.0 = %v, %v", all, err)
	}
	empty, err := gitrepo.Log(ctx, h.repo.Dir, "v1.1.0", "v1.1.0")
	if err != nil || len(empty) != 0 {
		t.Errorf("empty range = %v, %v", empty, err)
	}
	if _, err := gitrepo.Log(ctx, h.repo.Dir, "v0.9.0", "v1.1.0"); !errors.Is(err, gitrepo.ErrUnknownCommit) {
		t.Errorf("unknown from: err = %v", err)
	}
}

func testDates(t *testing.T, h history) {
	ctx := context.Background()
	if d, err := gitrepo.TagDate(ctx, h.repo.Dir, "v1.0.0"); err != nil || !d.Equal(h.v100Date) {
		t.Errorf("annotated TagDate = %v, %v; want the tagger date %v", d, err, h.v100Date)
	}
	if d, err := gitrepo.TagDate(ctx, h.repo.Dir, "v1.1.0"); err != nil || !d.Equal(h.c5Date) {
		t.Errorf("lightweight TagDate = %v, %v; want the commit date %v", d, err, h.c5Date)
	}
	if _, err := gitrepo.TagDate(ctx, h.repo.Dir, "v9"); !errors.Is(err, gitrepo.ErrUnknownCommit) {
		t.Errorf("unknown tag: err = %v", err)
	}
	if d, err := gitrepo.CommitDate(ctx, h.repo.Dir, "v1.1.0"); err != nil || !d.Equal(h.c5Date) {
		t.Errorf("CommitDate = %v, %v; want %v", d, err, h.c5Date)
	}
}
