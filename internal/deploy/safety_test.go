package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

const crashFiles = 40

// publishMany stores app@version with crashFiles files, so that an extraction takes
// long enough to be interrupted in the middle.
func (f *fixture) publishMany(version string) {
	f.t.Helper()
	files := map[string]string{"index.html": "version " + version, "health": "ok"}
	for i := 0; i < crashFiles; i++ {
		files[fmt.Sprintf("assets/f%02d.txt", i)] = strings.Repeat(version+" ", 2000)
	}
	data := archivetest.TarGz(f.t, files)
	if _, err := f.store.Put(context.Background(), "app", version, strings.NewReader(string(data)), "", nil); err != nil {
		f.t.Fatal(err)
	}
}

// complete checks that current is a whole release of one version.
func complete(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "current", "index.html"))
	if err != nil {
		return fmt.Errorf("current does not serve a release: %w", err)
	}
	version := strings.TrimPrefix(string(b), "version ")
	want := strings.Repeat(version+" ", 2000)
	for i := 0; i < crashFiles; i++ {
		got, err := os.ReadFile(filepath.Join(dir, "current", fmt.Sprintf("assets/f%02d.txt", i)))
		if err != nil || string(got) != want {
			return fmt.Errorf("current (%s) is incomplete at file %d: %v", version, i, err)
		}
	}
	return nil
}

var crashVersions = []string{"1.0.0", "1.0.1", "1.0.2"}

func crashRequest(root string, version string) (Request, error) {
	st, err := store.NewDirectory(filepath.Join(root, "artifacts"))
	if err != nil {
		return Request{}, err
	}
	be, err := backend.NewDirectory(filepath.Join(root, "state"))
	if err != nil {
		return Request{}, err
	}
	tg, err := target.NewDirectory(filepath.Join(root, "app"), nil)
	if err != nil {
		return Request{}, err
	}
	return Request{Facts: Facts{Environment: "staging", Name: "app", Version: version, KeepReleases: 1, RollbackOnFailure: true}, Target: tg, Store: st, Backend: be}, nil
}

// TestCrashSafety kills a deploying process with SIGKILL at random points: current
// always serves a complete release and the next deployment succeeds.
// TestCrashAfterSwitch does the same with kills during after_switch hooks and
// smoke tests.
func TestCrashSafety(t *testing.T) {
	if root := os.Getenv("RELEASE_CRASH_CHILD"); root != "" {
		crashChild(root)
		return
	}
	f := newFixture(t)
	for _, v := range crashVersions {
		f.publishMany(v)
	}
	req, err := crashRequest(f.root, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, req)

	const runs = 50
	midway := 0 // kills that interrupted an extraction
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for run := 0; run < runs; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1")
		cmd.Env = append(os.Environ(), "RELEASE_CRASH_CHILD="+f.root)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "ready") {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("run %d: the child did not start deploying: %q %v", run, line, err)
		}
		time.Sleep(time.Duration(rng.IntN(30_000)) * time.Microsecond) // a random point of a deployment
		_ = cmd.Process.Signal(syscall.SIGKILL)
		go func() { _, _ = io.Copy(io.Discard, out) }()
		if err := cmd.Wait(); err == nil {
			t.Fatalf("run %d: the child exited by itself", run)
		}
		if err := complete(f.target.Path); err != nil {
			t.Fatalf("run %d: after SIGKILL: %v", run, err)
		}
		if leftovers, _ := filepath.Glob(filepath.Join(f.target.Path, "releases", ".tmp-*")); len(leftovers) > 0 {
			midway++
		}
		next, err := crashRequest(f.root, crashVersions[run%len(crashVersions)])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Deploy(context.Background(), next); err != nil {
			t.Fatalf("run %d: the deployment after a crash failed: %v", run, err)
		}
		if err := complete(f.target.Path); err != nil {
			t.Fatalf("run %d: after the next deployment: %v", run, err)
		}
	}
	t.Logf("%d runs, %d killed in the middle of an extraction", runs, midway)
	// Leftovers of killed processes are cleaned by the next deployments' pruning.
	entries, _ := os.ReadDir(filepath.Join(f.target.Path, "releases"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("leftover %s after the last deployment", e.Name())
		}
	}
}

// crashChild deploys the versions in turn until it is killed.
func crashChild(root string) {
	fmt.Println("ready")
	for i := 0; ; i++ {
		req, err := crashRequest(root, crashVersions[i%len(crashVersions)])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		if _, err := Deploy(context.Background(), req); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
}

// TestZeroDowntime serves current through a real HTTP server while 20 deployments
// happen and a client loops requests: none fails.
func TestZeroDowntime(t *testing.T) {
	f := newFixture(t)
	versions := []string{"2.0.0", "2.0.1", "2.0.2", "2.0.3", "2.0.4"}
	for _, v := range versions {
		f.publish(v, "ok")
	}
	req := f.request(versions[0])
	mustDeploy(t, req)

	var (
		requests, failures atomic.Int64
		firstFailure       atomic.Value
		stop               = make(chan struct{})
		wg                 sync.WaitGroup
	)
	client := &http.Client{Timeout: 5 * time.Second}
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(f.server.URL + "/index.html")
				requests.Add(1)
				if err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "version 2.0.") {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %q", resp.StatusCode, b))
				}
			}
		}()
	}
	for i := 1; i <= 20; i++ {
		req := f.request(versions[i%len(versions)])
		req.KeepReleases = 2
		req.SmokeTest = f.smoke()
		mustDeploy(t, req)
	}
	close(stop)
	wg.Wait()
	if requests.Load() < 20 {
		t.Fatalf("only %d requests were made during the deployments", requests.Load())
	}
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during 20 deployments; first: %v", n, requests.Load(), firstFailure.Load())
	}
	t.Logf("%d requests, 0 failures during 20 deployments", requests.Load())
}
