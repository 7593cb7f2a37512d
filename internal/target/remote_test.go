package target

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/host/hosttest"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// sshRoot is the path every test host has its own folder bound over.
const sshRoot = "/srv/release-target-ssh"

// startHosts starts n sshd hosts and connects to each.
func startHosts(t *testing.T, n int) (*sshtest.Fleet, []*host.SSH) {
	t.Helper()
	f := sshtest.Start(t, n, sshtest.Root(sshRoot))
	hosts := make([]*host.SSH, n)
	for i := range n {
		hosts[i] = hosttest.Dial(t, f, i)
	}
	return f, hosts
}

// remoteDir is the directory target sshRoot/<name> on h.
func remoteDir(t *testing.T, h host.Host, name string) *Directory {
	t.Helper()
	d, err := NewDirectory(path.Join(sshRoot, name), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Host, d.Now = h, clock()
	return d
}

// hostEntries lists releases/ of d as host i of f holds it, hidden entries too.
func hostEntries(t *testing.T, f *sshtest.Fleet, i int, d *Directory) []string {
	t.Helper()
	return entryNames(t, f.Local(i, d.releasesPath()))
}

func hostServes(t *testing.T, f *sshtest.Fleet, i int, d *Directory) string {
	t.Helper()
	b, err := os.ReadFile(f.Local(i, path.Join(d.Path, "current", "index.html")))
	if err != nil {
		return "nothing (" + err.Error() + ")"
	}
	return string(b)
}

func TestRemoteDirectory(t *testing.T) {
	ctx := context.Background()
	f, hosts := startHosts(t, 1)
	t.Run("deploy, current, find, prune, restore", func(t *testing.T) {
		d := remoteDir(t, hosts[0], "deploy")
		if want := "directory " + d.Path + " on " + f.Addr(0); d.Describe() != want {
			t.Fatalf("Describe() = %q, want %q", d.Describe(), want)
		}
		if cur, err := d.Current(ctx); err != nil || cur != nil {
			t.Fatalf("empty target: Current = %v, %v", cur, err)
		}
		p1 := deploy(t, d, "1.0.0")
		if len(p1.Hosts) != 1 || p1.Hosts[0].Host != hosts[0] || p1.Hosts[0].Dir != p1.Dir || p1.Dir != path.Join(d.Path, "releases", p1.Release.ID) {
			t.Fatalf("Prepared = %+v", p1)
		}
		p2 := deploy(t, d, "1.0.1")
		if got := hostServes(t, f, 0, d); got != "version 1.0.1" {
			t.Fatalf("the host serves %q", got)
		}
		if dest, _ := os.Readlink(f.Local(0, path.Join(d.Path, "current"))); dest != "releases/"+p2.Release.ID {
			t.Fatalf("current -> %q", dest)
		}
		cur, err := d.Current(ctx)
		if err != nil || !cur.Sound() || cur.ID != p2.Release.ID || cur.SHA256 != p2.Release.SHA256 {
			t.Fatalf("Current = %+v, %v", cur, err)
		}
		if fp, err := d.Find(ctx, Spec{Name: "app", Version: "1.0.0", SHA256: p1.Release.SHA256}); err != nil || fp == nil || fp.Release.ID != p1.Release.ID || !fp.Reused || len(fp.Hosts) != 1 {
			t.Fatalf("Find = %+v, %v", fp, err)
		}
		if err := d.Restore(ctx, &p1.Release, nil); err != nil || hostServes(t, f, 0, d) != "version 1.0.0" {
			t.Fatalf("Restore: %v; serves %q", err, hostServes(t, f, 0, d))
		}
		for _, v := range []string{"1.0.2", "1.0.3", "1.0.4"} {
			deploy(t, d, v)
		}
		removed, err := d.Prune(ctx, 2, p1.Release.ID)
		if err != nil || !slices.Equal(removed, []string{"1.0.2-20250102T030408Z", p2.Release.ID}) {
			t.Fatalf("Prune = %v, %v", removed, err)
		}
		rels, _ := d.Releases(ctx)
		if len(rels) != 3 {
			t.Fatalf("releases left: %+v", rels)
		}
		if err := d.Remove(ctx); err != nil {
			t.Fatal(err)
		}
		if got := hostEntries(t, f, 0, d); len(got) != 0 {
			t.Fatalf("left after Remove: %v", got)
		}
		if ok, err := d.Exists(ctx); ok || err != nil {
			t.Fatalf("Exists after Remove = %v, %v", ok, err)
		}
	})
	t.Run("bad input leaves nothing on the host", func(t *testing.T) {
		good, sum := tarGz(t, map[string]string{"index.html": "hello"})
		unsafe := tarGzEntries(t, "../escape")
		for _, tc := range []struct {
			name, sha string
			data      []byte
			want      error
		}{
			{"checksum mismatch", sha256hex([]byte("other bytes")), good, store.ErrChecksumMismatch},
			{"truncated archive", "", good[:len(good)/2], nil},
			{"not gzip", "", []byte("plain text, not an archive"), nil},
			{"trailing bytes change the sum", sum, append(append([]byte(nil), good...), 0, 0, 0), store.ErrChecksumMismatch},
			{"unsafe entry", sha256hex(unsafe), unsafe, archive.ErrUnsafeEntry},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d := remoteDir(t, hosts[0], "bad-"+strings.ReplaceAll(tc.name, " ", "-"))
				live := deploy(t, d, "1.0.0")
				before := hostEntries(t, f, 0, d)
				_, err := d.Prepare(ctx, Spec{Name: "app", Version: "2.0.0", SHA256: tc.sha}, store.NewVerifyingReader(bytes.NewReader(tc.data), tc.sha, -1))
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Fatalf("Prepare = %v, want an error matching %v", err, tc.want)
				}
				if after := hostEntries(t, f, 0, d); !slices.Equal(before, after) {
					t.Fatalf("releases/ changed on the host: before %v, after %v", before, after)
				}
				if cur, _ := d.Current(ctx); cur.ID != live.Release.ID {
					t.Fatalf("current moved to %s", cur.ID)
				}
			})
		}
	})
	t.Run("the host checks the sha256 of what it received", func(t *testing.T) {
		d := remoteDir(t, hosts[0], "host-sha")
		live := deploy(t, d, "1.0.0")
		before := hostEntries(t, f, 0, d)
		data, _ := tarGz(t, map[string]string{"index.html": "version 2"})
		// A reader that does not verify: only the host can tell.
		wrong := sha256hex([]byte("something else"))
		_, err := d.Prepare(ctx, Spec{Name: "app", Version: "2.0.0", SHA256: wrong}, bytes.NewReader(data))
		t.Logf("Prepare: %v", err)
		if !errors.Is(err, ErrChecksumOnHost) || !strings.Contains(err.Error(), f.Addr(0)) || !strings.Contains(err.Error(), sha256hex(data)) {
			t.Fatalf("Prepare = %v, want ErrChecksumOnHost naming the host and what it computed", err)
		}
		if after := hostEntries(t, f, 0, d); !slices.Equal(before, after) {
			t.Fatalf("releases/ changed on the host: before %v, after %v", before, after)
		}
		if got := hostServes(t, f, 0, d); got != "version 1.0.0" || live == nil {
			t.Fatalf("the host serves %q", got)
		}
	})
	t.Run("cancelled during the upload: nothing left on the host", func(t *testing.T) {
		d := remoteDir(t, hosts[0], "cancel")
		deploy(t, d, "1.0.0")
		before := hostEntries(t, f, 0, d)
		noise := strings.Repeat("0123456789abcdef", 1<<18) // 4 MiB
		data, sum := tarGz(t, map[string]string{"index.html": "version 2", "blob": noise})
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		r := &slowReader{r: bytes.NewReader(data), at: len(data) / 2, once: cancel}
		if _, err := d.Prepare(cctx, Spec{Name: "app", Version: "2.0.0", SHA256: sum}, r); !errors.Is(err, context.Canceled) {
			t.Fatalf("Prepare = %v, want context.Canceled", err)
		}
		if after := hostEntries(t, f, 0, d); !slices.Equal(before, after) {
			t.Fatalf("releases/ changed on the host: before %v, after %v", before, after)
		}
	})
	t.Run("shared paths", func(t *testing.T) {
		d := remoteDir(t, hosts[0], "shared")
		d.Shared = []string{"storage", ".env"}
		mkdir(t, f.Local(0, path.Join(d.Path, "shared")))
		if err := os.WriteFile(f.Local(0, path.Join(d.Path, "shared", ".env")), []byte("SECRET=1"), 0o600); err != nil {
			t.Fatal(err)
		}
		data, sum := tarGz(t, map[string]string{"index.html": "x", ".env": "from the release", "storage/seed.txt": "seed"})
		p, err := d.Prepare(ctx, Spec{Name: "app", Version: "1.0.0", SHA256: sum}, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		dir := f.Local(0, p.Dir)
		if b, err := os.ReadFile(filepath.Join(dir, ".env")); err != nil || string(b) != "SECRET=1" {
			t.Fatalf(".env = %q, %v; want the shared file", b, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "storage", "seed.txt")); err != nil || string(b) != "seed" {
			t.Fatalf("storage/seed.txt = %q, %v", b, err)
		}
		if dest, err := os.Readlink(filepath.Join(dir, "storage")); err != nil || dest != "../../shared/storage" {
			t.Fatalf("storage -> %q, %v", dest, err)
		}
	})
	t.Run("modes are kept, setuid and setgid bits dropped, as locally", func(t *testing.T) {
		names := []string{"run", "secret", "setgid"}
		data := tarGzModes(t, names, map[string]int64{"run": 0o4755, "secret": 0o600, "setgid": 0o2750})
		want := map[string]os.FileMode{}
		local := newDir(t)
		pl, err := local.Prepare(ctx, Spec{Name: "app", Version: "1.0.0", SHA256: sha256hex(data)}, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			fi, err := os.Stat(filepath.Join(pl.Dir, n))
			if err != nil {
				t.Fatal(err)
			}
			want[n] = fi.Mode()
		}
		d := remoteDir(t, hosts[0], "modes")
		p, err := d.Prepare(ctx, Spec{Name: "app", Version: "1.0.0", SHA256: sha256hex(data)}, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			fi, err := os.Stat(f.Local(0, path.Join(p.Dir, n)))
			if err != nil || fi.Mode() != want[n] {
				t.Errorf("%s: mode %v, %v; the local extraction gives %v", n, fi.Mode(), err, want[n])
			}
		}
		if want["run"] != 0o755 || want["secret"] != 0o600 {
			t.Errorf("local modes %v", want)
		}
	})
	t.Run("stale temporary folders are recognised by age", func(t *testing.T) {
		d := remoteDir(t, hosts[0], "stale")
		deploy(t, d, "1.0.0")
		rel := f.Local(0, d.releasesPath())
		old := ".tmp-at-" + time.Now().Add(-2*time.Hour).UTC().Format(timestampForm) + "-abcdef-2.0.0-20250102T030406Z"
		recent := ".tmp-at-" + time.Now().UTC().Format(timestampForm) + "-abcdef-3.0.0-20250102T030406Z"
		pid := ".tmp-999999999-4.0.0-20250102T030406Z" // a pid of another machine: never judged here
		for _, n := range []string{old, recent, pid} {
			mkdir(t, filepath.Join(rel, n, "release"))
		}
		if _, err := d.Prune(ctx, 5); err != nil {
			t.Fatal(err)
		}
		got := hostEntries(t, f, 0, d)
		if slices.Contains(got, old) || !slices.Contains(got, recent) || !slices.Contains(got, pid) {
			t.Fatalf("after Prune: %v; want %s gone, %s and %s kept", got, old, recent, pid)
		}
	})
}

// tarGzEntries is a tar.gz of one file per name, names as they are (unsafe ones too).
func tarGzEntries(t *testing.T, names ...string) []byte {
	t.Helper()
	modes := map[string]int64{}
	for _, n := range names {
		modes[n] = 0o644
	}
	return tarGzModes(t, names, modes)
}

// tarGzModes is a tar.gz of one file per name, with the modes given.
func tarGzModes(t *testing.T, names []string, modes map[string]int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: modes[n], Size: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRemoteExtractErrors: how the extraction command on a host failed is
// said in the error: a checksum the host computed, a disk too small.
func TestRemoteExtractErrors(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	err := extractError(&host.ExitStatusError{Host: "web1", Status: exitChecksum}, "sha256 "+sum+"\n", strings.Repeat("cd", 32), "/srv/app/releases/.tmp-x/release")
	if !errors.Is(err, ErrChecksumOnHost) || !strings.Contains(err.Error(), "the host computed "+sum) {
		t.Errorf("checksum: %v", err)
	}
	err = extractError(&host.ExitStatusError{Host: "web1", Status: exitNoSpace}, "only 10 KiB free, the release needs 20 KiB\n", sum, "/srv/app/releases/.tmp-x/release")
	if !errors.Is(err, archive.ErrNoSpace) || !strings.Contains(err.Error(), "only 10 KiB free") || !strings.Contains(err.Error(), "free some space") {
		t.Errorf("no space: %v", err)
	}
	err = extractError(&host.ExitStatusError{Host: "web1", Status: 2}, "tar: x: Cannot write: No space left on device\n", sum, "/srv/app/releases/.tmp-x/release")
	if !errors.Is(err, archive.ErrNoSpace) {
		t.Errorf("tar out of space: %v", err)
	}
}
