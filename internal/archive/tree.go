package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// tree is what the extraction rules apply an archive's entries to: the
// destination folder (ExtractTarGz) or a record of the names the archive would
// create (Check). The rules (extractor) decide; a tree only does. Names are
// clean, slash-separated and relative to the destination.
type tree interface {
	// lstat returns the type bits of name (fs.ModeDir, fs.ModeSymlink, 0 for a
	// regular file), or an error matching fs.ErrNotExist.
	lstat(name string) (fs.FileMode, error)
	mkdir(name string) error
	remove(name string) error
	// create makes a new regular file of hdr from r and returns how many bytes
	// of r it consumed; the error names the entry.
	create(hdr *tar.Header, name string, r io.Reader) (int64, error)
	symlink(target, name string) error
	link(target, name string) error
	// finish applies the directories' modes once every entry is in place.
	finish(dirs []dirMode) error
}

// rootTree writes into a folder through os.Root, so nothing resolves outside it.
type rootTree struct {
	root *os.Root
	buf  []byte
}

type writerOnly struct{ io.Writer }

func (t *rootTree) lstat(name string) (fs.FileMode, error) {
	fi, err := t.root.Lstat(name)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Type(), nil
}

func (t *rootTree) mkdir(name string) error  { return t.root.Mkdir(name, 0o755) }
func (t *rootTree) remove(name string) error { return t.root.Remove(name) }
func (t *rootTree) symlink(target, name string) error {
	return t.root.Symlink(target, name)
}
func (t *rootTree) link(target, name string) error { return t.root.Link(target, name) }

func (t *rootTree) create(hdr *tar.Header, name string, r io.Reader) (int64, error) {
	// O_EXCL: never open an existing file or follow a link planted at this name.
	f, err := t.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("entry %q: create file: %w", hdr.Name, err)
	}
	if t.buf == nil {
		t.buf = make([]byte, 256<<10)
	}
	// writerOnly hides os.File's ReadFrom, so the one buffer is reused for every file.
	n, err := io.CopyBuffer(writerOnly{f}, r, t.buf)
	if err == nil && n != hdr.Size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		f.Close()
		return n, fmt.Errorf("entry %q: write file: %w", hdr.Name, err)
	}
	if err := f.Chmod(fs.FileMode(hdr.Mode) & 0o777); err != nil {
		f.Close()
		return n, fmt.Errorf("entry %q: set mode: %w", hdr.Name, err)
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("entry %q: write file: %w", hdr.Name, err)
	}
	if !hdr.ModTime.IsZero() {
		if err := t.root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
			return n, fmt.Errorf("entry %q: set modification time: %w", hdr.Name, err)
		}
	}
	return n, nil
}

func (t *rootTree) finish(dirs []dirMode) error {
	// Deepest first, so a parent without search permission cannot block its children.
	sort.SliceStable(dirs, func(i, j int) bool {
		return strings.Count(dirs[i].name, "/") > strings.Count(dirs[j].name, "/")
	})
	for _, d := range dirs {
		if err := t.root.Chmod(d.name, d.mode); err != nil {
			return fmt.Errorf("entry %q: set mode: %w", d.name, err)
		}
		if !d.mtime.IsZero() {
			if err := t.root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
				return fmt.Errorf("entry %q: set modification time: %w", d.name, err)
			}
		}
	}
	return nil
}

// nameTree records the type of every name instead of writing: Check's tree.
type nameTree struct {
	names map[string]fs.FileMode
}

func (t *nameTree) lstat(name string) (fs.FileMode, error) {
	if m, ok := t.names[name]; ok {
		return m, nil
	}
	return 0, fs.ErrNotExist
}

func (t *nameTree) mkdir(name string) error  { t.names[name] = fs.ModeDir; return nil }
func (t *nameTree) remove(name string) error { delete(t.names, name); return nil }
func (t *nameTree) symlink(_, name string) error {
	t.names[name] = fs.ModeSymlink
	return nil
}
func (t *nameTree) link(_, name string) error { t.names[name] = 0; return nil }

func (t *nameTree) create(hdr *tar.Header, name string, r io.Reader) (int64, error) {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return n, fmt.Errorf("entry %q: read file: %w", hdr.Name, err)
	}
	t.names[name] = 0
	return n, nil
}

func (t *nameTree) finish([]dirMode) error { return nil }
