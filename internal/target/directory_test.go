package target

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// tarGz returns a release archive of files and its sha256.
func tarGz(t testing.TB, files map[string]string) ([]byte, string) {
	t.Helper()
	data := archivetest.TarGz(t, files)
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:])
}

// clock gives each call a time one second later, so release ids are ordered.
func clock() func() time.Time {
	t := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func newDir(t *testing.T) *Directory {
	t.Helper()
	d, err := NewDirectory(filepath.Join(t.TempDir(), "app"), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Now = clock()
	return d
}

func deploy(t *testing.T, d *Directory, version string) *Prepared {
	t.Helper()
	data, sum := tarGz(t, map[string]string{"index.html": "version " + version})
	p, err := d.Prepare(context.Background(), Spec{Name: "app", Version: version, SHA256: sum}, store.NewVerifyingReader(bytes.NewReader(data), sum, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Activate(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

func readCurrent(t *testing.T, d *Directory) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Path, "current", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func releaseDirs(t *testing.T, d *Directory) []string {
	t.Helper()
	return entryNames(t, d.releasesPath())
}

// entryNames lists the folder dir, sorted, hidden entries too; nothing when
// dir does not exist.
func entryNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestDirectoryDeployAndCurrent(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	if cur, err := d.Current(ctx); err != nil || cur != nil {
		t.Fatalf("empty target: Current = %v, %v; want nil, nil", cur, err)
	}
	p1 := deploy(t, d, "1.0.0")
	if got := readCurrent(t, d); got != "version 1.0.0" {
		t.Fatalf("current serves %q", got)
	}
	p2 := deploy(t, d, "1.0.1")
	cur, err := d.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur.ID != p2.Release.ID || cur.Version != "1.0.1" || cur.Name != "app" || cur.SHA256 != p2.Release.SHA256 {
		t.Fatalf("Current = %+v, want release %s", cur, p2.Release.ID)
	}
	if p1.Release.ID != "1.0.0-20250102T030406Z" {
		t.Fatalf("release id %q, want <version>-<utc timestamp>", p1.Release.ID)
	}
	if dest, _ := os.Readlink(filepath.Join(d.Path, "current")); dest != filepath.Join("releases", p2.Release.ID) {
		t.Fatalf("current -> %q, want a relative link to the release", dest)
	}
	// A manual switch is what Current reports.
	if err := d.switchTo(ctx, p1.Release.ID); err != nil {
		t.Fatal(err)
	}
	if cur, _ := d.Current(ctx); cur.Version != "1.0.0" {
		t.Fatalf("after a manual switch Current = %s, want 1.0.0", cur.Version)
	}
	// Find reuses the folder of the same bytes, never of other bytes.
	if f, err := d.Find(ctx, Spec{Name: "app", Version: "1.0.1", SHA256: p2.Release.SHA256}); err != nil || f == nil || f.Release.ID != p2.Release.ID || !f.Reused {
		t.Fatalf("Find = %+v, %v", f, err)
	}
	if f, _ := d.Find(ctx, Spec{Name: "app", Version: "1.0.1", SHA256: p1.Release.SHA256}); f != nil {
		t.Fatalf("Find matched a release of other bytes: %+v", f)
	}
}

func TestDirectoryPrepareLeavesNoTraceOnFailure(t *testing.T) {
	good, sum := tarGz(t, map[string]string{"index.html": "hello"})
	tests := []struct {
		name string
		data []byte
		sha  string
	}{
		{"checksum mismatch", good, sha256hex([]byte("other bytes"))},
		{"truncated archive", good[:len(good)/2], ""},
		{"not gzip", []byte("plain text, not an archive"), ""},
		{"trailing bytes change the sum", append(append([]byte(nil), good...), 0, 0, 0), sum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := newDir(t)
			live := deploy(t, d, "1.0.0")
			before := releaseDirs(t, d)
			r := store.NewVerifyingReader(bytes.NewReader(tc.data), tc.sha, -1)
			p, err := d.Prepare(ctx, Spec{Name: "app", Version: "2.0.0", SHA256: tc.sha}, r)
			if err == nil {
				t.Fatalf("Prepare accepted bad input: %+v", p)
			}
			if after := releaseDirs(t, d); !slices.Equal(before, after) {
				t.Fatalf("releases changed: before %v, after %v", before, after)
			}
			if cur, _ := d.Current(ctx); cur.ID != live.Release.ID {
				t.Fatalf("current moved to %s", cur.ID)
			}
		})
	}
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestDirectoryPrune(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		versions int
		live     int   // index of the live release
		protect  []int // indexes passed as protect (the previous release)
		failed   []int
		keep     int
		want     []int // indexes that remain
	}{
		{"keeps the newest", 8, 7, []int{6}, nil, 5, []int{3, 4, 5, 6, 7}},
		{"never the live one", 8, 1, []int{0}, nil, 3, []int{0, 1, 5, 6, 7}},
		{"never the previous one", 8, 7, []int{2}, nil, 3, []int{2, 5, 6, 7}},
		{"never a failed one", 8, 7, []int{6}, []int{1, 5}, 3, []int{1, 4, 5, 6, 7}},
		{"keep 1 still keeps live and previous", 4, 3, []int{2}, nil, 1, []int{2, 3}},
		{"nothing to prune", 3, 2, []int{1}, nil, 5, []int{0, 1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDir(t)
			var ids []string
			for i := 0; i < tc.versions; i++ {
				ids = append(ids, deploy(t, d, "1.0."+string(rune('0'+i))).Release.ID)
			}
			for _, i := range tc.failed {
				if err := d.MarkFailed(ctx, Release{ID: ids[i]}, "smoke test"); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.switchTo(ctx, ids[tc.live]); err != nil {
				t.Fatal(err)
			}
			var protect []string
			for _, i := range tc.protect {
				protect = append(protect, ids[i])
			}
			removed, err := d.Prune(ctx, tc.keep, protect...)
			if err != nil {
				t.Fatal(err)
			}
			rels, _ := d.list(ctx)
			var got []string
			for _, r := range rels {
				got = append(got, r.ID)
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, ids[i])
			}
			if !slices.Equal(got, want) {
				t.Fatalf("remaining %v, want %v (removed %v)", got, want, removed)
			}
			if len(removed) != tc.versions-len(tc.want) {
				t.Fatalf("removed %v", removed)
			}
			for _, id := range removed {
				if _, err := os.Lstat(d.metaPath(id)); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("metadata of pruned %s is still there", id)
				}
			}
		})
	}
}

func TestDirectoryRestore(t *testing.T) {
	ctx := context.Background()
	t.Run("to the previous folder", func(t *testing.T) {
		d := newDir(t)
		p1 := deploy(t, d, "1.0.0")
		deploy(t, d, "1.0.1")
		if err := d.Restore(ctx, &p1.Release, nil); err != nil {
			t.Fatal(err)
		}
		if got := readCurrent(t, d); got != "version 1.0.0" {
			t.Fatalf("current serves %q", got)
		}
	})
	t.Run("nothing before", func(t *testing.T) {
		d := newDir(t)
		deploy(t, d, "1.0.0")
		if err := d.Restore(ctx, nil, nil); err != nil {
			t.Fatal(err)
		}
		if cur, err := d.Current(ctx); cur != nil || err != nil {
			t.Fatalf("Current = %v, %v; want nothing live", cur, err)
		}
	})
	t.Run("folder deleted: re-extracted from the artifact", func(t *testing.T) {
		d := newDir(t)
		data, sum := tarGz(t, map[string]string{"index.html": "version 1.0.0"})
		p1, err := d.Prepare(ctx, Spec{Name: "app", Version: "1.0.0", SHA256: sum}, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		deploy(t, d, "1.0.1")
		if err := os.RemoveAll(p1.Dir); err != nil {
			t.Fatal(err)
		}
		opened := 0
		open := func(_ context.Context, s Spec) (io.ReadCloser, error) {
			opened++
			if s.Version != "1.0.0" || s.SHA256 != sum {
				t.Errorf("opened %+v", s)
			}
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		if err := d.Restore(ctx, &p1.Release, open); err != nil {
			t.Fatal(err)
		}
		if opened != 1 || readCurrent(t, d) != "version 1.0.0" {
			t.Fatalf("opened %d times, current serves %q", opened, readCurrent(t, d))
		}
	})
}

func TestDirectorySharedPaths(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	d.Shared = []string{"storage", ".env"}
	if err := os.MkdirAll(filepath.Join(d.Path, "shared"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Path, "shared", ".env"), []byte("SECRET=1"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, sum := tarGz(t, map[string]string{"index.html": "x", ".env": "from the release", "storage/seed.txt": "seed"})
	p, err := d.Prepare(ctx, Spec{Name: "app", Version: "1.0.0", SHA256: sum}, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(p.Dir, ".env")); err != nil || string(b) != "SECRET=1" {
		t.Fatalf(".env = %q, %v; want the shared file", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(p.Dir, "storage", "seed.txt")); err != nil || string(b) != "seed" {
		t.Fatalf("storage/seed.txt = %q, %v; want it seeded into shared/", b, err)
	}
	if fi, err := os.Lstat(filepath.Join(p.Dir, "storage")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("storage is not a link: %v", err)
	}
	if _, err := NewDirectory("/srv/app", []string{"../etc"}); err == nil {
		t.Fatal("a shared path escaping the release was accepted")
	}
}

func TestDirectorySafety(t *testing.T) {
	ctx := context.Background()
	t.Run("current that is not a symlink is never replaced", func(t *testing.T) {
		d := newDir(t)
		if err := os.MkdirAll(filepath.Join(d.Path, "current"), 0o755); err != nil {
			t.Fatal(err)
		}
		data, sum := tarGz(t, map[string]string{"a": "b"})
		p, err := d.Prepare(ctx, Spec{Name: "app", Version: "1.0.0", SHA256: sum}, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Activate(ctx, p); err == nil {
			t.Fatal("Activate replaced a real current folder")
		}
	})
	t.Run("leftovers of killed deploys are cleaned", func(t *testing.T) {
		d := newDir(t)
		deploy(t, d, "1.0.0")
		dead := filepath.Join(d.releasesPath(), ".tmp-999999999-2.0.0-20250102T030406Z")
		mine := filepath.Join(d.releasesPath(), ".tmp-"+strconv.Itoa(os.Getpid())+"-3.0.0-20250102T030406Z")
		for _, p := range []string{dead, mine} {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.Prune(ctx, 5); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("the extraction folder of a dead process was left")
		}
		if _, err := os.Stat(mine); err != nil {
			t.Fatal("the extraction folder of a running process was removed")
		}
	})
	t.Run("remove", func(t *testing.T) {
		d := newDir(t)
		deploy(t, d, "1.0.0")
		if err := d.Remove(ctx); err != nil {
			t.Fatal(err)
		}
		if cur, _ := d.Current(ctx); cur != nil {
			t.Fatal("current still there")
		}
		if got := releaseDirs(t, d); len(got) != 0 {
			t.Fatalf("releases left: %v", got)
		}
	})
}
