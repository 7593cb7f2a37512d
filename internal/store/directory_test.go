package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newDir(t *testing.T) *Directory {
	t.Helper()
	d, err := NewDirectory(filepath.Join(t.TempDir(), "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func checksum(b []byte) string {
	v := NewVerifyingReader(bytes.NewReader(b), "", -1)
	_, _ = io.Copy(io.Discard, v)
	return v.Sum()
}

// leftovers lists every file under the store except the empty .tmp folder.
func storeLeftovers(t *testing.T, d *Directory) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(d.Root(), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			out = append(out, strings.TrimPrefix(p, d.Root()))
		}
		return nil
	})
	return out
}

func TestDirectoryPutGetStat(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	content := []byte("hello release")
	obj, err := d.Put(ctx, "histologe", "1.7.4", bytes.NewReader(content), checksum(content), map[string]string{"git_commit": "3f2a9c1"})
	if err != nil {
		t.Fatal(err)
	}
	if obj.SHA256 != checksum(content) || obj.Size != int64(len(content)) || obj.ID() != "histologe@1.7.4" {
		t.Fatalf("unexpected object %+v", obj)
	}
	if !strings.HasPrefix(obj.URI, "file://") || obj.PublishedAt.IsZero() {
		t.Fatalf("missing uri or publication time: %+v", obj)
	}
	rc, got, err := d.Get(ctx, "histologe", "1.7.4")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, content) || got.Metadata["git_commit"] != "3f2a9c1" {
		t.Fatalf("Get returned %q %+v", b, got)
	}
	st, err := d.Stat(ctx, "histologe", "1.7.4")
	if err != nil || st.SHA256 != obj.SHA256 {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	if fi, _ := os.Stat(filepath.Join(d.Root(), "histologe", "1.7.4", "data")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("data file mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(d.Root()); fi.Mode().Perm() != 0o700 {
		t.Fatalf("store mode %v, want 0700", fi.Mode().Perm())
	}
}

func TestDirectoryChecksumMismatchLeavesNothing(t *testing.T) {
	d := newDir(t)
	_, err := d.Put(context.Background(), "app", "1.0.0", strings.NewReader("bytes"), checksum([]byte("other")), nil)
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("want ErrChecksumMismatch, got %v", err)
	}
	if files := storeLeftovers(t, d); len(files) != 0 {
		t.Fatalf("a refused put left %v", files)
	}
	if _, err := d.Stat(context.Background(), "app", "1.0.0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

// The directory store keeps every promise of Store and, after storeLifecycle,
// holds only the data and metadata of the one version still published.
func TestDirectoryLifecycle(t *testing.T) {
	d := newDir(t)
	storeLifecycle(t, d)
	if files := storeLeftovers(t, d); len(files) != 2 {
		t.Fatalf("want only data and metadata, got %v", files)
	}
}

func TestDirectoryVerifyDetectsCorruption(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	if _, err := d.Put(ctx, "app", "1.0.0", strings.NewReader("abcdef"), "", nil); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(d.Root(), "app", "1.0.0", "data")
	if err := os.WriteFile(data, []byte("abcdeX"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "app", "1.0.0"); err != nil {
		t.Fatalf("same size must pass the cheap check: %v", err)
	}
	if _, err := d.Verify(ctx, "app", "1.0.0"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("want ErrCorrupt, got %v", err)
	}
	if err := os.WriteFile(data, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "app", "1.0.0"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("size change must be caught by Stat: %v", err)
	}
}

func TestValidation(t *testing.T) {
	d := newDir(t)
	for _, c := range []struct{ name, version string }{{"../x", "1.0.0"}, {"app", "../../etc"}, {"", "1.0.0"}, {"app", "1.0.0/x"}, {"a b", "1.0.0"}} {
		if _, err := d.Put(context.Background(), c.name, c.version, strings.NewReader("x"), "", nil); err == nil {
			t.Errorf("Put(%q, %q) should fail", c.name, c.version)
		}
	}
	if _, _, err := ParseID("histologe"); err == nil {
		t.Error("ParseID without @ should fail")
	}
	if n, v, err := ParseID("histologe-backup@1.7.4+20261122T101010Z"); err != nil || n != "histologe-backup" || v != "1.7.4+20261122T101010Z" {
		t.Errorf("ParseID = %q %q %v", n, v, err)
	}
}

func TestPutCancelledLeavesNothing(t *testing.T) {
	d := newDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := io.MultiReader(strings.NewReader("partial"), readerFunc(func([]byte) (int, error) {
		cancel()
		return 0, fmt.Errorf("connection lost")
	}))
	if _, err := d.Put(ctx, "app", "1.0.0", r, "", nil); err == nil {
		t.Fatal("interrupted put should fail")
	}
	if files := storeLeftovers(t, d); len(files) != 0 {
		t.Fatalf("interrupted put left %v", files)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestVerifyingReader(t *testing.T) {
	content := make([]byte, 4096)
	_, _ = rand.Read(content)
	if _, err := io.Copy(io.Discard, NewVerifyingReader(bytes.NewReader(content), checksum(content), int64(len(content)))); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, NewVerifyingReader(bytes.NewReader(content), checksum([]byte("x")), -1)); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("want mismatch, got %v", err)
	}
	if _, err := io.Copy(io.Discard, NewVerifyingReader(bytes.NewReader(content), "", 10)); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("want size mismatch, got %v", err)
	}
}

// TestCanonicalVersionsOnly: v1.2.3 and 01.2.3 mean 1.2.3; the store refuses them,
// with the form to use, so that one version cannot hold two sets of bytes.
func TestCanonicalVersionsOnly(t *testing.T) {
	d, err := NewDirectory(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Put(ctx, "app", "1.2.3", strings.NewReader("one"), "", nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1.2.3", "01.2.3", "1.02.3"} {
		if _, err := d.Put(ctx, "app", v, strings.NewReader("other"), "", nil); err == nil || !strings.Contains(err.Error(), `use "1.2.3"`) {
			t.Errorf("Put %s: err = %v, want a refusal that names 1.2.3", v, err)
		}
		if _, _, err := ParseID("app@" + v); err == nil || !strings.Contains(err.Error(), `use "1.2.3"`) {
			t.Errorf("ParseID app@%s: err = %v, want a refusal that names 1.2.3", v, err)
		}
	}
	if n, v, err := ParseID("app-backup@1.2.3+20261122T101010Z"); err != nil || n != "app-backup" || v != "1.2.3+20261122T101010Z" {
		t.Errorf("ParseID of a backup id = %q %q %v", n, v, err)
	}
	objs, err := d.List(ctx, "app")
	if err != nil || len(objs) != 1 || objs[0].Version != "1.2.3" {
		t.Fatalf("List = %+v, %v; want only 1.2.3", objs, err)
	}
}

// TestUpperCaseChecksums: a checksum in upper case (as PowerShell prints it)
// names the same bytes: Put, Copy and a re-publication accept it.
func TestUpperCaseChecksums(t *testing.T) {
	d, err := NewDirectory(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sum := sha256.Sum256([]byte("bytes"))
	upper := strings.ToUpper(hex.EncodeToString(sum[:]))
	obj, err := d.Put(ctx, "app", "1.0.0-staging", strings.NewReader("bytes"), upper, nil)
	if err != nil {
		t.Fatal(err)
	}
	if obj.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("the store records %s, want lower case", obj.SHA256)
	}
	if _, err := d.Put(ctx, "app", "1.0.0-staging", strings.NewReader("bytes"), upper, nil); err != nil {
		t.Fatalf("publishing the same bytes again: %v", err)
	}
	if _, err := d.Copy(ctx, "app", "1.0.0-staging", "1.0.0-rc", upper, nil); err != nil {
		t.Fatalf("Copy with an upper-case checksum: %v", err)
	}
}
