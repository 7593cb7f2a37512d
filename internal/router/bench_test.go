package router

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/nginxtest"
)

// switchScenario runs switchCount switches under a fixed concurrent load and reports
// requests served/failed and switch latency (switch start → every request started
// afterwards sees the new colour) percentiles.
func switchScenario(b *testing.B, url string, switchTo func(ctx context.Context, c Colour) error) {
	b.Helper()
	var served, failed int64
	var latencies []time.Duration
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		stats, wait := runLoad(ctx, url, loadWorkers, loadMaxRequests, isColour, true)
		waitBody(b, url, nil, "blue")
		colour := Blue
		type mark struct {
			at     time.Time
			colour Colour
		}
		var marks []mark
		for i := 0; i < switchCount; i++ {
			colour = colour.Other()
			marks = append(marks, mark{time.Now(), colour})
			if err := switchTo(ctx, colour); err != nil {
				cancel()
				wait()
				b.Fatalf("switch %d to %s: %v", i+1, colour, err)
			}
			waitBody(b, url, nil, string(colour))
			time.Sleep(20 * time.Millisecond) // let the load observe the settled colour
		}
		end := time.Now()
		cancel()
		wait()
		served += stats.served.Load()
		failed += stats.failed.Load()
		for i, m := range marks {
			until := end
			if i+1 < len(marks) {
				until = marks[i+1].at
			}
			if d, ok := convergence(stats.samples, m.at, until, string(m.colour)); ok {
				latencies = append(latencies, d)
			}
		}
		if len(stats.firstFailures) > 0 {
			b.Logf("first failures: %q", stats.firstFailures)
		}
		// Back to blue for the next iteration.
		if colour != Blue {
			if err := switchTo(context.Background(), Blue); err != nil {
				b.Fatal(err)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(served)/n, "served/op")
	b.ReportMetric(float64(failed)/n, "failed/op")
	b.ReportMetric(float64(percentile(latencies, 0.50).Microseconds())/1000, "p50-switch-ms")
	b.ReportMetric(float64(percentile(latencies, 0.99).Microseconds())/1000, "p99-switch-ms")
}

func shell(ctx context.Context, command string) error {
	if out, err := exec.CommandContext(ctx, "sh", "-c", command).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", command, err, out)
	}
	return nil
}

// BenchmarkNginxSwitch compares the nginx router (atomic write, nginx -t, reload) with
// a naive switch: `ln -sfn` of the include file to one of two pre-rendered files, then
// reload.
func BenchmarkNginxSwitch(b *testing.B) {
	b.Run("router", func(b *testing.B) {
		f := startNginxFixture(b, "")
		switchScenario(b, f.srv.URL("/"), func(ctx context.Context, c Colour) error {
			_, err := f.router.Switch(ctx, c, httpCheck)
			return err
		})
	})
	b.Run("naive-ln-sfn-reload", func(b *testing.B) {
		f := startNginxFixture(b, "")
		variants := b.TempDir()
		for _, c := range []Colour{Blue, Green} {
			if err := os.WriteFile(filepath.Join(variants, string(c)+".conf"), []byte(f.router.Render(c, time.Now())), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.Remove(f.upstreamFile); err != nil {
			b.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(variants, "blue.conf"), f.upstreamFile); err != nil {
			b.Fatal(err)
		}
		switchScenario(b, f.srv.URL("/"), func(ctx context.Context, c Colour) error {
			return shell(ctx, fmt.Sprintf("ln -sfn %s %s && %s", filepath.Join(variants, string(c)+".conf"), f.upstreamFile, f.srv.ReloadCommand()))
		})
	})
}

// BenchmarkDirectorySwitch compares the directory router (temporary symlink renamed
// over live) with `ln -sfn` for a static site served by nginx from live/public.
func BenchmarkDirectorySwitch(b *testing.B) {
	for _, tt := range []struct {
		name     string
		switchTo func(d *Directory) func(ctx context.Context, c Colour) error
	}{
		{"router", func(d *Directory) func(context.Context, Colour) error {
			return func(ctx context.Context, c Colour) error { _, err := d.Switch(ctx, c, nil); return err }
		}},
		{"naive-ln-sfn", func(d *Directory) func(context.Context, Colour) error {
			return func(ctx context.Context, c Colour) error {
				return shell(ctx, fmt.Sprintf("ln -sfn %s %s", c, d.LivePath()))
			}
		}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			d := &Directory{Path: b.TempDir()}
			deploySite(b, d.ColourDir(Blue), "blue")
			deploySite(b, d.ColourDir(Green), "green")
			if _, err := d.Switch(context.Background(), Blue, nil); err != nil {
				b.Fatal(err)
			}
			srv := nginxtest.Start(b, nginxtest.Config{Server: fmt.Sprintf("location / { root %s/public; index index.html; }", d.LivePath())})
			switchScenario(b, srv.URL("/"), tt.switchTo(d))
		})
	}
}
