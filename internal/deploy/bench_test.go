package deploy

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// benchSize reads RELEASE_BENCH_SIZE ("256MiB", "1GiB", "500MB", bytes); the
// default, 256 MiB, keeps `make bench` within a few minutes. The figure is
// measured with RELEASE_BENCH_SIZE=1GiB.
func benchSize(b *testing.B) int64 {
	s := strings.TrimSpace(os.Getenv("RELEASE_BENCH_SIZE"))
	if s == "" {
		return 256 << 20
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), 64)
			if err != nil || n <= 0 {
				b.Fatalf("RELEASE_BENCH_SIZE=%q: %v", s, err)
			}
			return int64(n * float64(u.mult))
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		b.Fatalf("RELEASE_BENCH_SIZE=%q: use e.g. 256MiB or 1GiB", s)
	}
	return n
}

// writeBenchArchive writes a tar.gz of about size uncompressed bytes in 8 MiB files
// of text-like data (it compresses about 2:1, like application code and assets).
func writeBenchArchive(b *testing.B, path string, size int64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	rng := rand.New(rand.NewPCG(42, 7))
	const fileSize = 8 << 20
	buf := make([]byte, fileSize)
	const alphabet = "abcdefghijklmnop"
	for i := 0; int64(i)*fileSize < size; i++ {
		n := min(fileSize, size-int64(i)*fileSize)
		for j := 0; j < int(n); j += 8 {
			r := rng.Uint64()
			for k := 0; k < 8 && j+k < int(n); k++ {
				buf[j+k] = alphabet[(r>>(4*k))&15]
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("assets/blob%04d.txt", i), Mode: 0o644, Size: n, Typeflag: tar.TypeReg}); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write(buf[:n]); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []interface{ Close() error }{tw, zw} {
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// benchFixture is a directory store under root holding bench@1.0.0, a tar.gz
// of about size uncompressed bytes, and a directory backend; data is the
// artifact's file in the store, for the shell baselines.
func benchFixture(b *testing.B, root string, size int64) (*store.Directory, backend.Backend, store.Object, string) {
	b.Helper()
	st, be := newStoreAndBackend(b, root)
	src := filepath.Join(root, "bench.tar.gz")
	writeBenchArchive(b, src, size)
	f, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	obj, err := st.Put(context.Background(), "bench", "1.0.0", f, "", nil)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	_ = os.Remove(src)
	b.Logf("archive: %d MiB uncompressed, %d MiB compressed", size>>20, obj.Size>>20)
	return st, be, obj, filepath.Join(st.Root(), filepath.FromSlash(store.DataPath("bench", "1.0.0")))
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux >= 4.0).
func resetPeakRSS() error { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS reads this process's VmHWM in bytes.
func peakRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// BenchmarkDeploy deploys one large tar.gz from the directory store into a fresh
// directory target (one pass: hash while extracting), against the shell baseline
// `sha256sum -c && tar -xzf && ln -s + mv -T` (two passes) on the same file.
// Metrics: ns/op (wall time), peak-RSS-MiB, and for the provider vs-shell, the
// ratio of its time to the shell's.
func BenchmarkDeploy(b *testing.B) {
	size := benchSize(b)
	root := b.TempDir()
	st, be, obj, data := benchFixture(b, root, size)
	var shellNsPerOp float64
	b.Run("shell", func(b *testing.B) {
		if _, err := exec.LookPath("sha256sum"); err != nil {
			b.Fatal("sha256sum (coreutils) and tar are needed for the shell baseline")
		}
		b.SetBytes(size)
		var peak int64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			app := filepath.Join(root, "shell-app")
			_ = os.RemoveAll(app)
			rel := filepath.Join(app, "releases", "1.0.0")
			script := fmt.Sprintf(`set -e
echo "%s  %s" | sha256sum -c --quiet -
mkdir -p %q
tar -xzf %q -C %q
ln -s releases/1.0.0 %q
mv -T %q %q`, obj.SHA256, data, rel, data, rel, filepath.Join(app, "current.tmp"), filepath.Join(app, "current.tmp"), filepath.Join(app, "current"))
			cmd := exec.Command("sh", "-c", script)
			cmd.Stderr = os.Stderr
			b.StartTimer()
			if err := cmd.Run(); err != nil {
				b.Fatalf("shell baseline: %v", err)
			}
			b.StopTimer()
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				peak = max(peak, ru.Maxrss<<10) // includes the waited-for tar, gzip and sha256sum
			}
			b.StartTimer()
		}
		shellNsPerOp = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	})

	b.Run("provider", func(b *testing.B) {
		b.SetBytes(size)
		debug.FreeOSMemory() // the fixture's buffers are not part of a deployment
		if err := resetPeakRSS(); err != nil {
			b.Logf("cannot reset the peak RSS (%v): it includes the fixture's creation", err)
		}
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			app := filepath.Join(root, "provider-app")
			_ = os.RemoveAll(app)
			tg, err := target.NewDirectory(app, nil)
			if err != nil {
				b.Fatal(err)
			}
			req := Request{Facts: Facts{Environment: "bench", Name: "bench", Version: "1.0.0", SHA256: obj.SHA256, RollbackOnFailure: true}, Target: tg, Store: st, Backend: be}
			b.StartTimer()
			if _, err := Deploy(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
		if shellNsPerOp > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/shellNsPerOp, "vs-shell")
		}
	})
}
