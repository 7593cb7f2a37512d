package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoRef means a tag or branch does not exist (in the clone or on the remote).
var ErrNoRef = errors.New("no such tag or branch")

// CheckRefName tells whether name is a valid short name for a tag or branch, with
// the rules of git check-ref-format --allow-onelevel, and refuses what the git
// command line would read as an option (a leading '-') or a revision ("HEAD", "@").
func CheckRefName(name string) error {
	if name == "" {
		return errors.New("a tag or branch name cannot be empty")
	}
	if strings.HasPrefix(name, "-") {
		return fmt.Errorf("%q starts with '-', which git would read as an option", name)
	}
	if name == "HEAD" || name == "@" {
		return fmt.Errorf("%q names a revision, not a tag or branch", name)
	}
	if i := strings.IndexFunc(name, badRefRune); i >= 0 {
		return fmt.Errorf("%q contains %q: git ref names cannot contain control characters, spaces or any of ~ ^ : ? * [ \\", name, name[i:i+1])
	}
	for _, bad := range []string{"..", "@{", "//"} {
		if strings.Contains(name, bad) {
			return fmt.Errorf("%q contains %q, which git ref names cannot contain", name, bad)
		}
	}
	if strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") {
		return fmt.Errorf("%q starts or ends with '/' or ends with '.', which git ref names cannot", name)
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return fmt.Errorf("%q has a part %q that starts with '.' or ends with \".lock\", which git ref names cannot", name, part)
		}
	}
	return nil
}

func badRefRune(r rune) bool {
	return r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r)
}

// CheckRemote tells whether remote can name a remote: a configured remote's name,
// a path or a URL. A URL with a password is refused: it would end up in Terraform's
// state and logs; git's credential helper or SSH agent provides credentials instead.
func CheckRemote(remote string) error {
	if strings.TrimSpace(remote) == "" {
		return errors.New("the remote cannot be empty: name a configured remote (origin) or a URL")
	}
	if strings.HasPrefix(remote, "-") || strings.ContainsAny(remote, "\x00\n") {
		return fmt.Errorf("%q is not a remote: it starts with '-' or holds a line break", remote)
	}
	if urlPassword.MatchString(remote) {
		return errors.New("the remote URL holds a password: it would be stored in Terraform's state; " +
			"remove it from the URL and let git's credential helper or SSH agent provide it")
	}
	return nil
}

// urlPassword matches the user:password@ of a URL.
var urlPassword = regexp.MustCompile(`(://[^/@\s:]*):[^@\s/]*@`)

// redact hides the passwords of URLs in a git message.
func redact(msg string) string { return urlPassword.ReplaceAllString(msg, "$1:***@") }

// Tag is where a tag points.
type Tag struct {
	// Object is what the tag ref holds: the tag object of an annotated tag, the
	// commit itself of a lightweight one.
	Object string
	// Commit is the commit the tag names (peeled).
	Commit    string
	Annotated bool
}

// LocalTag returns the tag name of the clone; a missing tag wraps ErrNoRef.
func LocalTag(ctx context.Context, repo, name string) (Tag, error) {
	if err := CheckRefName(name); err != nil {
		return Tag{}, err
	}
	ref := "refs/tags/" + name
	out, err := git(ctx, repo, "for-each-ref", "--format=%(refname) %(objectname) %(objecttype) %(*objectname)", ref)
	if err != nil {
		return Tag{}, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != ref {
			continue
		}
		t := Tag{Object: f[1], Commit: f[1], Annotated: f[2] == "tag"}
		if t.Annotated && len(f) == 4 {
			t.Commit = f[3]
		}
		return t, nil
	}
	return Tag{}, fmt.Errorf("tag %s is not in %s: %w", name, repo, ErrNoRef)
}

// TagMessage returns the message of the annotated tag name ("" for a lightweight
// tag), as git stored it.
func TagMessage(ctx context.Context, repo, name string) (string, error) {
	if err := CheckRefName(name); err != nil {
		return "", err
	}
	out, err := git(ctx, repo, "for-each-ref", "--format=%(objecttype)%00%(contents)", "refs/tags/"+name)
	if err != nil {
		return "", err
	}
	kind, msg, _ := strings.Cut(string(out), "\x00")
	if kind != "tag" {
		return "", nil
	}
	// for-each-ref ends each record with a line break of its own.
	return strings.TrimSuffix(msg, "\n"), nil
}

// LocalBranch returns the commit branch name points at in the clone; a missing
// branch wraps ErrNoRef.
func LocalBranch(ctx context.Context, repo, name string) (string, error) {
	if err := CheckRefName(name); err != nil {
		return "", err
	}
	out, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", "refs/heads/"+name)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("branch %s is not in %s: %w", name, repo, ErrNoRef)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// remoteRefs lists the refs of remote that are exactly one of refs (and their
// peeled "^{}" entries), with git ls-remote.
func remoteRefs(ctx context.Context, repo, remote string, refs ...string) (map[string]string, error) {
	if err := CheckRemote(remote); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	args := []string{"ls-remote", remote}
	for _, r := range refs {
		want[r], want[r+"^{}"] = true, true
		args = append(args, r, r+"^{}")
	}
	out, err := git(ctx, repo, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot list the refs of remote %s: %w", remote, err)
	}
	found := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		hash, ref, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if ok && want[ref] {
			found[ref] = hash
		}
	}
	return found, nil
}

// RemoteTag returns tag name on remote (a configured remote or a URL), with git
// ls-remote; a missing tag wraps ErrNoRef.
func RemoteTag(ctx context.Context, repo, remote, name string) (Tag, error) {
	if err := CheckRefName(name); err != nil {
		return Tag{}, err
	}
	ref := "refs/tags/" + name
	refs, err := remoteRefs(ctx, repo, remote, ref)
	if err != nil {
		return Tag{}, err
	}
	obj, ok := refs[ref]
	if !ok {
		return Tag{}, fmt.Errorf("tag %s is not on %s: %w", name, remote, ErrNoRef)
	}
	t := Tag{Object: obj, Commit: obj}
	if peeled, ok := refs[ref+"^{}"]; ok {
		t.Commit, t.Annotated = peeled, true
	}
	return t, nil
}

// RemoteBranch returns the commit branch name points at on remote; a missing
// branch wraps ErrNoRef.
func RemoteBranch(ctx context.Context, repo, remote, name string) (string, error) {
	if err := CheckRefName(name); err != nil {
		return "", err
	}
	ref := "refs/heads/" + name
	refs, err := remoteRefs(ctx, repo, remote, ref)
	if err != nil {
		return "", err
	}
	hash, ok := refs[ref]
	if !ok {
		return "", fmt.Errorf("branch %s is not on %s: %w", name, remote, ErrNoRef)
	}
	return hash, nil
}

// HasCommit tells whether the clone holds the commit hash.
func HasCommit(ctx context.Context, repo, hash string) bool {
	_, err := git(ctx, repo, "cat-file", "-e", hash+"^{commit}")
	return err == nil
}

// FetchBranch fetches branch name of remote into the clone (FETCH_HEAD, and the
// remote-tracking branch of a configured remote), without tags.
func FetchBranch(ctx context.Context, repo, remote, name string) error {
	if err := CheckRemote(remote); err != nil {
		return err
	}
	if err := CheckRefName(name); err != nil {
		return err
	}
	_, err := git(ctx, repo, "fetch", "--quiet", "--no-tags", remote, "refs/heads/"+name)
	return err
}

// CountCommits returns how many commits to has that from has not (git rev-list
// --count from..to).
func CountCommits(ctx context.Context, repo, from, to string) (int, error) {
	out, err := git(ctx, repo, "rev-list", "--count", from+".."+to, "--")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}

// CreateTag tags commit as name in the clone: an annotated tag holding message
// verbatim (Markdown headings included), or a lightweight tag when message is
// empty. With replace, an existing tag of that name is replaced (git tag -f).
func CreateTag(ctx context.Context, repo, name, commit, message string, replace bool) error {
	if err := CheckRefName(name); err != nil {
		return err
	}
	if err := checkRef(commit); err != nil {
		return err
	}
	args := []string{"tag"}
	if replace {
		args = append(args, "-f")
	}
	var input *strings.Reader
	if message != "" {
		args = append(args, "-a", "--cleanup=verbatim", "-F", "-")
		input = strings.NewReader(message)
	}
	args = append(args, name, commit+"^{commit}")
	var err error
	if input != nil {
		_, err = gitWithInput(ctx, repo, input, args...)
	} else {
		_, err = git(ctx, repo, args...)
	}
	return err
}

// DeleteTag deletes tag name from the clone.
func DeleteTag(ctx context.Context, repo, name string) error {
	if err := CheckRefName(name); err != nil {
		return err
	}
	_, err := git(ctx, repo, "tag", "-d", name)
	return err
}

// Push runs git push --atomic remote refspecs...: every ref is updated or none,
// and git refuses what is not a fast-forward or would replace an existing tag.
// lease, when not empty, lets one ref be replaced only while the remote still holds
// the expected value ("refs/tags/1.7.4:<hash>", see git push --force-with-lease).
func Push(ctx context.Context, repo, remote, lease string, refspecs ...string) error {
	if err := CheckRemote(remote); err != nil {
		return err
	}
	args := []string{"push", "--atomic", "--quiet"}
	if lease != "" {
		args = append(args, "--force-with-lease="+lease)
	}
	args = append(args, remote)
	for _, r := range refspecs {
		if strings.HasPrefix(r, "-") || strings.HasPrefix(r, "+") {
			return fmt.Errorf("refspec %q would be read as an option or a forced update", r)
		}
		args = append(args, r)
	}
	_, err := git(ctx, repo, args...)
	if err != nil {
		return fmt.Errorf("push to %s refused: %w", remote, err)
	}
	return nil
}

// CurrentBranch returns the branch checked out in the clone's work tree, "" when
// HEAD is detached or the repository is bare.
func CurrentBranch(ctx context.Context, repo string) string {
	out, err := git(ctx, repo, "symbolic-ref", "--quiet", "HEAD")
	if err != nil {
		return ""
	}
	if bare, _ := git(ctx, repo, "rev-parse", "--is-bare-repository"); strings.TrimSpace(string(bare)) == "true" {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "refs/heads/")
}

// FastForwardBranch moves branch name of the clone from old to commit, only while
// it still points at old (old "" creates it and refuses an existing one). A branch
// checked out in the work tree is moved with git merge --ff-only, which updates the
// files too.
func FastForwardBranch(ctx context.Context, repo, name, old, commit string) error {
	if err := CheckRefName(name); err != nil {
		return err
	}
	if err := checkRef(commit); err != nil {
		return err
	}
	if old != "" && CurrentBranch(ctx, repo) == name {
		head, err := ResolveCommit(ctx, repo, "HEAD")
		if err != nil {
			return err
		}
		if head != old {
			return fmt.Errorf("branch %s of %s is at %s, not %s", name, repo, head, old)
		}
		_, err = git(ctx, repo, "merge", "--ff-only", "--quiet", commit)
		return err
	}
	expect := old
	if expect == "" {
		expect = strings.Repeat("0", len(commit))
	}
	_, err := git(ctx, repo, "update-ref", "-m", "release: fast-forward", "refs/heads/"+name, commit, expect)
	return err
}
