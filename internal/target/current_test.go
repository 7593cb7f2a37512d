package target

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDirectoryCurrentOnlyRecognisesReleases: `current` is a release only when it
// leads to a real folder directly inside releases/; anything else is reported as
// a Problem, without an error, so a plan can show the drift and plan a redeploy.
func TestDirectoryCurrentOnlyRecognisesReleases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		point   func(t *testing.T, d *Directory, id string) string // returns the link target
		sound   bool
		problem string
	}{
		{"relative link into releases", func(t *testing.T, d *Directory, id string) string { return filepath.Join("releases", id) }, true, ""},
		{"absolute link into releases", func(t *testing.T, d *Directory, id string) string { return filepath.Join(d.Path, "releases", id) }, true, ""},
		{"link with a trailing slash and dots", func(t *testing.T, d *Directory, id string) string { return "./releases/../releases/" + id + "/" }, true, ""},
		{"folder of the same name elsewhere", func(t *testing.T, d *Directory, id string) string {
			return copyRelease(t, d, id, filepath.Join(filepath.Dir(d.Path), "elsewhere", id))
		}, false, "outside"},
		{"sibling folder with the same prefix", func(t *testing.T, d *Directory, id string) string {
			return copyRelease(t, d, id, filepath.Join(d.Path, "releases-evil", id))
		}, false, "outside"},
		{"relative link escaping releases", func(t *testing.T, d *Directory, id string) string {
			copyRelease(t, d, id, filepath.Join(d.Path, "releases-evil", id))
			return "releases/../releases-evil/" + id
		}, false, "outside"},
		{"nested folder of a release", func(t *testing.T, d *Directory, id string) string {
			mkdir(t, filepath.Join(d.Path, "releases", id, "sub"))
			return filepath.Join("releases", id, "sub")
		}, false, "outside"},
		{"the releases folder itself", func(t *testing.T, d *Directory, id string) string { return "releases" }, false, "outside"},
		{"an extraction in progress", func(t *testing.T, d *Directory, id string) string {
			mkdir(t, filepath.Join(d.Path, "releases", ".tmp-1-x"))
			return "releases/.tmp-1-x"
		}, false, "outside"},
		{"dangling: the release folder was deleted", func(t *testing.T, d *Directory, id string) string { return "releases/1.0.0-20000101T000000Z" }, false, "no longer exists"},
		{"symbolic link inside releases", func(t *testing.T, d *Directory, id string) string {
			other := copyRelease(t, d, id, filepath.Join(filepath.Dir(d.Path), "elsewhere", id))
			if err := os.Symlink(other, filepath.Join(d.Path, "releases", "planted")); err != nil {
				t.Fatal(err)
			}
			return "releases/planted"
		}, false, "not a release folder"},
		{"file inside releases", func(t *testing.T, d *Directory, id string) string {
			if err := os.WriteFile(filepath.Join(d.Path, "releases", "file"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return "releases/file"
		}, false, "not a release folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := newDir(t)
			p := deploy(t, d, "1.0.0")
			relink(t, d, tc.point(t, d, p.Release.ID))
			cur, err := d.Current(ctx)
			if err != nil || cur == nil {
				t.Fatalf("Current = %v, %v; want a release and no error", cur, err)
			}
			if cur.Sound() != tc.sound || !strings.Contains(cur.Problem, tc.problem) || (tc.problem == "") != (cur.Problem == "") {
				t.Fatalf("Current = %+v; want sound %v, problem %q", cur, tc.sound, tc.problem)
			}
			if tc.sound {
				if cur.ID != p.Release.ID || cur.Version != "1.0.0" || cur.Path != p.Release.Path {
					t.Fatalf("Current = %+v, want %s", cur, p.Release.ID)
				}
				return
			}
			if cur.ID != "" || cur.Version != "" || cur.Path != "" {
				t.Fatalf("a link that is not a release was adopted: %+v", cur)
			}
			if !strings.Contains(cur.Problem, filepath.Join(d.Path, "current")+" points at ") {
				t.Fatalf("problem %q does not say where current points", cur.Problem)
			}
			// The next switch corrects it, and pruning does not trip over it.
			if _, err := d.Prune(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if err := d.Activate(ctx, p); err != nil {
				t.Fatal(err)
			}
			if cur, err := d.Current(ctx); err != nil || !cur.Sound() || cur.ID != p.Release.ID {
				t.Fatalf("after Activate: Current = %+v, %v", cur, err)
			}
		})
	}
}

// TestDirectoryReleasesOnAnotherDisk: releases/ may itself be a symbolic link;
// a `current` that names the link's destination is still one of its releases.
func TestDirectoryReleasesOnAnotherDisk(t *testing.T) {
	d := newDir(t)
	disk := filepath.Join(filepath.Dir(d.Path), "disk2", "releases")
	mkdir(t, disk)
	mkdir(t, d.Path)
	if err := os.Symlink(disk, filepath.Join(d.Path, "releases")); err != nil {
		t.Fatal(err)
	}
	p := deploy(t, d, "1.0.0")
	relink(t, d, filepath.Join(disk, p.Release.ID))
	if cur, err := d.Current(context.Background()); err != nil || !cur.Sound() || cur.ID != p.Release.ID {
		t.Fatalf("Current = %+v, %v; want %s", cur, err, p.Release.ID)
	}
}

func TestDirectoryVerificationMarks(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	p1 := deploy(t, d, "1.0.0")
	before, err := d.Current(ctx)
	if err != nil || !before.Sound() {
		t.Fatalf("Current = %+v, %v", before, err)
	}
	data, sum := tarGz(t, map[string]string{"index.html": "version 1.0.1"})
	p2, err := d.Prepare(ctx, Spec{Name: "app", Version: "1.0.1", SHA256: sum}, strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	// The replaced release's own marks are not carried along.
	replaced := *before
	replaced.Replaced, replaced.Problem = &Release{ID: "older"}, "stale"
	for _, step := range []struct {
		name    string
		do      func() error
		sound   bool
		problem string
		meta    map[string]any // fields of the metadata file that must be there (nil value: absent)
	}{
		{"marked before the switch", func() error { return d.MarkUnverified(ctx, p2.Release, &replaced) }, true, "", map[string]any{"unverified": true}},
		{"live and unverified", func() error { return d.Activate(ctx, p2) }, false, "never finished", map[string]any{"unverified": true}},
		{"verified", func() error { return d.MarkVerified(ctx, p2.Release) }, true, "", map[string]any{"unverified": nil, "replaced": nil}},
		{"unverified again", func() error { return d.MarkUnverified(ctx, p2.Release, &replaced) }, false, "never finished", map[string]any{"unverified": true}},
		{"failed", func() error { return d.MarkFailed(ctx, p2.Release, "smoke test answered 502") }, false, "failed (smoke test answered 502)", map[string]any{"unverified": nil, "failed": true}},
		{"failed then unverified (a retry killed)", func() error { return d.MarkUnverified(ctx, p2.Release, &replaced) }, false, "never finished", map[string]any{"unverified": true, "failed": true}},
		{"verified clears failed", func() error { return d.MarkVerified(ctx, p2.Release) }, true, "", map[string]any{"unverified": nil, "failed": nil, "fail_reason": nil}},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		cur, err := d.Current(ctx)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if cur.ID == p2.Release.ID && (cur.Sound() != step.sound || !strings.Contains(cur.Problem, step.problem) || (step.problem == "") != (cur.Problem == "")) {
			t.Fatalf("%s: Current = %+v; want sound %v, problem %q", step.name, cur, step.sound, step.problem)
		}
		if !cur.Sound() {
			if cur.Replaced == nil || cur.Replaced.ID != p1.Release.ID || cur.Replaced.Replaced != nil || cur.Replaced.Problem != "" {
				t.Fatalf("%s: Replaced = %+v, want %s alone", step.name, cur.Replaced, p1.Release.ID)
			}
			if !strings.Contains(cur.Problem, "1.0.1 ("+p2.Release.ID+")") {
				t.Fatalf("%s: problem %q does not name the release", step.name, cur.Problem)
			}
		}
		raw, err := os.ReadFile(d.metaPath(p2.Release.ID))
		if err != nil {
			t.Fatal(err)
		}
		var meta map[string]any
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatal(err)
		}
		for k, want := range step.meta {
			if got, ok := meta[k]; (want == nil) == ok || (want != nil && got != want) {
				t.Fatalf("%s: metadata %s = %v, want %v:\n%s", step.name, k, got, want, raw)
			}
		}
		if strings.Contains(string(raw), "stale") || strings.Contains(string(raw), "older") {
			t.Fatalf("%s: the replaced release's own marks were recorded:\n%s", step.name, raw)
		}
	}
	// Marks on a release that is not there fail: nothing can carry them.
	if err := d.MarkUnverified(ctx, Release{ID: "1.9.9-20000101T000000Z"}, nil); err == nil {
		t.Fatal("MarkUnverified of a missing release succeeded")
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

// copyRelease copies the index of release id into dir, and returns dir.
func copyRelease(t *testing.T, d *Directory, id, dir string) string {
	t.Helper()
	mkdir(t, dir)
	b, err := os.ReadFile(filepath.Join(d.releasesPath(), id, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// relink points current at dest by rename, as someone on the server would.
func relink(t *testing.T, d *Directory, dest string) {
	t.Helper()
	tmp := filepath.Join(d.Path, "current.new")
	if err := os.Symlink(dest, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.Path, "current")); err != nil {
		t.Fatal(err)
	}
}
