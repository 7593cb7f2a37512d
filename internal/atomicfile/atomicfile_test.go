package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// assertOnly checks that dir holds name and nothing else: no temporary file or
// link was left behind.
func assertOnly(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		t.Fatalf("%s holds %v, want only %s: something temporary was left", dir, entries, name)
	}
}

func TestWriteFileReplacesWithoutLeftovers(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "upstream.conf")
	for _, content := range []string{"one", "two"} {
		if err := WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", fi.Mode().Perm())
	}
	assertOnly(t, dir, filepath.Base(p))
}

func TestCreateFileIsExclusive(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "lock")
	var wg sync.WaitGroup
	wins := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := CreateFile(p, []byte{byte('0' + i)}, 0o600)
			switch {
			case err == nil:
				wins <- i
			case !errors.Is(err, os.ErrExist):
				t.Errorf("unexpected error: %v", err)
			}
		}(i)
	}
	wg.Wait()
	close(wins)
	if n := len(wins); n != 1 {
		t.Fatalf("%d creators won, want 1", n)
	}
	assertOnly(t, dir, filepath.Base(p))
}

func TestSymlinkSwitches(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "current")
	for _, target := range []string{"releases/1", "releases/2"} {
		if err := Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		got, err := os.Readlink(link)
		if err != nil || got != target {
			t.Fatalf("link = %q, %v; want %q", got, err, target)
		}
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(link, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Symlink("releases/3", link); err == nil {
		t.Fatal("replacing a real folder must fail")
	}
	assertOnly(t, dir, filepath.Base(link))
}
