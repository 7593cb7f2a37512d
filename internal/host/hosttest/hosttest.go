// Package hosttest is the behaviour every host.Host must have, as one test suite:
// the local implementation runs it today, and a remote one (SSH) runs the same
// suite against its own server, so the two cannot drift apart. Dial and
// DialAll connect tests to the OpenSSH servers of an sshtest.Fleet, and
// ServeEach serves HTTP on each of those hosts' addresses.
package hosttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
)

// Run runs the suite against h. root is an empty folder on the host that the
// suite may fill.
func Run(t *testing.T, h host.Host, root string) {
	t.Run("files", func(t *testing.T) { testFiles(t, h, root) })
	t.Run("write is atomic", func(t *testing.T) { testAtomicWrite(t, h, root) })
	t.Run("streams", func(t *testing.T) { testStreams(t, h, root) })
	t.Run("links", func(t *testing.T) { testLinks(t, h, root) })
	t.Run("folders", func(t *testing.T) { testFolders(t, h, root) })
	t.Run("commands", func(t *testing.T) { testCommands(t, h, root) })
	t.Run("stopped commands", func(t *testing.T) { testStoppedCommands(t, h, root) })
}

func testFiles(t *testing.T, h host.Host, root string) {
	ctx := context.Background()
	p := path.Join(root, "files", "a.conf")
	if _, err := h.ReadFile(ctx, p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := h.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat of a missing file: %v, want fs.ErrNotExist", err)
	}
	if err := h.MkdirAll(ctx, path.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"one\n", "two\n"} {
		if err := h.WriteFile(ctx, p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := h.ReadFile(ctx, p)
		if err != nil || string(got) != content {
			t.Fatalf("ReadFile = %q, %v; want %q", got, err, content)
		}
	}
	fi, err := h.Stat(ctx, p)
	if err != nil || fi.Mode().Perm() != 0o640 || fi.Size() != 4 || fi.IsDir() {
		t.Fatalf("Stat = %v, %v; want a 4-byte file with mode 0640", fi, err)
	}
	q := path.Join(root, "files", "b.conf")
	if err := h.Rename(ctx, p, q); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the old name is still there after Rename: %v", err)
	}
	if err := h.Remove(ctx, q); err != nil {
		t.Fatal(err)
	}
	if err := h.Remove(ctx, q); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove of a missing file: %v, want fs.ErrNotExist", err)
	}
	if err := h.WriteFile(ctx, path.Join(root, "no", "such", "dir", "f"), nil, 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteFile into a missing folder: %v, want fs.ErrNotExist", err)
	}
	assertOnly(t, h, path.Join(root, "files"))
}

// testAtomicWrite replaces a file many times while readers read it: every read
// sees one complete version, and no temporary file is left.
func testAtomicWrite(t *testing.T, h host.Host, root string) {
	ctx := context.Background()
	dir := path.Join(root, "atomic")
	if err := h.MkdirAll(ctx, dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := path.Join(dir, "upstream.conf")
	versions := []string{strings.Repeat("a", 64<<10), strings.Repeat("b", 64<<10)}
	if err := h.WriteFile(ctx, p, []byte(versions[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bad error
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := h.ReadFile(ctx, p)
			if err == nil && string(got) != versions[0] && string(got) != versions[1] {
				err = errors.New("a reader saw a half-written file")
			}
			if err != nil {
				mu.Lock()
				bad = err
				mu.Unlock()
				return
			}
		}
	}()
	for i := range 50 {
		if err := h.WriteFile(ctx, p, []byte(versions[i%2]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if bad != nil {
		t.Fatal(bad)
	}
	assertOnly(t, h, dir, "upstream.conf")
}

// testStreams writes a file from a reader and reads it back with Open; a reader
// that fails leaves the old content and no temporary file.
func testStreams(t *testing.T, h host.Host, root string) {
	ctx := context.Background()
	dir := path.Join(root, "streams")
	if err := h.MkdirAll(ctx, dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := path.Join(dir, "artifact.tar.gz")
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := h.WriteFileFrom(ctx, p, bytes.NewReader(want), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := h.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	_ = rc.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Open read %d bytes (%v), want the %d bytes written", len(got), err, len(want))
	}
	if fi, err := h.Stat(ctx, p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("Stat = %v, %v; want mode 0600", fi, err)
	}
	broken := errors.New("the store went away")
	err = h.WriteFileFrom(ctx, p, io.MultiReader(bytes.NewReader(want[:1000]), errReader{broken}), 0o600)
	if !errors.Is(err, broken) {
		t.Fatalf("WriteFileFrom with a failing reader: %v, want its error", err)
	}
	if got, err := h.ReadFile(ctx, p); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a failed WriteFileFrom changed the file (%d bytes, %v)", len(got), err)
	}
	if _, err := h.Open(ctx, path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing file: %v, want fs.ErrNotExist", err)
	}
	assertOnly(t, h, dir, "artifact.tar.gz")
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func testLinks(t *testing.T, h host.Host, root string) {
	ctx := context.Background()
	dir := path.Join(root, "links")
	for _, d := range []string{"blue", "green"} {
		if err := h.MkdirAll(ctx, path.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	live := path.Join(dir, "live")
	if _, err := h.Readlink(ctx, live); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Readlink of a missing link: %v, want fs.ErrNotExist", err)
	}
	for _, target := range []string{"blue", "green", "blue"} {
		if err := h.Symlink(ctx, target, live); err != nil {
			t.Fatal(err)
		}
		got, err := h.Readlink(ctx, live)
		if err != nil || got != target {
			t.Fatalf("Readlink = %q, %v; want %q", got, err, target)
		}
	}
	fi, err := h.Lstat(ctx, live)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("Lstat = %v, %v; want a symbolic link", fi, err)
	}
	if fi, err := h.Stat(ctx, live); err != nil || !fi.IsDir() {
		t.Fatalf("Stat through the link = %v, %v; want the folder", fi, err)
	}
	assertOnly(t, h, dir, "blue", "green", "live")
}

func testFolders(t *testing.T, h host.Host, root string) {
	ctx := context.Background()
	dir := path.Join(root, "tree")
	if err := h.MkdirAll(ctx, path.Join(dir, "b", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile(ctx, path.Join(dir, "a"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile(ctx, path.Join(dir, "b", "deep", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := h.ReadDir(ctx, dir)
	if err != nil || len(list) != 2 || list[0].Name() != "a" || list[1].Name() != "b" || !list[1].IsDir() {
		t.Fatalf("ReadDir = %v, %v; want a, then the folder b", names(list), err)
	}
	if _, err := h.ReadDir(ctx, path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadDir of a missing folder: %v, want fs.ErrNotExist", err)
	}
	if err := h.Remove(ctx, path.Join(dir, "b")); err == nil {
		t.Fatal("Remove deleted a folder that is not empty")
	}
	if err := h.RemoveAll(ctx, path.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	if err := h.RemoveAll(ctx, path.Join(dir, "b")); err != nil {
		t.Fatalf("RemoveAll of a missing path: %v, want nil", err)
	}
	assertOnly(t, h, dir, "a")
}

func testCommands(t *testing.T, h host.Host, root string) {
	ctx := context.Background()
	dir := path.Join(root, "cmd")
	if err := h.MkdirAll(ctx, dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := h.Run(ctx, host.Command{
		Script: `printf '%s|%s|' "$RELEASE_VERSION" "$(pwd)"; echo err >&2; touch made`,
		Dir:    dir,
		Env:    []string{"RELEASE_VERSION=1.0.0", "RELEASE_VERSION=1.7.4; rm -rf /"},
	})
	if err != nil {
		t.Fatalf("Run: %v (%s)", err, out)
	}
	if want := "1.7.4; rm -rf /|" + dir + "|err"; out != want {
		t.Fatalf("output = %q, want %q (later Env entries win, values are not interpreted)", out, want)
	}
	if _, err := h.Stat(ctx, path.Join(dir, "made")); err != nil {
		t.Fatalf("the command did not run in Dir: %v", err)
	}
	out, err = h.Run(ctx, host.Command{Script: "echo nope; exit 3"})
	if err == nil || !strings.Contains(err.Error(), "3") || out != "nope" {
		t.Fatalf("a failing command: out %q, err %v; want its output and exit status 3", out, err)
	}
	out, err = h.Run(ctx, host.Command{Script: "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done", MaxOutput: 100})
	if err != nil || len(out) > 110 || !strings.HasSuffix(out, "line-1999") || !strings.HasPrefix(out, "…") {
		t.Fatalf("capped output = %q (%d bytes), %v; want the last ~100 bytes", out, len(out), err)
	}
}

func testStoppedCommands(t *testing.T, h host.Host, root string) {
	ctx := context.Background()
	marker := path.Join(root, "survivor")
	started := time.Now()
	// The background sleep would write the marker if it outlived the command.
	_, err := h.Run(ctx, host.Command{Script: "(sleep 1; touch " + marker + ") & sleep 30", Timeout: 200 * time.Millisecond})
	if !errors.Is(err, host.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "200ms") {
		t.Fatalf("err = %v, want a timeout that names 200ms", err)
	}
	if time.Since(started) > 5*time.Second {
		t.Fatalf("the timeout took %s", time.Since(started))
	}
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := h.Run(cctx, host.Command{Script: "sleep 30"}); !errors.Is(err, host.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a cancellation", err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := h.Stat(ctx, marker); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a process started by the timed-out command outlived it (%v)", err)
	}
}

// assertOnly fails unless dir holds exactly want (no temporary leftovers).
func assertOnly(t *testing.T, h host.Host, dir string, want ...string) {
	t.Helper()
	list, err := h.ReadDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(list); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, want)
	}
}

func names(list []fs.FileInfo) []string {
	out := []string{}
	for _, fi := range list {
		out = append(out, fi.Name())
	}
	return out
}
