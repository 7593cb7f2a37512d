package gitrepo_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo/gitrepotest"
)

// TestCheckRefNameAgreesWithGit compares CheckRefName with git check-ref-format
// --allow-onelevel on names valid and invalid for each rule.
func TestCheckRefNameAgreesWithGit(t *testing.T) {
	names := []string{
		"1.7.4", "v2.0rc1", "release/1.7", "master", "feature/a-b_c", "a.b", "@x", "x@y", "ü",
		"", "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[1", `a\b`, "a\x01", "a\x7f",
		"/a", "a/", "a//b", "a.", ".a", "a/.b", "a.lock", "a/b.lock/c", "a@{1}",
	}
	for _, name := range names {
		err := gitrepo.CheckRefName(name)
		gitOK := exec.Command("git", "check-ref-format", "--allow-onelevel", "refs/tags/"+name).Run() == nil && name != ""
		if (err == nil) != gitOK {
			t.Errorf("CheckRefName(%q) = %v, git check-ref-format accepts it: %v", name, err, gitOK)
		}
	}
	// Stricter than git where the command line would misread the name.
	for _, name := range []string{"-x", "HEAD", "@"} {
		if err := gitrepo.CheckRefName(name); err == nil {
			t.Errorf("CheckRefName(%q) accepted a name git's command line would misread", name)
		}
	}
}

func TestCheckRemoteRefusesPasswords(t *testing.T) {
	for _, ok := range []string{"origin", "/srv/git/app.git", "file:///srv/git/app.git", "ssh://git@example.org:22/app.git", "https://user@example.org/app.git", "git@example.org:app.git"} {
		if err := gitrepo.CheckRemote(ok); err != nil {
			t.Errorf("CheckRemote(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "--upload-pack=x", "https://user:s3cret@example.org/app.git"} {
		err := gitrepo.CheckRemote(bad)
		if err == nil {
			t.Errorf("CheckRemote(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("CheckRemote's error shows the password: %v", err)
		}
	}
}

type remoteRepo struct {
	repo   *gitrepotest.Repo
	origin string
	c1, c2 string
}

// withOrigin makes a clone with two commits on main, pushed to a bare origin.
func withOrigin(t *testing.T) remoteRepo {
	t.Helper()
	gitrepotest.Isolate(t)
	r := gitrepotest.New(t)
	h := remoteRepo{repo: r}
	h.c1 = r.Commit("first")
	h.c2 = r.Commit("second")
	h.origin = r.Bare(filepath.Join(t.TempDir(), "origin.git"))
	r.Git("remote", "add", "origin", h.origin)
	r.Git("push", "-q", "origin", "main")
	return h
}

func originTag(t *testing.T, h remoteRepo, name string) string {
	t.Helper()
	tag, err := gitrepo.RemoteTag(context.Background(), h.repo.Dir, "origin", name)
	if err != nil {
		t.Fatalf("tag %s on origin: %v", name, err)
	}
	return tag.Commit
}

func TestTagLightweightAndAnnotated(t *testing.T) {
	ctx := context.Background()
	h := withOrigin(t)
	dir := h.repo.Dir
	light := gitrepo.TagRequest{Repo: dir, Name: "1.7.3", Commit: h.c1, Remote: "origin"}
	p, err := gitrepo.PlanTag(light, gitrepo.TagStatus{})
	if err != nil || p.Action != "tag "+h.c1[:7]+" as 1.7.3 on origin" {
		t.Fatalf("PlanTag = %q, %v", p.Action, err)
	}
	if _, err := gitrepo.ApplyTag(ctx, light, ""); err != nil {
		t.Fatal(err)
	}
	notes := "# 1.7.4\n\n* fix: typo\n"
	annotated := gitrepo.TagRequest{Repo: dir, Name: "1.7.4", Commit: h.c2, Remote: "origin", Message: notes}
	if _, err := gitrepo.ApplyTag(ctx, annotated, ""); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"1.7.3": false, "1.7.4": true} {
		local, err := gitrepo.LocalTag(ctx, dir, name)
		if err != nil || local.Annotated != want {
			t.Errorf("local tag %s = %+v, %v; want annotated %v", name, local, err, want)
		}
		remote, err := gitrepo.RemoteTag(ctx, dir, "origin", name)
		if err != nil || remote != local {
			t.Errorf("tag %s on origin = %+v, %v; want %+v", name, remote, err, local)
		}
	}
	if msg, err := gitrepo.TagMessage(ctx, dir, "1.7.4"); err != nil || msg != notes {
		t.Errorf("message of 1.7.4 = %q, %v; want the notes verbatim %q", msg, err, notes)
	}
	if got := originTag(t, h, "1.7.4"); got != h.c2 {
		t.Errorf("1.7.4 on origin names %s, want the peeled commit %s", got, h.c2)
	}
	// Applying again is a no-op.
	now, _ := gitrepo.ObserveTag(ctx, dir, "1.7.4", "origin")
	if p, err := gitrepo.PlanTag(annotated, now); err != nil || p.Changes() || p.Action != "keep tag 1.7.4 on "+h.c2[:7]+" on origin" {
		t.Errorf("second plan = %+v, %v; want keep", p, err)
	}
}

func TestTagOnAnotherCommitIsRefusedUnlessForced(t *testing.T) {
	ctx := context.Background()
	h := withOrigin(t)
	dir := h.repo.Dir
	h.repo.Checkout(h.c1)
	h.repo.AnnotatedTag("1.7.4", "the wrong one")
	h.repo.Git("push", "-q", "origin", "1.7.4")
	h.repo.Checkout("main")
	req := gitrepo.TagRequest{Repo: dir, Name: "1.7.4", Commit: h.c2, Remote: "origin", Message: "right"}
	now, err := gitrepo.ObserveTag(ctx, dir, "1.7.4", "origin")
	if err != nil {
		t.Fatal(err)
	}
	_, err = gitrepo.PlanTag(req, now)
	if !errors.Is(err, gitrepo.ErrTagExists) || !strings.Contains(err.Error(), h.c1) || !strings.Contains(err.Error(), h.c2) {
		t.Fatalf("PlanTag over an existing tag = %v; want ErrTagExists naming %s and %s", err, h.c1, h.c2)
	}
	if _, err := gitrepo.ApplyTag(ctx, req, ""); !errors.Is(err, gitrepo.ErrTagExists) {
		t.Fatalf("ApplyTag over an existing tag = %v; want ErrTagExists", err)
	}
	if got := originTag(t, h, "1.7.4"); got != h.c1 {
		t.Fatalf("a refused tag moved on origin to %s", got)
	}
	req.Force = true
	p, err := gitrepo.PlanTag(req, now)
	want := "move tag 1.7.4 from " + h.c1[:7] + " to " + h.c2[:7] + " on origin"
	if err != nil || p.Action != want {
		t.Fatalf("forced PlanTag = %q, %v; want %q", p.Action, err, want)
	}
	if _, err := gitrepo.ApplyTag(ctx, req, h.c1); err != nil {
		t.Fatal(err)
	}
	if got := originTag(t, h, "1.7.4"); got != h.c2 {
		t.Fatalf("forced tag on origin names %s, want %s", got, h.c2)
	}
}

func TestTagChangedSincePlanIsRefused(t *testing.T) {
	ctx := context.Background()
	h := withOrigin(t)
	req := gitrepo.TagRequest{Repo: h.repo.Dir, Name: "1.7.4", Commit: h.c2, Remote: "origin"}
	// Planned as a new tag (the plan did not rely on where it was); someone pushes
	// 1.7.4 on another commit from another clone: refused, naming both.
	if want := "tag " + h.c2[:7] + " as 1.7.4 on origin"; req.Intent() != want {
		t.Fatalf("Intent = %q, want %q", req.Intent(), want)
	}
	other := h.repo.Clone(h.origin)
	other.Checkout(h.c1)
	other.Tag("1.7.4")
	other.Git("push", "-q", "origin", "1.7.4")
	_, err := gitrepo.ApplyTag(ctx, req, "")
	if !errors.Is(err, gitrepo.ErrTagExists) || !strings.Contains(err.Error(), h.c1) || !strings.Contains(err.Error(), h.c2) {
		t.Fatalf("ApplyTag after a concurrent push = %v; want a refusal naming both commits", err)
	}
	if got := originTag(t, h, "1.7.4"); got != h.c1 {
		t.Fatalf("origin's tag was moved to %s", got)
	}
	// Forced, planned over the tag on c1 (as refresh read it); meanwhile it is moved
	// to c3: refused, naming both.
	req.Force = true
	c3 := other.Commit("third")
	other.Git("tag", "-f", "1.7.4")
	other.Git("push", "-q", "-f", "origin", "main", "1.7.4")
	_, err = gitrepo.ApplyTag(ctx, req, h.c1)
	if !errors.Is(err, gitrepo.ErrChangedSincePlan) || !strings.Contains(err.Error(), "it named "+h.c1+" and names "+c3+" now") {
		t.Fatalf("ApplyTag with a stale forced plan = %v; want ErrChangedSincePlan naming %s and %s", err, h.c1, c3)
	}
	if got := originTag(t, h, "1.7.4"); got != c3 {
		t.Fatalf("origin's tag is at %s, want %s left alone", got, c3)
	}
	// Forced as a new tag ("moving the tag if it exists"): moved from wherever it is.
	if want := "tag " + h.c2[:7] + " as 1.7.4 on origin, moving the tag if it exists (force)"; req.Intent() != want {
		t.Fatalf("Intent = %q, want %q", req.Intent(), want)
	}
	if p, err := gitrepo.ApplyTag(ctx, req, ""); err != nil || !p.Push {
		t.Fatalf("forced new tag = %+v, %v; want it pushed", p, err)
	}
	if got := originTag(t, h, "1.7.4"); got != h.c2 {
		t.Fatalf("origin's tag is at %s, want %s", got, h.c2)
	}
}

func TestDeleteReleaseTag(t *testing.T) {
	ctx := context.Background()
	h := withOrigin(t)
	req := gitrepo.TagRequest{Repo: h.repo.Dir, Name: "1.7.4", Commit: h.c2, Remote: "origin", Message: "x"}
	if _, err := gitrepo.ApplyTag(ctx, req, ""); err != nil {
		t.Fatal(err)
	}
	if err := gitrepo.DeleteReleaseTag(ctx, h.repo.Dir, "1.7.4", "origin", h.c1); !errors.Is(err, gitrepo.ErrChangedSincePlan) {
		t.Fatalf("deleting a tag that names another commit = %v; want ErrChangedSincePlan", err)
	}
	if err := gitrepo.DeleteReleaseTag(ctx, h.repo.Dir, "1.7.4", "origin", h.c2); err != nil {
		t.Fatal(err)
	}
	now, err := gitrepo.ObserveTag(ctx, h.repo.Dir, "1.7.4", "origin")
	if err != nil || now.Local != nil || now.Remote != nil {
		t.Fatalf("after delete: %+v, %v; want no tag anywhere", now, err)
	}
	if err := gitrepo.DeleteReleaseTag(ctx, h.repo.Dir, "1.7.4", "origin", h.c2); err != nil {
		t.Fatalf("deleting a deleted tag = %v", err)
	}
}

func TestBranchFastForwardOnRemote(t *testing.T) {
	ctx := context.Background()
	h := withOrigin(t)
	r := h.repo
	r.Git("push", "-q", "origin", h.c1+":refs/heads/master")
	r.Branch("develop")
	c3 := r.Commit("third")
	req := gitrepo.BranchRequest{Repo: r.Dir, Name: "master", Commit: c3, Remote: "origin"}
	from, err := gitrepo.ObserveBranch(ctx, r.Dir, "master", "origin")
	if err != nil || from != h.c1 {
		t.Fatalf("ObserveBranch = %s, %v; want %s", from, err, h.c1)
	}
	p, err := gitrepo.PlanBranch(ctx, req, from)
	want := "move master on origin from " + h.c1[:7] + " to " + c3[:7] + " (fast-forward, 2 commits)"
	if err != nil || p.Action != want || !p.Move {
		t.Fatalf("PlanBranch = %+v, %v; want %q", p, err, want)
	}
	if _, err := gitrepo.ApplyBranch(ctx, req, p.From); err != nil {
		t.Fatal(err)
	}
	if tip, _ := gitrepo.RemoteBranch(ctx, r.Dir, "origin", "master"); tip != c3 {
		t.Fatalf("master on origin is at %s, want %s", tip, c3)
	}
	if p, err := gitrepo.PlanBranch(ctx, req, c3); err != nil || p.Move || p.Action != "keep master on origin at "+c3[:7] {
		t.Fatalf("second plan = %+v, %v; want keep", p, err)
	}
	// Another developer moves master on: it still contains c3.
	other := r.Clone(h.origin)
	other.Checkout("master")
	c4 := other.Commit("fourth")
	other.Git("push", "-q", "origin", "master")
	p, err = gitrepo.PlanBranch(ctx, req, c4)
	want = "keep master on origin at " + c4[:7] + ": it already contains " + c3[:7] + " (1 commit ahead)"
	if err != nil || p.Move || p.Action != want {
		t.Fatalf("plan after master moved on = %+v, %v; want %q", p, err, want)
	}
}

func TestBranchNonFastForwardIsRefused(t *testing.T) {
	ctx := context.Background()
	h := withOrigin(t)
	r := h.repo
	r.Checkout(h.c1)
	r.Branch("hotfix")
	fix := r.Commit("hotfix")
	req := gitrepo.BranchRequest{Repo: r.Dir, Name: "main", Commit: fix, Remote: "origin"}
	_, err := gitrepo.PlanBranch(ctx, req, h.c2)
	if !errors.Is(err, gitrepo.ErrNotFastForward) || !strings.Contains(err.Error(), h.c2) || !strings.Contains(err.Error(), fix) {
		t.Fatalf("PlanBranch backwards = %v; want ErrNotFastForward naming both commits", err)
	}
	if _, err := gitrepo.ApplyBranch(ctx, req, h.c2); !errors.Is(err, gitrepo.ErrNotFastForward) {
		t.Fatalf("ApplyBranch backwards = %v; want ErrNotFastForward", err)
	}
	if tip, _ := gitrepo.RemoteBranch(ctx, r.Dir, "origin", "main"); tip != h.c2 {
		t.Fatalf("main on origin moved to %s", tip)
	}
}

func TestBranchMovedSincePlanIsRefused(t *testing.T) {
	ctx := context.Background()
	h := withOrigin(t)
	r := h.repo
	c3 := r.Commit("third")
	req := gitrepo.BranchRequest{Repo: r.Dir, Name: "main", Commit: c3, Remote: "origin"}
	p, err := gitrepo.PlanBranch(ctx, req, h.c2)
	if err != nil || !p.Move {
		t.Fatalf("PlanBranch = %+v, %v", p, err)
	}
	// Between plan and apply someone fast-forwards main on origin to their commit,
	// which c3 does not contain.
	other := r.Clone(h.origin)
	theirs := other.Commit("theirs")
	other.Git("push", "-q", "origin", "main")
	_, err = gitrepo.ApplyBranch(ctx, req, p.From)
	if !errors.Is(err, gitrepo.ErrChangedSincePlan) || !strings.Contains(err.Error(), h.c2) || !strings.Contains(err.Error(), theirs) {
		t.Fatalf("ApplyBranch after a concurrent push = %v; want ErrChangedSincePlan naming %s and %s", err, h.c2, theirs)
	}
	if tip, _ := gitrepo.RemoteBranch(ctx, r.Dir, "origin", "main"); tip != theirs {
		t.Fatalf("main on origin is at %s, want their commit %s left alone", tip, theirs)
	}
}

func TestBranchLocalFastForward(t *testing.T) {
	ctx := context.Background()
	gitrepotest.Isolate(t)
	r := gitrepotest.New(t)
	c1 := r.Commit("first")
	r.Branch("develop")
	c2 := r.Commit("second")
	c3 := r.Commit("third")
	// main is not checked out: a compare-and-swap update of the ref.
	req := gitrepo.BranchRequest{Repo: r.Dir, Name: "main", Commit: c2}
	if _, err := gitrepo.ApplyBranch(ctx, req, c1); err != nil {
		t.Fatal(err)
	}
	if tip, _ := gitrepo.LocalBranch(ctx, r.Dir, "main"); tip != c2 {
		t.Fatalf("main is at %s, want %s", tip, c2)
	}
	// main checked out: merged --ff-only, work tree included.
	r.Checkout("main")
	req.Commit = c3
	if _, err := gitrepo.ApplyBranch(ctx, req, c2); err != nil {
		t.Fatal(err)
	}
	if head := r.Head(); head != c3 {
		t.Fatalf("HEAD is at %s, want %s", head, c3)
	}
	if status := r.Git("status", "--porcelain"); status != "" {
		t.Fatalf("work tree after the fast-forward is not clean:\n%s", status)
	}
	// Planned without relying on the tip (a new resource): a missing branch is
	// created, an existing one kept when it holds the commit, moved forward when it
	// is behind, and refused, naming both commits, when moving it would drop commits.
	req = gitrepo.BranchRequest{Repo: r.Dir, Name: "release/1.7", Commit: c2}
	if want := "move release/1.7 to " + c2[:7] + " (fast-forward only; refused if it is not)"; req.Intent() != want {
		t.Fatalf("Intent = %q, want %q", req.Intent(), want)
	}
	p, err := gitrepo.ApplyBranch(ctx, req, "")
	if err != nil || p.Action != "create branch release/1.7 at "+c2[:7] {
		t.Fatalf("create = %+v, %v", p, err)
	}
	if p, err := gitrepo.ApplyBranch(ctx, req, ""); err != nil || p.Move {
		t.Fatalf("create of a branch already there = %+v, %v; want nothing to do", p, err)
	}
	req.Commit = c3
	if p, err := gitrepo.ApplyBranch(ctx, req, ""); err != nil || !p.Move || p.From != c2 {
		t.Fatalf("create over a branch behind = %+v, %v; want a fast-forward from %s", p, err, c2)
	}
	if tip, _ := gitrepo.LocalBranch(ctx, r.Dir, "release/1.7"); tip != c3 {
		t.Fatalf("release/1.7 is at %s, want %s", tip, c3)
	}
	r.Checkout(c1)
	r.Branch("hotfix")
	fix := r.Commit("hotfix")
	req.Commit = fix
	if _, err := gitrepo.ApplyBranch(ctx, req, ""); !errors.Is(err, gitrepo.ErrNotFastForward) || !strings.Contains(err.Error(), c3) || !strings.Contains(err.Error(), fix) {
		t.Fatalf("create over a branch elsewhere = %v; want ErrNotFastForward naming %s and %s", err, c3, fix)
	}
	if tip, _ := gitrepo.LocalBranch(ctx, r.Dir, "release/1.7"); tip != c3 {
		t.Fatalf("release/1.7 moved to %s", tip)
	}
}
