package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/check"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/host/hosttest"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// namedHost is the machine the tests run on under another name, as one host
// of a fleet: "127.0.0.2:2202" ({host} in a URL becomes 127.0.0.2, which
// reaches this machine too).
type namedHost struct {
	host.Local
	name string
	// opened counts the files read back with Open (the backup).
	opened *atomic.Int32
}

func (h namedHost) Name() string { return h.name }

func (h namedHost) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	if h.opened != nil {
		h.opened.Add(1)
	}
	return h.Local.Open(ctx, path)
}

// fleetTarget is the fixture's directory target whose prepared releases are
// also on other hosts: a folder of their own for each host.
type fleetTarget struct {
	*target.Directory
	hosts []host.Host
	// dir is the folder of release id on host i.
	dir       func(i int, id string) string
	activated atomic.Int32
}

func (t *fleetTarget) withHosts(ctx context.Context, p *target.Prepared, err error) (*target.Prepared, error) {
	if p == nil || err != nil {
		return p, err
	}
	p.Hosts = nil
	for i, h := range t.hosts {
		dir := t.dir(i, p.Release.ID)
		if err := h.MkdirAll(ctx, dir, 0o755); err != nil {
			return nil, err
		}
		p.Hosts = append(p.Hosts, target.HostDir{Host: h, Dir: dir})
	}
	return p, nil
}

func (t *fleetTarget) Find(ctx context.Context, spec target.Spec) (*target.Prepared, error) {
	p, err := t.Directory.Find(ctx, spec)
	return t.withHosts(ctx, p, err)
}

func (t *fleetTarget) Prepare(ctx context.Context, spec target.Spec, r io.Reader) (*target.Prepared, error) {
	p, err := t.Directory.Prepare(ctx, spec, r)
	return t.withHosts(ctx, p, err)
}

func (t *fleetTarget) Activate(ctx context.Context, p *target.Prepared) error {
	t.activated.Add(1)
	return t.Directory.Activate(ctx, p)
}

// hostName is the name of test host i (from 0).
func hostName(i int) string { return fmt.Sprintf("127.0.0.%d:22%02d", i+1, i+1) }

// newFleet makes a target of n hosts over the fixture's directory, each host
// with its folders under root/hosts/<i>.
func (f *fixture) newFleet(n int) (*fleetTarget, *atomic.Int32) {
	opened := &atomic.Int32{}
	ft := &fleetTarget{Directory: f.target, dir: func(i int, id string) string {
		return filepath.Join(f.root, "hosts", strconv.Itoa(i), "releases", id)
	}}
	for i := range n {
		ft.hosts = append(ft.hosts, namedHost{name: hostName(i), opened: opened})
	}
	return ft, opened
}

// newUpgradeFleet is newUpgradeFixture on a fleet of n hosts: 1.0.0 is live
// on every host.
func newUpgradeFleet(t *testing.T, n int) (*fixture, *fleetTarget) {
	t.Helper()
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "ok")
	ft, _ := f.newFleet(n)
	mustDeploy(t, f.fleetRequest("1.0.0", ft))
	return f, ft
}

func (f *fixture) fleetRequest(version string, ft *fleetTarget) Request {
	req := f.request(version)
	req.Target = ft
	for _, h := range ft.hosts {
		req.Hosts = append(req.Hosts, h.Name())
	}
	return req
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestDeployHooksRunOnEveryHost: before_switch and after_switch hooks run on
// every host, in order, in the host's release folder with RELEASE_HOST set;
// before_switch_once runs on the first host only, after before_switch passed
// everywhere; the plan names the hosts.
func TestDeployHooksRunOnEveryHost(t *testing.T) {
	f, ft := newUpgradeFleet(t, 3)

	log := filepath.Join(f.root, "hooks.log")
	note := func(what string) string {
		return `echo "` + what + ` $RELEASE_HOST $PWD $RELEASE_PATH" >> '` + log + `'`
	}
	req := f.fleetRequest("1.0.1", ft)
	req.Hooks = Hooks{
		BeforeSwitch:     []string{note("before1"), "sleep 0.05; " + note("before2")},
		BeforeSwitchOnce: []string{note("once")},
		AfterSwitch:      []string{note("after")},
	}
	var described []string
	for _, s := range Steps(req.Facts) {
		described = append(described, s.Name+": "+s.Description)
	}
	res := mustDeploy(t, req)
	lines := readLines(t, log)

	id := res.Release.ID
	at := map[string]int{}
	for i, l := range lines {
		at[l] = i
	}
	for i := range 3 {
		dir := ft.dir(i, id)
		line := func(what string) string { return what + " " + hostName(i) + " " + dir + " " + dir }
		for _, what := range []string{"before1", "before2", "after"} {
			if _, ok := at[line(what)]; !ok {
				t.Fatalf("host %d did not run %s in its release folder:\n%s", i, what, strings.Join(lines, "\n"))
			}
		}
		if at[line("before1")] > at[line("before2")] {
			t.Errorf("host %d ran its before_switch hooks out of order:\n%s", i, strings.Join(lines, "\n"))
		}
		once := "once " + hostName(0) + " " + ft.dir(0, id) + " " + ft.dir(0, id)
		if at[line("before2")] > at[once] || at[once] > at[line("after")] {
			t.Errorf("before_switch_once did not run between before_switch on every host and after_switch:\n%s", strings.Join(lines, "\n"))
		}
	}
	if n := count(lines, "once "); n != 1 {
		t.Errorf("before_switch_once ran %d times, want once on the first host:\n%s", n, strings.Join(lines, "\n"))
	}
	if len(lines) != 3*3+1 {
		t.Errorf("%d hook runs, want 10:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if !slices.Contains(res.Steps, StepBeforeSwitchOnce) {
		t.Errorf("steps run %v do not include %s", res.Steps, StepBeforeSwitchOnce)
	}
	hosts := hostName(0) + ", " + hostName(1) + " and " + hostName(2)
	for _, want := range []string{
		"before_switch: run 2 before_switch hook(s) in the new release on " + hosts + "; a failure stops here",
		"before_switch_once: run 1 before_switch_once hook(s) in the new release on " + hostName(0) + " only; a failure stops here",
		"after_switch: run 1 after_switch hook(s) on " + hosts,
	} {
		if !slices.Contains(described, want) {
			t.Errorf("the plan does not say %q:\n%s", want, strings.Join(described, "\n"))
		}
	}
}

// TestDeployHookFailureOnOneHostNamesIt: a before_switch hook failing on the
// second host names that host, runs no further hook and switches no host; an
// after_switch hook failing on the third host names it and rolls back.
func TestDeployHookFailureOnOneHostNamesIt(t *testing.T) {
	f, ft := newUpgradeFleet(t, 3)
	activated := ft.activated.Load()
	log := filepath.Join(f.root, "hooks.log")

	failOn := func(h string) string {
		return `[ "$RELEASE_HOST" != "` + h + `" ] || { echo "cache broken" >&2; exit 3; }`
	}
	req := f.fleetRequest("1.0.1", ft)
	req.Hooks.BeforeSwitch = []string{failOn(hostName(1)), `echo "second $RELEASE_HOST" >> '` + log + `'`}
	req.Hooks.BeforeSwitchOnce = []string{`echo once >> '` + log + `'`}
	res, err := Deploy(context.Background(), req)
	var de *Error
	if !errors.As(err, &de) || de.Step != StepBeforeSwitch || !errors.Is(err, ErrHook) {
		t.Fatalf("err = %v, want a before_switch failure", err)
	}
	want := fmt.Sprintf("The before_switch hook #1 %q failed on %s: ", req.Hooks.BeforeSwitch[0], hostName(1))
	for _, w := range []string{want, "cache broken", "The switch did not happen", "still serves release 1.0.0"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	for _, other := range []string{hostName(0), hostName(2)} {
		if strings.Contains(err.Error(), other) {
			t.Errorf("error %q names %s, where the hook passed", err, other)
		}
	}
	if got := readLines(t, log); count(got, "second "+hostName(1)) != 0 || slices.Contains(got, "once") {
		t.Errorf("hooks ran after the failure on the failing host or once-only: %v", got)
	}
	if ft.activated.Load() != activated || f.serving() != "version 1.0.0" || res.Activated {
		t.Fatalf("a host switched after a before_switch failure: serving %q", f.serving())
	}

	req = f.fleetRequest("1.0.1", ft)
	req.Hooks.AfterSwitch = []string{failOn(hostName(2))}
	_, err = Deploy(context.Background(), req)
	if !errors.As(err, &de) || de.Step != StepAfterSwitch {
		t.Fatalf("err = %v, want an after_switch failure", err)
	}
	want = fmt.Sprintf("The after_switch hook #1 %q failed on %s: ", req.Hooks.AfterSwitch[0], hostName(2))
	for _, w := range []string{want, "The previous release 1.0.0 was restored"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if f.serving() != "version 1.0.0" {
		t.Fatalf("serving %q after the rollback", f.serving())
	}
}

// TestDeployBackupOnFirstHost: the backup command runs on the first host only,
// in the live release, writing into a private temporary folder on that host
// that is read back with Host.Open into the store and removed afterwards, also
// when the command fails or the deployment is cancelled.
func TestDeployBackupOnFirstHost(t *testing.T) {
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "ok")
	ft, opened := f.newFleet(3)
	first := mustDeploy(t, f.fleetRequest("1.0.0", ft))
	notes := filepath.Join(f.root, "backup-dirs")
	// Notes the temp folder, checks it is private, and dumps where it ran.
	const script = `d=$(dirname "$(dirname "$RELEASE_BACKUP_FILE")"); echo "$d" >> '%s'
[ "$(stat -c %%a "$d")" = 700 ] || { echo "temp folder not private" >&2; exit 1; }
printf 'dump on %%s in %%s' "$RELEASE_HOST" "$PWD" > "$RELEASE_BACKUP_FILE"
%s`

	req := f.fleetRequest("1.0.1", ft)
	req.BackupCommand = fmt.Sprintf(script, notes, "")
	var described string
	for _, s := range Steps(req.Facts) {
		if s.Name == StepBackup {
			described = s.Description
		}
	}
	if want := "back up the data of the version live when the apply starts: run the backup command on " + hostName(0) + " and store its file as app-backup@<live version>+<timestamp>"; described != want {
		t.Errorf("the plan says %q, want %q", described, want)
	}
	res := mustDeploy(t, req)
	if !strings.HasPrefix(res.BackupID, "app-backup@1.0.0+") {
		t.Errorf("backup %q is not named after 1.0.0, the release whose data it holds", res.BackupID)
	}
	rc, _, err := f.store.Get(context.Background(), "app-backup", strings.TrimPrefix(res.BackupID, "app-backup@"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if want := "dump on " + hostName(0) + " in " + first.Live.Path; string(got) != want {
		t.Errorf("stored backup %q, want %q", got, want)
	}
	if opened.Load() != 1 {
		t.Errorf("the backup was read back with Open %d times, want once", opened.Load())
	}

	for name, tc := range map[string]struct {
		tail   string
		cancel bool
		want   []string
	}{
		"failing":   {tail: "echo no database >&2; exit 1", want: []string{"The backup command failed on " + hostName(0) + ": ", "no database", "The switch did not happen"}},
		"cancelled": {tail: "sleep 30", cancel: true, want: []string{"The backup command failed on " + hostName(0) + ": ", "the deployment was cancelled"}},
	} {
		t.Run(name, func(t *testing.T) {
			dirs := filepath.Join(f.root, "backup-dirs-"+name)
			req := f.fleetRequest("1.0.0", ft)
			req.BackupCommand = fmt.Sprintf(script, dirs, tc.tail)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				go func() {
					for len(readLines(t, dirs)) == 0 {
						time.Sleep(10 * time.Millisecond)
					}
					cancel()
				}()
			}
			_, err := Deploy(ctx, req)
			var de *Error
			if !errors.As(err, &de) || de.Step != StepBackup || !errors.Is(err, ErrBackup) {
				t.Fatalf("err = %v, want a backup failure", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			assertRemoved(t, readLines(t, dirs))
		})
	}
	assertRemoved(t, readLines(t, notes))
}

// assertRemoved checks that the backup command noted one temporary folder,
// and that it is gone.
func assertRemoved(t *testing.T, made []string) {
	t.Helper()
	if len(made) != 1 {
		t.Fatalf("the backup command noted the folders %v, want one", made)
	}
	if _, err := os.Stat(made[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the backup's temporary folder %s is still there (%v)", made[0], err)
	}
}

// hostServers starts an HTTP server on 127.0.0.1, 127.0.0.2, … 127.0.0.n,
// all on one port, server i answering with handler(i); it returns the port.
func hostServers(t *testing.T, n int, handler func(i int) http.Handler) int {
	t.Helper()
	ips := make([]string, n)
	for i := range ips {
		ips[i] = fmt.Sprintf("127.0.0.%d", i+1)
	}
	return hosttest.ServeEach(t, ips, handler)
}

// TestDeploySmokeTestOnEveryHost: a smoke test URL with {host} is checked on
// every host, {host} being its name without the SSH port; one host failing
// names the host and the URL and rolls every host back, and the restored
// release is checked on every host again.
func TestDeploySmokeTestOnEveryHost(t *testing.T) {
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "ok")
	f.publish("1.0.2", "ok")
	ft, _ := f.newFleet(3)
	var (
		mu     sync.Mutex
		hits   = map[string]int{}
		broken atomic.Int32 // 1 + the index of the host whose check fails
	)
	port := hostServers(t, 3, func(i int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[r.Host+" "+f.serving()]++
			mu.Unlock()
			if broken.Load() == int32(i+1) && f.serving() == "version 1.0.2" {
				http.Error(w, "down", http.StatusBadGateway)
				return
			}
			_, _ = io.WriteString(w, "ok")
		})
	})
	smoke := &check.HTTPCheck{URL: "http://{host}:" + strconv.Itoa(port) + "/health", BodyContains: "ok", Attempts: 1, Timeout: 2 * time.Second}
	mustDeploy(t, f.fleetRequest("1.0.0", ft))
	req := f.fleetRequest("1.0.1", ft)
	req.SmokeTest = smoke
	mustDeploy(t, req)
	for i := range 3 {
		if h := fmt.Sprintf("127.0.0.%d:%d version 1.0.1", i+1, port); hits[h] != 1 {
			t.Errorf("%s was checked %d times, want once (%v)", h, hits[h], hits)
		}
	}

	broken.Store(2)
	clear(hits)
	req = f.fleetRequest("1.0.2", ft)
	req.SmokeTest = smoke
	_, err := Deploy(context.Background(), req)
	if !errors.Is(err, ErrSmokeTest) {
		t.Fatalf("err = %v, want a smoke test failure", err)
	}
	url := fmt.Sprintf("http://127.0.0.2:%d/health", port)
	for _, w := range []string{"The smoke test failed on " + hostName(1) + ": GET " + url, "502", "The previous release 1.0.1 was restored and is serving"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	for _, other := range []string{"127.0.0.1:" + strconv.Itoa(port), "127.0.0.3:" + strconv.Itoa(port)} {
		if strings.Contains(err.Error(), other) {
			t.Errorf("error %q names %s, which passed", err, other)
		}
	}
	if f.serving() != "version 1.0.1" {
		t.Fatalf("serving %q after the rollback", f.serving())
	}
	for i := range 3 {
		if h := fmt.Sprintf("127.0.0.%d:%d version 1.0.1", i+1, port); hits[h] != 1 {
			t.Errorf("after the rollback %s was checked %d times, want once (%v)", h, hits[h], hits)
		}
	}
}

// TestStepsNameTheHosts: with Hosts, every step that runs on hosts names them;
// without, the sentences are the ones of a target with no hosts list.
func TestStepsNameTheHosts(t *testing.T) {
	facts := Facts{
		Environment: "production", Name: "app", Version: "1.7.4", SHA256: "3f2a",
		TargetName:    "directory /srv/app",
		Live:          &Live{ReleaseID: "1.7.3-x", Version: "1.7.3"},
		Previous:      "1.7.3",
		BackupCommand: "pg_dump",
		Hooks:         Hooks{BeforeSwitch: []string{"a"}, BeforeSwitchOnce: []string{"m", "n"}, AfterSwitch: []string{"r"}},
		SmokeTest:     &check.HTTPCheck{URL: "http://user:secret@{host}:8080/health", Attempts: 10},
	}
	describe := func(f Facts) map[string]string {
		out := map[string]string{}
		for _, s := range Steps(f) {
			out[s.Name] = s.Description
		}
		return out
	}
	facts.Hosts = []string{"web1.example.org", "web2.example.org:2222", "[::1]:2200"}
	all := "web1.example.org, web2.example.org:2222 and [::1]:2200"
	got := describe(facts)
	for step, want := range map[string]string{
		StepFetch:            "reuse a release of app@1.7.4 with sha256 3f2a when one is still on directory /srv/app on every host (nothing downloaded), else stream it once to " + all + " into a new release, each host verifying the sha256 before anything goes live",
		StepBackup:           "back up the data of 1.7.3: run the backup command on web1.example.org and store its file as app-backup@1.7.3+<timestamp>",
		StepBeforeSwitch:     "run 1 before_switch hook(s) in the new release on " + all + "; a failure stops here",
		StepBeforeSwitchOnce: "run 2 before_switch_once hook(s) in the new release on web1.example.org only; a failure stops here",
		StepSwitch:           "switch directory /srv/app on " + all + " from 1.7.3 (1.7.3-x) to 1.7.4 atomically once every host holds the release and passed its before_switch hooks",
		StepAfterSwitch:      "run 1 after_switch hook(s) on " + all,
		StepSmokeTest:        "smoke test GET http://user:xxxxx@{host}:8080/health expecting 200 (10 attempts) on each host, {host} being web1.example.org, web2.example.org and [::1]",
	} {
		if got[step] != want {
			t.Errorf("%s:\n got %q\nwant %q", step, got[step], want)
		}
	}
	names := names(Steps(facts))
	if i, j := slices.Index(names, StepBeforeSwitch), slices.Index(names, StepBeforeSwitchOnce); i < 0 || j != i+1 {
		t.Errorf("before_switch_once does not follow before_switch: %v", names)
	}

	facts.Hosts = []string{"web1"}
	if got := describe(facts)[StepSwitch]; got != "switch directory /srv/app on web1 from 1.7.3 (1.7.3-x) to 1.7.4 atomically" {
		t.Errorf("switch on one host: %q", got)
	}

	facts.Hosts = nil
	facts.SmokeTest = &check.HTTPCheck{URL: "http://127.0.0.1:8080/health", Attempts: 10}
	got = describe(facts)
	for step, want := range map[string]string{
		StepBackup:           "back up the data of 1.7.3: run the backup command and store its file as app-backup@1.7.3+<timestamp>",
		StepBeforeSwitch:     "run 1 before_switch hook(s) in the new release; a failure stops here",
		StepBeforeSwitchOnce: "run 2 before_switch_once hook(s) in the new release; a failure stops here",
		StepSwitch:           "switch directory /srv/app from 1.7.3 (1.7.3-x) to 1.7.4 atomically",
		StepAfterSwitch:      "run 1 after_switch hook(s)",
		StepSmokeTest:        "smoke test GET http://127.0.0.1:8080/health expecting 200 (10 attempts)",
	} {
		if got[step] != want {
			t.Errorf("without hosts, %s:\n got %q\nwant %q", step, got[step], want)
		}
	}
}

// TestDeployHooksRunOnHostsAtOnceUpToMaxParallel: hosts run their hooks at the
// same time, never more than MaxParallel at once.
func TestDeployHooksRunOnHostsAtOnceUpToMaxParallel(t *testing.T) {
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	ft, _ := f.newFleet(3)
	// Each hook holds a lock folder for a while: a second host running its hook
	// meanwhile finds it taken.
	lock := filepath.Join(f.root, "hook.lock")
	hook := `mkdir '` + lock + `' 2>/dev/null || { echo "another host runs its hook" >&2; exit 9; }; sleep 0.3; rmdir '` + lock + `'`

	req := f.fleetRequest("1.0.0", ft)
	req.Hooks.BeforeSwitch = []string{hook}
	req.MaxParallel = 1
	started := time.Now()
	mustDeploy(t, req)
	if d := time.Since(started); d < 900*time.Millisecond {
		t.Errorf("3 hosts ran a 0.3 s hook one at a time in %s", d)
	}

	req.MaxParallel = 0 // DefaultMaxParallel
	_, err := Deploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "another host runs its hook") {
		t.Fatalf("err = %v, want hosts running their hooks at the same time", err)
	}
}

// TestDeployWarnsWhenTheHostsAreNotThePlanned: the apply runs on the hosts that
// hold the release, and says so when they are not the ones the plan named.
func TestDeployWarnsWhenTheHostsAreNotThePlanned(t *testing.T) {
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	ft, _ := f.newFleet(2)
	req := f.fleetRequest("1.0.0", ft)
	req.Hosts = req.Hosts[:1]
	res := mustDeploy(t, req)
	want := "the plan named the hosts " + hostName(0) + ", the target holds the release on " + hostName(0) + " and " + hostName(1)
	if !slices.Contains(res.Warnings, want) {
		t.Fatalf("warnings %q, want %q", res.Warnings, want)
	}
	if res := mustDeploy(t, f.fleetRequest("1.0.0", ft)); len(res.Warnings) != 0 {
		t.Fatalf("warnings %q with the planned hosts", res.Warnings)
	}
}
