package target

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/iocount"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// newFleet is the fleet of sshRoot/<name> on hosts.
func newFleet[H host.Host](t *testing.T, hosts []H, name string, maxParallel int) *Fleet {
	t.Helper()
	var dirs []*Directory
	for _, h := range hosts {
		dirs = append(dirs, remoteDir(t, h, name))
	}
	fl, err := NewFleet(dirs, maxParallel)
	if err != nil {
		t.Fatal(err)
	}
	return fl
}

// fleetPrepare prepares version on every host of fl.
func fleetPrepare(t *testing.T, fl *Fleet, version string) *Prepared {
	t.Helper()
	data, _ := tarGz(t, map[string]string{"index.html": "version " + version})
	return fleetPrepareData(t, fl, version, data)
}

func fleetPrepareData(t *testing.T, fl *Fleet, version string, data []byte) *Prepared {
	t.Helper()
	sum := sha256hex(data)
	p, err := fl.Prepare(context.Background(), Spec{Name: "app", Version: version, SHA256: sum}, store.NewVerifyingReader(bytes.NewReader(data), sum, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fleetDeploy(t *testing.T, fl *Fleet, version string) *Prepared {
	t.Helper()
	p := fleetPrepare(t, fl, version)
	if err := fl.Activate(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// assertServes checks what each host of f serves for the directory d names.
func assertServes(t *testing.T, f *sshtest.Fleet, d *Directory, want ...string) {
	t.Helper()
	for i, w := range want {
		if got := hostServes(t, f, i, d); got != "version "+w {
			t.Errorf("host %d serves %q, want version %s", i, got, w)
		}
	}
}

// switchByHand points current on host i at release id, as someone on the server would.
func switchByHand(t *testing.T, f *sshtest.Fleet, i int, d *Directory, id string) {
	t.Helper()
	tmp := f.Local(i, path.Join(d.Path, "current.by-hand"))
	if err := os.Symlink("releases/"+id, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.Local(i, path.Join(d.Path, "current"))); err != nil {
		t.Fatal(err)
	}
}

func TestFleet(t *testing.T) {
	ctx := context.Background()
	f, hosts := startHosts(t, 3)
	addr := f.Addrs()
	t.Run("prepare, activate, current, find, prune on every host", func(t *testing.T) {
		fl := newFleet(t, hosts, "deploy", 0)
		d := fl.dirs[0]
		if want := "directory " + d.Path + " on " + addr[0] + ", " + addr[1] + " and " + addr[2]; fl.Describe() != want {
			t.Fatalf("Describe() = %q, want %q", fl.Describe(), want)
		}
		if cur, err := fl.Current(ctx); cur != nil || err != nil {
			t.Fatalf("Current of an empty fleet = %+v, %v", cur, err)
		}
		data1, sum1 := tarGz(t, map[string]string{"index.html": "version 1.0.0"})
		counted := &iocount.Reader{R: bytes.NewReader(data1)}
		p1, err := fl.Prepare(ctx, Spec{Name: "app", Version: "1.0.0", SHA256: sum1}, counted)
		if err != nil {
			t.Fatal(err)
		}
		if counted.N != int64(len(data1)) {
			t.Fatalf("read %d bytes of a %d-byte artifact for three hosts", counted.N, len(data1))
		}
		if len(p1.Hosts) != 3 || p1.Dir != p1.Hosts[0].Dir {
			t.Fatalf("Prepared = %+v", p1)
		}
		for i, hd := range p1.Hosts {
			if hd.Host != hosts[i] || hd.Dir != path.Join(d.Path, "releases", p1.Release.ID) {
				t.Fatalf("Hosts[%d] = %+v", i, hd)
			}
			if _, err := os.Stat(f.Local(i, path.Join(hd.Dir, "index.html"))); err != nil {
				t.Fatalf("host %d does not hold the release: %v", i, err)
			}
			if _, err := os.Lstat(f.Local(i, path.Join(d.Path, "current"))); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("host %d switched before Activate", i)
			}
		}
		if err := fl.Activate(ctx, p1); err != nil {
			t.Fatal(err)
		}
		assertServes(t, f, d, "1.0.0", "1.0.0", "1.0.0")
		p2 := fleetDeploy(t, fl, "1.0.1")
		assertServes(t, f, d, "1.0.1", "1.0.1", "1.0.1")
		cur, err := fl.Current(ctx)
		if err != nil || !cur.Sound() || cur.ID != p2.Release.ID {
			t.Fatalf("Current = %+v, %v", cur, err)
		}
		live, err := fl.HostsLive(ctx)
		if err != nil || len(live) != 3 {
			t.Fatalf("HostsLive = %+v, %v", live, err)
		}
		for i, hr := range live {
			if hr.Host != addr[i] || hr.Release == nil || hr.Release.ID != p2.Release.ID {
				t.Fatalf("HostsLive[%d] = %+v", i, hr)
			}
		}
		found, err := fl.Find(ctx, Spec{Name: "app", Version: "1.0.0", SHA256: p1.Release.SHA256})
		if err != nil || found == nil || found.Release.ID != p1.Release.ID || !found.Reused || len(found.Hosts) != 3 {
			t.Fatalf("Find = %+v, %v", found, err)
		}
		// More hosts than maxParallel: spooled, then uploaded two hosts at a
		// time; the artifact is still read once.
		uploads := &concurrency{}
		watched := make([]host.Host, len(hosts))
		for i, h := range hosts {
			watched[i] = watchedHost{Host: h, c: uploads}
		}
		one := newFleet(t, watched, "deploy", 2)
		data, sum := tarGz(t, map[string]string{"index.html": "version 1.0.2"})
		counted = &iocount.Reader{R: bytes.NewReader(data)}
		p3, err := one.Prepare(ctx, Spec{Name: "app", Version: "1.0.2", SHA256: sum}, counted)
		if err != nil {
			t.Fatal(err)
		}
		if counted.N != int64(len(data)) {
			t.Fatalf("read %d bytes of a %d-byte artifact", counted.N, len(data))
		}
		if uploads.max.Load() != 2 {
			t.Fatalf("%d uploads at once, want maxParallel (2)", uploads.max.Load())
		}
		if err := one.Activate(ctx, p3); err != nil {
			t.Fatal(err)
		}
		assertServes(t, f, d, "1.0.2", "1.0.2", "1.0.2")
		removed, err := fl.Prune(ctx, 1, p2.Release.ID)
		if err != nil || !slices.Equal(removed, []string{p1.Release.ID}) {
			t.Fatalf("Prune = %v, %v", removed, err)
		}
		for i := range hosts {
			if got := hostEntries(t, f, i, d); !slices.Equal(got, []string{"." + p2.Release.ID + ".json", "." + p3.Release.ID + ".json", p2.Release.ID, p3.Release.ID}) {
				t.Fatalf("host %d holds %v", i, got)
			}
		}
		// A release prepared and discarded leaves nothing.
		p4 := fleetPrepare(t, fl, "1.0.3")
		if err := fl.Discard(ctx, p4); err != nil {
			t.Fatal(err)
		}
		for i := range hosts {
			if got := hostEntries(t, f, i, d); slices.Contains(got, p4.Release.ID) || len(got) != 4 {
				t.Fatalf("host %d holds %v after Discard", i, got)
			}
		}
		if err := fl.Remove(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range hosts {
			if got := hostEntries(t, f, i, d); len(got) != 0 {
				t.Fatalf("host %d holds %v after Remove", i, got)
			}
		}
	})
	t.Run("an unsafe archive changes no host", func(t *testing.T) {
		fl := newFleet(t, hosts, "unsafe", 0)
		fleetDeploy(t, fl, "1.0.0")
		before := hostEntries(t, f, 0, fl.dirs[0])
		data := tarGzEntries(t, "ok", "/etc/evil")
		sum := sha256hex(data)
		_, err := fl.Prepare(ctx, Spec{Name: "app", Version: "2.0.0", SHA256: sum}, store.NewVerifyingReader(bytes.NewReader(data), sum, -1))
		if !errors.Is(err, archive.ErrUnsafeEntry) {
			t.Fatalf("Prepare = %v, want ErrUnsafeEntry", err)
		}
		for i := range hosts {
			if got := hostEntries(t, f, i, fl.dirs[0]); !slices.Equal(got, before) {
				t.Fatalf("host %d holds %v, held %v", i, got, before)
			}
		}
	})
	t.Run("a full disk on one host changes no host", func(t *testing.T) {
		fl := newFleet(t, hosts, "full", 0)
		d := fl.dirs[0]
		// Host 1's folder is a 2 MiB filesystem of its own (its mount namespace only).
		if out, err := hosts[1].Run(ctx, host.Command{Script: `mkdir -p "$P" && mount -t tmpfs -o size=2m tmpfs "$P"`, Env: []string{"P=" + d.Path}}); err != nil {
			t.Fatalf("mount a small filesystem on host 1: %v: %s", err, out)
		}
		fleetDeploy(t, fl, "1.0.0")
		// Host 1's files are seen through the host: the test's view lacks its mount.
		entries := func(i int) []string {
			list, err := fl.dirs[i].host().ReadDir(ctx, d.releasesPath())
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, fi := range list {
				names = append(names, fi.Name())
			}
			return names
		}
		before := make([][]string, 3)
		for i := range before {
			before[i] = entries(i)
		}
		noise := make([]byte, 3<<20)
		if _, err := rand.Read(noise); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			body string
			want error
		}{
			// Small to send, too large once extracted: the host's free space is checked first.
			{"extraction", strings.Repeat("\x00", 4<<20), archive.ErrNoSpace},
			// Too large to receive: the disk fills during the upload.
			{"upload", string(noise), archive.ErrNoSpace},
		} {
			data, _ := tarGz(t, map[string]string{"index.html": "version 2.0.0", "blob": tc.body})
			_, err := fl.Prepare(ctx, Spec{Name: "app", Version: "2.0.0", SHA256: sha256hex(data)}, bytes.NewReader(data))
			t.Logf("%s: %v", tc.name, err)
			var he *HostsError
			if !errors.As(err, &he) || !slices.Equal(he.Hosts, []string{addr[1]}) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("%s: Prepare = %v, want an error naming %s only", tc.name, err, addr[1])
			}
			for i := range before {
				if got := entries(i); !slices.Equal(got, before[i]) {
					t.Fatalf("%s: host %d holds %v, held %v", tc.name, i, got, before[i])
				}
			}
			if cur, err := fl.Current(ctx); err != nil || cur.ID == "" || cur.Version != "1.0.0" {
				t.Fatalf("%s: Current = %+v, %v", tc.name, cur, err)
			}
		}
	})
	t.Run("hosts that disagree", func(t *testing.T) {
		fl := newFleet(t, hosts, "disagree", 0)
		d := fl.dirs[0]
		p1 := fleetDeploy(t, fl, "1.0.0")
		p2 := fleetDeploy(t, fl, "1.0.1")
		switchByHand(t, f, 1, d, p1.Release.ID)
		cur, err := fl.Current(ctx)
		if err != nil || cur == nil || cur.ID != "" || cur.Sound() {
			t.Fatalf("Current = %+v, %v; want no release id", cur, err)
		}
		want := "hosts disagree: " + addr[0] + " serves 1.0.1 (" + p2.Release.ID + "), " + addr[1] + " serves 1.0.0 (" + p1.Release.ID + "), " + addr[2] + " serves 1.0.1 (" + p2.Release.ID + ")"
		if cur.Problem != want {
			t.Fatalf("Problem = %q\nwant      %q", cur.Problem, want)
		}
		if cur.Replaced == nil || cur.Replaced.ID != p2.Release.ID {
			t.Fatalf("Replaced = %+v, want the release most hosts serve, %s", cur.Replaced, p2.Release.ID)
		}
		live, _ := fl.HostsLive(ctx)
		if live[1].Release.ID != p1.Release.ID || live[0].Release.ID != p2.Release.ID {
			t.Fatalf("HostsLive = %+v", live)
		}
		// A deployment converges them.
		if err := fl.Activate(ctx, p2); err != nil {
			t.Fatal(err)
		}
		if cur, err := fl.Current(ctx); err != nil || !cur.Sound() || cur.ID != p2.Release.ID {
			t.Fatalf("after Activate: Current = %+v, %v", cur, err)
		}
		// Marks on one host make the fleet's release unverified, naming the host.
		if err := fl.dirs[2].MarkUnverified(ctx, p2.Release, &p1.Release); err != nil {
			t.Fatal(err)
		}
		cur, err = fl.Current(ctx)
		if err != nil || cur.ID != p2.Release.ID || !cur.Unverified || !strings.HasPrefix(cur.Problem, addr[2]+": ") || cur.Replaced == nil || cur.Replaced.ID != p1.Release.ID {
			t.Fatalf("Current = %+v, %v; want unverified, naming host 2", cur, err)
		}
		if err := fl.MarkVerified(ctx, p2.Release); err != nil {
			t.Fatal(err)
		}
		// A host added to the fleet serves nothing yet.
		bigger := newFleet(t, hosts, "disagree", 0)
		smaller := newFleet(t, hosts[:2], "disagree", 0)
		if err := bigger.dirs[2].Remove(ctx); err != nil {
			t.Fatal(err)
		}
		if cur, err := smaller.Current(ctx); err != nil || !cur.Sound() {
			t.Fatalf("two hosts: Current = %+v, %v", cur, err)
		}
		cur, err = bigger.Current(ctx)
		if err != nil || cur.ID != "" || !strings.HasSuffix(cur.Problem, addr[2]+" serves nothing") || cur.Replaced == nil || cur.Replaced.ID != p2.Release.ID {
			t.Fatalf("with a new host: Current = %+v, %v", cur, err)
		}
		if found, err := bigger.Find(ctx, Spec{Name: "app", Version: "1.0.1", SHA256: p2.Release.SHA256}); found != nil || err != nil {
			t.Fatalf("Find reused a release a host lacks: %+v, %v", found, err)
		}
	})
	t.Run("a switch that fails on one host switches the others back", func(t *testing.T) {
		fl := newFleet(t, hosts, "switch-fails", 0)
		d := fl.dirs[0]
		fleetDeploy(t, fl, "1.0.0")
		p2 := fleetPrepare(t, fl, "1.0.1")
		current := f.Local(2, path.Join(d.Path, "current"))
		if err := os.Remove(current); err != nil {
			t.Fatal(err)
		}
		mkdir(t, current)
		err := fl.Activate(ctx, p2)
		if err == nil {
			t.Fatal("Activate succeeded with a host that cannot switch")
		}
		t.Logf("Activate: %v", err)
		var he *HostsError
		if !errors.As(err, &he) || !slices.Equal(he.Hosts, []string{addr[2]}) {
			t.Fatalf("Activate = %v, want an error naming %s only", err, addr[2])
		}
		for _, want := range []string{"switched back " + addr[0] + " and " + addr[1], addr[0] + " serves 1.0.0", addr[1] + " serves 1.0.0"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not say %q: %v", want, err)
			}
		}
		assertServes(t, f, d, "1.0.0", "1.0.0")
	})
	t.Run("restore sends each host back to what it served", func(t *testing.T) {
		fl := newFleet(t, hosts, "restore", 0)
		d := fl.dirs[0]
		p0 := fleetDeploy(t, fl, "1.0.0")
		data, _ := tarGz(t, map[string]string{"index.html": "version 1.0.1"})
		p1 := fleetPrepareData(t, fl, "1.0.1", data)
		if err := fl.Activate(ctx, p1); err != nil {
			t.Fatal(err)
		}
		switchByHand(t, f, 1, d, p0.Release.ID)
		fleetDeploy(t, fl, "1.0.2")
		assertServes(t, f, d, "1.0.2", "1.0.2", "1.0.2")
		// Hosts 0 and 2 lost the folder of their previous release: rebuilt from
		// the artifact, read once, under the same id.
		for _, i := range []int{0, 2} {
			if err := os.RemoveAll(f.Local(i, p1.Hosts[i].Dir)); err != nil {
				t.Fatal(err)
			}
		}
		var opened atomic.Int32
		open := func(_ context.Context, s Spec) (io.ReadCloser, error) {
			opened.Add(1)
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		if err := fl.Restore(ctx, &p1.Release, open); err != nil {
			t.Fatal(err)
		}
		assertServes(t, f, d, "1.0.1", "1.0.0", "1.0.1")
		if opened.Load() != 1 {
			t.Fatalf("the artifact was opened %d times, want once", opened.Load())
		}
		live, err := fl.HostsLive(ctx)
		if err != nil || live[0].Release.ID != p1.Release.ID || live[1].Release.ID != p0.Release.ID || live[2].Release.ID != p1.Release.ID {
			t.Fatalf("HostsLive = %+v, %v; want %s, %s, %s", live, err, p1.Release.ID, p0.Release.ID, p1.Release.ID)
		}
		// Nothing was live before: current goes.
		empty := newFleet(t, hosts, "restore-empty", 0)
		fleetDeploy(t, empty, "1.0.0")
		if err := empty.Restore(ctx, nil, nil); err != nil {
			t.Fatal(err)
		}
		if cur, err := empty.Current(ctx); cur != nil || err != nil {
			t.Fatalf("Current = %+v, %v; want nothing live", cur, err)
		}
	})
}

// liveFleet is a fleet of three hosts where 1.0.0 is live, for tests of a
// host failing during the next Prepare.
type liveFleet struct {
	f  *sshtest.Fleet
	fl *Fleet
	d  *Directory
	// before is what releases/ held on each host once 1.0.0 was live.
	before []string
}

func startLiveFleet(t *testing.T, name string) liveFleet {
	t.Helper()
	f, hosts := startHosts(t, 3)
	fl := newFleet(t, hosts, name, 0)
	fleetDeploy(t, fl, "1.0.0")
	return liveFleet{f: f, fl: fl, d: fl.dirs[0], before: hostEntries(t, f, 0, fl.dirs[0])}
}

// assertUntouched checks that the hosts hold the releases they held before,
// and that every host still serves 1.0.0.
func (lf liveFleet) assertUntouched(t *testing.T, hosts ...int) {
	t.Helper()
	for _, i := range hosts {
		if got := hostEntries(t, lf.f, i, lf.d); !slices.Equal(got, lf.before) {
			t.Fatalf("host %d holds %v, held %v", i, got, lf.before)
		}
	}
	assertServes(t, lf.f, lf.d, "1.0.0", "1.0.0", "1.0.0")
}

func TestFleetHostDownBeforePrepare(t *testing.T) {
	ctx := context.Background()
	lf := startLiveFleet(t, "down")
	f, fl := lf.f, lf.fl
	if err := f.Stop(1); err != nil {
		t.Fatal(err)
	}
	data, sum := tarGz(t, map[string]string{"index.html": "version 2.0.0"})
	_, err := fl.Prepare(ctx, Spec{Name: "app", Version: "2.0.0", SHA256: sum}, bytes.NewReader(data))
	t.Logf("Prepare: %v", err)
	var he *HostsError
	if !errors.As(err, &he) || !slices.Equal(he.Hosts, []string{f.Addr(1)}) {
		t.Fatalf("Prepare = %v, want an error naming %s", err, f.Addr(1))
	}
	if _, err := fl.Current(ctx); err == nil || !strings.Contains(err.Error(), f.Addr(1)) {
		t.Fatalf("Current with a host down = %v, want an error naming it", err)
	}
	lf.assertUntouched(t, 0, 1, 2)
}

// slowReader hands out r in small pieces, and calls at once it has read past at.
type slowReader struct {
	r    io.Reader
	n    int
	at   int
	once func()
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	n, err := s.r.Read(p[:min(len(p), 64<<10)])
	s.n += n
	if s.once != nil && s.n >= s.at {
		s.once()
		s.once = nil
	}
	return n, err
}

func TestFleetSSHDKilledDuringUpload(t *testing.T) {
	ctx := context.Background()
	lf := startLiveFleet(t, "killed")
	f, fl := lf.f, lf.fl
	noise := make([]byte, 8<<20) // incompressible: the archive is as large
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	data, sum := tarGz(t, map[string]string{"index.html": "version 2.0.0", "blob": string(noise)})
	r := &slowReader{r: store.NewVerifyingReader(bytes.NewReader(data), sum, int64(len(data))), at: len(data) / 3, once: func() {
		if err := f.Kill(1); err != nil {
			t.Error(err)
		}
	}}
	_, err := fl.Prepare(ctx, Spec{Name: "app", Version: "2.0.0", SHA256: sum}, r)
	t.Logf("Prepare: %v", err)
	var he *HostsError
	if !errors.As(err, &he) || !slices.Equal(he.Hosts, []string{f.Addr(1)}) || !errors.Is(err, host.ErrConnectionLost) {
		t.Fatalf("Prepare = %v, want the lost connection to %s", err, f.Addr(1))
	}
	// The killed host kept its upload folder, hidden: no release is listed.
	for _, n := range hostEntries(t, f, 1, lf.d) {
		if !slices.Contains(lf.before, n) && !strings.HasPrefix(n, ".tmp-at-") {
			t.Fatalf("host 1 holds %s after the failed upload", n)
		}
	}
	lf.assertUntouched(t, 0, 2)
}

// concurrency records how many calls run at once, at most.
type concurrency struct{ now, max atomic.Int32 }

// watchedHost records how many uploads it runs at once.
type watchedHost struct {
	host.Host
	c *concurrency
}

func (w watchedHost) WriteFileFrom(ctx context.Context, p string, r io.Reader, perm os.FileMode) error {
	n := w.c.now.Add(1)
	defer w.c.now.Add(-1)
	for m := w.c.max.Load(); n > m && !w.c.max.CompareAndSwap(m, n); m = w.c.max.Load() {
	}
	time.Sleep(50 * time.Millisecond) // long enough for the uploads to overlap
	return w.Host.WriteFileFrom(ctx, p, r, perm)
}
