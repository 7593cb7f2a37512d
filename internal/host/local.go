package host

import (
	"context"
	"io"
	"io/fs"
	"os"
	"sort"

	"github.com/releaseplan/terraform-provider-release/internal/atomicfile"
	"github.com/releaseplan/terraform-provider-release/internal/ctxio"
	"github.com/releaseplan/terraform-provider-release/internal/shell"
)

// Local is the machine Terraform runs on: today's behaviour of every resource.
// Its zero value is ready to use.
type Local struct{}

var _ Host = Local{}

// Name implements Host.
func (Local) Name() string { return "local" }

// Stat implements Host.
func (Local) Stat(ctx context.Context, path string) (fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return os.Stat(path)
}

// Lstat implements Host.
func (Local) Lstat(ctx context.Context, path string) (fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return os.Lstat(path)
}

// ReadFile implements Host.
func (Local) ReadFile(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

// WriteFile implements Host with atomicfile.WriteFile.
func (Local) WriteFile(ctx context.Context, path string, data []byte, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, perm)
}

// Open implements Host.
func (Local) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return os.Open(path)
}

// WriteFileFrom implements Host with atomicfile.WriteFrom; ctx ending stops
// the copy.
func (Local) WriteFileFrom(ctx context.Context, path string, r io.Reader, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return atomicfile.WriteFrom(path, ctxio.Reader(ctx, r), perm)
}

// Close implements Host: nothing to close.
func (Local) Close() error { return nil }

// Rename implements Host.
func (Local) Rename(ctx context.Context, oldpath, newpath string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return os.Rename(oldpath, newpath)
}

// Symlink implements Host with atomicfile.Symlink.
func (Local) Symlink(ctx context.Context, target, link string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return atomicfile.Symlink(target, link)
}

// Readlink implements Host.
func (Local) Readlink(ctx context.Context, path string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return os.Readlink(path)
}

// Remove implements Host.
func (Local) Remove(ctx context.Context, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return os.Remove(path)
}

// RemoveAll implements Host.
func (Local) RemoveAll(ctx context.Context, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return os.RemoveAll(path)
}

// MkdirAll implements Host.
func (Local) MkdirAll(ctx context.Context, path string, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return os.MkdirAll(path, perm)
}

// ReadDir implements Host.
func (Local) ReadDir(ctx context.Context, path string) ([]fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	out := make([]fs.FileInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			// Removed between the listing and the Lstat: it is not there any more.
			continue
		}
		out = append(out, fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Run implements Host with internal/shell.
func (Local) Run(ctx context.Context, c Command) (string, error) {
	return shell.Run(ctx, c)
}
