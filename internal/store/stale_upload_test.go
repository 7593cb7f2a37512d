package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPutCleansStaleUploads: a publish killed midway leaves its temporary upload;
// the next write removes it (dead process, or too old), and keeps live ones.
func TestPutCleansStaleUploads(t *testing.T) {
	d, err := NewDirectory(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// A process that has exited: its pid is free.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(d.root, ".tmp", strings.Replace(uploadPrefix(), "-"+strconv.Itoa(os.Getpid())+"-", "-"+strconv.Itoa(cmd.Process.Pid)+"-", 1)+"x")
	old := filepath.Join(d.root, ".tmp", "put-123456")
	live := filepath.Join(d.root, ".tmp", uploadPrefix()+"inprogress")
	for _, p := range []string{dead, old, live} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "data"), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * staleUploadAge)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(context.Background(), "app", "1.0.0", strings.NewReader("bytes"), "", nil); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{dead: false, old: false, live: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}
