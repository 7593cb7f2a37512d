package backend_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

func newDirectory(t *testing.T) backend.Backend {
	t.Helper()
	b, err := backend.NewDirectory(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestDirectoryBehaviours(t *testing.T) { runBehaviours(t, newDirectory) }

func TestDirectoryPermissions(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "state")
	b, err := backend.NewDirectory(root)
	if err != nil {
		t.Fatal(err)
	}
	l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "a"})
	st, err := os.Stat(root)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("root mode = %v, %v; want 0700", st.Mode().Perm(), err)
	}
	for _, p := range []string{"locks/staging.lock", "tokens/staging", "history/staging.jsonl"} {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, %v; want 0600", p, st.Mode().Perm(), err)
		}
	}
	// A second backend on the same directory (another process) sees the lock.
	b2, err := backend.NewDirectory(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustInspect(t, b2, "staging"); got == nil || got.ID != l.ID {
		t.Fatalf("second handle sees %+v", got)
	}
}

func TestNewDirectoryErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", filepath.Join(file, "sub")} {
		if _, err := backend.NewDirectory(p); err == nil {
			t.Errorf("NewDirectory(%q) succeeded", p)
		}
	}
}

// A directory where the history file should be makes every append fail.
func TestDirectoryAcquireAllOrNothing(t *testing.T) {
	historyFile := func(b backend.Backend) string {
		return filepath.Join(b.(*backend.Directory).Path(), "history", "staging.jsonl")
	}
	checkAcquireAllOrNothing(t, newDirectory,
		func(t *testing.T, b backend.Backend) {
			f := historyFile(b)
			if err := os.Rename(f, f+".kept"); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			if err := os.Mkdir(f, 0o700); err != nil {
				t.Fatal(err)
			}
		},
		func(t *testing.T, b backend.Backend) {
			f := historyFile(b)
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(f+".kept", f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
		})
}
