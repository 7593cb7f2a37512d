package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/ctxio"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/shell"
)

// copyBufferSize is large enough that hashing and writing run in long strides.
const copyBufferSize = 1 << 20

// Directory is a Store in a local folder. Publication is atomic: the bytes and the
// metadata are written into a private temporary folder, fsynced, and the folder is
// renamed into place; a rename onto an existing version fails, so of several
// concurrent publishers of one version exactly one wins.
type Directory struct {
	root string
	now  func() time.Time
}

var _ Store = (*Directory)(nil)

// NewDirectory opens (and creates, with 0700 permissions) a directory store.
func NewDirectory(root string) (*Directory, error) {
	if strings.TrimSpace(root) == "" {
		return nil, errors.New("artifact store path must not be empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("artifact store path %q: %w", root, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, ".tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("create artifact store: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("artifact store path %s is not a directory", abs)
	}
	return &Directory{root: abs, now: time.Now}, nil
}

// Root is the absolute path of the store.
func (d *Directory) Root() string { return d.root }

func (d *Directory) dir(name, version string) string {
	return filepath.Join(d.root, filepath.FromSlash(ObjectDir(name, version)))
}

// Put implements Store.
func (d *Directory) Put(ctx context.Context, name, version string, r io.Reader, expectedSHA256 string, metadata map[string]string) (Object, error) {
	if err := validate(name, version); err != nil {
		return Object{}, err
	}
	expectedSHA256 = strings.ToLower(strings.TrimSpace(expectedSHA256))
	d.cleanStaleUploads()
	tmp, err := os.MkdirTemp(filepath.Join(d.root, ".tmp"), uploadPrefix())
	if err != nil {
		return Object{}, fmt.Errorf("prepare upload: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place

	f, err := os.OpenFile(filepath.Join(tmp, dataFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return Object{}, err
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), ctxio.Reader(ctx, r), make([]byte, copyBufferSize))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Object{}, fmt.Errorf("write %s@%s: %w", name, version, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if expectedSHA256 != "" && sum != expectedSHA256 {
		return Object{}, fmt.Errorf("%w: the bytes of %s@%s have sha256 %s, expected %s; nothing was published", ErrChecksumMismatch, name, version, sum, expectedSHA256)
	}
	obj := Object{Name: name, Version: version, SHA256: sum, Size: n, PublishedAt: d.now().UTC().Truncate(time.Second), Metadata: metadata}
	if err := writeJSONFile(filepath.Join(tmp, metadataFile), obj); err != nil {
		return Object{}, err
	}
	if err := syncDir(tmp); err != nil {
		return Object{}, err
	}

	final := d.dir(name, version)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return Object{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		if !errors.Is(err, fs.ErrExist) && !isNotEmpty(err) {
			return Object{}, fmt.Errorf("publish %s@%s: %w", name, version, err)
		}
		existing, serr := d.Stat(ctx, name, version)
		if serr != nil {
			return Object{}, serr
		}
		if !strings.EqualFold(existing.SHA256, sum) {
			return Object{}, fmt.Errorf("%w: %s@%s has sha256 %s, the new bytes have %s; publish them under a new version", ErrConflict, name, version, existing.SHA256, sum)
		}
		return existing, nil
	}
	_ = syncDir(filepath.Dir(final))
	obj.URI = d.uri(name, version)
	return obj, nil
}

// Get implements Store.
func (d *Directory) Get(ctx context.Context, name, version string) (io.ReadCloser, Object, error) {
	obj, err := d.Stat(ctx, name, version)
	if err != nil {
		return nil, Object{}, err
	}
	f, err := os.Open(filepath.Join(d.dir(name, version), dataFile))
	if err != nil {
		return nil, Object{}, mapNotExist(err, name, version)
	}
	return f, obj, nil
}

// Stat implements Store.
func (d *Directory) Stat(_ context.Context, name, version string) (Object, error) {
	if err := validate(name, version); err != nil {
		return Object{}, err
	}
	dir := d.dir(name, version)
	raw, err := os.ReadFile(filepath.Join(dir, metadataFile))
	if err != nil {
		return Object{}, mapNotExist(err, name, version)
	}
	var obj Object
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Object{}, fmt.Errorf("%w: metadata of %s@%s: %v", ErrCorrupt, name, version, err)
	}
	st, err := os.Stat(filepath.Join(dir, dataFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Object{}, fmt.Errorf("%w: the bytes of %s@%s are missing", ErrCorrupt, name, version)
		}
		return Object{}, err
	}
	if st.Size() != obj.Size {
		return Object{}, fmt.Errorf("%w: %s@%s is %d bytes, %d were published", ErrCorrupt, name, version, st.Size(), obj.Size)
	}
	obj.URI = d.uri(name, version)
	return obj, nil
}

// Verify implements Store.
func (d *Directory) Verify(ctx context.Context, name, version string) (Object, error) {
	rc, obj, err := d.Get(ctx, name, version)
	if err != nil {
		return Object{}, err
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, NewVerifyingReader(ctxio.Reader(ctx, rc), obj.SHA256, obj.Size)); err != nil {
		if errors.Is(err, ErrChecksumMismatch) {
			return Object{}, fmt.Errorf("%w: %s@%s: %v", ErrCorrupt, name, version, err)
		}
		return Object{}, err
	}
	return obj, nil
}

// List implements Store.
func (d *Directory) List(ctx context.Context, name string) ([]Object, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	folders, err := host.Folders(ctx, host.Local{}, filepath.Join(d.root, name))
	if err != nil {
		return nil, err
	}
	return published(folders, func(version string) (Object, error) { return d.Stat(ctx, name, version) })
}

// Copy implements Store.
func (d *Directory) Copy(ctx context.Context, name, fromVersion, toVersion, expectedSHA256 string, metadata map[string]string) (Object, error) {
	return CopyVersion(ctx, d, name, fromVersion, toVersion, expectedSHA256, metadata)
}

// Delete implements Store. The version's folder is first renamed out of the way,
// so readers never see a half-deleted artifact.
func (d *Directory) Delete(_ context.Context, name, version string) error {
	if err := validate(name, version); err != nil {
		return err
	}
	trash := filepath.Join(d.root, ".tmp", "delete-"+randomSuffix())
	if err := os.Rename(d.dir(name, version), trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %s@%s: %w", name, version, err)
	}
	return os.RemoveAll(trash)
}

func (d *Directory) uri(name, version string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(d.dir(name, version), dataFile))}).String()
}

func mapNotExist(err error, name, version string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s@%s", ErrNotFound, name, version)
	}
	return err
}

func isNotEmpty(err error) bool {
	return strings.Contains(err.Error(), "directory not empty") || strings.Contains(err.Error(), "file exists")
}

func writeJSONFile(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(append(raw, '\n')); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// staleUploadAge is how old a temporary upload of another machine (or of an older
// version) must be before a write removes it.
const staleUploadAge = 24 * time.Hour

// uploadPrefix names a temporary upload after the writing host and process, so
// that a later write can tell an upload in progress from one a killed process left.
func uploadPrefix() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("put-%s-%d-", strings.ReplaceAll(host, "-", "_"), os.Getpid())
}

// cleanStaleUploads removes the temporary uploads of killed publishes: those of
// this host whose process is gone, and any older than staleUploadAge.
func (d *Directory) cleanStaleUploads() {
	dir := filepath.Join(d.root, ".tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	host, _ := os.Hostname()
	host = strings.ReplaceAll(host, "-", "_")
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "put-") {
			continue
		}
		stale := false
		if parts := strings.SplitN(strings.TrimPrefix(e.Name(), "put-"), "-", 3); len(parts) == 3 && parts[0] == host {
			if pid, err := strconv.Atoi(parts[1]); err == nil && pid != os.Getpid() && !shell.ProcessAlive(pid) {
				stale = true
			}
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleUploadAge {
			stale = true
		}
		if stale {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
