package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"sync"
	"syscall"

	"github.com/pkg/sftp"

	"github.com/releaseplan/terraform-provider-release/internal/ctxio"
)

// removeParallelism bounds the SFTP removals RemoveAll keeps in flight: a
// release folder holds thousands of files, and one round trip each, one after
// the other, would take minutes over a distant link.
const removeParallelism = 32

// Stat implements Host.
func (h *SSH) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	if err := h.ready(ctx); err != nil {
		return nil, err
	}
	fi, err := h.files.Stat(p)
	return fi, h.pathErr("stat", p, err)
}

// Lstat implements Host.
func (h *SSH) Lstat(ctx context.Context, p string) (fs.FileInfo, error) {
	if err := h.ready(ctx); err != nil {
		return nil, err
	}
	fi, err := h.files.Lstat(p)
	return fi, h.pathErr("lstat", p, err)
}

// ReadFile implements Host.
func (h *SSH) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := h.ready(ctx); err != nil {
		return nil, err
	}
	f, err := h.files.Open(p)
	if err != nil {
		return nil, h.pathErr("open", p, err)
	}
	defer func() { _ = f.Close() }()
	var buf bytes.Buffer
	if _, err := f.WriteTo(ctxio.Writer(ctx, &buf)); err != nil {
		return nil, h.pathErr("read", p, err)
	}
	return buf.Bytes(), nil
}

// Open implements Host: the file streams over SFTP with concurrent requests
// when copied with io.Copy; read errors name the host and the path.
func (h *SSH) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := h.ready(ctx); err != nil {
		return nil, err
	}
	f, err := h.files.Open(p)
	if err != nil {
		return nil, h.pathErr("open", p, err)
	}
	return &sshFile{h: h, f: f, path: p}, nil
}

// sshFile is a remote file open for reading.
type sshFile struct {
	h    *SSH
	f    *sftp.File
	path string
}

func (s *sshFile) Read(b []byte) (int, error) {
	n, err := s.f.Read(b)
	if err != nil && err != io.EOF {
		err = s.h.pathErr("read", s.path, err)
	}
	return n, err
}

// WriteTo lets io.Copy use SFTP's concurrent reads.
func (s *sshFile) WriteTo(w io.Writer) (int64, error) {
	n, err := s.f.WriteTo(w)
	if err != nil {
		err = s.h.pathErr("read", s.path, err)
	}
	return n, err
}

// Seek lets a reader skip to the end of a large file (an access log) without
// transferring what it skips.
func (s *sshFile) Seek(offset int64, whence int) (int64, error) {
	n, err := s.f.Seek(offset, whence)
	if err != nil {
		err = s.h.pathErr("seek", s.path, err)
	}
	return n, err
}

func (s *sshFile) Close() error { return s.f.Close() }

// WriteFile implements Host with WriteFileFrom.
func (h *SSH) WriteFile(ctx context.Context, p string, data []byte, perm fs.FileMode) error {
	return h.WriteFileFrom(ctx, p, bytes.NewReader(data), perm)
}

// WriteFileFrom is WriteFile for content streamed from r, so a large file
// (an artifact) never has to fit in memory: r is copied to a temporary name
// beside p (starting with a dot), synced to disk when the server supports the
// fsync@openssh.com extension, then renamed over p with posix-rename, which
// replaces p in one step. On failure, or when ctx ends, the temporary file is
// removed when the host is still reachable and p is left as it was.
func (h *SSH) WriteFileFrom(ctx context.Context, p string, r io.Reader, perm fs.FileMode) (err error) {
	if err := h.ready(ctx); err != nil {
		return err
	}
	tmp := tempName(p)
	f, err := h.files.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return h.pathErr("write", p, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = h.files.Remove(tmp)
		}
	}()
	// Permissions first, so the content is never readable more widely than perm.
	if err := f.Chmod(perm); err != nil {
		return h.pathErr("chmod", tmp, err)
	}
	if _, err := f.ReadFromWithConcurrency(ctxio.Reader(ctx, r), 0); err != nil {
		return h.pathErr("write", tmp, h.noSpace(tmp, err))
	}
	if h.fsync {
		if err := f.Sync(); err != nil {
			return h.pathErr("sync", tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return h.pathErr("close", tmp, err)
	}
	if err := ctx.Err(); err != nil {
		return h.wrap(err)
	}
	if err := h.files.PosixRename(tmp, p); err != nil {
		return h.linkErr("rename", tmp, p, err)
	}
	return nil
}

// noSpaceMargin is the free space under which a failed write is taken for a
// full filesystem: less than the writes that were in flight when it failed.
const noSpaceMargin = 4 << 20

// noSpace says what write(2) said when err is SFTP's generic failure of a
// write to p and p's filesystem is (nearly) full: SFTP v3 has no code for
// ENOSPC, and OpenSSH's server reports it as "Failure". The free space is read
// with the statvfs@openssh.com extension before the partial file is removed.
func (h *SSH) noSpace(p string, err error) error {
	var st *sftp.StatusError
	if !errors.As(err, &st) || st.FxCode() != sftp.ErrSSHFxFailure {
		return err
	}
	vfs, verr := h.files.StatVFS(path.Dir(p))
	if verr != nil || vfs.Bavail*vfs.Frsize >= noSpaceMargin {
		return err
	}
	return fmt.Errorf("%w (%d KiB left on the filesystem; the server said: %v)", syscall.ENOSPC, vfs.Bavail*vfs.Frsize/1024, err)
}

// Rename implements Host with the posix-rename@openssh.com extension, which
// replaces newpath as rename(2) does (plain SFTP rename refuses to).
func (h *SSH) Rename(ctx context.Context, oldpath, newpath string) error {
	if err := h.ready(ctx); err != nil {
		return err
	}
	return h.linkErr("rename", oldpath, newpath, h.files.PosixRename(oldpath, newpath))
}

// Symlink implements Host: a temporary link beside link, renamed over it.
func (h *SSH) Symlink(ctx context.Context, target, link string) error {
	if err := h.ready(ctx); err != nil {
		return err
	}
	tmp := tempName(link)
	if err := h.files.Symlink(target, tmp); err != nil {
		return h.linkErr("symlink", target, link, err)
	}
	if err := h.files.PosixRename(tmp, link); err != nil {
		_ = h.files.Remove(tmp)
		return h.linkErr("rename", tmp, link, err)
	}
	return nil
}

// Readlink implements Host.
func (h *SSH) Readlink(ctx context.Context, p string) (string, error) {
	if err := h.ready(ctx); err != nil {
		return "", err
	}
	target, err := h.files.ReadLink(p)
	return target, h.pathErr("readlink", p, err)
}

// Remove implements Host.
func (h *SSH) Remove(ctx context.Context, p string) error {
	if err := h.ready(ctx); err != nil {
		return err
	}
	err := h.files.Remove(p)
	var st *sftp.StatusError
	if errors.As(err, &st) && st.FxCode() == sftp.ErrSSHFxFailure {
		// SFTP v3 has no code for it; say what rmdir(2) would.
		if list, lerr := h.files.ReadDir(p); lerr == nil && len(list) > 0 {
			err = syscall.ENOTEMPTY
		}
	}
	return h.pathErr("remove", p, err)
}

// RemoveAll implements Host. Symbolic links are removed, never followed.
func (h *SSH) RemoveAll(ctx context.Context, p string) error {
	if err := h.ready(ctx); err != nil {
		return err
	}
	if p == "" {
		return nil
	}
	r := &remover{h: h, ctx: ctx, slots: make(chan struct{}, removeParallelism)}
	return r.tree(p)
}

// remover removes a tree: the files of a folder in parallel, its subfolders
// one after the other (only leaf removals take a slot, so recursion never
// waits on itself).
type remover struct {
	h     *SSH
	ctx   context.Context
	slots chan struct{}
}

func (r *remover) tree(p string) error {
	if err := r.ctx.Err(); err != nil {
		return r.h.wrap(err)
	}
	fi, err := r.h.files.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return r.h.pathErr("lstat", p, err)
	}
	if !fi.IsDir() {
		return r.h.pathErr("remove", p, ignoreMissing(r.h.files.Remove(p)))
	}
	entries, err := r.h.files.ReadDirContext(r.ctx, p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return r.h.pathErr("readdir", p, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, e := range entries {
		child := path.Join(p, e.Name())
		if e.IsDir() {
			if err := r.tree(child); err != nil {
				mu.Lock()
				first = errors.Join(first, err)
				mu.Unlock()
				break
			}
			continue
		}
		r.slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-r.slots; wg.Done() }()
			if err := ignoreMissing(r.h.files.Remove(child)); err != nil {
				mu.Lock()
				first = errors.Join(first, r.h.pathErr("remove", child, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return r.h.pathErr("remove", p, ignoreMissing(r.h.files.RemoveDirectory(p)))
}

func ignoreMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// MkdirAll implements Host. The folders it creates get exactly perm (the
// server's umask does not apply), as WriteFile's files do.
func (h *SSH) MkdirAll(ctx context.Context, p string, perm fs.FileMode) error {
	if err := h.ready(ctx); err != nil {
		return err
	}
	fi, err := h.files.Stat(p)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return h.pathErr("mkdir", p, syscall.ENOTDIR)
	case !errors.Is(err, fs.ErrNotExist):
		return h.pathErr("stat", p, err)
	}
	if parent := path.Dir(p); parent != p {
		if err := h.MkdirAll(ctx, parent, perm); err != nil {
			return err
		}
	}
	if err := h.files.Mkdir(p); err != nil {
		// Another caller may have created it meanwhile.
		if fi, serr := h.files.Stat(p); serr == nil && fi.IsDir() {
			return nil
		}
		return h.pathErr("mkdir", p, err)
	}
	return h.pathErr("chmod", p, h.files.Chmod(p, perm))
}

// ReadDir implements Host.
func (h *SSH) ReadDir(ctx context.Context, p string) ([]fs.FileInfo, error) {
	if err := h.ready(ctx); err != nil {
		return nil, err
	}
	list, err := h.files.ReadDirContext(ctx, p)
	if err != nil {
		return nil, h.pathErr("readdir", p, err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name() < list[j].Name() })
	return list, nil
}

// errClosed is what an SSH says once Close was called.
var errClosed = errors.New("the SSH connection was closed by its owner")

// ready fails when ctx has ended or the connection is gone, before sending
// anything.
func (h *SSH) ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return h.wrap(err)
	}
	if h.closed.Load() {
		return fmt.Errorf("%s: %w", h.name, errClosed)
	}
	if lost := h.lost(); lost != nil {
		return fmt.Errorf("%s: %w: %v", h.name, ErrConnectionLost, lost)
	}
	return nil
}

// pathErr names the operation, the path and the host in err (nil stays nil).
// SFTP status codes become fs errors, so errors.Is(err, fs.ErrNotExist) holds
// for a missing path.
func (h *SSH) pathErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	err = fsError(err)
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		err = &fs.PathError{Op: op, Path: p, Err: err}
	}
	return h.wrap(err)
}

// linkErr is pathErr for operations on two paths.
func (h *SSH) linkErr(op, oldpath, newpath string, err error) error {
	if err == nil {
		return nil
	}
	return h.wrap(&os.LinkError{Op: op, Old: oldpath, New: newpath, Err: fsError(err)})
}

// fsError maps the SFTP status codes pkg/sftp leaves as they are.
func fsError(err error) error {
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) {
		return fmt.Errorf("%w (%v)", ErrConnectionLost, err)
	}
	var st *sftp.StatusError
	if !errors.As(err, &st) {
		return err
	}
	switch st.FxCode() {
	case sftp.ErrSSHFxNoSuchFile:
		return fmt.Errorf("%w (%v)", fs.ErrNotExist, err)
	case sftp.ErrSSHFxPermissionDenied:
		return fmt.Errorf("%w (%v)", fs.ErrPermission, err)
	}
	return err
}

// wrap names the host in err and says when the connection was lost.
func (h *SSH) wrap(err error) error {
	if lost := h.lost(); lost != nil && !errors.Is(err, ErrConnectionLost) {
		return fmt.Errorf("%s: %w (%w: %v)", h.name, err, ErrConnectionLost, lost)
	}
	return fmt.Errorf("%s: %w", h.name, err)
}

// tempName is a name beside p for content on its way to p: hidden (so globs
// such as *.conf skip it) and random (so concurrent writers never share it).
func tempName(p string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return path.Join(path.Dir(p), "."+path.Base(p)+".tmp-"+hex.EncodeToString(b))
}
