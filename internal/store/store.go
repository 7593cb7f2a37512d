// Package store keeps published release artifacts: immutable bytes per name@version
// with their sha256, size, publication time and user metadata. A Store is either a
// local directory or an HTTP (WebDAV / Artifactory generic) repository; both use the
// same layout, so they are interchangeable.
package store

import (
	"context"
	"errors"
	"io"
	"sort"
	"time"
)

// Errors callers can test with errors.Is.
var (
	// ErrNotFound means no artifact is published under that name@version.
	ErrNotFound = errors.New("artifact not found")
	// ErrConflict means the version is already published with different content.
	ErrConflict = errors.New("version already published with different content")
	// ErrChecksumMismatch means the bytes do not have the expected sha256.
	ErrChecksumMismatch = errors.New("sha256 mismatch")
	// ErrCorrupt means the stored bytes no longer match their recorded size or sha256.
	ErrCorrupt = errors.New("stored artifact is corrupt")
)

// Object describes one published artifact.
type Object struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	SHA256      string            `json:"sha256"`
	Size        int64             `json:"size"`
	PublishedAt time.Time         `json:"published_at"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// URI locates the bytes (file:// for a directory store, https:// for HTTP).
	URI string `json:"-"`
}

// ID is the artifact's identifier, name@version.
func (o Object) ID() string { return o.Name + "@" + o.Version }

// Store is an artifact repository. Implementations are safe for concurrent use by
// several goroutines and several processes.
type Store interface {
	// Put streams r into name@version, computing the sha256 while writing. When
	// expectedSHA256 is not empty and differs from the computed one, nothing is left
	// behind and the error wraps ErrChecksumMismatch. Publishing the same bytes again
	// is a no-op that returns the existing object; different bytes wrap ErrConflict.
	Put(ctx context.Context, name, version string, r io.Reader, expectedSHA256 string, metadata map[string]string) (Object, error)
	// Get opens the bytes of name@version. The reader does not verify the checksum;
	// callers hash while they consume (see VerifyingReader).
	Get(ctx context.Context, name, version string) (io.ReadCloser, Object, error)
	// Stat returns the metadata of name@version and checks the stored size (cheap).
	Stat(ctx context.Context, name, version string) (Object, error)
	// Verify re-hashes the stored bytes and wraps ErrCorrupt when they changed.
	Verify(ctx context.Context, name, version string) (Object, error)
	// List returns every published version of name, oldest publication first.
	List(ctx context.Context, name string) ([]Object, error)
	// Copy publishes the bytes of name@fromVersion again as name@toVersion, verifying
	// them against expectedSHA256 while copying (the same bytes under a new name).
	Copy(ctx context.Context, name, fromVersion, toVersion, expectedSHA256 string, metadata map[string]string) (Object, error)
	// Delete removes name@version. Deleting a missing artifact is not an error.
	Delete(ctx context.Context, name, version string) error
}

// published is List's result for the folders found under name: the objects of
// the versions, oldest publication first (then by version), the same for every
// store. A folder that is not a version is left out, and so is a version
// without metadata (stat wraps ErrNotFound): an upload under way or abandoned
// is not published.
func published(folders []string, stat func(version string) (Object, error)) ([]Object, error) {
	var out []Object
	seen := map[string]bool{}
	for _, version := range folders {
		if seen[version] || ValidateVersion(version) != nil {
			continue
		}
		seen[version] = true
		obj, err := stat(version)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].PublishedAt.Equal(out[j].PublishedAt) {
			return out[i].Version < out[j].Version
		}
		return out[i].PublishedAt.Before(out[j].PublishedAt)
	})
	return out, nil
}
