// Package promote publishes the same bytes under the next channel's version
// (1.7.4-staging → 1.7.4-rc → 1.7.4) once guards have checked that they earned it:
// the expected sha256, no block on either version, a healthy deployment in the
// listed environments, and a git commit that descends from a given one.
//
// Promote re-verifies the bytes while copying them (store.Store.Copy), records
// promoted_from in the new version's metadata and a promoted event in the history.
package promote

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
	"github.com/releaseplan/terraform-provider-release/internal/history"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// Metadata keys Promote writes or reads.
const (
	// MetaPromotedFrom is the version the bytes were promoted from.
	MetaPromotedFrom = "promoted_from"
	// MetaPromotedBy is who promoted them.
	MetaPromotedBy = "promoted_by"
	// MetaGitCommit is the commit the artifact was built from (set at publication).
	MetaGitCommit = "git_commit"
)

// Guard names, as the attributes of release_promotion that configure them.
const (
	GuardSHA256       = "sha256"
	GuardBlocked      = "blocked versions"
	GuardDeployedIn   = "require_deployed_in"
	GuardDescendantOf = "require_descendant_of"
	GuardHealthyFor   = "require_healthy_for"
	GuardFreeze       = "release_freeze"
)

// ErrGuard is wrapped by every *GuardError.
var ErrGuard = errors.New("promotion guard failed")

// GuardError says which guard refused the promotion and why.
type GuardError struct {
	Guard  string
	Reason string
	Err    error // underlying cause, when there is one (e.g. gitrepo.ErrShallow)
}

func (e *GuardError) Error() string { return "guard " + e.Guard + ": " + e.Reason }

// Unwrap lets errors.Is find ErrGuard and the cause.
func (e *GuardError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrGuard, e.Err}
	}
	return []error{ErrGuard}
}

// DescendantOf is the deploy-by-sha guard: the artifact's git_commit metadata must
// descend from Commit (or be it) in the local git clone at Repository.
type DescendantOf struct {
	Repository string
	Commit     string
}

// Request describes one promotion.
type Request struct {
	Name        string
	FromVersion string
	ToVersion   string
	// SHA256 must equal the stored sha256 of FromVersion.
	SHA256 string
	// RequireDeployedIn lists environments where FromVersion must run, its last
	// deployment there a success.
	RequireDeployedIn []string
	// RequireDescendantOf, when set, is the deploy-by-sha guard.
	RequireDescendantOf *DescendantOf
	// RequireHealthyFor is the soak time: FromVersion must have run in each
	// RequireDeployedIn environment for at least this long without a failed
	// deployment since (0: no soak time).
	RequireHealthyFor time.Duration
	// Environment is the environment the promotion releases into: refused while
	// it is frozen, unless FreezeOverride (recorded in the history) is set.
	Environment    string
	FreezeOverride string
	Actor          string

	Store store.Store
	// Backend is where the guards read blocks and history, and where the
	// promotion is recorded.
	Backend Records
	// Now returns the current time (nil: time.Now).
	Now func() time.Time
}

// Records is the part of a backend a promotion uses: blocks, freezes and history.
type Records interface {
	backend.Blocks
	backend.History
	backend.Freezes
}

// Result is a successful promotion.
type Result struct {
	// Source is FromVersion as stored; Object is the promoted ToVersion.
	Source, Object store.Object
	// AlreadyPromoted is true when ToVersion already held the same bytes (a
	// re-applied or imported promotion): nothing was copied and no event recorded.
	AlreadyPromoted bool
}

func (r *Request) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Request) validate() error {
	switch {
	case r.Store == nil || r.Backend == nil:
		return errors.New("promotion needs an artifact store and a backend")
	case r.FromVersion == r.ToVersion:
		return fmt.Errorf("from_version and to_version are both %s: a promotion publishes the bytes under a new version", r.FromVersion)
	}
	if err := store.ValidateName(r.Name); err != nil {
		return err
	}
	if err := store.ValidateVersion(r.FromVersion); err != nil {
		return fmt.Errorf("from_version: %w", err)
	}
	if err := store.ValidateVersion(r.ToVersion); err != nil {
		return fmt.Errorf("to_version: %w", err)
	}
	return nil
}

// Check runs every guard and returns the stored source. Errors that are not about
// a guard (the source is missing, the backend is unreachable) stop at once; guard
// failures are all collected, so one apply reports every reason, each as a
// *GuardError joined in the returned error.
func Check(ctx context.Context, req Request) (store.Object, error) {
	if err := req.validate(); err != nil {
		return store.Object{}, err
	}
	src, err := req.Store.Stat(ctx, req.Name, req.FromVersion)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Object{}, fmt.Errorf("%s@%s is not published in the artifact store: publish it first (release_artifact), then promote it: %w", req.Name, req.FromVersion, err)
		}
		return store.Object{}, err
	}
	var failed []error
	add := func(g *GuardError) {
		if g != nil {
			failed = append(failed, g)
		}
	}

	if want := strings.ToLower(strings.TrimSpace(req.SHA256)); !strings.EqualFold(want, src.SHA256) {
		add(&GuardError{Guard: GuardSHA256, Reason: fmt.Sprintf("%s has sha256 %s, the promotion expects %s: these are not the bytes that were reviewed", src.ID(), src.SHA256, orNone(want))})
	}
	for _, v := range []string{req.FromVersion, req.ToVersion} {
		b, err := req.Backend.GetBlock(ctx, req.Name, v)
		if err != nil {
			return src, fmt.Errorf("reading the blocks of %s@%s: %w", req.Name, v, err)
		}
		if b != nil {
			add(&GuardError{Guard: GuardBlocked, Reason: blockedReason(*b)})
		}
	}
	for _, env := range req.RequireDeployedIn {
		gerr, err := checkDeployedIn(ctx, req, src, env)
		if err != nil {
			return src, err
		}
		add(gerr)
		if gerr == nil && req.RequireHealthyFor > 0 {
			gerr, err = checkHealthyFor(ctx, req, env)
			if err != nil {
				return src, err
			}
			add(gerr)
		}
	}
	_, gerr, err := checkFreeze(ctx, req)
	if err != nil {
		return src, err
	}
	add(gerr)
	if d := req.RequireDescendantOf; d != nil {
		gerr, err := checkDescendant(ctx, src, *d)
		if err != nil {
			return src, err
		}
		add(gerr)
	}
	return src, errors.Join(failed...)
}

func blockedReason(b backend.Block) string {
	msg := fmt.Sprintf("%s@%s is blocked", b.Name, b.Version)
	if b.BlockedBy != "" {
		msg += " by " + b.BlockedBy
	}
	if !b.BlockedAt.IsZero() {
		msg += " since " + b.BlockedAt.UTC().Format(time.RFC3339)
	}
	msg += ": " + orNone(b.Reason) + ". Remove the release_version_block to promote it"
	return msg
}

// checkDeployedIn returns a guard error when FromVersion does not run healthy in env.
func checkDeployedIn(ctx context.Context, req Request, src store.Object, env string) (*GuardError, error) {
	live, err := history.Current(ctx, req.Backend, env, req.Name)
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) (*GuardError, error) {
		return &GuardError{Guard: GuardDeployedIn, Reason: fmt.Sprintf(format, args...)}, nil
	}
	last := live.LastDeployment
	switch {
	case last == nil:
		return fail("%s has never been deployed to %s, so %s cannot have been validated there", req.Name, env, req.FromVersion)
	case last.Kind == backend.KindFailed:
		return fail("the last deployment to %s, of %s@%s at %s, failed (%s); %s", env, req.Name, last.Version, stamp(last.Time), firstLine(last.Detail), runsClause(live))
	case last.Kind == backend.KindRolledBack:
		return fail("%s was rolled back at %s (%s); %s", env, stamp(last.Time), firstLine(last.Detail), runsClause(live))
	case live.Version != req.FromVersion:
		return fail("%s runs %s@%s (deployed %s by %s), not %s", env, req.Name, live.Version, stamp(live.Since), orNone(live.By), req.FromVersion)
	case live.SHA256 != "" && !strings.EqualFold(live.SHA256, src.SHA256):
		return fail("%s runs %s@%s with sha256 %s, but the stored %s has sha256 %s", env, req.Name, live.Version, live.SHA256, src.ID(), src.SHA256)
	}
	return nil, nil
}

func runsClause(l history.Live) string {
	if !l.Running() {
		return "nothing runs there now"
	}
	return fmt.Sprintf("%s@%s runs there now", l.Name, l.Version)
}

// checkDescendant returns a guard error when the artifact's commit does not
// descend from d.Commit. A repository that cannot answer (shallow clone, unknown
// commit, no git) is a guard failure too, never a pass.
func checkDescendant(ctx context.Context, src store.Object, d DescendantOf) (*GuardError, error) {
	fail := func(cause error, format string, args ...any) (*GuardError, error) {
		return &GuardError{Guard: GuardDescendantOf, Reason: fmt.Sprintf(format, args...), Err: cause}, nil
	}
	commit := src.Metadata[MetaGitCommit]
	switch {
	case commit == "":
		return fail(nil, "%s has no git_commit metadata, so its ancestry cannot be checked; publish it with metadata = { git_commit = ... }", src.ID())
	case strings.TrimSpace(d.Commit) == "":
		return fail(nil, "commit is empty: there is nothing to descend from (does the source of the commit, e.g. release_environment.git_commit, show that nothing runs yet?); remove the block for a first release")
	}
	repo := d.Repository
	if repo == "" {
		repo = "."
	}
	ok, err := gitrepo.IsAncestor(ctx, repo, d.Commit, commit)
	switch {
	case errors.Is(err, gitrepo.ErrShallow):
		return fail(err, "the clone at %s is shallow and cannot tell whether %s descends from %s; fetch the full history (git fetch --unshallow) and apply again", repo, short(commit), short(d.Commit))
	case errors.Is(err, gitrepo.ErrUnknownCommit):
		return fail(err, "cannot check that %s (git_commit of %s) descends from %s: %v; fetch the missing commits into %s", short(commit), src.ID(), short(d.Commit), err, repo)
	case err != nil:
		return fail(err, "cannot check the ancestry in %s: %v", repo, err)
	case !ok:
		return fail(nil, "%s (git_commit of %s) does not descend from %s: it would drop commits that run now; build the release from a branch that contains %s", short(commit), src.ID(), short(d.Commit), short(d.Commit))
	}
	return nil, nil
}

// Promote checks the guards, then publishes the bytes of FromVersion under
// ToVersion, verified while copied, with the source's metadata plus promoted_from
// and promoted_by, and records a promoted event. A ToVersion that already holds
// the same bytes promoted from FromVersion is adopted without any change.
func Promote(ctx context.Context, req Request) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, err
	}
	if existing, err := req.Store.Stat(ctx, req.Name, req.ToVersion); err == nil {
		if existing.Metadata[MetaPromotedFrom] == req.FromVersion && strings.EqualFold(existing.SHA256, strings.TrimSpace(req.SHA256)) {
			src, serr := req.Store.Stat(ctx, req.Name, req.FromVersion)
			if serr != nil {
				src = store.Object{}
			}
			logging.Info(ctx, "already promoted", "artifact", existing.ID())
			return Result{Source: src, Object: existing, AlreadyPromoted: true}, nil
		}
		return Result{}, fmt.Errorf("%w: %s is already published (sha256 %s, %s); published versions are immutable: promote to another version", store.ErrConflict, existing.ID(), existing.SHA256, describeOrigin(existing))
	} else if !errors.Is(err, store.ErrNotFound) {
		return Result{}, err
	}

	logging.Info(ctx, "checking promotion guards", "name", req.Name, "from", req.FromVersion, logging.Version, req.ToVersion)
	src, err := Check(ctx, req)
	if err != nil {
		return Result{Source: src}, err
	}
	overridden, _, err := checkFreeze(ctx, req)
	if err != nil {
		return Result{Source: src}, err
	}
	meta := maps.Clone(src.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[MetaPromotedFrom] = req.FromVersion
	if req.Actor != "" {
		meta[MetaPromotedBy] = req.Actor
	}
	logging.Info(ctx, "copying the bytes", "from", src.ID(), logging.Version, req.ToVersion, "bytes", src.Size)
	obj, err := req.Store.Copy(ctx, req.Name, req.FromVersion, req.ToVersion, src.SHA256, meta)
	if err != nil {
		return Result{Source: src}, err
	}
	ev := backend.Event{
		Time:      req.now().UTC(),
		Kind:      backend.KindPromoted,
		Name:      req.Name,
		Version:   req.ToVersion,
		SHA256:    obj.SHA256,
		GitCommit: meta[MetaGitCommit],
		Actor:     req.Actor,
		Detail:    "promoted from " + req.FromVersion + guardsClause(req),
	}
	if err := req.Backend.Append(ctx, ev); err != nil {
		return Result{Source: src, Object: obj}, fmt.Errorf("%s was promoted, but the promoted event could not be recorded in the history: %w", obj.ID(), err)
	}
	if overridden != nil {
		ov := ev
		ov.Kind, ov.Environment, ov.Detail = backend.KindFreezeOverridden, req.Environment, overridden.OverrideDetail(req.FreezeOverride)
		if err := req.Backend.Append(ctx, ov); err != nil {
			return Result{Source: src, Object: obj}, fmt.Errorf("%s was promoted, but its freeze override could not be recorded in the history: %w", obj.ID(), err)
		}
	}
	return Result{Source: src, Object: obj}, nil
}

func guardsClause(req Request) string {
	var g []string
	if len(req.RequireDeployedIn) > 0 {
		g = append(g, "deployed in "+strings.Join(req.RequireDeployedIn, ", "))
	}
	if req.RequireHealthyFor > 0 {
		g = append(g, "healthy for "+req.RequireHealthyFor.String())
	}
	if d := req.RequireDescendantOf; d != nil {
		g = append(g, "descends from "+short(d.Commit))
	}
	if len(g) == 0 {
		return ""
	}
	return " (" + strings.Join(g, "; ") + ")"
}

func describeOrigin(o store.Object) string {
	if from := o.Metadata[MetaPromotedFrom]; from != "" {
		return "promoted from " + from
	}
	return "published directly"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(strings.TrimSpace(s), ".")
}
