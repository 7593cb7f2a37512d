// Package gitrepo answers questions about a local git clone through the git
// command line: whether a commit descends from another (the deploy-by-sha guard),
// which commit a ref names, and the commits between two refs with the pull or merge
// requests they merged (release notes). It also closes a release in git: it tags
// the released commit and moves a release branch forward, in the clone and on a
// remote, planned first (PlanTag, PlanBranch) and applied only while the repository
// is still as planned (ApplyTag, ApplyBranch).
package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Errors callers can test with errors.Is.
var (
	// ErrGitNotFound means the git executable is not on PATH.
	ErrGitNotFound = errors.New("git is not installed (install the git package)")
	// ErrNotRepository means the directory is not inside a git work tree or repository.
	ErrNotRepository = errors.New("not a git repository")
	// ErrUnknownCommit means a ref or hash names no commit in the repository.
	ErrUnknownCommit = errors.New("unknown commit")
	// ErrShallow means the clone is shallow and lacks the history to answer.
	ErrShallow = errors.New("shallow clone cannot answer; fetch with --unshallow")
)

// Commit is one commit of a Log.
type Commit struct {
	Hash    string
	Parents []string
	// Subject is the first line of the message; Body the rest, trimmed.
	Subject     string
	Body        string
	Author      string
	AuthorEmail string
	// Date is the author date; CommitDate the committer date.
	Date       time.Time
	CommitDate time.Time
	// PullRequest is the number of the pull (GitHub) or merge (GitLab) request
	// this commit merged, 0 when none was recognised; PullRequestTitle its title
	// when the message carries one.
	PullRequest      int
	PullRequestTitle string
	// PullRequestRef is how the forge writes the reference: "#12" (GitHub) or
	// "!12" (GitLab merge request); empty when PullRequest is 0.
	PullRequestRef string
}

// IsMerge tells whether the commit has more than one parent.
func (c Commit) IsMerge() bool { return len(c.Parents) > 1 }

// Title is the pull request's title when known, else the subject.
func (c Commit) Title() string {
	if c.PullRequestTitle != "" {
		return c.PullRequestTitle
	}
	return c.Subject
}

// git runs git -C repo args... and returns its standard output. Errors carry git's
// own message.
func git(ctx context.Context, repo string, args ...string) ([]byte, error) {
	return gitWithInput(ctx, repo, nil, args...)
}

// gitWithInput is git with stdin read from input (nil: none). Git runs without a
// controlling terminal (see detach) and with GIT_TERMINAL_PROMPT=0, so a missing
// credential fails instead of waiting for a prompt; git's own configuration (SSH
// agent, credential helper, GIT_SSH_COMMAND) provides credentials. Messages are
// scrubbed of passwords written in URLs.
func gitWithInput(ctx context.Context, repo string, input io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
	// No prompts for credentials, stable (English) messages to parse.
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "LANG=C")
	cmd.Stdin = input
	detach(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if errors.Is(err, exec.ErrNotFound) {
		return nil, ErrGitNotFound
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("git %s: %w", args[0], ctx.Err())
	}
	msg := redact(strings.TrimSpace(stderr.String()))
	if strings.Contains(msg, "not a git repository") {
		return nil, fmt.Errorf("%s: %w", repo, ErrNotRepository)
	}
	return stdout.Bytes(), &exitError{args: args, msg: msg, err: err}
}

type exitError struct {
	args []string
	msg  string
	err  error
}

func (e *exitError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("git %s: %v", strings.Join(e.args, " "), e.err)
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.args, " "), e.msg)
}

func (e *exitError) Unwrap() error { return e.err }

func (e *exitError) exitCode() int {
	var ee *exec.ExitError
	if errors.As(e.err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func checkRef(ref string) error {
	if ref == "" {
		return fmt.Errorf("empty ref: %w", ErrUnknownCommit)
	}
	if strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, "\x00\n") {
		return fmt.Errorf("ref %q is not a valid git revision: %w", ref, ErrUnknownCommit)
	}
	return nil
}

// IsShallow tells whether repo is a shallow clone.
func IsShallow(ctx context.Context, repo string) (bool, error) {
	out, err := git(ctx, repo, "rev-parse", "--is-shallow-repository")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) == "true", nil
}

// ResolveCommit returns the full hash of the commit ref names (a branch, tag,
// abbreviated or full hash, HEAD~2, ...). An unknown ref wraps ErrUnknownCommit;
// in a shallow clone the error also wraps ErrShallow, as the commit may lie beyond
// the fetched history.
func ResolveCommit(ctx context.Context, repo, ref string) (string, error) {
	if err := checkRef(ref); err != nil {
		return "", err
	}
	out, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err == nil {
		return strings.TrimSpace(string(out)), nil
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		return "", err
	}
	if shallow, serr := IsShallow(ctx, repo); serr == nil && shallow {
		return "", fmt.Errorf("commit %q is not in %s: %w: %w", ref, repo, ErrUnknownCommit, ErrShallow)
	}
	return "", fmt.Errorf("commit %q is not in %s: %w", ref, repo, ErrUnknownCommit)
}

// IsAncestor tells whether ancestor is an ancestor of descendant (or the same
// commit), with git merge-base --is-ancestor. It never answers from incomplete
// history: in a shallow clone, a missing commit or a negative answer (which the
// missing history could contradict) is an error wrapping ErrShallow.
func IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error) {
	a, err := ResolveCommit(ctx, repo, ancestor)
	if err != nil {
		return false, err
	}
	d, err := ResolveCommit(ctx, repo, descendant)
	if err != nil {
		return false, err
	}
	_, err = git(ctx, repo, "merge-base", "--is-ancestor", a, d)
	ok := err == nil
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) || ee.exitCode() != 1 {
			return false, err
		}
	}
	if !ok {
		shallow, serr := IsShallow(ctx, repo)
		if serr != nil {
			return false, serr
		}
		if shallow {
			return false, fmt.Errorf("cannot tell whether %s descends from %s in %s: %w", descendant, ancestor, repo, ErrShallow)
		}
	}
	return ok, nil
}

// LogOption changes what Log returns.
type LogOption func(*logOptions)

type logOptions struct{ firstParent bool }

// FirstParent follows only the first parent of merges: on a main branch, the
// merge commits themselves and the commits made directly on it, not the commits of
// the merged branches.
func FirstParent() LogOption { return func(o *logOptions) { o.firstParent = true } }

const (
	fieldSep  = "\x1f"
	recordSep = "\x1e"
)

// Log returns the commits reachable from to and not from from (git's from..to),
// newest first. An empty from means the whole history of to.
func Log(ctx context.Context, repo, from, to string, opts ...LogOption) ([]Commit, error) {
	var o logOptions
	for _, opt := range opts {
		opt(&o)
	}
	toHash, err := ResolveCommit(ctx, repo, to)
	if err != nil {
		return nil, err
	}
	rng := toHash
	if from != "" {
		fromHash, err := ResolveCommit(ctx, repo, from)
		if err != nil {
			return nil, err
		}
		rng = fromHash + ".." + toHash
	}
	args := []string{"log", "--no-color", "--format=" + strings.Join([]string{"%H", "%P", "%an", "%ae", "%aI", "%cI", "%s", "%b"}, fieldSep) + recordSep}
	if o.firstParent {
		args = append(args, "--first-parent")
	}
	args = append(args, rng, "--")
	out, err := git(ctx, repo, args...)
	if err != nil {
		return nil, err
	}
	var commits []Commit
	for _, rec := range strings.Split(string(out), recordSep) {
		rec = strings.TrimLeft(rec, "\n")
		if rec == "" {
			continue
		}
		f := strings.SplitN(rec, fieldSep, 8)
		if len(f) != 8 {
			return nil, fmt.Errorf("git log: unexpected output %q", rec)
		}
		c := Commit{
			Hash: f[0], Parents: strings.Fields(f[1]), Author: f[2], AuthorEmail: f[3],
			Subject: f[6], Body: strings.TrimSpace(f[7]),
		}
		if c.Date, err = time.Parse(time.RFC3339, f[4]); err != nil {
			return nil, fmt.Errorf("git log %s: author date: %w", c.Hash, err)
		}
		if c.CommitDate, err = time.Parse(time.RFC3339, f[5]); err != nil {
			return nil, fmt.Errorf("git log %s: commit date: %w", c.Hash, err)
		}
		c.PullRequest, c.PullRequestTitle = pullRequest(c.Subject, c.Body)
		if c.PullRequest > 0 {
			c.PullRequestRef = "#" + strconv.Itoa(c.PullRequest)
			if gitlabMerge.MatchString(c.Subject) {
				c.PullRequestRef = "!" + strconv.Itoa(c.PullRequest)
			}
		}
		commits = append(commits, c)
	}
	return commits, nil
}

var (
	githubMerge  = regexp.MustCompile(`^Merge pull request #(\d+) from \S+`)
	gitlabMerge  = regexp.MustCompile(`^Merge branch '.+' into '.+'$`)
	gitlabMR     = regexp.MustCompile(`(?m)^See merge request \S*!(\d+)\s*$`)
	githubSquash = regexp.MustCompile(`^(.*\S)\s+\(#(\d+)\)$`)
)

// pullRequest recognises the messages GitHub and GitLab write when they merge:
//
//	Merge pull request #12 from owner/branch   (GitHub merge commit; body: PR title)
//	Merge branch 'x' into 'y'                  (GitLab merge commit; body: MR title,
//	...                                         description, "See merge request g/p!12")
//	feat: add export (#12)                     (GitHub squash merge)
func pullRequest(subject, body string) (int, string) {
	if m := githubMerge.FindStringSubmatch(subject); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, firstLine(body)
	}
	if gitlabMerge.MatchString(subject) {
		if m := gitlabMR.FindStringSubmatch(body); m != nil {
			n, _ := strconv.Atoi(m[1])
			title := firstLine(body)
			if strings.HasPrefix(title, "See merge request ") {
				title = ""
			}
			return n, title
		}
		return 0, ""
	}
	if m := githubSquash.FindStringSubmatch(subject); m != nil {
		n, _ := strconv.Atoi(m[2])
		return n, m[1]
	}
	return 0, ""
}

func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// CommitDate returns the committer date of the commit ref names.
func CommitDate(ctx context.Context, repo, ref string) (time.Time, error) {
	hash, err := ResolveCommit(ctx, repo, ref)
	if err != nil {
		return time.Time{}, err
	}
	out, err := git(ctx, repo, "show", "-s", "--format=%cI", hash)
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, strings.TrimSpace(string(out)))
}

// TagDate returns when tag was made: the tagger date of an annotated tag, the
// commit date of a lightweight one. An unknown tag wraps ErrUnknownCommit.
func TagDate(ctx context.Context, repo, tag string) (time.Time, error) {
	if err := checkRef(tag); err != nil {
		return time.Time{}, err
	}
	out, err := git(ctx, repo, "for-each-ref", "--format=%(creatordate:iso-strict)", "refs/tags/"+tag)
	if err != nil {
		return time.Time{}, err
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return time.Time{}, fmt.Errorf("tag %q is not in %s: %w", tag, repo, ErrUnknownCommit)
	}
	return time.Parse(time.RFC3339, s)
}
