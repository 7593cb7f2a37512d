// Package deploy runs one release deployment from start to end, independent of
// Terraform: fence the lock token, refuse blocked versions, stream the artifact
// from the store into the target while hashing it, verify the sha256 before
// anything goes live, back up, run hooks, switch atomically, smoke-test, roll back
// on failure, record history events and prune old releases.
//
// Server-side commands run through host.Host on the hosts that hold the prepared
// release (target.Prepared.Hosts; the machine Terraform runs on for a target
// with none): before_switch and after_switch hooks on every host,
// before_switch_once hooks and the backup command on the first, and a smoke
// test whose URL holds {host} once per host.
//
// Steps lists those steps from a deployment's Facts, each with the sentence a
// plan shows; Deploy runs exactly that list, so what was reviewed is what runs.
// Deploy always reports what is really live at its end (Result.Live), also when it
// fails, so callers can save the truth.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/readahead"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// DefaultKeepReleases is how many releases a target keeps when Request.KeepReleases is 0.
const DefaultKeepReleases = 5

// BackupSuffix is appended to the artifact name to name backups: <name>-backup.
const BackupSuffix = "-backup"

// Errors callers can test with errors.Is.
var (
	// ErrBlocked means the version is blocked and the request did not allow it.
	ErrBlocked = errors.New("version is blocked")
	// ErrSmokeTest means the new release went live but failed its smoke test.
	ErrSmokeTest = errors.New("smoke test failed")
	// ErrHook means a hook command failed.
	ErrHook = errors.New("hook failed")
	// ErrBackup means the backup command or its upload failed.
	ErrBackup = errors.New("backup failed")
)

// Hooks are shell commands run with `sh -c` in the new release folder, through
// Host.Run, with RELEASE_VERSION, RELEASE_NAME, RELEASE_ENVIRONMENT,
// RELEASE_PREVIOUS_VERSION, RELEASE_PATH (the folder) and RELEASE_HOST (the
// host's name, "local" for the machine Terraform runs on) set. Several hosts
// run their hooks at once (at most Facts.MaxParallel), each host its hooks in
// order; once a hook failed on a host, no host starts another.
type Hooks struct {
	// BeforeSwitch runs on every host of the release before any host switches.
	BeforeSwitch []string
	// BeforeSwitchOnce runs on the first host only (database migrations), once
	// BeforeSwitch passed on every host.
	BeforeSwitchOnce []string
	// AfterSwitch runs on every host once every host switched.
	AfterSwitch []string
}

// Request describes one deployment: its Facts, which the plan shows as Steps,
// and what the apply needs besides them.
type Request struct {
	Facts

	// LockToken fences the deployment (0: no fencing); Facts.Lock says how the
	// plan names it, and must not be NoLock when LockToken is set.
	LockToken int64

	Target  target.Target
	Store   store.Store
	Backend backend.Backend
	Actor   string

	// Backup, when set, takes the backup instead of a command (a PaaS database
	// backup) at the same point, before the switch, and returns the backup's id.
	// Facts.BackupFunc announces it.
	Backup func(ctx context.Context) (id string, err error)

	// OneOff runs one of Facts.OneOffs; set exactly when they are.
	OneOff func(ctx context.Context, command string) error

	// Now returns the current time (nil: time.Now).
	Now func() time.Time
}

// Result says what the deployment did and what is live at its end.
type Result struct {
	// Release is the release made (or reused) for the requested version; nil when
	// the deployment stopped before one existed.
	Release *target.Release
	// Previous is the sound release that was live before the deployment, the one
	// a failure goes back to (nil: none). When what was live was not a finished
	// deployment, it is the release that one replaced; Live tells what served.
	Previous *target.Release
	// Live is what is live at the end, success or not (nil: nothing).
	Live *target.Release
	// Reused is true when an existing release folder went live again (rollback by
	// version) instead of fetching the artifact.
	Reused bool
	// Backup is the stored backup, when a backup command ran.
	Backup *store.Object
	// BackupID identifies the backup taken before the switch: the stored backup's
	// artifact id, or the id Request.Backup returned. Empty when none was taken.
	BackupID string
	// RolledBack is true when a failure switched back to Previous.
	RolledBack bool
	// Pruned lists the releases deleted after success.
	Pruned []string
	// Warnings are problems that did not fail the deployment (pruning, history).
	Warnings []string
	// Activated tells whether the new release went live at some point.
	Activated bool
	// Reverified is true when the live release was not a finished deployment
	// (Current reported it unverified or failed) and this deployment went through
	// the sequence again on that same release folder: backup, before_switch
	// hooks, the switch (a no-op: it was live), after_switch hooks and smoke test.
	// Previous is then the verified release it had replaced.
	Reverified bool
	// Steps names the steps the deployment ran, in order, the failed one last
	// but for the OnFailure step when it ran.
	Steps []string
}

// Error is a failed deployment: which step failed, what is live now, and what the
// caller should do. Error() gives the whole story in plain sentences.
type Error struct {
	Step   string // "fence", "blocked", "fetch", "verify", "backup", "before_switch", "before_switch_once", "switch", "after_switch", "smoke_test", "one_off", "rollback"
	Err    error
	Detail string
}

func (e *Error) Error() string { return e.Detail }
func (e *Error) Unwrap() error { return e.Err }

type run struct {
	req  Request
	res  Result
	spec target.Spec
	prev *target.Release
	// live is what served when the deployment began, sound or not; prev is the
	// sound release a failure goes back to.
	live *target.Release
	// self is true when prev is the release being deployed.
	self bool
	// begun is set once the deployment got past its refusals (fence, blocked): a
	// failure from then on is recorded in the history.
	begun bool
	// prepared is the release made (or reused) for the requested version, once
	// StepFetch has it; a failure before the switch discards it.
	prepared *target.Prepared
	// failure is the failure after the switch that the OnFailure step handles.
	failure *liveFailure
	log     func(string, map[string]any)
	events  []backend.Event
	// started is when Deploy began, to say when a time limit was reached.
	started time.Time
}

// liveFailure is a step failing once the new release is live: the OnFailure
// step turns it into the deployment's error.
type liveFailure struct {
	step  string
	cause error
	what  string // the sentence that says what failed
}

func (f *liveFailure) Error() string { return f.what }
func (f *liveFailure) Unwrap() error { return f.cause }

// Deploy runs req: exactly the steps Steps(req.Facts) lists, in order. On
// failure the error is an *Error and Result.Live tells what is live (the
// previous release after a rollback).
func Deploy(ctx context.Context, req Request) (Result, error) {
	// Progress goes to the logger the context carries (internal/logging), every
	// message naming the environment and the version.
	ctx = logging.With(ctx, logging.From(ctx).With(logging.Environment, req.Environment, logging.Version, req.Version))
	r := &run{req: req, started: time.Now()}
	r.log = func(msg string, fields map[string]any) { logging.Info(ctx, msg, logArgs(fields)...) }
	if r.req.Now == nil {
		r.req.Now = time.Now
	}
	err := r.execute(ctx)
	r.flushEvents(context.WithoutCancel(ctx))
	return r.res, err
}

func (r *run) id() string { return r.req.Name + "@" + r.req.Version }

func (r *run) fail(step string, err error, format string, args ...any) error {
	return &Error{Step: step, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// validate refuses a request whose facts do not announce what it would run: a
// plan made from them would not show it.
func (req *Request) validate() error {
	switch {
	case req.Target == nil || req.Store == nil || req.Backend == nil:
		return errors.New("deploy: Target, Store and Backend are required")
	case req.BackupCommand != "" && (req.Backup != nil || req.BackupFunc != ""):
		return errors.New("deploy: BackupCommand and Backup are exclusive")
	case req.Backup != nil && req.BackupFunc == "":
		return errors.New("deploy: Backup is set but BackupFunc does not announce it")
	case req.Backup == nil && req.BackupFunc != "":
		return errors.New("deploy: BackupFunc announces a backup but Backup is not set")
	case (req.OneOff == nil) != (len(req.OneOffs) == 0):
		return errors.New("deploy: OneOff must be set exactly when Facts.OneOffs are")
	case req.LockToken != 0 && req.Lock == NoLock:
		return errors.New("deploy: LockToken is set but Lock is NoLock")
	}
	if req.TargetName == "" {
		req.TargetName = req.Target.Describe()
	}
	return nil
}

func (r *run) execute(ctx context.Context) error {
	if err := r.req.validate(); err != nil {
		return err
	}
	if err := r.begin(ctx); err != nil {
		return err
	}
	steps := Steps(r.req.Facts)
	for _, s := range steps {
		if s.OnFailure {
			continue
		}
		r.res.Steps = append(r.res.Steps, s.Name)
		r.log("step", map[string]any{"step": s.Name, "description": s.Description})
		if err := s.do(r, ctx); err != nil {
			return r.stop(ctx, steps, err)
		}
	}
	return nil
}

// begin reads what is live: the release a failure goes back to. It changes
// nothing, so it is no step of the plan.
func (r *run) begin(ctx context.Context) error {
	live, err := r.req.Target.Current(ctx)
	if err != nil {
		return r.fail("fetch", err, "Could not read what %s serves now: %v. Nothing was changed.", r.req.Target.Describe(), err)
	}
	prev := live
	if live != nil && !live.Sound() {
		// Not a finished deployment (killed after the switch, failed, or current
		// leading to no release of the target): the release to go back to is the
		// verified one it replaced, if any. With none (a first deployment that was
		// interrupted, a `current` pointing elsewhere or at a deleted folder) a
		// failure leaves the target serving nothing rather than bytes no deployment
		// verified.
		prev = live.Replaced
		r.log("the live release is not a finished deployment", map[string]any{"problem": live.Problem})
	}
	r.prev, r.live, r.res.Previous, r.res.Live = prev, live, prev, live
	return nil
}

// stop ends the deployment after a step failed: the OnFailure step handles a
// failure once the new release is live; before that, a prepared release that
// never went live is discarded and, past the refusals, the failure recorded.
func (r *run) stop(ctx context.Context, steps []Step, err error) error {
	var lf *liveFailure
	if errors.As(err, &lf) {
		r.failure = lf
		for _, s := range steps {
			if s.OnFailure {
				r.res.Steps = append(r.res.Steps, s.Name)
				return s.do(r, ctx)
			}
		}
	}
	if r.prepared != nil {
		if derr := r.req.Target.Discard(context.WithoutCancel(ctx), r.prepared); derr != nil {
			r.res.Warnings = append(r.res.Warnings, "could not discard the prepared release: "+derr.Error())
		}
	}
	if r.begun {
		return r.failed(ctx, err)
	}
	return err
}

func (r *run) fence(ctx context.Context) error {
	if err := backend.CheckToken(ctx, r.req.Backend, r.req.Environment, r.req.LockToken); err != nil {
		return r.fail("fence", err, "The deployment was refused before anything changed: %v. Acquire the environment lock again and plan with its new token.", err)
	}
	return nil
}

func (r *run) checkBlocked(ctx context.Context) error {
	req := r.req
	b, err := req.Backend.GetBlock(ctx, req.Name, req.Version)
	switch {
	case err != nil:
		return r.fail("blocked", err, "Could not check whether %s is blocked: %v. Nothing was changed.", r.id(), err)
	case b == nil:
		return nil
	case !req.AllowBlocked:
		return r.fail("blocked", ErrBlocked, "%s is blocked: %s (blocked by %s at %s). Nothing was changed. Deploy another version, remove the block, or set allow_blocked = true to override it.",
			r.id(), b.Reason, orUnknown(b.BlockedBy), b.BlockedAt.UTC().Format(time.RFC3339))
	}
	r.log("deploying a blocked version because allow_blocked is set", map[string]any{"artifact": r.id(), "reason": b.Reason})
	return nil
}

// fetch makes the release of the requested version ready on the target: a
// release folder of the same verified bytes goes live again without the store
// (rollback by version), else the artifact streams in, verified on the way.
func (r *run) fetch(ctx context.Context) error {
	req := r.req
	r.begun = true
	var p *target.Prepared
	if req.SHA256 != "" {
		r.spec = target.Spec{Name: req.Name, Version: req.Version, SHA256: strings.ToLower(req.SHA256)}
		var err error
		if p, err = req.Target.Find(ctx, r.spec); err != nil {
			r.res.Warnings = append(r.res.Warnings, "could not look for an existing release: "+err.Error())
			p = nil
		} else if p != nil {
			r.spec.GitCommit = p.Release.GitCommit
			r.log("reusing the release already on the target", map[string]any{"release": p.Release.ID})
		}
	}
	if p == nil {
		var err error
		if p, err = r.fetchFromStore(ctx); err != nil {
			return err
		}
	}
	r.prepared = p
	r.checkHosts()
	r.res.Release = &p.Release
	r.res.Reused = p.Reused
	// The release to go back to is the very one being deployed (a redeploy of the
	// live release, or going back by version to the release an unfinished
	// deployment replaced): a failure has nothing else to return to.
	r.self = r.prev != nil && r.prev.ID == p.Release.ID
	r.res.Reverified = r.live != nil && !r.live.Sound() && r.live.ID == p.Release.ID
	return nil
}

// fetchFromStore checks the store's record of the artifact against the expected
// sha256, then prepares the release from its bytes.
func (r *run) fetchFromStore(ctx context.Context) (*target.Prepared, error) {
	req := r.req
	obj, err := req.Store.Stat(ctx, req.Name, req.Version)
	if err != nil {
		return nil, r.fail("fetch", err, "Could not find %s in the artifact store: %v. Nothing was changed on %s.", r.id(), err, req.Target.Describe())
	}
	want := strings.ToLower(req.SHA256)
	if want == "" {
		want = obj.SHA256
	}
	if want != strings.ToLower(obj.SHA256) {
		err := fmt.Errorf("%w: the store records %s, expected %s", store.ErrChecksumMismatch, obj.SHA256, want)
		return nil, r.fail("verify", err, "The sha256 of %s does not match: the store records %s, the deployment expects %s. Nothing was changed on %s. Check which bytes were published under this version.", r.id(), obj.SHA256, want, req.Target.Describe())
	}
	r.spec = target.Spec{Name: req.Name, Version: req.Version, SHA256: want, GitCommit: obj.Metadata["git_commit"]}
	return r.prepare(ctx, obj)
}

// beforeSwitch runs the before_switch hooks in the new release on every host.
func (r *run) beforeSwitch(ctx context.Context) error {
	return r.hooksBeforeSwitch(ctx, StepBeforeSwitch, r.req.Hooks.BeforeSwitch, r.hosts())
}

// beforeSwitchOnce runs the before_switch_once hooks (migrations) in the new
// release on the first host only, once the before_switch hooks passed on every host.
func (r *run) beforeSwitchOnce(ctx context.Context) error {
	return r.hooksBeforeSwitch(ctx, StepBeforeSwitchOnce, r.req.Hooks.BeforeSwitchOnce, r.hosts()[:1])
}

func (r *run) hooksBeforeSwitch(ctx context.Context, kind string, cmds []string, hosts []target.HostDir) error {
	if fs := r.runHooks(ctx, kind, cmds, hosts); fs != nil {
		what, err := hookError(kind, fs)
		return r.fail(kind, err, "%s The switch did not happen: %s still serves %s. Fix the hook or the release, then apply again.",
			what, r.req.Target.Describe(), r.serving())
	}
	return nil
}

func (r *run) fenceAgain(ctx context.Context) error {
	req := r.req
	if err := backend.CheckToken(ctx, req.Backend, req.Environment, req.LockToken); err != nil {
		return r.fail("fence", err, "The lock was lost before the switch: %v. The switch did not happen: %s still serves %s. Acquire the environment lock again, then apply again.", err, req.Target.Describe(), r.serving())
	}
	return nil
}

// switchOver puts the prepared release live.
func (r *run) switchOver(ctx context.Context) error {
	req, p := r.req, r.prepared
	// Recorded before the switch, so that a deployment killed from here on leaves
	// a live release that says it was never verified.
	if err := req.Target.MarkUnverified(ctx, p.Release, r.prev); err != nil {
		return r.fail("switch", err, "Could not record the release as about to go live: %v. The switch did not happen: %s still serves %s.", err, req.Target.Describe(), r.serving())
	}
	r.log("switching", map[string]any{"release": p.Release.ID, "target": req.Target.Describe()})
	if err := req.Target.Activate(ctx, p); err != nil {
		return r.fail("switch", err, "Could not switch %s to %s: %v. %s still serves %s.", req.Target.Describe(), p.Release.ID, err, req.Target.Describe(), r.serving())
	}
	r.res.Activated = true
	now := p.Release
	now.ActivatedAt = req.Now().UTC()
	now.Unverified, now.Replaced = true, r.prev
	r.res.Live = &now
	return nil
}

// afterSwitch runs the after_switch hooks in the live release on every host.
func (r *run) afterSwitch(ctx context.Context) error {
	if fs := r.runHooks(ctx, StepAfterSwitch, r.req.Hooks.AfterSwitch, r.hosts()); fs != nil {
		what, err := hookError(StepAfterSwitch, fs)
		return &liveFailure{step: StepAfterSwitch, cause: err, what: what}
	}
	return nil
}

func (r *run) smokeTest(ctx context.Context) error {
	if err := r.smoke(ctx); err != nil {
		return &liveFailure{step: "smoke_test", cause: fmt.Errorf("%w: %w", ErrSmokeTest, err), what: "The smoke test " + err.Error() + "."}
	}
	return nil
}

// oneOffs runs the one-off commands in order; the first that fails stops them
// and fails the deployment after the switch.
func (r *run) oneOffs(ctx context.Context) error {
	for i, cmd := range r.req.OneOffs {
		r.log("one-off command", map[string]any{"command": cmd, "index": i + 1})
		if err := r.req.OneOff(ctx, cmd); err != nil {
			return &liveFailure{step: StepOneOff, cause: err, what: fmt.Sprintf("One-off command %d of %d failed: %v.", i+1, len(r.req.OneOffs), err)}
		}
	}
	return nil
}

// record clears the mark MarkUnverified left, now that the checks passed, and
// records the deployment. A mark that cannot be cleared is a warning: the next
// plan verifies the release again.
func (r *run) record(ctx context.Context) error {
	req, p := r.req, r.prepared
	bg := context.WithoutCancel(ctx)
	if err := req.Target.MarkVerified(bg, p.Release); err != nil {
		r.res.Warnings = append(r.res.Warnings, "could not record the release as verified (the next plan verifies it again): "+err.Error())
	} else if cur, err := req.Target.Current(bg); err == nil && cur != nil && cur.ID == p.Release.ID {
		r.res.Live = cur
	}
	r.event(backend.KindDeployed, req.Version, r.spec.SHA256, fmt.Sprintf("release %s is live on %s%s", p.Release.ID, req.Target.Describe(), previousClause(r.prev)))
	return nil
}

// prune deletes old releases once the deployment succeeded; a failure to prune
// is a warning.
func (r *run) prune(ctx context.Context) error {
	var protect []string
	if r.prev != nil {
		protect = append(protect, r.prev.ID)
	}
	pruned, err := r.req.Target.Prune(context.WithoutCancel(ctx), r.req.keepReleases(), protect...)
	r.res.Pruned = pruned
	if err != nil {
		r.res.Warnings = append(r.res.Warnings, "could not prune old releases: "+err.Error())
	}
	return nil
}

// prepare reuses a complete release of the same bytes or streams the artifact into
// the target, hashing it on the way.
func (r *run) prepare(ctx context.Context, obj store.Object) (*target.Prepared, error) {
	req := r.req
	if p, err := req.Target.Find(ctx, r.spec); err == nil && p != nil {
		r.log("reusing the release already on the target", map[string]any{"release": p.Release.ID})
		return p, nil
	}
	rc, _, err := req.Store.Get(ctx, req.Name, req.Version)
	if err != nil {
		return nil, r.fail("fetch", err, "Could not open %s in the artifact store: %v. Nothing was changed on %s.", r.id(), err, req.Target.Describe())
	}
	defer rc.Close()
	started := time.Now()
	r.log("fetching and extracting", map[string]any{"artifact": r.id(), "bytes": obj.Size, "target": req.Target.Describe()})
	vr := store.NewVerifyingReader(rc, r.spec.SHA256, obj.Size)
	ra := readahead.New(vr, 4, 1<<20)
	p, err := req.Target.Prepare(ctx, r.spec, ra)
	_ = ra.Close()
	if err != nil {
		if errors.Is(err, store.ErrChecksumMismatch) {
			return nil, r.fail("verify", err, "The bytes of %s do not match the expected sha256 %s (%v). Nothing was changed on %s: the extracted files were deleted. The stored artifact may be corrupt; publish it again.", r.id(), r.spec.SHA256, err, req.Target.Describe())
		}
		return nil, r.fail("fetch", err, "Could not prepare %s on %s: %v. Nothing was changed: %s still serves %s.", r.id(), req.Target.Describe(), err, req.Target.Describe(), r.serving())
	}
	// Prepare read to EOF through the verifying reader; check again, so a target that
	// forgot to drain cannot activate unverified bytes.
	if vr.Sum() != r.spec.SHA256 {
		_ = req.Target.Discard(context.WithoutCancel(ctx), p)
		err := fmt.Errorf("%w: got %s, expected %s", store.ErrChecksumMismatch, vr.Sum(), r.spec.SHA256)
		return nil, r.fail("verify", err, "The bytes of %s do not match the expected sha256 (%v). Nothing was changed on %s.", r.id(), err, req.Target.Describe())
	}
	r.log("release prepared", map[string]any{"release": p.Release.ID, "seconds": time.Since(started).Seconds()})
	return p, nil
}

// releaseEnv are the RELEASE_* variables of a command run on h (RELEASE_PATH
// only when path is set).
func (r *run) releaseEnv(path string, h host.Host) []string {
	prevVersion := ""
	if r.prev != nil {
		prevVersion = r.prev.Version
	}
	env := []string{
		"RELEASE_VERSION=" + r.req.Version,
		"RELEASE_NAME=" + r.req.Name,
		"RELEASE_ENVIRONMENT=" + r.req.Environment,
		"RELEASE_PREVIOUS_VERSION=" + prevVersion,
		"RELEASE_HOST=" + h.Name(),
	}
	if path != "" {
		env = append(env, "RELEASE_PATH="+path)
	}
	return env
}

// logArgs turns fields into slog's key-value arguments, sorted by key so that
// messages read the same every time.
func logArgs(fields map[string]any) []any {
	args := make([]any, 0, 2*len(fields))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		args = append(args, k, fields[k])
	}
	return args
}

// afterSwitchFailure is the OnFailure step: once the new release is live and a
// step failed, mark it failed, restore the previous release when asked, and say
// exactly what serves.
func (r *run) afterSwitchFailure(ctx context.Context) error {
	req := r.req
	step, cause, what := r.failure.step, r.failure.cause, r.failure.what
	bg := context.WithoutCancel(ctx)
	if err := req.Target.MarkFailed(bg, *r.res.Release, what); err != nil {
		r.res.Warnings = append(r.res.Warnings, "could not mark the release as failed: "+err.Error())
	}
	r.event(backend.KindFailed, req.Version, r.spec.SHA256, what)
	if !req.RollbackOnFailure {
		return r.fail(step, cause, "%s The release %s stays live on %s because rollback_on_failure is false. Fix it, or apply the previous version again.", what, req.Version, req.Target.Describe())
	}
	if r.self {
		// Restoring it would leave the same bytes live and clear the mark that
		// says they just failed: they stay live, marked failed, for the next plan.
		return r.fail(step, cause, "%s The release live before this deployment was this same release %s, so there is nothing else to go back to: it stays live on %s, marked failed, and the next plan deploys it again. Fix the application or its dependencies, or apply another version.", what, r.res.Release.ID, req.Target.Describe())
	}
	r.log("rolling back", map[string]any{"to": describe(r.prev)})
	open := func(ctx context.Context, s target.Spec) (io.ReadCloser, error) {
		rc, obj, err := req.Store.Get(ctx, s.Name, s.Version)
		if err != nil {
			return nil, err
		}
		return readCloser{store.NewVerifyingReader(rc, s.SHA256, obj.Size), rc}, nil
	}
	if err := req.Target.Restore(bg, r.prev, open); err != nil {
		cur, cerr := req.Target.Current(bg)
		if cerr == nil {
			r.res.Live = cur
		}
		return r.fail("rollback", errors.Join(cause, err), "%s Restoring %s failed as well: %v. %s now serves %s: check it by hand.", what, describe(r.prev), err, req.Target.Describe(), describe(r.res.Live))
	}
	r.res.RolledBack = true
	r.res.Live = r.prev
	if r.prev != nil {
		// The release gone back to was verified when it was live: a mark left on
		// its folder by a deployment of the same release that was killed goes.
		if err := req.Target.MarkVerified(bg, *r.prev); err != nil {
			r.res.Warnings = append(r.res.Warnings, "could not clear the marks of the restored release: "+err.Error())
		}
	}
	if r.prev == nil {
		if r.live != nil {
			r.event(backend.KindRolledBack, "", "", fmt.Sprintf("%s failed and what was live before (%s) is not a verified release: %s serves nothing", r.id(), describe(r.live), req.Target.Describe()))
			return r.fail(step, cause, "%s What was live before this deployment is not a verified release to go back to (%s), so %s serves nothing now. Fix the release, or deploy a version that passes its checks, then apply again.", what, r.live.Problem, req.Target.Describe())
		}
		r.event(backend.KindRolledBack, "", "", fmt.Sprintf("%s failed and nothing was live before: %s serves nothing", r.id(), req.Target.Describe()))
		return r.fail(step, cause, "%s Nothing was live before this deployment, so %s serves nothing now. Fix the release, then apply again.", what, req.Target.Describe())
	}
	r.event(backend.KindRolledBack, r.prev.Version, r.prev.SHA256, fmt.Sprintf("restored %s after %s failed", r.prev.ID, r.id()))
	if req.SmokeTest != nil {
		if err := r.smoke(bg); err != nil {
			return r.fail(step, cause, "%s The previous release %s was restored but its smoke test fails too: %v. Check the application and its dependencies (database, services).", what, r.prev.Version, err)
		}
		return r.fail(step, cause, "%s The previous release %s was restored and is serving. Check the application logs, then apply again.", what, r.prev.Version)
	}
	return r.fail(step, cause, "%s The previous release %s was restored. Check the application logs, then apply again.", what, r.prev.Version)
}

// failed records a failed event for failures once the deployment had started.
func (r *run) failed(_ context.Context, err error) error {
	r.event(backend.KindFailed, r.req.Version, r.spec.SHA256, err.Error())
	return err
}

func (r *run) event(kind, version, sha string, detail string) {
	ev := backend.Event{
		Time:        r.req.Now().UTC(),
		Environment: r.req.Environment,
		Kind:        kind,
		Name:        r.req.Name,
		Version:     version,
		SHA256:      sha,
		GitCommit:   r.spec.GitCommit,
		Actor:       r.req.Actor,
		LockToken:   r.req.LockToken,
		Detail:      detail,
	}
	if kind == backend.KindRolledBack && r.prev != nil {
		ev.GitCommit = r.prev.GitCommit
	}
	r.events = append(r.events, ev)
}

func (r *run) flushEvents(ctx context.Context) {
	for _, ev := range r.events {
		if err := r.req.Backend.Append(ctx, ev); err != nil {
			r.res.Warnings = append(r.res.Warnings, "could not record the "+ev.Kind+" event in the history: "+err.Error())
		}
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

func outputClause(out string) string {
	if out == "" {
		return ""
	}
	return "; output: " + out
}

// serving describes what served when the deployment began, and why it is not
// a finished deployment when it is not.
func (r *run) serving() string {
	if r.live == nil || r.live.Sound() || r.live.Problem == "" {
		return describe(r.live)
	}
	if r.live.ID == "" {
		return "what it served before (" + r.live.Problem + ")"
	}
	return describe(r.live) + ", which is not a finished deployment (" + r.live.Problem + ")"
}

func describe(rel *target.Release) string {
	if rel == nil {
		return "nothing"
	}
	if rel.ID == "" && rel.Problem != "" {
		return "no release (" + rel.Problem + ")"
	}
	return "release " + rel.Version + " (" + rel.ID + ")"
}

func previousClause(prev *target.Release) string {
	if prev == nil {
		return ""
	}
	return ", replacing " + prev.Version
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
