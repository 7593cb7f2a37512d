package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// crashFleetRoot is the folder every host of TestCrashFleet has its own copy
// of; the application is crashFleetApp.
const (
	crashFleetRoot = "/srv/release-crash-fleet"
	crashFleetApp  = crashFleetRoot + "/app"
)

// crashFleetVersions are deployed in turn; both pass their checks.
var crashFleetVersions = []string{"2.0.0", "2.0.1"}

// dialCrashFleet connects to every host of addrs and makes them one fleet of
// directory targets at crashFleetApp, changing maxParallel hosts at once.
// closeAll ends the connections.
func dialCrashFleet(ctx context.Context, addrs []string, key []byte, knownHosts string, maxParallel int) (fleet *target.Fleet, closeAll func(), err error) {
	var hosts []*host.SSH
	closeAll = func() {
		for _, h := range hosts {
			_ = h.Close()
		}
	}
	var dirs []*target.Directory
	for _, addr := range addrs {
		h, err := host.DialSSH(ctx, host.SSHConfig{Address: addr, User: sshtest.User, PrivateKey: key, KnownHosts: knownHosts, Timeout: 20 * time.Second})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		hosts = append(hosts, h)
		d, err := target.NewDirectory(crashFleetApp, nil)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		d.Host = h
		dirs = append(dirs, d)
	}
	fleet, err = target.NewFleet(dirs, maxParallel)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return fleet, closeAll, nil
}

// crashFleetRequest deploys version to tg, with an after_switch hook that
// sleeps on every host so that kills land between the switch and the end of
// the verification.
func crashFleetRequest(root string, tg target.Target, version string) (Request, error) {
	req, err := crashRequest(root, version)
	if err != nil {
		return req, err
	}
	req.Target = tg
	req.TargetName = ""
	req.Hooks.AfterSwitch = []string{"sleep 0.12"}
	return req, nil
}

// fleetJournalHandler writes down the progress a fleet journal needs: the
// switch and every step that begins.
func fleetJournalHandler(note func(string)) slog.Handler {
	return messageHandler(func(msg string, attrs map[string]string) {
		switch msg {
		case "switching":
			note("switching " + attrs["release"])
		case "step":
			note("step " + attrs["step"])
		}
	})
}

// fleetJournal is what a killed deploying process wrote down before it was
// killed.
type fleetJournal struct {
	version  string // of the deployment that was running when the kill came
	switched string // the release it began switching every host to, if it got that far
	verified bool   // the after_switch hooks passed on every host after that switch
	finished bool   // Deploy returned
	errs     []string
	deploys  int // deployments that returned
}

func readFleetJournal(p string) (fleetJournal, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return fleetJournal{}, err
	}
	var j fleetJournal
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		kind, arg, _ := strings.Cut(line, " ")
		switch kind {
		case "begin":
			j = fleetJournal{version: arg, errs: j.errs, deploys: j.deploys}
		case "switching":
			j.switched, j.verified = arg, false
		case "step":
			// The record step begins once the after_switch hooks passed on every
			// host; it then clears the marks, host by host.
			if arg == StepRecord && j.switched != "" {
				j.verified = true
			}
		case "end":
			j.finished = true
			j.deploys++
		case "error":
			j.errs = append(j.errs, arg)
		}
	}
	return j, nil
}

// crashFleetChild connects to the fleet and deploys the two versions in turn,
// from versions[first], writing a journal, until it is killed.
func crashFleetChild(root, journalPath string, first int) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	key, err := os.ReadFile(filepath.Join(root, "client_key"))
	if err != nil {
		fail(err)
	}
	kh, err := os.ReadFile(filepath.Join(root, "known_hosts"))
	if err != nil {
		fail(err)
	}
	addrs := strings.Split(os.Getenv("RELEASE_CRASH_FLEET_ADDRS"), ",")
	ctx := context.Background()
	// One host at a time, as a rolling deployment does: the hosts are switched
	// one after the other, and a kill can leave them serving two releases.
	fleet, _, err := dialCrashFleet(ctx, addrs, key, string(kh), 1)
	if err != nil {
		fail(err)
	}
	jf, err := os.OpenFile(journalPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fail(err)
	}
	note := func(s string) { _, _ = jf.WriteString(s + "\n") } // one write(2): it survives SIGKILL
	logger := slog.New(fleetJournalHandler(note))
	fmt.Println("ready")
	for i := first; ; i++ {
		version := crashFleetVersions[i%2]
		req, err := crashFleetRequest(root, fleet, version)
		if err != nil {
			fail(err)
		}
		note("begin " + version)
		_, err = Deploy(logging.With(ctx, logger), req)
		if err != nil {
			note("error " + strings.ReplaceAll(err.Error(), "\n", " "))
		}
		note(fmt.Sprintf("end %v", err == nil))
	}
}

// hostCurrent is what `current` of host i of f is: the release id it points at
// ("" when there is none). It fails the test unless `current` is a symbolic
// link to a complete release folder of releases/ (never a temporary one, nor
// one being written).
// settledCurrents reads what every host serves once the hosts have finished
// what the killed deployment had already asked them (a rename sent just
// before SIGKILL still completes on the host): two reads 250 ms apart agree.
func settledCurrents(t *testing.T, f *sshtest.Fleet, run int) []string {
	t.Helper()
	read := func() []string {
		ids := make([]string, len(f.Hosts))
		for i := range f.Hosts {
			ids[i] = hostCurrent(t, f, i, run)
		}
		return ids
	}
	ids := read()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		again := read()
		if slices.Equal(again, ids) {
			return ids
		}
		ids = again
	}
	t.Fatalf("run %d: the hosts still change what they serve 5 s after the kill: %q", run, ids)
	return nil
}

func hostCurrent(t *testing.T, f *sshtest.Fleet, i int, run int) string {
	t.Helper()
	link := f.Local(i, crashFleetApp+"/current")
	dest, err := os.Readlink(link)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Lstat(link); serr == nil {
			t.Fatalf("run %d: host %d: %s is no symbolic link", run, i, link)
		}
		return ""
	}
	if err != nil {
		t.Fatalf("run %d: host %d: %v", run, i, err)
	}
	id := path.Base(dest)
	if dest != "releases/"+id || strings.HasPrefix(id, ".") {
		t.Fatalf("run %d: host %d: current points at %q, not at a release folder", run, i, dest)
	}
	version, _, ok := strings.Cut(id, "-")
	if !ok {
		t.Fatalf("run %d: host %d: current points at %q, no release id", run, i, dest)
	}
	dir := f.Local(i, crashFleetApp+"/releases/"+id)
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	health, herr := os.ReadFile(filepath.Join(dir, "health"))
	_, merr := os.Stat(f.Local(i, crashFleetApp+"/releases/."+id+".json"))
	if err != nil || herr != nil || merr != nil || string(index) != "version "+version || string(health) != "ok" {
		t.Fatalf("run %d: host %d: current points at %s, which is not a complete release: index.html %q (%v), health %q (%v), metadata %v",
			run, i, id, index, err, health, herr, merr)
	}
	return id
}

// TestCrashFleet kills a process deploying to a fleet of three SSH hosts with
// SIGKILL at random moments, most of them after it began switching the hosts
// (while `current` is being replaced host by host, and while the after_switch
// hooks run on every host), and checks after every kill that:
//   - on every host `current` is a symbolic link to a complete release folder;
//   - when the kill came after the switch began on some host and before the
//     after_switch hooks passed on every host, the fleet's Current (read over
//     new connections) is no sound finished deployment: unverified, or hosts
//     disagreeing (no ID);
//   - a normal deployment then converges every host to one verified release.
func TestCrashFleet(t *testing.T) {
	if root := os.Getenv("RELEASE_CRASH_FLEET_CHILD"); root != "" {
		first, _ := strconv.Atoi(os.Getenv("RELEASE_CRASH_FLEET_FIRST"))
		crashFleetChild(root, os.Getenv("RELEASE_CRASH_FLEET_JOURNAL"), first)
		return
	}
	started := time.Now()
	sf := sshtest.Start(t, 3, sshtest.Root(crashFleetRoot))
	f := newFixture(t)
	for _, v := range crashFleetVersions {
		f.publish(v, "ok")
	}
	if err := os.WriteFile(filepath.Join(f.root, "client_key"), sf.ClientKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.root, "known_hosts"), []byte(sf.KnownHosts()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	connect := func() (*target.Fleet, func()) {
		t.Helper()
		fleet, closeAll, err := dialCrashFleet(ctx, sf.Addrs(), sf.ClientKeyPEM, sf.KnownHosts(), 0)
		if err != nil {
			t.Fatal(err)
		}
		return fleet, closeAll
	}
	// converge deploys version over fleet, as the next apply does, and checks
	// that every host serves the one verified release.
	converge := func(run int, fleet *target.Fleet, version string) string {
		t.Helper()
		req, err := crashFleetRequest(f.root, fleet, version)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Deploy(ctx, req)
		if err != nil {
			t.Fatalf("run %d: deploying %s after the kill: %v", run, version, err)
		}
		for i := range sf.Hosts {
			if id := hostCurrent(t, sf, i, run); id != res.Release.ID {
				t.Fatalf("run %d: after deploying %s (%s), host %d serves %q", run, version, res.Release.ID, i, id)
			}
		}
		live, err := fleet.Current(ctx)
		if err != nil || !live.Sound() || live.ID != res.Release.ID || live.Version != version || live.Problem != "" {
			t.Fatalf("run %d: after deploying %s the fleet's live release is %+v (%v), want a sound %s", run, version, live, err, res.Release.ID)
		}
		return version
	}
	fleet, closeAll := connect()
	liveVersion := converge(-1, fleet, crashFleetVersions[0])
	closeAll()

	// At least minKills kills, and more (within the time budget) until
	// minLanded of them landed between a switch and the end of the
	// verification. Two kills in three wait for the child's journal to say
	// the switch began, then wait a random while longer (a short one, while
	// the hosts are switched, or a longer one, while the after_switch hooks
	// run); the others come at a random moment of the child's life.
	minKills, minLanded, budget := 12, 4, 35*time.Second
	if testing.Short() {
		minKills, minLanded, budget = 5, 2, 15*time.Second
	}
	rng := rand.New(rand.NewPCG(13, uint64(time.Now().UnixNano())))
	landed, split, unverified, deploys, before, after := 0, 0, 0, 0, 0, 0
	run := 0
	for ; run < minKills || (landed < minLanded && time.Since(started) < budget); run++ {
		journalPath := filepath.Join(f.root, fmt.Sprintf("journal-%d", run))
		first := 1
		if liveVersion == crashFleetVersions[1] {
			first = 0 // the child's first deployment switches to the other version
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashFleet$", "-test.count=1")
		cmd.Env = append(os.Environ(), "RELEASE_CRASH_FLEET_CHILD="+f.root, "RELEASE_CRASH_FLEET_JOURNAL="+journalPath,
			"RELEASE_CRASH_FLEET_ADDRS="+strings.Join(sf.Addrs(), ","), "RELEASE_CRASH_FLEET_FIRST="+strconv.Itoa(first))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "ready") {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("run %d: the child did not start: %q %v\n%s", run, line, err, stderr.String())
		}
		go func() { _, _ = io.Copy(io.Discard, out) }()
		switch run % 3 {
		case 0:
			waitForSwitch(t, journalPath, 10*time.Second)
			time.Sleep(time.Duration(rng.IntN(8_000)) * time.Microsecond)
		case 1:
			waitForSwitch(t, journalPath, 10*time.Second)
			time.Sleep(time.Duration(rng.IntN(600_000)) * time.Microsecond)
		default:
			time.Sleep(time.Duration(rng.IntN(2_000_000)) * time.Microsecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		j, err := readFleetJournal(journalPath)
		if err != nil {
			t.Fatal(err)
		}
		if len(j.errs) > 0 {
			t.Fatalf("run %d: a deployment of the child failed: %s", run, strings.Join(j.errs, "; "))
		}
		deploys += j.deploys
		ids := settledCurrents(t, sf, run)
		onSwitched, agree := false, true
		for i := range sf.Hosts {
			onSwitched = onSwitched || (j.switched != "" && ids[i] == j.switched)
			agree = agree && ids[i] == ids[0]
		}
		// What the next plan reads, over new connections.
		fleet, closeAll := connect()
		live, err := fleet.Current(ctx)
		if err != nil || live == nil {
			t.Fatalf("run %d: after SIGKILL the fleet's live release is %+v (%v)", run, live, err)
		}
		if !live.Sound() && live.Problem == "" {
			t.Fatalf("run %d: unsound live release %+v without a problem", run, live)
		}
		if !agree && (live.ID != "" || !strings.Contains(live.Problem, "hosts disagree")) {
			t.Fatalf("run %d: the hosts serve %q but the fleet's Current says %+v", run, ids, live)
		}
		switch {
		case j.switched == "" || !onSwitched:
			before++
		case j.verified:
			after++
		}
		if j.switched != "" && !j.verified && onSwitched {
			// The kill came after the switch began and before the after_switch
			// hooks passed on every host.
			landed++
			switch {
			case live.Sound():
				t.Fatalf("run %d: killed while switching to %s (hosts serve %q) before its verification passed, but the fleet's Current says it is a sound finished deployment: %+v", run, j.switched, ids, live)
			case !agree:
				split++
			case live.ID == j.switched && live.Unverified && strings.Contains(live.Problem, "never finished"):
				unverified++
			default:
				t.Fatalf("run %d: killed while switching to %s (hosts serve %q), the fleet's Current says %+v, want unverified", run, j.switched, ids, live)
			}
		}
		version := j.version
		if version == "" {
			version = liveVersion
		}
		liveVersion = converge(run, fleet, version)
		closeAll()
	}
	t.Logf("%d kills in %s (%d deployments finished in the children): %d before a switch, %d between the first switch and the end of the verification (%d with the hosts split between two releases, %d with every host on the unverified release), %d after the verification",
		run, time.Since(started).Round(time.Millisecond), deploys, before, landed, split, unverified, after)
	if landed < minLanded {
		t.Errorf("only %d of %d kills landed between a switch and the end of its verification, want %d", landed, run, minLanded)
	}
}

// waitForSwitch waits until the journal says a switch began, or fails the test
// after limit.
func waitForSwitch(t *testing.T, journalPath string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if raw, err := os.ReadFile(journalPath); err == nil && strings.Contains(string(raw), "\nswitching ") {
			return
		}
		time.Sleep(300 * time.Microsecond)
	}
	t.Fatalf("the child did not begin a switch within %s (journal %s)", limit, journalPath)
}
