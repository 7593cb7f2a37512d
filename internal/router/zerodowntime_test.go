package router

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/atomicfile"
	"github.com/releaseplan/terraform-provider-release/internal/nginxtest"
)

// Load is bounded so that the suite stays fast on a shared machine.
const (
	loadWorkers     = 4
	loadMaxRequests = 200000
	switchCount     = 50
	deployCount     = 20
)

func isColour(body string) bool { return body == "blue" || body == "green" }

func TestNginxZeroDowntimeDuring50Switches(t *testing.T) {
	f := startNginxFixture(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stats, wait := runLoad(ctx, f.srv.URL("/"), loadWorkers, loadMaxRequests, isColour, false)

	colour := Blue
	start := time.Now()
	for i := 0; i < switchCount; i++ {
		colour = colour.Other()
		if _, err := f.router.Switch(ctx, colour, httpCheck); err != nil {
			cancel()
			wait()
			t.Fatalf("switch %d to %s: %v", i+1, colour, err)
		}
		waitBody(t, f.srv.URL("/"), nil, string(colour))
	}
	elapsed := time.Since(start)
	cancel()
	wait()
	t.Logf("%d switches in %v: %d requests served through nginx, %d failed", switchCount, elapsed.Round(time.Millisecond), stats.served.Load(), stats.failed.Load())
	if n := stats.failed.Load(); n != 0 {
		t.Fatalf("%d requests failed during the switches; first: %q", n, stats.firstFailures)
	}
	if stats.served.Load() < switchCount {
		t.Fatalf("only %d requests served: the load loop did not run", stats.served.Load())
	}
}

// deploySite writes a release into dir atomically (temp file + rename), so a request
// racing the write gets the old or the new page, never half of one.
func deploySite(t testing.TB, dir, content string) {
	t.Helper()
	pub := filepath.Join(dir, "public")
	if err := os.MkdirAll(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(pub, "index.html"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDirectoryZeroDowntimeDuring20DeploysBehindNginx(t *testing.T) {
	d := &Directory{Path: t.TempDir()}
	deploySite(t, d.ColourDir(Blue), "release 0")
	deploySite(t, d.ColourDir(Green), "release 0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := d.Switch(ctx, Blue, nil); err != nil {
		t.Fatal(err)
	}
	srv := nginxtest.Start(t, nginxtest.Config{Server: fmt.Sprintf("location / { root %s/public; index index.html; }", d.LivePath())})
	srv.WaitFor(t, "/", nil, 200, "release 0")

	isRelease := func(b string) bool { return strings.HasPrefix(b, "release ") }
	stats, wait := runLoad(ctx, srv.URL("/"), loadWorkers, loadMaxRequests, isRelease, false)
	colour := Blue
	for i := 1; i <= deployCount; i++ {
		colour = colour.Other()
		release := fmt.Sprintf("release %d", i)
		deploySite(t, d.ColourDir(colour), release)
		if _, err := d.Switch(ctx, colour, nil); err != nil {
			cancel()
			wait()
			t.Fatalf("deploy %d: %v", i, err)
		}
		waitBody(t, srv.URL("/"), nil, release)
	}
	cancel()
	wait()
	t.Logf("%d directory deploys behind nginx: %d requests served, %d failed", deployCount, stats.served.Load(), stats.failed.Load())
	if n := stats.failed.Load(); n != 0 {
		t.Fatalf("%d requests failed during the deploys; first: %q", n, stats.firstFailures)
	}
	if stats.served.Load() < deployCount {
		t.Fatalf("only %d requests served: the load loop did not run", stats.served.Load())
	}
}
