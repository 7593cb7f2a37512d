// Package archive extracts release tarballs (tar.gz) safely: nothing in an archive
// can write outside the destination directory, write through a symbolic link,
// create device files or exhaust the disk. Every refusal names the entry at fault.
//
// Extraction is streaming (one pass over the bytes), so callers can tee the
// compressed stream into a hash while extracting. ExtractTarGz stops reading at the
// end of the tar stream; a caller that hashes the whole artifact must drain the rest
// of its reader afterwards (io.Copy(io.Discard, r)) before comparing the sum.
package archive

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/ctxio"
	"github.com/releaseplan/terraform-provider-release/internal/readahead"
)

// Errors callers can test with errors.Is.
var (
	// ErrUnsafeEntry means an entry would escape the destination, write through a
	// link, or is of a type a release must not contain (device, fifo, ...).
	ErrUnsafeEntry = errors.New("unsafe archive entry")
	// ErrTooLarge means the archive exceeds a configured cap (bytes, entries or
	// size of one file): the zip-bomb defence.
	ErrTooLarge = errors.New("archive exceeds size limits")
)

// UnsafeEntryError reports the entry that was refused and why. It matches
// ErrUnsafeEntry with errors.Is.
type UnsafeEntryError struct {
	// Name is the entry's path as written in the archive.
	Name string
	// Reason says what is wrong with it.
	Reason string
}

func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("unsafe archive entry %q: %s", e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrUnsafeEntry) true.
func (e *UnsafeEntryError) Is(target error) bool { return target == ErrUnsafeEntry }

func unsafeEntry(name, format string, args ...any) error {
	return &UnsafeEntryError{Name: name, Reason: fmt.Sprintf(format, args...)}
}

// Limits caps what one archive may create. A zero field means the value of
// DefaultLimits for that field.
type Limits struct {
	// MaxBytes caps the total uncompressed bytes of all regular files.
	MaxBytes int64
	// MaxEntries caps the number of entries (files, directories, links).
	MaxEntries int
	// MaxFileBytes caps the size of any one regular file.
	MaxFileBytes int64
}

// DefaultLimits returns generous caps for application releases: 8 GiB in total,
// 200 000 entries, 4 GiB for one file.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 8 << 30, MaxEntries: 200_000, MaxFileBytes: 4 << 30}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	return l
}

// Stats counts what an extraction created. Hard links count as files; Bytes counts
// the bytes of regular files written, including files that a later entry of the
// same name replaced (what the MaxBytes cap counts).
type Stats struct {
	Files    int
	Dirs     int
	Symlinks int
	Bytes    int64
}

// ExtractTarGz reads a gzip-compressed tar stream from r and writes it into dir,
// which must exist and be empty.
//
// It refuses absolute names, ".." components, symbolic links whose target (resolved
// from the link's own directory) leaves dir or is absolute, hard links to anything
// but a regular file already extracted, entries whose parent path goes through a
// symbolic link, device, fifo and other special entries, and archives over lim.
// File modes are kept, masked to 0777 (no setuid, setgid or sticky bits).
//
// On error, dir holds a partial extraction: extract into a fresh directory and
// delete it on failure. The error wraps ErrUnsafeEntry (as *UnsafeEntryError),
// ErrTooLarge, ErrNoSpace, ctx.Err() or the I/O error, and names the entry
// concerned.
//
// The free space of dir's filesystem is read when the extraction begins, and
// each file's declared size is checked against it before its bytes are written,
// so a release that cannot fit fails at its first file that would not, without
// filling the disk the live release also writes to.
func ExtractTarGz(ctx context.Context, r io.Reader, dir string, lim Limits) (Stats, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Stats{}, fmt.Errorf("open extraction directory: %w", err)
	}
	if len(entries) > 0 {
		return Stats{}, fmt.Errorf("extraction directory %s is not empty (%d entries)", dir, len(entries))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Stats{}, fmt.Errorf("open extraction directory: %w", err)
	}
	defer root.Close()
	x := newExtractor(&rootTree{root: root}, lim)
	if free, err := freeBytes(dir); err == nil {
		x.free = free
	}
	return x.run(ctx, r)
}

// Check reads a gzip-compressed tar stream from r and applies every rule of
// ExtractTarGz to it (names, links, entry types, lim) without writing anything:
// it keeps a record of the names the archive would create instead. An archive
// Check accepts is one ExtractTarGz accepts into an empty folder, given the
// space; its Stats are what the extraction would count. Use it when the bytes
// are extracted elsewhere (on a remote host, with tar), to refuse an unsafe
// archive before any host extracts it. Like ExtractTarGz, it stops reading at
// the end of the archive.
func Check(ctx context.Context, r io.Reader, lim Limits) (Stats, error) {
	return newExtractor(&nameTree{names: map[string]fs.FileMode{".": fs.ModeDir}}, lim).run(ctx, r)
}

func newExtractor(t tree, lim Limits) *extractor {
	return &extractor{t: t, lim: lim.withDefaults(), dirs: map[string]bool{".": true}, free: -1}
}

// run reads the archive from r and applies each entry to x's tree.
func (x *extractor) run(ctx context.Context, r io.Reader) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return x.st, err
	}
	gz, err := gzip.NewReader(ctxio.Reader(ctx, r))
	if err != nil {
		return x.st, fmt.Errorf("read gzip header: %w", err)
	}
	// Decompress on another core while this one writes the files, like
	// `gzip -d | tar -x`; Close waits for the goroutine, so r is not read after return.
	zr := readahead.New(gz, 4, 256<<10)
	defer func() { _ = zr.Close() }()

	tr := tar.NewReader(zr)
	entriesSeen := 0
	for {
		if err := ctx.Err(); err != nil {
			return x.st, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return x.st, ctxErr
			}
			return x.st, fmt.Errorf("read archive after %d entries: %w", entriesSeen, err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		entriesSeen++
		if entriesSeen > x.lim.MaxEntries {
			return x.st, fmt.Errorf("entry %q: %w: more than %d entries", hdr.Name, ErrTooLarge, x.lim.MaxEntries)
		}
		if err := x.entry(ctx, hdr, tr); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return x.st, ctxErr
			}
			return x.st, err
		}
	}
	// Read the padding after the end-of-archive marker up to the end of the gzip
	// stream, so its CRC is verified; bounded, as nothing there is extracted.
	if _, err := io.CopyN(io.Discard, zr, 1<<20); err != nil && !errors.Is(err, io.EOF) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return x.st, ctxErr
		}
		return x.st, fmt.Errorf("read archive end: %w", err)
	}
	if err := x.t.finish(x.dirModes); err != nil {
		return x.st, err
	}
	return x.st, nil
}

type dirMode struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
}

type extractor struct {
	t   tree
	lim Limits
	st  Stats
	// dirs holds the paths known to be real directories (created or checked). A
	// directory is never replaced by anything else, so the set stays true.
	dirs     map[string]bool
	dirModes []dirMode
	// free is the space the filesystem had for unprivileged writers when the
	// extraction began (-1: unknown).
	free int64
}

// cleanName validates an entry name and returns it in clean slash form ("." for
// the root itself).
func cleanName(name string) (string, error) {
	if name == "" {
		return "", unsafeEntry(name, "empty name")
	}
	if strings.ContainsRune(name, 0) {
		return "", unsafeEntry(name, "name contains a NUL byte")
	}
	if strings.HasPrefix(name, "/") {
		return "", unsafeEntry(name, "absolute path")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", unsafeEntry(name, "path contains a \"..\" component")
		}
	}
	return path.Clean(name), nil
}

func (x *extractor) entry(ctx context.Context, hdr *tar.Header, tr io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		// The archive's own root ("./"): the destination already exists.
		return nil
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.dir(hdr, name)
	case tar.TypeReg:
		return x.file(ctx, hdr, name, tr)
	case tar.TypeSymlink:
		return x.symlink(hdr, name)
	case tar.TypeLink:
		return x.hardlink(hdr, name)
	case tar.TypeChar:
		return unsafeEntry(hdr.Name, "character device")
	case tar.TypeBlock:
		return unsafeEntry(hdr.Name, "block device")
	case tar.TypeFifo:
		return unsafeEntry(hdr.Name, "named pipe (fifo)")
	default:
		return unsafeEntry(hdr.Name, "unsupported entry type %q", string(hdr.Typeflag))
	}
}

// parents makes sure every parent directory of name is a real directory inside the
// root, creating missing ones, and refuses a parent that is a symbolic link or a
// file: nothing is ever written through a link.
func (x *extractor) parents(orig, name string) error {
	parent := path.Dir(name)
	if x.dirs[parent] {
		return nil
	}
	var todo []string
	for p := parent; !x.dirs[p]; p = path.Dir(p) {
		todo = append(todo, p)
	}
	for i := len(todo) - 1; i >= 0; i-- {
		p := todo[i]
		mode, err := x.t.lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := x.t.mkdir(p); err != nil {
				return fmt.Errorf("entry %q: create directory %s: %w", orig, p, err)
			}
			x.st.Dirs++
		case err != nil:
			return fmt.Errorf("entry %q: inspect %s: %w", orig, p, err)
		case mode&fs.ModeSymlink != 0:
			return unsafeEntry(orig, "parent %s is a symbolic link; writing through links is refused", p)
		case !mode.IsDir():
			return unsafeEntry(orig, "parent %s is not a directory", p)
		}
		x.dirs[p] = true
	}
	return nil
}

// makeRoom makes room for a non-directory entry at name: its parent directories
// are made sure of (parents), and a later entry with the same name replaces an
// earlier file or link (tar semantics), but never a directory.
func (x *extractor) makeRoom(orig, name string) error {
	if err := x.parents(orig, name); err != nil {
		return err
	}
	mode, err := x.t.lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("entry %q: inspect: %w", orig, err)
	}
	if mode.IsDir() {
		return unsafeEntry(orig, "would replace a directory")
	}
	if err := x.t.remove(name); err != nil {
		return fmt.Errorf("entry %q: replace earlier entry: %w", orig, err)
	}
	switch {
	case mode&fs.ModeSymlink != 0:
		x.st.Symlinks--
	case mode.IsRegular():
		x.st.Files--
	}
	return nil
}

func (x *extractor) dir(hdr *tar.Header, name string) error {
	if err := x.parents(hdr.Name, name); err != nil {
		return err
	}
	if !x.dirs[name] {
		mode, err := x.t.lstat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := x.t.mkdir(name); err != nil {
				return fmt.Errorf("entry %q: create directory: %w", hdr.Name, err)
			}
			x.st.Dirs++
		case err != nil:
			return fmt.Errorf("entry %q: inspect: %w", hdr.Name, err)
		case !mode.IsDir():
			return unsafeEntry(hdr.Name, "directory would replace a file or link")
		}
		x.dirs[name] = true
	}
	// Modes are applied at the end, so a read-only directory can still be filled.
	x.dirModes = append(x.dirModes, dirMode{name: name, mode: fs.FileMode(hdr.Mode) & 0o777, mtime: hdr.ModTime})
	return nil
}

func (x *extractor) file(ctx context.Context, hdr *tar.Header, name string, tr io.Reader) error {
	if hdr.Size < 0 {
		return unsafeEntry(hdr.Name, "negative size")
	}
	if hdr.Size > x.lim.MaxFileBytes {
		return fmt.Errorf("entry %q: %w: file of %d bytes is over the %d-byte cap", hdr.Name, ErrTooLarge, hdr.Size, x.lim.MaxFileBytes)
	}
	if x.st.Bytes+hdr.Size > x.lim.MaxBytes {
		return fmt.Errorf("entry %q: %w: total would reach %d bytes, over the %d-byte cap", hdr.Name, ErrTooLarge, x.st.Bytes+hdr.Size, x.lim.MaxBytes)
	}
	if x.free >= 0 && x.st.Bytes+hdr.Size > x.free {
		return fmt.Errorf("entry %q: %w: the release needs at least %s, and the filesystem had %s free when the extraction began; free some space (old releases, logs) and deploy again",
			hdr.Name, ErrNoSpace, FormatSize(x.st.Bytes+hdr.Size), FormatSize(x.free))
	}
	if err := x.makeRoom(hdr.Name, name); err != nil {
		return err
	}
	n, err := x.t.create(hdr, name, io.LimitReader(tr, hdr.Size))
	x.st.Bytes += n
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("entry %q: write file: %w", hdr.Name, io.ErrUnexpectedEOF)
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("entry %q: %w: the filesystem filled up after %s of the release were written: %w; free some space (old releases, logs) and deploy again", hdr.Name, ErrNoSpace, FormatSize(x.st.Bytes), err)
		}
		return err
	}
	x.st.Files++
	return nil
}

func (x *extractor) symlink(hdr *tar.Header, name string) error {
	target := hdr.Linkname
	if target == "" {
		return unsafeEntry(hdr.Name, "symbolic link with an empty target")
	}
	if strings.ContainsRune(target, 0) {
		return unsafeEntry(hdr.Name, "link target contains a NUL byte")
	}
	if strings.HasPrefix(target, "/") {
		return unsafeEntry(hdr.Name, "symbolic link to absolute path %q", target)
	}
	// Resolve from the link's own directory. The link is written in clean form, so
	// its only ".." components lead (through real directories, see parents) and the
	// kernel resolves it exactly as checked here; any symbolic link it later passes
	// through was itself checked the same way.
	clean := path.Clean(target)
	if resolved := path.Join(path.Dir(name), clean); resolved == ".." || strings.HasPrefix(resolved, "../") {
		return unsafeEntry(hdr.Name, "symbolic link to %q points outside the destination", target)
	}
	if err := x.makeRoom(hdr.Name, name); err != nil {
		return err
	}
	if err := x.t.symlink(clean, name); err != nil {
		return fmt.Errorf("entry %q: create symbolic link: %w", hdr.Name, err)
	}
	x.st.Symlinks++
	return nil
}

func (x *extractor) hardlink(hdr *tar.Header, name string) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return unsafeEntry(hdr.Name, "hard link to %q points outside the destination", hdr.Linkname)
	}
	if target == "." {
		return unsafeEntry(hdr.Name, "hard link to the destination directory")
	}
	// The target's path must not go through a link either, and it must be a
	// regular file this archive created.
	if !x.dirs[path.Dir(target)] {
		return unsafeEntry(hdr.Name, "hard link target %q is not inside an extracted directory", hdr.Linkname)
	}
	mode, err := x.t.lstat(target)
	if err != nil {
		return unsafeEntry(hdr.Name, "hard link target %q does not exist (yet) in the archive", hdr.Linkname)
	}
	if !mode.IsRegular() {
		return unsafeEntry(hdr.Name, "hard link target %q is not a regular file", hdr.Linkname)
	}
	if target == name {
		return nil
	}
	if err := x.makeRoom(hdr.Name, name); err != nil {
		return err
	}
	if err := x.t.link(target, name); err != nil {
		return fmt.Errorf("entry %q: create hard link: %w", hdr.Name, err)
	}
	x.st.Files++
	return nil
}
