// Package gitrepotest builds small git repositories for tests with the real git
// command, with fixed authors and a deterministic clock.
package gitrepotest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Start is the author and committer date of the first commit; each later commit
// or annotated tag is one minute after the previous one.
var Start = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// Repo is a git repository in a temporary directory.
type Repo struct {
	Dir   string
	t     testing.TB
	home  string
	clock time.Time
	n     int
}

// New makes an empty repository whose default branch is main. It fails the test
// with an install hint when git is missing.
func New(t testing.TB) *Repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is required by this test and is not on PATH: install it (apt-get install git, or scripts/test-deps.sh): %v", err)
	}
	base := t.TempDir()
	r := &Repo{Dir: filepath.Join(base, "repo"), t: t, home: filepath.Join(base, "home"), clock: Start}
	for _, d := range []string{r.Dir, r.home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.Git("init", "-q", "-b", "main")
	return r
}

// Env is the environment git commands of this repository run with: fixed
// identities and dates, and no user or system configuration.
func (r *Repo) Env() []string {
	date := r.clock.Format(time.RFC3339)
	return append(os.Environ(),
		"HOME="+r.home, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Ada Lovelace", "GIT_AUTHOR_EMAIL=ada@example.org",
		"GIT_COMMITTER_NAME=Release Bot", "GIT_COMMITTER_EMAIL=bot@example.org",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date,
		"GIT_TERMINAL_PROMPT=0", "LC_ALL=C",
	)
}

// Git runs git in the repository and returns its trimmed output; a failure fails
// the test.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return r.gitIn(r.Dir, args...)
}

func (r *Repo) gitIn(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = r.Env()
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("git %s: %v: %s%s", strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return strings.TrimSpace(out.String())
}

func (r *Repo) tick() { r.clock = r.clock.Add(time.Minute) }

// Commit adds a file of its own (so branches merge without conflicts) and commits
// it with message (subject, blank line, body); it returns the new commit's hash.
func (r *Repo) Commit(message string) string {
	r.t.Helper()
	r.n++
	name := fmt.Sprintf("change-%03d.txt", r.n)
	if err := os.WriteFile(filepath.Join(r.Dir, name), []byte(message+"\n"), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.Git("add", name)
	r.Git("commit", "-q", "-m", message)
	r.tick()
	return r.Head()
}

// Head returns the hash of HEAD.
func (r *Repo) Head() string {
	r.t.Helper()
	return r.Git("rev-parse", "HEAD")
}

// Branch creates branch at HEAD and checks it out.
func (r *Repo) Branch(name string) {
	r.t.Helper()
	r.Git("checkout", "-q", "-b", name)
}

// Checkout switches to an existing branch or commit.
func (r *Repo) Checkout(ref string) {
	r.t.Helper()
	r.Git("checkout", "-q", ref)
}

// Merge merges branch into the current branch with a merge commit (--no-ff) whose
// message is message, and returns its hash.
func (r *Repo) Merge(branch, message string) string {
	r.t.Helper()
	r.Git("merge", "-q", "--no-ff", "-m", message, branch)
	r.tick()
	return r.Head()
}

// Tag makes a lightweight tag at HEAD.
func (r *Repo) Tag(name string) {
	r.t.Helper()
	r.Git("tag", name)
}

// AnnotatedTag makes an annotated tag at HEAD, dated by the repository's clock.
func (r *Repo) AnnotatedTag(name, message string) {
	r.t.Helper()
	r.Git("tag", "-a", "-m", message, name)
	r.tick()
}

// ShallowClone clones the repository with --depth depth into a new directory
// and returns it.
func (r *Repo) ShallowClone(depth int) string {
	r.t.Helper()
	dir := filepath.Join(r.t.TempDir(), "shallow")
	r.gitIn(filepath.Dir(r.Dir), "clone", "-q", "--depth", fmt.Sprint(depth), "file://"+r.Dir, dir)
	return dir
}

// Isolate sets the test process's environment so that git run by the code under
// test (not through a Repo) reads no user or system configuration and has an
// identity to make annotated tags with.
func Isolate(t testing.TB) {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{
		"HOME": home, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
		"GIT_AUTHOR_NAME": "Ada Lovelace", "GIT_AUTHOR_EMAIL": "ada@example.org",
		"GIT_COMMITTER_NAME": "Release Bot", "GIT_COMMITTER_EMAIL": "bot@example.org",
	} {
		t.Setenv(k, v)
	}
}

// Bare makes an empty bare repository at dir (created; its parent must exist), to
// serve as a remote, and returns dir.
func (r *Repo) Bare(dir string) string {
	r.t.Helper()
	r.gitIn(filepath.Dir(r.Dir), "init", "-q", "--bare", "-b", "main", dir)
	return dir
}

// Clone clones url into a new directory and returns it as a Repo with the same
// identities and clock: another developer's clone, e.g. to push behind a test's back.
func (r *Repo) Clone(url string) *Repo {
	r.t.Helper()
	base := r.t.TempDir()
	c := &Repo{Dir: filepath.Join(base, "clone"), t: r.t, home: r.home, clock: r.clock, n: r.n + 100}
	r.gitIn(base, "clone", "-q", url, c.Dir)
	return c
}
