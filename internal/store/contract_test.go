package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// What the Store interface promises, checked once and run against both stores:
// the directory store and the HTTP store on a real nginx WebDAV server.

var storeKinds = []struct {
	name string
	open func(t *testing.T) Store
}{
	{"directory", func(t *testing.T) Store { return newDir(t) }},
	{"http", func(t *testing.T) Store {
		_, _, base := startDAV(t, davOptions{})
		return newTestHTTP(t, HTTPConfig{URL: base})
	}},
}

// storeLifecycle checks on s every promise of Store from the first Put of
// app@1.0.0-staging to the Delete of its copy app@1.0.0-rc: reads, immutability,
// checksums, copies, listing and deletion. It returns the object of the first Put;
// app@1.0.0-staging is left published, and nothing else.
func storeLifecycle(t *testing.T, s Store) Object {
	t.Helper()
	ctx := context.Background()
	content := bytes.Repeat([]byte("release bytes\n"), 10000)

	obj, err := s.Put(ctx, "app", "1.0.0-staging", bytes.NewReader(content), sum(content), map[string]string{"git_commit": "abc123"})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if obj.SHA256 != sum(content) || obj.Size != int64(len(content)) || obj.ID() != "app@1.0.0-staging" || obj.PublishedAt.IsZero() {
		t.Errorf("Put returned %+v", obj)
	}
	st, err := s.Stat(ctx, "app", "1.0.0-staging")
	if err != nil || st.SHA256 != obj.SHA256 || st.Metadata["git_commit"] != "abc123" || !st.PublishedAt.Equal(obj.PublishedAt) {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	if got := read(t, s, "app", "1.0.0-staging"); !bytes.Equal(got, content) {
		t.Fatalf("Get read %d bytes, want the %d published", len(got), len(content))
	}

	again, err := s.Put(ctx, "app", "1.0.0-staging", bytes.NewReader(content), "", nil)
	if err != nil || !again.PublishedAt.Equal(obj.PublishedAt) || again.Metadata["git_commit"] != "abc123" {
		t.Errorf("same bytes again = %+v, %v; want the existing object", again, err)
	}
	if _, err := s.Put(ctx, "app", "1.0.0-staging", strings.NewReader("other bytes"), "", nil); !errors.Is(err, ErrConflict) {
		t.Errorf("different bytes: error = %v, want ErrConflict", err)
	}
	if got := read(t, s, "app", "1.0.0-staging"); !bytes.Equal(got, content) {
		t.Fatalf("published bytes were overwritten: %.40q", got)
	}
	if _, err := s.Put(ctx, "app", "1.0.1", bytes.NewReader(content), sum([]byte("x")), nil); !errors.Is(err, ErrChecksumMismatch) {
		t.Errorf("wrong expected sha256: error = %v, want ErrChecksumMismatch", err)
	}
	if _, err := s.Stat(ctx, "app", "1.0.1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused upload left something: Stat = %v", err)
	}

	storeCopyListDelete(t, s, obj)
	return obj
}

// storeCopyListDelete copies the published obj (app@1.0.0-staging) to
// app@1.0.0-rc, lists both, then deletes the copy.
func storeCopyListDelete(t *testing.T, s Store, obj Object) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Copy(ctx, "app", "1.0.0-staging", "1.0.0-rc", sum([]byte("nope")), nil); !errors.Is(err, ErrChecksumMismatch) {
		t.Errorf("Copy with a wrong sha256: error = %v", err)
	}
	cp, err := s.Copy(ctx, "app", "1.0.0-staging", "1.0.0-rc", obj.SHA256, map[string]string{"promoted_from": "1.0.0-staging"})
	if err != nil || cp.SHA256 != obj.SHA256 || cp.Version != "1.0.0-rc" || cp.Metadata["promoted_from"] != "1.0.0-staging" {
		t.Fatalf("Copy = %+v, %v", cp, err)
	}
	if v, err := s.Verify(ctx, "app", "1.0.0-rc"); err != nil || v.Metadata["promoted_from"] != "1.0.0-staging" {
		t.Fatalf("Verify copy = %+v, %v", v, err)
	}

	list, err := s.List(ctx, "app")
	if err != nil || len(list) != 2 || list[0].Version != "1.0.0-rc" && list[1].Version != "1.0.0-rc" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if empty, err := s.List(ctx, "nothing-here"); err != nil || len(empty) != 0 {
		t.Errorf("List of an unknown name = %+v, %v", empty, err)
	}

	if err := s.Delete(ctx, "app", "1.0.0-rc"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(ctx, "app", "1.0.0-rc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after Delete = %v", err)
	}
	if err := s.Delete(ctx, "app", "1.0.0-rc"); err != nil {
		t.Errorf("Delete of a missing version: %v", err)
	}
	if list, err := s.List(ctx, "app"); err != nil || len(list) != 1 {
		t.Errorf("List after Delete = %+v, %v; want app@1.0.0-staging alone", list, err)
	}
}

// read returns the bytes Get serves for name@version.
func read(t *testing.T, s Store, name, version string) []byte {
	t.Helper()
	rc, _, err := s.Get(context.Background(), name, version)
	if err != nil {
		t.Fatalf("Get %s@%s: %v", name, version, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get %s@%s: reading: %v", name, version, err)
	}
	return b
}

// Publishers racing on one version: exactly one wins, the others get ErrConflict,
// and the stored bytes are whole and one of the payloads.
func TestStoreConcurrentPublishersOneWins(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := k.open(t)
			ctx := context.Background()
			const n = 8
			payloads := make([][]byte, n)
			for i := range payloads {
				payloads[i] = bytes.Repeat([]byte{byte('a' + i)}, 1<<20)
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { _, errs[i] = s.Put(ctx, "app", "1.0.0", bytes.NewReader(payloads[i]), "", nil) })
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, ErrConflict):
					t.Errorf("unexpected error: %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d publishers won, want exactly 1 (%v)", won, errs)
			}
			obj, err := s.Verify(ctx, "app", "1.0.0")
			if err != nil {
				t.Fatalf("torn artifact: %v", err)
			}
			found := false
			for _, p := range payloads {
				found = found || sum(p) == obj.SHA256
			}
			if !found {
				t.Fatal("stored bytes match none of the payloads")
			}
		})
	}
}
