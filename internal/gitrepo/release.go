package gitrepo

import (
	"context"
	"errors"
	"fmt"
)

// Errors of the release operations, for errors.Is.
var (
	// ErrTagExists means the tag already names another commit and force was not set.
	ErrTagExists = errors.New("tag exists on another commit")
	// ErrNotFastForward means the branch's tip is not an ancestor of the commit.
	ErrNotFastForward = errors.New("not a fast-forward")
	// ErrChangedSincePlan means the tag or branch changed between plan and apply.
	ErrChangedSincePlan = errors.New("changed since the plan")
)

// Short is the first seven characters of a commit hash, as plans show it.
func Short(hash string) string {
	if len(hash) > 7 {
		return hash[:7]
	}
	return hash
}

// TagRequest is the tag a release wants.
type TagRequest struct {
	Repo string
	Name string
	// Commit is the full hash of the commit to tag (see ResolveCommit).
	Commit string
	// Message makes an annotated tag; empty makes a lightweight one.
	Message string
	// Remote is where the tag is pushed; empty keeps it in the clone.
	Remote string
	// Force lets an existing tag be moved or rewritten.
	Force bool
	// Rewrite replaces the tag even where it already names Commit (its message
	// changed); it needs Force.
	Rewrite bool
}

// where names the place that counts for the tag: the remote, else the clone.
func (r TagRequest) where() string {
	if r.Remote != "" {
		return " on " + r.Remote
	}
	return " in the local clone"
}

// TagStatus is where a tag is now; nil where it does not exist (Remote is nil
// without a remote too).
type TagStatus struct {
	Local, Remote *Tag
}

// ObserveTag looks tag name up in the clone and, when remote is not empty, on remote.
func ObserveTag(ctx context.Context, repo, name, remote string) (TagStatus, error) {
	var s TagStatus
	local, err := LocalTag(ctx, repo, name)
	switch {
	case err == nil:
		s.Local = &local
	case !errors.Is(err, ErrNoRef):
		return s, err
	}
	if remote == "" {
		return s, nil
	}
	onRemote, err := RemoteTag(ctx, repo, remote, name)
	switch {
	case err == nil:
		s.Remote = &onRemote
	case !errors.Is(err, ErrNoRef):
		return s, err
	}
	return s, nil
}

// Current is the tag where it counts (the remote when there is one, else the
// clone), nil when it is not there.
func (s TagStatus) Current(remote string) *Tag {
	if remote != "" {
		return s.Remote
	}
	return s.Local
}

// TagPlan is what tagging will do.
type TagPlan struct {
	Request TagRequest
	Status  TagStatus
	// WriteLocal creates (or, with force, replaces) the tag in the clone; Push
	// sends it to the remote.
	WriteLocal, Push bool
	// Action says it in one sentence: "tag 3f2a9c1 as 1.7.4 on origin".
	Action string
}

// Changes tells whether the plan changes anything.
func (p TagPlan) Changes() bool { return p.WriteLocal || p.Push }

// PlanTag decides what tagging req.Commit as req.Name takes, given where the tag is
// now. A tag that names another commit is never moved without req.Force: the error
// names both commits and wraps ErrTagExists. With a remote, the remote's tag is the
// truth; the clone's tag is only written when something must be pushed.
func PlanTag(req TagRequest, now TagStatus) (TagPlan, error) {
	p := TagPlan{Request: req, Status: now}
	cur := now.Current(req.Remote)
	if cur != nil && cur.Commit == req.Commit && !req.Rewrite {
		p.Action = fmt.Sprintf("keep tag %s on %s%s", req.Name, Short(req.Commit), req.where())
		return p, nil
	}
	if err := tagConflict(req, now); err != nil {
		return p, err
	}
	local := now.Local
	p.WriteLocal = local == nil || local.Commit != req.Commit || req.Rewrite
	p.Push = req.Remote != ""
	switch {
	case req.Rewrite && cur != nil && cur.Commit == req.Commit:
		p.Action = fmt.Sprintf("rewrite tag %s on %s with the new message%s", req.Name, Short(req.Commit), req.where())
	case cur != nil:
		p.Action = fmt.Sprintf("move tag %s from %s to %s%s", req.Name, Short(cur.Commit), Short(req.Commit), req.where())
	case !p.WriteLocal:
		p.Action = fmt.Sprintf("push tag %s (%s) to %s", req.Name, Short(req.Commit), req.Remote)
	default:
		p.Action = fmt.Sprintf("tag %s as %s%s", Short(req.Commit), req.Name, req.where())
	}
	return p, nil
}

// tagConflict refuses, without force, to move or rewrite a tag that exists: on the
// remote, or in the clone when the clone's tag must be written.
func tagConflict(req TagRequest, now TagStatus) error {
	if req.Force {
		return nil
	}
	if req.Remote != "" && now.Remote != nil {
		return tagExists(req, now.Remote, " on "+req.Remote)
	}
	if now.Local != nil {
		return tagExists(req, now.Local, " in "+req.Repo)
	}
	return nil
}

func tagExists(req TagRequest, t *Tag, where string) error {
	if t.Commit == req.Commit && !req.Rewrite {
		return nil
	}
	if t.Commit == req.Commit {
		return fmt.Errorf("tag %s%s already names %s with another message; tags are not rewritten: "+
			"restore the previous message, or set force = true to rewrite the tag: %w", req.Name, where, req.Commit, ErrTagExists)
	}
	return fmt.Errorf("tag %s%s already points at %s, not at %s; tags are immutable by convention and it was not moved: "+
		"tag another name, or set force = true to move it: %w", req.Name, where, t.Commit, req.Commit, ErrTagExists)
}

// Intent says what tagging does in terms of the request alone, for a plan that
// cannot rely on where the tag is now (a new resource): "tag 3f2a9c1 as 1.7.4 on
// origin", with force "tag 3f2a9c1 as 1.7.4 on origin, moving the tag if it exists
// (force)".
func (r TagRequest) Intent() string {
	s := fmt.Sprintf("tag %s as %s%s", Short(r.Commit), r.Name, r.where())
	if r.Force {
		s += ", moving the tag if it exists (force)"
	}
	return s
}

// ApplyTag tags as req asks. plannedAt is the commit the tag named when the plan
// was made over it (the state refresh read); the apply then refuses with
// ErrChangedSincePlan, naming both commits, when the tag names another one now,
// unless the tag is already as wanted. An empty plannedAt is a plan that did not
// rely on where the tag was (a new resource, see Intent): the tag is made wherever
// it is now, within what req allows (a tag on another commit is refused without
// Force, naming both commits). A push is atomic, never forced; a tag moved with
// force is replaced on the remote only while the remote still holds the tag seen
// now (--force-with-lease).
func ApplyTag(ctx context.Context, req TagRequest, plannedAt string) (TagPlan, error) {
	now, err := ObserveTag(ctx, req.Repo, req.Name, req.Remote)
	if err != nil {
		return TagPlan{}, err
	}
	p, err := PlanTag(req, now)
	if err == nil && !p.Changes() {
		return p, nil
	}
	if plannedAt != "" {
		if changed := TagUnchanged(req, plannedAt, now); changed != nil {
			return p, changed
		}
	}
	if err != nil {
		return p, err
	}
	if p.WriteLocal {
		if err := CreateTag(ctx, req.Repo, req.Name, req.Commit, req.Message, now.Local != nil); err != nil {
			return p, err
		}
	}
	if p.Push {
		lease := ""
		if now.Remote != nil {
			lease = "refs/tags/" + req.Name + ":" + now.Remote.Object
		}
		if err := Push(ctx, req.Repo, req.Remote, lease, "refs/tags/"+req.Name); err != nil {
			return p, err
		}
	}
	return p, nil
}

// DeleteReleaseTag deletes tag name from the clone and, when remote is not empty,
// from the remote; each must still name commit: a tag moved by someone else is left
// alone (the error wraps ErrChangedSincePlan). A tag already gone is not an error.
func DeleteReleaseTag(ctx context.Context, repo, name, remote, commit string) error {
	now, err := ObserveTag(ctx, repo, name, remote)
	if err != nil {
		return err
	}
	if cur := now.Current(remote); cur != nil && cur.Commit != commit {
		where := " in " + repo
		if remote != "" {
			where = " on " + remote
		}
		return fmt.Errorf("tag %s%s points at %s, not at %s as Terraform left it; it was not deleted: %w",
			name, where, cur.Commit, commit, ErrChangedSincePlan)
	}
	if now.Remote != nil {
		lease := "refs/tags/" + name + ":" + now.Remote.Object
		if err := Push(ctx, repo, remote, lease, ":refs/tags/"+name); err != nil {
			return err
		}
	}
	if now.Local != nil && now.Local.Commit == commit {
		return DeleteTag(ctx, repo, name)
	}
	return nil
}

// BranchRequest is where a release wants a branch: at Commit (a full hash), moved
// only forward.
type BranchRequest struct {
	Repo, Name, Commit string
	// Remote is where the branch is moved; empty moves the clone's branch.
	Remote string
}

func (r BranchRequest) label() string {
	if r.Remote != "" {
		return r.Name + " on " + r.Remote
	}
	return r.Name
}

// ObserveBranch returns the tip of branch name on remote (git ls-remote) or, when
// remote is empty, in the clone; "" when the branch does not exist.
func ObserveBranch(ctx context.Context, repo, name, remote string) (string, error) {
	var tip string
	var err error
	if remote != "" {
		tip, err = RemoteBranch(ctx, repo, remote, name)
	} else {
		tip, err = LocalBranch(ctx, repo, name)
	}
	if errors.Is(err, ErrNoRef) {
		return "", nil
	}
	return tip, err
}

// BranchPlan is what moving a branch will do.
type BranchPlan struct {
	Request BranchRequest
	// From is the tip now, "" when the branch does not exist; To is where the
	// branch will be: the commit, or From when the branch already contains it.
	From, To string
	// Commits counts the commits between the commit and From: added by the move,
	// or already ahead of the commit when the branch moved on.
	Commits int
	Move    bool
	// Action says it in one sentence: "move master on origin from 1a2b3c4 to
	// 3f2a9c1 (fast-forward, 12 commits)".
	Action string
}

func commits(n int) string {
	if n == 1 {
		return "1 commit"
	}
	return fmt.Sprintf("%d commits", n)
}

// PlanBranch decides how to bring branch req.Name from from to req.Commit: create
// it, move it forward, or keep it when it already contains the commit (it moved on).
// Anything else would drop commits: the error names both commits and wraps
// ErrNotFastForward. With a remote, a tip missing from the clone is fetched first.
func PlanBranch(ctx context.Context, req BranchRequest, from string) (BranchPlan, error) {
	p := BranchPlan{Request: req, From: from, To: req.Commit}
	switch from {
	case "":
		p.Move = true
		p.Action = fmt.Sprintf("create branch %s at %s", req.label(), Short(req.Commit))
		return p, nil
	case req.Commit:
		p.Action = fmt.Sprintf("keep %s at %s", req.label(), Short(req.Commit))
		return p, nil
	}
	if req.Remote != "" && !HasCommit(ctx, req.Repo, from) {
		if err := FetchBranch(ctx, req.Repo, req.Remote, req.Name); err != nil {
			return p, fmt.Errorf("cannot fetch %s to compare its tip %s with %s: %w", req.label(), from, req.Commit, err)
		}
	}
	forward, err := IsAncestor(ctx, req.Repo, from, req.Commit)
	if err != nil {
		return p, err
	}
	if forward {
		if p.Commits, err = CountCommits(ctx, req.Repo, from, req.Commit); err != nil {
			return p, err
		}
		p.Move = true
		p.Action = fmt.Sprintf("move %s from %s to %s (fast-forward, %s)", req.label(), Short(from), Short(req.Commit), commits(p.Commits))
		return p, nil
	}
	movedOn, err := IsAncestor(ctx, req.Repo, req.Commit, from)
	if err != nil {
		return p, err
	}
	if !movedOn {
		return p, fmt.Errorf("%s is at %s, which is not an ancestor of %s: moving it there would drop commits (not a fast-forward), "+
			"so it was not moved. Merge %s into the release commit, or release a commit that contains it: %w",
			req.label(), from, req.Commit, req.Name, ErrNotFastForward)
	}
	if p.Commits, err = CountCommits(ctx, req.Repo, req.Commit, from); err != nil {
		return p, err
	}
	p.To = from
	p.Action = fmt.Sprintf("keep %s at %s: it already contains %s (%s ahead)", req.label(), Short(from), Short(req.Commit), commits(p.Commits))
	return p, nil
}

// Intent says what moving the branch does in terms of the request alone, for a
// plan that cannot rely on where the branch is now (a new resource): "move main on
// origin to 3f2a9c1 (fast-forward only; refused if it is not)".
func (r BranchRequest) Intent() string {
	return fmt.Sprintf("move %s to %s (fast-forward only; refused if it is not)", r.label(), Short(r.Commit))
}

// ApplyBranch moves the branch forward to req.Commit. plannedFrom is the tip the
// plan was made over (the state refresh read): when the tip moved since (another
// push) and the branch would have to move, the error names both tips and wraps
// ErrChangedSincePlan; a branch that already holds the commit is left alone. An
// empty plannedFrom is a plan that did not rely on where the branch was (a new
// resource, see Intent): the branch is created, moved forward or kept wherever it
// is now. Either way the move is checked to be a fast-forward (the error names both
// commits and wraps ErrNotFastForward); a remote branch is moved with git push
// --atomic, never forced (the remote refuses a non-fast-forward itself), the
// clone's branch with a compare-and-swap update.
func ApplyBranch(ctx context.Context, req BranchRequest, plannedFrom string) (BranchPlan, error) {
	from, err := ObserveBranch(ctx, req.Repo, req.Name, req.Remote)
	if err != nil {
		return BranchPlan{}, err
	}
	p, err := PlanBranch(ctx, req, from)
	if plannedFrom != "" && from != plannedFrom && (err != nil || p.Move) {
		return p, BranchUnchanged(req, plannedFrom, from)
	}
	if err != nil || !p.Move {
		return p, err
	}
	if req.Remote != "" {
		err = Push(ctx, req.Repo, req.Remote, "", req.Commit+":refs/heads/"+req.Name)
	} else {
		err = FastForwardBranch(ctx, req.Repo, req.Name, from, req.Commit)
	}
	return p, err
}

// BranchUnchanged returns nil when the branch's tip now is the tip seen before
// (when its state was read, or planned; "" for no branch), else an error naming
// both that wraps ErrChangedSincePlan.
func BranchUnchanged(req BranchRequest, before, now string) error {
	if before == now {
		return nil
	}
	return fmt.Errorf("%s moved since it was read for the plan: it was at %s and is at %s now (another push?). "+
		"Nothing was changed; run plan again: %w", req.label(), orNone(before), orNone(now), ErrChangedSincePlan)
}

// TagUnchanged returns nil when the tag, where it counts (see TagStatus.Current),
// still names the commit seen before ("" for no tag), else an error naming both
// that wraps ErrChangedSincePlan.
func TagUnchanged(req TagRequest, before string, now TagStatus) error {
	cur := ""
	if t := now.Current(req.Remote); t != nil {
		cur = t.Commit
	}
	if cur == before {
		return nil
	}
	return fmt.Errorf("tag %s%s changed since it was read for the plan: it named %s and names %s now. "+
		"Nothing was changed; run plan again: %w", req.Name, req.where(), orNone(before), orNone(cur), ErrChangedSincePlan)
}

func orNone(hash string) string {
	if hash == "" {
		return "nothing (it did not exist)"
	}
	return hash
}
