// Package atomicfile replaces files and symbolic links so that readers see the old
// or the new content and never a half-written file or a missing link: the new
// content goes into a temporary name in the same folder, is synced, and is renamed
// over the old name (rename(2)); the folder is then synced so the rename survives a
// crash. Temporary names start with a dot and end in a random suffix, so include
// globs such as *.conf never pick them up.
package atomicfile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, with permissions perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, bytes.NewReader(data), perm, false)
}

// WriteFrom replaces path with what r yields up to EOF, with permissions perm;
// path is left as it was when reading r fails.
func WriteFrom(path string, r io.Reader, perm os.FileMode) error {
	return write(path, r, perm, false)
}

// CreateFile writes data to path only if path does not exist yet; the content is
// complete before the name appears. It fails with an error matching os.ErrExist
// when path exists.
func CreateFile(path string, data []byte, perm os.FileMode) error {
	return write(path, bytes.NewReader(data), perm, true)
}

func write(path string, r io.Reader, perm os.FileMode, exclusive bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed; after a link, the temporary name goes
	// Permissions first, so the content is never readable more widely than perm.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if exclusive {
		err = os.Link(tmp, path)
	} else {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	SyncDir(dir)
	return nil
}

// Symlink points link at target by renaming a temporary symbolic link over it
// (never `ln -sfn`, which removes the link before creating the new one).
func Symlink(target, link string) error {
	dir := filepath.Dir(link)
	for attempt := 0; ; attempt++ {
		tmp := filepath.Join(dir, "."+filepath.Base(link)+".tmp-"+randomSuffix())
		err := os.Symlink(target, tmp)
		if errors.Is(err, os.ErrExist) && attempt < 10 {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.Rename(tmp, link); err != nil {
			_ = os.Remove(tmp)
			return err
		}
		SyncDir(dir)
		return nil
	}
}

// SyncDir makes the renames in dir durable. Some filesystems refuse to sync a
// folder; the rename is done either way, so that is not an error.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
