package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/releaseplan/terraform-provider-release/internal/semver"
)

// The layout both stores share, relative to the store's root:
//
//	<name>/<version>/data           the published bytes
//	<name>/<version>/metadata.json  Object as JSON (sha256, size, published_at, metadata)
const (
	dataFile     = "data"
	metadataFile = "metadata.json"
)

var (
	nameRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	versionRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]{0,127}$`)
)

// ValidateName checks that name can be used as an artifact name.
func ValidateName(name string) error {
	if !nameRe.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("invalid artifact name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// ValidateVersion checks that version is a semantic version in its canonical
// spelling, and so a safe path element of the layout. "v1.2.3" and "01.2.3" are
// refused with the form to use: they mean 1.2.3, and accepting them would publish
// one version under several names, each able to hold other bytes.
func ValidateVersion(version string) error {
	if !versionRe.MatchString(version) || strings.Contains(version, "..") {
		return fmt.Errorf("invalid artifact version %q: use a semantic version such as 1.7.4 or 1.7.4-rc", version)
	}
	if err := semver.Validate(version); err != nil {
		return fmt.Errorf("invalid artifact version: %w", err)
	}
	return nil
}

func validate(name, version string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return ValidateVersion(version)
}

// ObjectDir is the folder of name@version relative to the store root.
func ObjectDir(name, version string) string { return path.Join(name, version) }

// DataPath is the path of the bytes of name@version relative to the store root.
func DataPath(name, version string) string { return path.Join(name, version, dataFile) }

// MetadataPath is the path of the metadata of name@version relative to the store root.
func MetadataPath(name, version string) string { return path.Join(name, version, metadataFile) }

// ParseID splits "name@version".
func ParseID(id string) (name, version string, err error) {
	i := strings.LastIndex(id, "@")
	if i <= 0 || i == len(id)-1 {
		return "", "", fmt.Errorf("invalid artifact id %q: expected name@version", id)
	}
	name, version = id[:i], id[i+1:]
	if err := validate(name, version); err != nil {
		return "", "", err
	}
	return name, version, nil
}

// VerifyingReader hashes what is read through it and, at EOF, fails with an error
// wrapping ErrChecksumMismatch when the bytes do not have the expected sha256 or
// size. Consumers therefore never see a clean EOF on corrupt bytes.
type VerifyingReader struct {
	r        io.Reader
	h        hash.Hash
	n        int64
	expected string
	size     int64 // -1: unknown
}

// NewVerifyingReader wraps r; size < 0 skips the size check.
func NewVerifyingReader(r io.Reader, expectedSHA256 string, size int64) *VerifyingReader {
	return &VerifyingReader{r: r, h: sha256.New(), expected: strings.ToLower(expectedSHA256), size: size}
}

func (v *VerifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if n > 0 {
		v.h.Write(p[:n])
		v.n += int64(n)
	}
	if errors.Is(err, io.EOF) {
		if v.size >= 0 && v.n != v.size {
			return n, fmt.Errorf("%w: read %d bytes, expected %d", ErrChecksumMismatch, v.n, v.size)
		}
		if got := v.Sum(); v.expected != "" && got != v.expected {
			return n, fmt.Errorf("%w: got %s, expected %s", ErrChecksumMismatch, got, v.expected)
		}
	}
	return n, err
}

// Sum is the hex sha256 of the bytes read so far.
func (v *VerifyingReader) Sum() string { return hex.EncodeToString(v.h.Sum(nil)) }

// Size is the number of bytes read so far.
func (v *VerifyingReader) Size() int64 { return v.n }

// CopyVersion implements Store.Copy on top of Get and Put: the bytes of
// name@fromVersion are streamed into name@toVersion and hashed on the way, so the
// copy is published only when they still match expectedSHA256.
func CopyVersion(ctx context.Context, s Store, name, fromVersion, toVersion, expectedSHA256 string, metadata map[string]string) (Object, error) {
	rc, from, err := s.Get(ctx, name, fromVersion)
	if err != nil {
		return Object{}, err
	}
	defer rc.Close()
	want := strings.ToLower(expectedSHA256)
	if want == "" {
		want = from.SHA256
	}
	if !strings.EqualFold(from.SHA256, want) {
		return Object{}, fmt.Errorf("%w: %s@%s has sha256 %s, expected %s", ErrChecksumMismatch, name, fromVersion, from.SHA256, want)
	}
	return s.Put(ctx, name, toVersion, rc, want, metadata)
}
