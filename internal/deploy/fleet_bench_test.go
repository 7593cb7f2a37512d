package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
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
// (shell-parallel).
//
// The three run in turn, round after round (RELEASE_BENCH_ROUNDS, 3 by
// default), so that a burst of load on the machine hits a round, not one of
// them; each figure is the median over the rounds. Metrics: ns/op and
// provider-s (the provider's deployment), shell-sequential-s and
// shell-parallel-s, vs-sequential and vs-parallel (the median of each round's
// ratio of the provider's time to the baseline's), store-reads per
// deployment, and peak-RSS-MiB of the provider's process.
func BenchmarkDeployFleet(b *testing.B) {
	size := int64(128 << 20)
	if os.Getenv("RELEASE_BENCH_SIZE") != "" {
		size = benchSize(b)
	}
	rounds := benchRounds(b)
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
	sh := shellDeploy{fleet: fleet, key: keyFile, data: data, sum: obj.SHA256}
	provider := func(b *testing.B, n int) time.Duration {
		start := time.Now()
		tg, closeAll := benchFleet(b, fleet, n)
		req := Request{Facts: Facts{Environment: "bench", Name: "bench", Version: "1.0.0", SHA256: obj.SHA256, RollbackOnFailure: true}, Target: tg, Store: st, Backend: be}
		_, err := Deploy(context.Background(), req)
		closeAll()
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			b.StopTimer()
			debug.FreeOSMemory()
			if err := resetPeakRSS(); err != nil {
				b.Logf("cannot reset the peak RSS (%v): it includes the fixture's creation", err)
			}
			st.gets.Store(0)
			var seq, par, prov, vsSeq, vsPar []float64
			for range b.N * rounds {
				seq = append(seq, sh.run(b, n, false, clean))
				par = append(par, sh.run(b, n, true, clean))
				clean(n)
				prov = append(prov, provider(b, n).Seconds())
				vsSeq = append(vsSeq, prov[len(prov)-1]/seq[len(seq)-1])
				vsPar = append(vsPar, prov[len(prov)-1]/par[len(par)-1])
			}
			b.ReportMetric(median(prov)*1e9, "ns/op")
			b.ReportMetric(median(prov), "provider-s")
			b.ReportMetric(median(seq), "shell-sequential-s")
			b.ReportMetric(median(par), "shell-parallel-s")
			b.ReportMetric(median(vsSeq), "vs-sequential")
			b.ReportMetric(median(vsPar), "vs-parallel")
			b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(st.gets.Load())/float64(len(prov)), "store-reads")
			b.Logf("hosts=%d, %d rounds: provider %s s, shell sequential %s s, shell parallel %s s", n, len(prov), seconds(prov), seconds(seq), seconds(par))
		})
	}
}

// benchRounds reads RELEASE_BENCH_ROUNDS (3 when unset).
func benchRounds(b *testing.B) int {
	v := os.Getenv("RELEASE_BENCH_ROUNDS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("RELEASE_BENCH_ROUNDS=%q: want a whole number of rounds, at least 1", v)
	}
	return n
}

// median returns the middle value of xs (the mean of the two middle ones for
// an even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func seconds(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}

// benchFleet connects to the first n hosts as the provider does (host.DialAll)
// and makes them one target.
func benchFleet(b *testing.B, fleet *sshtest.Fleet, n int) (target.Target, func()) {
	cfgs := make([]host.SSHConfig, n)
	for i := range n {
		cfgs[i] = host.SSHConfig{
			Address: fleet.Addr(i), User: fleet.User, PrivateKey: fleet.ClientKeyPEM,
			KnownHosts: fleet.KnownHosts(), Timeout: 30 * time.Second,
		}
	}
	hosts, closeAll, err := host.DialAll(context.Background(), cfgs, 10)
	if err != nil {
		b.Fatal(err)
	}
	dirs := make([]*target.Directory, n)
	for i, h := range hosts {
		d, err := target.NewDirectory(fleetBenchRoot+"/app", nil)
		if err != nil {
			b.Fatal(err)
		}
		d.Host = h
		dirs[i] = d
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

// run runs the script on n hosts, one after the other or all at once, on
// hosts cleaned first, and returns how long it took in seconds.
func (s shellDeploy) run(b *testing.B, n int, parallel bool, clean func(int)) float64 {
	for _, tool := range []string{"ssh", "scp"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s (openssh-client) is needed for the shell baseline", tool)
		}
	}
	clean(n)
	start := time.Now()
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
	took := time.Since(start).Seconds()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return took
}
