package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/check"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// afterSwitchRequest deploys version with an after_switch hook and a smoke test
// slow enough for a kill to land in them; 1.0.1 fails its smoke test.
func afterSwitchRequest(root, url, version string) (Request, error) {
	req, err := crashRequest(root, version)
	if err != nil {
		return req, err
	}
	req.Hooks.AfterSwitch = []string{"sleep 0.004"}
	req.SmokeTest = &check.HTTPCheck{URL: url + "/health", BodyContains: "ok", Attempts: 2, Interval: 3 * time.Millisecond, Timeout: time.Second}
	return req, nil
}

// journalHandler writes down the progress messages a journal needs: the
// switch, a passing smoke test attempt and the start of a rollback.
func journalHandler(note func(string)) slog.Handler {
	return messageHandler(func(msg string, attrs map[string]string) {
		switch {
		case msg == "switching":
			note("switching " + attrs["release"])
		case msg == "HTTP check attempt" && attrs["error"] == "":
			note("smoke-pass")
		case msg == "rolling back":
			note("rolling-back")
		}
	})
}

// journal is what a killed deploying process wrote down before it was killed:
// the ground truth the target's own record is checked against.
type journal struct {
	version  string // of the deployment that was running when the kill came
	switched string // the release it was switching to, if it got that far
	passed   bool   // its after_switch hooks and smoke test passed after that switch
	finished bool   // Deploy returned
}

func readJournal(path string) (journal, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return journal{}, err
	}
	var j journal
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		kind, arg, _ := strings.Cut(line, " ")
		switch kind {
		case "begin":
			j = journal{version: arg}
		case "switching":
			j.switched, j.passed = arg, false
		case "smoke-pass":
			j.passed = j.switched != ""
		case "rolling-back":
			j.passed = false
		case "end":
			j.finished = true
		}
	}
	return j, nil
}

// crashAfterSwitchChild deploys 1.0.1 (failing) and 1.0.0 in turn, from a random
// one, writing a journal, until it is killed.
func crashAfterSwitchChild(root, url, journalPath string, first int) {
	jf, err := os.OpenFile(journalPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	note := func(s string) { _, _ = jf.WriteString(s + "\n") } // one write(2): it survives SIGKILL
	for i := first; ; i++ {
		version := []string{"1.0.1", "1.0.0"}[i%2]
		req, err := afterSwitchRequest(root, url, version)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		note("begin " + version)
		if i == first {
			// Only now may the parent kill: the journal names the deployment
			// that was running.
			fmt.Println("ready")
		}
		_, err = Deploy(logging.With(context.Background(), slog.New(journalHandler(note))), req)
		note(fmt.Sprintf("end %v", err == nil))
	}
}

// TestCrashAfterSwitch kills deploying processes with SIGKILL, many of them while
// their after_switch hooks and smoke test run (as a CI runner's timeout or the
// OOM killer would), and checks after every kill that:
//   - a live release whose verification did not finish after its switch says so
//     (Unverified, with a Problem), and one that fails its smoke test never looks
//     like a finished deployment;
//   - deploying the killed version again verifies it again: the failing one is
//     rolled back to the verified release, the good one is verified.
func TestCrashAfterSwitch(t *testing.T) {
	if root := os.Getenv("RELEASE_CRASH_SWITCH_CHILD"); root != "" {
		first, _ := strconv.Atoi(os.Getenv("RELEASE_CRASH_SWITCH_FIRST"))
		crashAfterSwitchChild(root, os.Getenv("RELEASE_CRASH_SWITCH_URL"), os.Getenv("RELEASE_CRASH_SWITCH_JOURNAL"), first)
		return
	}
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "fail")
	first, err := afterSwitchRequest(f.root, f.server.URL, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, first)

	// At least 50 runs, and as many more (up to 200) as it takes for 10 kills to
	// land between a switch and the end of its verification, so that a slow,
	// loaded machine still tests what this is for.
	const minRuns, maxRuns, minLanded = 50, 200, 10
	landed, reverified := 0, 0
	rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
	run := 0
	for ; run < maxRuns && (run < minRuns || landed < minLanded); run++ {
		journalPath := filepath.Join(f.root, fmt.Sprintf("journal-%d", run))
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashAfterSwitch$", "-test.count=1")
		cmd.Env = append(os.Environ(), "RELEASE_CRASH_SWITCH_CHILD="+f.root, "RELEASE_CRASH_SWITCH_URL="+f.server.URL,
			"RELEASE_CRASH_SWITCH_JOURNAL="+journalPath, "RELEASE_CRASH_SWITCH_FIRST="+strconv.Itoa(rng.IntN(2)))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "ready") {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("run %d: the child did not start: %q %v", run, line, err)
		}
		time.Sleep(time.Duration(5_000+rng.IntN(60_000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		go func() { _, _ = io.Copy(io.Discard, out) }()
		_ = cmd.Wait()

		j, err := readJournal(journalPath)
		if err != nil {
			t.Fatal(err)
		}
		live, err := f.target.Current(context.Background())
		if err != nil || live == nil {
			t.Fatalf("run %d: after SIGKILL: live %+v, %v", run, live, err)
		}
		health, _ := os.ReadFile(filepath.Join(f.target.Path, "current", "health"))
		if live.Sound() && string(health) != "ok" {
			t.Fatalf("run %d: %s (%s) is live and looks finished, but it fails its smoke test (%+v)", run, live.Version, live.ID, j)
		}
		if !live.Sound() && live.Problem == "" {
			t.Fatalf("run %d: unsound live release %s without a problem", run, live.ID)
		}
		if j.switched != "" && live.ID == j.switched && !j.passed && !j.finished {
			landed++
			// Unverified, or failed when the kill came after the failure was
			// recorded and before the rollback.
			unverified := live.Unverified && strings.Contains(live.Problem, "never finished")
			failed := live.Failed && strings.Contains(live.Problem, "failed")
			if live.Sound() || !unverified && !failed {
				t.Fatalf("run %d: killed after switching to %s and before its verification passed, but Current says %+v", run, j.switched, live)
			}
		}

		// The killed version deployed again is verified again.
		unfinished := !live.Sound()
		again, err := afterSwitchRequest(f.root, f.server.URL, j.version)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Deploy(context.Background(), again)
		switch j.version {
		case "1.0.1":
			if !errors.Is(err, ErrSmokeTest) || !res.RolledBack {
				t.Fatalf("run %d: deploying the failing version again after the kill: rolled back %v, %v", run, res.RolledBack, err)
			}
		default:
			if err != nil {
				t.Fatalf("run %d: deploying the good version again after the kill: %v", run, err)
			}
		}
		if unfinished && live.ID == res.Release.ID {
			reverified++
			if !res.Reverified {
				t.Fatalf("run %d: %s was verified again but the result does not say so", run, live.ID)
			}
		}
		live, err = f.target.Current(context.Background())
		if err != nil || !live.Sound() || live.Version != "1.0.0" || live.Problem != "" {
			t.Fatalf("run %d: after deploying %s again the live release is %+v (%v), want a sound 1.0.0", run, j.version, live, err)
		}
	}
	t.Logf("%d runs: %d kills landed between a switch and the end of its verification, %d releases verified again", run, landed, reverified)
	if landed < minLanded {
		t.Errorf("only %d of %d kills landed during after_switch hooks or smoke tests", landed, run)
	}
}
