package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchSize is the size of the file published by BenchmarkPublish:
// RELEASE_BENCH_SIZE_MB (default 1024, the goal's 1 GiB).
func benchSize() int64 {
	if v, err := strconv.ParseInt(os.Getenv("RELEASE_BENCH_SIZE_MB"), 10, 64); err == nil && v > 0 {
		return v << 20
	}
	return 1 << 30
}

// TestMain lets the publish benchmark run a publication in a child process, so its
// peak RSS is measured alone.
func TestMain(m *testing.M) {
	if src := os.Getenv("RELEASE_BENCH_PUBLISH"); src != "" {
		d, err := NewDirectory(os.Getenv("RELEASE_BENCH_STORE"))
		if err == nil {
			var f *os.File
			if f, err = os.Open(src); err == nil {
				_, err = d.Put(context.Background(), "bench", os.Getenv("RELEASE_BENCH_VERSION"), f, "", nil)
				f.Close()
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Print(peakRSSKiB())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func writeRandomFile(b *testing.B, path string, size int64) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, pseudoRandom{state: 1}, size); err != nil {
		b.Fatal(err)
	}
}

// pseudoRandom is a fast deterministic byte stream (xorshift), so building the
// input does not dominate the benchmark.
type pseudoRandom struct{ state uint64 }

func (p pseudoRandom) Read(b []byte) (int, error) {
	s := p.state
	for i := 0; i+8 <= len(b); i += 8 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		for j := 0; j < 8; j++ {
			b[i+j] = byte(s >> (8 * j))
		}
	}
	return len(b) - len(b)%8, nil
}

// peakRSSKiB reads this process's own high-water mark of resident memory. (A child's
// rusage is no good here: it starts from the parent's footprint at fork time.)
func peakRSSKiB() string {
	raw, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmHWM:"), "kB"))
		}
	}
	return "0"
}

// runMeasured runs cmd and returns its wall time and peak RSS in MiB.
func runMeasured(b *testing.B, cmd *exec.Cmd) (time.Duration, float64) {
	b.Helper()
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%v: %v", cmd.Args, err)
	}
	elapsed := time.Since(start)
	if kib, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil {
		return elapsed, kib / 1024
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return elapsed, float64(ru.Maxrss) / 1024
}

// BenchmarkPublish publishes a large file (RELEASE_BENCH_SIZE_MB, default 1 GiB) into a
// directory store in a child process and compares it with `sha256sum` of the same file
// in the same run. Goal: at least 90% of sha256sum's throughput, peak RSS under 64 MiB.
func BenchmarkPublish(b *testing.B) {
	size := benchSize()
	dir := b.TempDir()
	src := filepath.Join(dir, "artifact.tar.gz")
	writeRandomFile(b, src, size)
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	sha256sum, err := exec.LookPath("sha256sum")
	if err != nil {
		b.Fatal("sha256sum (coreutils) is needed for the baseline")
	}
	var publish, baseline time.Duration
	var rss, baseRSS float64
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		storeDir := filepath.Join(dir, fmt.Sprintf("store-%d", i))
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), "RELEASE_BENCH_PUBLISH="+src, "RELEASE_BENCH_STORE="+storeDir, "RELEASE_BENCH_VERSION=1.0.0")
		d, r := runMeasured(b, cmd)
		publish += d
		rss = max(rss, r)
		d, r = runMeasured(b, exec.Command(sha256sum, "--status", "-c", checksumFile(b, dir, src)))
		baseline += d
		baseRSS = max(baseRSS, r)
		b.StopTimer()
		os.RemoveAll(storeDir)
		b.StartTimer()
	}
	mb := float64(size) / (1 << 20) * float64(b.N)
	b.ReportMetric(mb/publish.Seconds(), "publish-MB/s")
	b.ReportMetric(mb/baseline.Seconds(), "sha256sum-MB/s")
	b.ReportMetric(baseline.Seconds()/publish.Seconds()*100, "%-of-sha256sum")
	b.ReportMetric(rss, "publish-peak-RSS-MiB")
	b.ReportMetric(baseRSS, "sha256sum-peak-RSS-MiB(upper-bound)")
}

// checksumFile writes a sha256sum -c list for src, so the baseline prints nothing.
func checksumFile(b *testing.B, dir, src string) string {
	b.Helper()
	list := filepath.Join(dir, "SHA256SUMS")
	if _, err := os.Stat(list); err == nil {
		return list
	}
	out, err := exec.Command("sha256sum", src).Output()
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(list, out, 0o600); err != nil {
		b.Fatal(err)
	}
	return list
}
