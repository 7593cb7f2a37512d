package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/check"
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

// TestCrashAfterSwitch kills deployments with SIGKILL while their after_switch
// hooks and smoke test run: a live release that did not finish its verification
// always says so (it is never a sound release that failed or was never
// verified), and the next deployment verifies again and rolls back to the
// verified release when the smoke test still fails.
func TestCrashAfterSwitch(t *testing.T) {
	if root := os.Getenv("RELEASE_CRASH_SWITCH_CHILD"); root != "" {
		url := os.Getenv("RELEASE_CRASH_SWITCH_URL")
		fmt.Println("ready")
		for i := 0; ; i++ {
			req, err := afterSwitchRequest(root, url, []string{"1.0.1", "1.0.0"}[i%2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			_, _ = Deploy(context.Background(), req)
		}
	}
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "fail")
	first, err := afterSwitchRequest(f.root, f.server.URL, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, first)

	const runs = 50
	unverified := 0
	rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
	for run := 0; run < runs; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashAfterSwitch$", "-test.count=1")
		cmd.Env = append(os.Environ(), "RELEASE_CRASH_SWITCH_CHILD="+f.root, "RELEASE_CRASH_SWITCH_URL="+f.server.URL)
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

		live, err := f.target.Current(context.Background())
		if err != nil || live == nil {
			t.Fatalf("run %d: after SIGKILL: live %v, %v", run, live, err)
		}
		health, _ := os.ReadFile(filepath.Join(f.target.Path, "current", "health"))
		if live.Sound() && string(health) != "ok" {
			t.Fatalf("run %d: %s (%s) is live and looks finished, but it fails its smoke test", run, live.Version, live.ID)
		}
		if !live.Sound() {
			unverified++
			if live.Problem == "" {
				t.Fatalf("run %d: unsound live release %s without a problem", run, live.ID)
			}
		}
		// The next deployment of the failing version verifies and rolls back.
		next, err := afterSwitchRequest(f.root, f.server.URL, "1.0.1")
		if err != nil {
			t.Fatal(err)
		}
		res, err := Deploy(context.Background(), next)
		if !errors.Is(err, ErrSmokeTest) || !res.RolledBack {
			t.Fatalf("run %d: deploying the failing version after the kill: rolled back %v, %v", run, res.RolledBack, err)
		}
		live, err = f.target.Current(context.Background())
		if err != nil || !live.Sound() || live.Version != "1.0.0" {
			t.Fatalf("run %d: after the rollback the live release is %+v (%v), want a sound 1.0.0", run, live, err)
		}
	}
	t.Logf("%d runs, %d left an unverified release live", runs, unverified)
	if unverified == 0 {
		t.Errorf("no kill landed after a switch: the test did not exercise what it is for")
	}
}
