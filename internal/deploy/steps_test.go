package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/check"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// effects is what a deployment did to the world, in order, as the fakes below
// saw it. Hook commands cannot call back into the test, so they append to a
// file that is read into the list before every effect the fakes note.
type effects struct {
	mu      sync.Mutex
	list    []string
	hookLog string
	read    int
}

func (e *effects) add(what string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.drainHooks()
	e.list = append(e.list, what)
}

func (e *effects) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.drainHooks()
	return slices.Clone(e.list)
}

func (e *effects) drainHooks() {
	b, _ := os.ReadFile(e.hookLog)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for ; e.read < len(lines) && lines[e.read] != ""; e.read++ {
		e.list = append(e.list, lines[e.read])
	}
}

// stepOf names the step of the plan that an effect belongs to, from the effect
// alone and what happened before it: the test's own reading of a deployment,
// independent of how Deploy tracks its steps. "" is an effect that is no step:
// reading what is live, discarding a release that never went live after a
// failure, writing history events.
type stepReader struct{ fetched, switched, restoring bool }

func (s *stepReader) stepOf(effect string) string {
	kind, _, _ := strings.Cut(effect, " ")
	switch kind {
	case "CurrentToken":
		if !s.fetched {
			return StepFence
		}
		if !s.switched {
			return StepFenceAgain
		}
		return "fence after the switch"
	case "GetBlock":
		return StepBlocked
	case "ListFreezes":
		return StepFreeze
	case "Stat", "Get", "Find", "Prepare":
		if s.restoring {
			return StepRollback
		}
		s.fetched = true
		return StepFetch
	case "Put", "BackupFunc":
		return StepBackup
	case "before":
		return StepBeforeSwitch
	case "once":
		return StepBeforeSwitchOnce
	case "MarkUnverified":
		return StepSwitch
	case "Activate":
		s.switched = true
		return StepSwitch
	case "after":
		return StepAfterSwitch
	case "smoke":
		if s.restoring {
			return StepRollback
		}
		return StepSmokeTest
	case "MarkVerified":
		if s.restoring {
			return StepRollback
		}
		return StepRecord
	case "MarkFailed", "Restore":
		s.restoring = true
		return StepRollback
	case "Prune":
		return StepPrune
	}
	return ""
}

// Fakes around the fixture's real store, backend and target that note every
// call that changes or fences something, and fail the one they are told to.

type stepsBackend struct {
	backend.Backend
	fx        *effects
	calls     int
	staleCall int // the CurrentToken call that answers another token (0: none)
	blocked   bool
	frozen    bool
}

func (b *stepsBackend) ListFreezes(ctx context.Context) ([]backend.Freeze, error) {
	b.fx.add("ListFreezes")
	if b.frozen {
		return []backend.Freeze{{ID: "f", Environments: []string{"staging"}, Reason: "frozen", Start: time.Now().Add(-time.Hour), End: time.Now().Add(time.Hour)}}, nil
	}
	return b.Backend.ListFreezes(ctx)
}

func (b *stepsBackend) CurrentToken(ctx context.Context, env string) (int64, error) {
	b.fx.add("CurrentToken")
	b.calls++
	tok, err := b.Backend.CurrentToken(ctx, env)
	if b.calls == b.staleCall {
		tok++
	}
	return tok, err
}

func (b *stepsBackend) GetBlock(ctx context.Context, name, version string) (*backend.Block, error) {
	b.fx.add("GetBlock")
	if b.blocked {
		return &backend.Block{Name: name, Version: version, Reason: "known bad", BlockedAt: time.Now()}, nil
	}
	return b.Backend.GetBlock(ctx, name, version)
}

type stepsStore struct {
	store.Store
	fx       *effects
	failStat bool
}

func (s *stepsStore) Stat(ctx context.Context, name, version string) (store.Object, error) {
	s.fx.add("Stat")
	if s.failStat {
		return store.Object{}, errors.New("store down")
	}
	return s.Store.Stat(ctx, name, version)
}

func (s *stepsStore) Get(ctx context.Context, name, version string) (io.ReadCloser, store.Object, error) {
	s.fx.add("Get")
	return s.Store.Get(ctx, name, version)
}

func (s *stepsStore) Put(ctx context.Context, name, version string, r io.Reader, sha string, meta map[string]string) (store.Object, error) {
	s.fx.add("Put")
	return s.Store.Put(ctx, name, version, r, sha, meta)
}

type stepsTarget struct {
	target.Target
	fx                                                 *effects
	failActivate, failVerified, failRestore, failPrune bool
}

var errInjected = errors.New("injected failure")

func (t *stepsTarget) note(what string, fail bool) error {
	t.fx.add(what)
	if fail {
		return errInjected
	}
	return nil
}

func (t *stepsTarget) Find(ctx context.Context, spec target.Spec) (*target.Prepared, error) {
	t.fx.add("Find")
	return t.Target.Find(ctx, spec)
}

func (t *stepsTarget) Prepare(ctx context.Context, spec target.Spec, r io.Reader) (*target.Prepared, error) {
	t.fx.add("Prepare")
	return t.Target.Prepare(ctx, spec, r)
}

func (t *stepsTarget) Activate(ctx context.Context, p *target.Prepared) error {
	if err := t.note("Activate", t.failActivate); err != nil {
		return err
	}
	return t.Target.Activate(ctx, p)
}

func (t *stepsTarget) MarkUnverified(ctx context.Context, rel target.Release, replaced *target.Release) error {
	t.fx.add("MarkUnverified")
	return t.Target.MarkUnverified(ctx, rel, replaced)
}

func (t *stepsTarget) MarkVerified(ctx context.Context, rel target.Release) error {
	if err := t.note("MarkVerified", t.failVerified); err != nil {
		return err
	}
	return t.Target.MarkVerified(ctx, rel)
}

func (t *stepsTarget) MarkFailed(ctx context.Context, rel target.Release, reason string) error {
	t.fx.add("MarkFailed")
	return t.Target.MarkFailed(ctx, rel, reason)
}

func (t *stepsTarget) Restore(ctx context.Context, prev *target.Release, open target.Opener) error {
	if err := t.note("Restore", t.failRestore); err != nil {
		return err
	}
	return t.Target.Restore(ctx, prev, open)
}

func (t *stepsTarget) Prune(ctx context.Context, keep int, protect ...string) ([]string, error) {
	if err := t.note("Prune", t.failPrune); err != nil {
		return nil, err
	}
	return t.Target.Prune(ctx, keep, protect...)
}

// stepsCase is one deployment of the combinations: its settings, and the step
// made to fail ("" for none).
type stepsCase struct {
	lock                bool
	backup              string // "", "command", "func"
	before, once, after int
	// hosts is how many hosts the target lists (0: none, commands run on the
	// machine Terraform runs on); with hosts, the smoke test runs on each.
	hosts    int
	smoke    bool
	rollback bool
	// liveUnknown plans without knowing what is live (Facts.Live nil), which
	// announces the downgrade check; it fails when a higher version went live.
	liveUnknown bool
	failAt      string
}

func (c stepsCase) String() string {
	return fmt.Sprintf("hosts=%d,lock=%v,backup=%s,before=%d,once=%d,after=%d,smoke=%v,rollback=%v,live_unknown=%v,fail=%s", c.hosts, c.lock, orNone(c.backup), c.before, c.once, c.after, c.smoke, c.rollback, c.liveUnknown, orNone(c.failAt))
}

// withFailures is c, then c failing at each step of its plan.
func (c stepsCase) withFailures() []stepsCase {
	cases := []stepsCase{c}
	for _, s := range Steps(c.facts("", "")) {
		c.failAt = s.Name
		cases = append(cases, c)
	}
	return cases
}

// TestDeployRunsOnlyAnnouncedSteps deploys every combination of lock, backup,
// hooks, smoke test and rollback on a target without hosts, and combinations
// of backup, hooks (before_switch_once too) and smoke test on targets of 1 and
// 3 hosts, with success and with a failure at each step of its plan, and
// checks that everything the deployment did belongs to a step the plan
// announced, in the plan's order; that a successful deployment ran every step
// of the plan; and that it ran as many hooks as the plan said, on as many
// hosts as it named.
func TestDeployRunsOnlyAnnouncedSteps(t *testing.T) {
	var cases []stepsCase
	for _, lock := range []bool{false, true} {
		for _, backup := range []string{"", "command", "func"} {
			for before := 0; before <= 2; before++ {
				for after := 0; after <= 2; after++ {
					for _, smoke := range []bool{false, true} {
						for _, rollback := range []bool{false, true} {
							c := stepsCase{lock: lock, backup: backup, before: before, after: after, smoke: smoke, rollback: rollback}
							cases = append(cases, c.withFailures()...)
						}
					}
				}
			}
		}
	}
	for _, hosts := range []int{0, 1, 3} {
		for once := range 2 {
			if hosts == 0 && once == 0 {
				continue // above
			}
			for _, before := range []int{0, 2} {
				for after := range 2 {
					for _, smoke := range []bool{false, true} {
						c := stepsCase{lock: true, hosts: hosts, backup: "command", before: before, once: once, after: after, smoke: smoke, rollback: true}
						cases = append(cases, c.withFailures()...)
					}
				}
			}
		}
	}
	// Plans that do not know what is live check at apply that the version does
	// not go below it.
	for _, hosts := range []int{0, 3} {
		for _, smoke := range []bool{false, true} {
			c := stepsCase{lock: true, hosts: hosts, backup: "command", before: 1, after: 1, smoke: smoke, rollback: true, liveUnknown: true}
			cases = append(cases, c.withFailures()...)
		}
	}
	if testing.Short() {
		// Every failure point with everything configured, and success of each combination.
		everything := func(c stepsCase) bool {
			return c.liveUnknown || c.lock && c.backup == "command" && c.before == 2 && c.smoke &&
				((c.hosts == 0 && c.once == 0 && c.after == 2) || (c.hosts == 3 && c.once == 1 && c.after == 1))
		}
		cases = slices.DeleteFunc(cases, func(c stepsCase) bool { return c.failAt != "" && !everything(c) })
	}
	t.Logf("%d deployments", len(cases))
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

// facts are the plan's facts of the case; hook commands note themselves in hookLog.
func (c stepsCase) facts(url, hookLog string) Facts {
	f := Facts{
		Environment: "staging", Name: "app", Version: "1.0.1",
		RollbackOnFailure: c.rollback,
		Live:              &Live{ReleaseID: "1.0.0-x", Version: "1.0.0"},
		Previous:          "1.0.0",
	}
	if c.liveUnknown {
		f.Live = nil
	}
	if c.lock {
		f.Lock = LockToken
	}
	switch c.backup {
	case "command":
		f.BackupCommand = `echo dump > "$RELEASE_BACKUP_FILE"`
		if c.failAt == StepBackup {
			f.BackupCommand = "exit 1"
		}
	case "func":
		f.BackupFunc, f.BackupName = "a backup of the database", "the database backup"
	}
	for i := 1; i <= c.before; i++ {
		f.Hooks.BeforeSwitch = append(f.Hooks.BeforeSwitch, c.hook(hookLog, "before", i, c.before, StepBeforeSwitch))
	}
	for i := 1; i <= c.once; i++ {
		f.Hooks.BeforeSwitchOnce = append(f.Hooks.BeforeSwitchOnce, c.hook(hookLog, "once", i, c.once, StepBeforeSwitchOnce))
	}
	for i := range c.hosts {
		f.Hosts = append(f.Hosts, hostName(i))
	}
	for i := 1; i <= c.after; i++ {
		f.Hooks.AfterSwitch = append(f.Hooks.AfterSwitch, c.hook(hookLog, "after", i, c.after, StepAfterSwitch))
	}
	if c.smoke {
		f.SmokeTest = &check.HTTPCheck{URL: url + "/health", BodyContains: "ok", Attempts: 1, Timeout: 2 * time.Second}
		if c.hosts > 0 {
			f.SmokeTest.URL = strings.Replace(f.SmokeTest.URL, "127.0.0.1", HostPlaceholder, 1)
		}
	}
	return f
}

// hook notes itself in the hook log; the last one fails when its step is the
// one to fail.
func (c stepsCase) hook(hookLog, kind string, i, n int, step string) string {
	cmd := fmt.Sprintf(`echo "%s %d" >> '%s'`, kind, i, hookLog)
	if i == n && c.failAt == step {
		cmd += "; exit 3"
	}
	return cmd
}

// memoryDir is a temporary folder in memory when the machine has one: the
// thousands of deployments of the combinations then do not wait on fsync.
func memoryDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "deploy-steps-") //nolint:usetesting // t.TempDir is on disk, where fsync dominates
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (c stepsCase) run(t *testing.T) {
	f := newFixtureAt(t, memoryDir(t))
	f.publish("1.0.0", "ok")
	health := "ok"
	// A failing smoke test, or a failure of the rollback that follows one.
	failLive := c.failAt == StepSmokeTest || (c.failAt == StepRollback && c.smoke)
	if failLive {
		health = "fail"
	}
	f.publish("1.0.1", health)
	mustDeploy(t, f.request("1.0.0"))
	if c.failAt == StepDowngrade {
		// A newer version went live after the plan: 1.0.1 would go below it.
		f.publish("1.0.2", "ok")
		mustDeploy(t, f.request("1.0.2"))
	}

	fx := &effects{hookLog: filepath.Join(f.root, "hooks.log")}
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.add("smoke")
		http.FileServer(http.Dir(filepath.Join(f.target.Path, "current"))).ServeHTTP(w, r)
	})
	url := ""
	if c.hosts > 0 {
		port := hostServers(t, c.hosts, func(int) http.Handler { return serve })
		url = "http://127.0.0.1:" + strconv.Itoa(port)
	} else {
		srv := httptest.NewServer(serve)
		t.Cleanup(srv.Close)
		url = srv.URL
	}
	var inner target.Target = f.target
	if c.hosts > 0 {
		ft, _ := f.newFleet(c.hosts)
		inner = ft
	}

	be := &stepsBackend{Backend: f.backend, fx: fx, blocked: c.failAt == StepBlocked, frozen: c.failAt == StepFreeze}
	tg := &stepsTarget{Target: inner, fx: fx, failActivate: c.failAt == StepSwitch, failVerified: c.failAt == StepRecord,
		failRestore: c.failAt == StepRollback, failPrune: c.failAt == StepPrune}
	st := &stepsStore{Store: f.store, fx: fx, failStat: c.failAt == StepFetch}
	req := Request{Facts: c.facts(url, fx.hookLog), Target: tg, Store: st, Backend: be, Actor: "tester"}
	if c.failAt == StepRollback && !c.smoke && c.after > 0 {
		req.Hooks.AfterSwitch[c.after-1] += "; exit 3" // the failure the rollback follows
	}
	if c.lock {
		l, err := f.backend.Acquire(context.Background(), backend.AcquireRequest{Environment: "staging", Holder: "tester"})
		if err != nil {
			t.Fatal(err)
		}
		req.LockToken = l.Token
		be.staleCall = map[string]int{StepFence: 1, StepFenceAgain: 2}[c.failAt]
	}
	if c.backup == "func" {
		req.Backup = func(context.Context) (string, error) {
			fx.add("BackupFunc")
			if c.failAt == StepBackup {
				return "", errors.New("database unreachable")
			}
			return "bk-1", nil
		}
	}

	plan := Steps(req.Facts)
	res, err := Deploy(context.Background(), req)
	c.check(t, plan, res, err, fx.all())
}

// check compares what the deployment did with its plan.
func (c stepsCase) check(t *testing.T, plan []Step, res Result, err error, did []string) {
	t.Helper()
	index := map[string]int{}
	for i, s := range plan {
		index[s.Name] = i
	}
	var sr stepReader
	last := -1
	for _, e := range did {
		step := sr.stepOf(e)
		if step == "" {
			continue
		}
		i, announced := index[step]
		if !announced {
			t.Fatalf("%q belongs to step %q, which the plan does not announce\nplan: %v\ndid: %v", e, step, names(plan), did)
		}
		if i < last {
			t.Fatalf("%q (step %q) came after step %q: not the plan's order\nplan: %v\ndid: %v", e, step, plan[last].Name, names(plan), did)
		}
		last = i
	}
	for _, name := range res.Steps {
		if _, ok := index[name]; !ok {
			t.Fatalf("Result.Steps has %q, which the plan does not announce: %v", name, res.Steps)
		}
	}

	warnsOnly := c.failAt == "" || c.failAt == StepRecord || c.failAt == StepPrune ||
		(c.failAt == StepRollback && !c.smoke && c.after == 0)
	if warnsOnly != (err == nil) {
		t.Fatalf("err = %v with a failure at %q", err, c.failAt)
	}
	if err == nil {
		// Success runs the whole plan but the OnFailure step, hooks included.
		var want []string
		for _, s := range plan {
			if !s.OnFailure {
				want = append(want, s.Name)
			}
		}
		if !slices.Equal(res.Steps, want) {
			t.Fatalf("a successful deployment ran %v, the plan announced %v", res.Steps, want)
		}
		c.checkHookCounts(t, plan, did)
		return
	}
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	// A failure stops the plan where it failed: the failed step is the last one
	// run, but for the OnFailure step when the new release was live.
	ran := res.Steps
	if n := len(ran); n > 0 && plan[index[ran[n-1]]].OnFailure {
		ran = ran[:n-1]
	}
	if n := len(ran); n == 0 || (ran[n-1] != c.failAt && c.failAt != StepRollback) {
		t.Fatalf("a failure at %q stopped after the steps %v", c.failAt, res.Steps)
	}
}

// checkHookCounts checks that a successful deployment ran as many hooks as
// its plan announced, on every host it named (once only for
// before_switch_once), and as many smoke tests.
func (c stepsCase) checkHookCounts(t *testing.T, plan []Step, did []string) {
	t.Helper()
	hosts := max(c.hosts, 1)
	for _, s := range plan {
		var n int
		var kind string
		perHost := hosts
		switch s.Name {
		case StepBeforeSwitch:
			_, _ = fmt.Sscanf(s.Description, "run %d before_switch", &n)
			kind = "before "
		case StepBeforeSwitchOnce:
			_, _ = fmt.Sscanf(s.Description, "run %d before_switch_once", &n)
			kind, perHost = "once ", 1
		case StepAfterSwitch:
			_, _ = fmt.Sscanf(s.Description, "run %d after_switch", &n)
			kind = "after "
		case StepSmokeTest:
			n, kind = 1, "smoke"
		default:
			continue
		}
		if c.hosts > 0 && s.Name != StepSmokeTest {
			want := " on " + hostName(0)
			if perHost > 1 {
				want = " on " + andList(c.facts("", "").Hosts)
			}
			if !strings.Contains(s.Description, want) {
				t.Fatalf("the %s step %q does not say where it runs (%q)", s.Name, s.Description, want)
			}
		}
		if got := count(did, kind); got != n*perHost {
			t.Fatalf("the plan announced %d %s hooks on %d host(s), %d ran: %v", n, s.Name, perHost, got, did)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func names(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Name
	}
	return out
}

func count(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// TestStepsNeverQuoteTheLockToken: the plan is made before a lock acquired in
// the same apply has a token, so the lock steps read the same for every token.
func TestStepsNeverQuoteTheLockToken(t *testing.T) {
	for _, lock := range []Lock{LockToken, RunLockToken} {
		steps := Steps(Facts{Environment: "staging", Name: "app", Version: "1.0.1", Lock: lock})
		if steps[0].Name != StepFence || !slices.Contains(names(steps), StepFenceAgain) {
			t.Fatalf("lock %d: steps %v do not fence before anything changes and before the switch", lock, names(steps))
		}
	}
	if got := names(Steps(Facts{Environment: "staging", Name: "app", Version: "1.0.1"})); slices.Contains(got, StepFence) || slices.Contains(got, StepFenceAgain) {
		t.Fatalf("an unfenced deployment announces fencing: %v", got)
	}
}
