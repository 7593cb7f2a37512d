package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// fleetBenchRoot is the application folder of every benchmark host.
const fleetBenchRoot = "/srv/release-bench"

// countingStore counts how often, and how many bytes, the artifact is read from
// the store: once per deployment whatever the number of hosts.
type countingStore struct {
	store.Store
	gets  atomic.Int64
	bytes atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, name, version string) (io.ReadCloser, store.Object, error) {
	rc, obj, err := c.Store.Get(ctx, name, version)
	if err != nil {
		return nil, obj, err
	}
	c.gets.Add(1)
	return countingReader{rc, &c.bytes}, obj, nil
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// BenchmarkDeployFleet deploys one tar.gz (128 MiB uncompressed by default,
// RELEASE_BENCH_SIZE to change it) to 1 and to 4 hosts over loopback SSH, in the
// same run as the shell a Capistrano user writes: for each host `scp` the
// archive, then `ssh "sha256sum -c && mkdir && tar -xzf && ln -s + mv -T"`, one
// host after the other (shell-sequential) and all at once with `&` and `wait`
// (shell-parallel). Metrics: vs-sequential and vs-parallel (the provider's time
// over the baselines'), store-reads per deployment, peak-RSS-MiB of the
// provider's process.
func BenchmarkDeployFleet(b *testing.B) {
	size := int64(128 << 20)
	if os.Getenv("RELEASE_BENCH_SIZE") != "" {
		size = benchSize(b)
	}
	fleet := sshtest.Start(b, 4, sshtest.Root(fleetBenchRoot))
	root := b.TempDir()
	dirStore, be, obj, data := benchFixture(b, root, size)
	st := &countingStore{Store: dirStore}
	keyFile := filepath.Join(root, "id_ed25519")
	if err := os.WriteFile(keyFile, fleet.ClientKeyPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	clean := func(n int) {
		for i := range n {
			entries, _ := os.ReadDir(fleet.Dir(i))
			for _, e := range entries {
				_ = os.RemoveAll(filepath.Join(fleet.Dir(i), e.Name()))
			}
		}
	}
	for _, n := range []int{1, 4} {
		var seq, par float64
		sh := shellDeploy{fleet: fleet, key: keyFile, data: data, sum: obj.SHA256}
		b.Run(fmt.Sprintf("hosts=%d/shell-sequential", n), func(b *testing.B) {
			seq = sh.bench(b, n, false, clean)
		})
		b.Run(fmt.Sprintf("hosts=%d/shell-parallel", n), func(b *testing.B) {
			par = sh.bench(b, n, true, clean)
		})
		b.Run(fmt.Sprintf("hosts=%d/provider", n), func(b *testing.B) {
			debug.FreeOSMemory()
			if err := resetPeakRSS(); err != nil {
				b.Logf("cannot reset the peak RSS (%v): it includes the fixture's creation", err)
			}
			st.gets.Store(0)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				clean(n)
				b.StartTimer()
				tg, closeAll := benchFleet(b, fleet, n)
				req := Request{Facts: Facts{Environment: "bench", Name: "bench", Version: "1.0.0", SHA256: obj.SHA256, RollbackOnFailure: true}, Target: tg, Store: st, Backend: be}
				if _, err := Deploy(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				closeAll()
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(st.gets.Load())/float64(b.N), "store-reads")
			if seq > 0 {
				b.ReportMetric(ns/seq, "vs-sequential")
			}
			if par > 0 {
				b.ReportMetric(ns/par, "vs-parallel")
			}
		})
	}
}

// benchFleet connects to the first n hosts and makes them one target (timed:
// a deployment connects too).
func benchFleet(b *testing.B, fleet *sshtest.Fleet, n int) (target.Target, func()) {
	var dirs []*target.Directory
	var hosts []host.Host
	for i := range n {
		h, err := host.DialSSH(context.Background(), host.SSHConfig{
			Address: fleet.Addr(i), User: fleet.User, PrivateKey: fleet.ClientKeyPEM,
			KnownHosts: fleet.KnownHosts(), Timeout: 30 * time.Second,
		})
		if err != nil {
			b.Fatal(err)
		}
		hosts = append(hosts, h)
		d, err := target.NewDirectory(fleetBenchRoot+"/app", nil)
		if err != nil {
			b.Fatal(err)
		}
		d.Host = h
		dirs = append(dirs, d)
	}
	closeAll := func() {
		for _, h := range hosts {
			_ = h.Close()
		}
	}
	tg, err := target.NewFleet(dirs, 10)
	if err != nil {
		b.Fatal(err)
	}
	return tg, closeAll
}

// shellDeploy is the Capistrano user's script over the OpenSSH client.
type shellDeploy struct {
	fleet     *sshtest.Fleet
	key, data string
	sum       string
}

// opts are the OpenSSH client options of both commands; portFlag is -P for
// scp and -p for ssh.
func (s shellDeploy) opts(i int, portFlag string) []string {
	return []string{"-i", s.key, "-o", "UserKnownHostsFile=" + s.fleet.KnownHostsFile(), "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", portFlag, strconv.Itoa(s.fleet.Hosts[i].Port)}
}

// one deploys to host i: scp, then one ssh command that checks, extracts and
// switches.
func (s shellDeploy) one(i int) error {
	remote := fleetBenchRoot + "/upload.tar.gz"
	scp := exec.Command("scp", append(s.opts(i, "-P"), "-q", s.data, "root@127.0.0.1:"+remote)...)
	if out, err := scp.CombinedOutput(); err != nil {
		return fmt.Errorf("scp to host %d: %v: %s", i, err, out)
	}
	app := fleetBenchRoot + "/app"
	script := fmt.Sprintf(`set -e
echo "%s  %s" | sha256sum -c --quiet -
mkdir -p %s/releases/1.0.0
tar -xzf %s -C %s/releases/1.0.0
ln -s releases/1.0.0 %s/current.tmp
mv -T %s/current.tmp %s/current`, s.sum, remote, app, remote, app, app, app, app)
	ssh := exec.Command("ssh", append(s.opts(i, "-p"), "root@127.0.0.1", script)...)
	if out, err := ssh.CombinedOutput(); err != nil {
		return fmt.Errorf("ssh to host %d: %v: %s", i, err, out)
	}
	return nil
}

// bench runs the script on n hosts, one after the other or all at once, and
// returns its time per operation in nanoseconds.
func (s shellDeploy) bench(b *testing.B, n int, parallel bool, clean func(int)) float64 {
	for _, tool := range []string{"ssh", "scp"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s (openssh-client) is needed for the shell baseline", tool)
		}
	}
	b.SetBytes(0)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clean(n)
		b.StartTimer()
		errs := make([]error, n)
		var wg sync.WaitGroup
		for h := range n {
			if !parallel {
				errs[h] = s.one(h)
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); errs[h] = s.one(h) }()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}
