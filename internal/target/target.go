// Package target puts verified release bytes where they run and switches traffic
// to them. A Target is one place an application runs: a server directory laid out
// as releases/<version>-<timestamp> plus a `current` symlink (Directory, on the
// machine Terraform runs on or on a remote host through host.Host), the same
// directory on several hosts switched together (Fleet), or a PaaS app.
//
// The deploy sequence (internal/deploy) drives a Target in this order:
// Current → Find or Prepare → (backup, hooks) → Activate → (smoke test) →
// Restore on failure → Prune. Every method reads or changes what is really there,
// so callers can always report the truth after a partial failure.
package target

import (
	"context"
	"io"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
)

// ErrNotFound means the target, or the release asked for, does not exist. It is
// host.ErrNotFound, the "gone" of every domain package (router.ErrNotFound and
// maintenance.ErrNotFound are the same).
var ErrNotFound = host.ErrNotFound

// Release describes one release a target holds (live or not).
type Release struct {
	// ID identifies the release on the target: the release folder's name
	// ("1.7.4-20250102T150405Z") for a directory, the deployment id for a PaaS.
	ID string `json:"id"`
	// Name and Version identify the artifact the release was made from.
	Name    string `json:"name"`
	Version string `json:"version"`
	// SHA256 is the verified sha256 of the artifact's bytes.
	SHA256 string `json:"sha256"`
	// GitCommit comes from the artifact's metadata, when it had one.
	GitCommit string `json:"git_commit,omitempty"`
	// Path is the release folder for targets that have one, else empty.
	Path string `json:"-"`
	// PreparedAt is when the release was prepared on the target.
	PreparedAt time.Time `json:"prepared_at"`
	// ActivatedAt is when the release last went live, when the target knows it.
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	// Failed is set when a deploy of this release failed after it went live.
	Failed bool `json:"failed,omitempty"`
	// FailReason says why, when Failed.
	FailReason string `json:"fail_reason,omitempty"`
	// Unverified is set from just before the release goes live until its
	// after_switch hooks and smoke test passed: a live release that still has it
	// was switched to by a deployment that never finished (killed, timed out).
	Unverified bool `json:"unverified,omitempty"`
	// Replaced is the release that was live when this one went live unverified:
	// the one a new deployment goes back to when verification fails again.
	Replaced *Release `json:"replaced,omitempty"`
	// Problem, set by Current, says in a sentence why what is live is not a
	// finished deployment (unverified, failed, or `current` not pointing at one of
	// the target's releases, in which case ID and Version are empty). Empty when
	// the live release is sound.
	Problem string `json:"-"`
}

// Sound tells whether rel is a finished deployment that can be rolled back to.
func (rel *Release) Sound() bool {
	return rel != nil && rel.ID != "" && !rel.Unverified && !rel.Failed
}

// Spec names the artifact a release is made from.
type Spec struct {
	Name      string
	Version   string
	SHA256    string // expected, lower-case hex
	GitCommit string
}

// HostDir is a prepared release's folder on one host: where its hooks run.
type HostDir struct {
	Host host.Host
	Dir  string
}

// Prepared is a release that is ready on the target but not live yet.
type Prepared struct {
	Release Release
	// Dir is where hooks run with RELEASE_PATH: the release folder for a directory
	// target; empty when the target has no folder of its own.
	Dir string
	// Hosts lists the release's folder on each host that holds it, in the
	// target's order (the first is where once-only hooks and the backup run).
	// Empty for a target with no host of its own (a PaaS): its hooks run on the
	// machine Terraform runs on, in Dir.
	Hosts []HostDir
	// Reused is true when Find returned an existing release instead of a new one;
	// Discard leaves reused releases in place.
	Reused bool
}

// Opener reopens an artifact's verified bytes, for targets that must upload or
// extract a release again during Restore.
type Opener func(ctx context.Context, spec Spec) (io.ReadCloser, error)

// Target is one place an application runs.
type Target interface {
	// Describe names the target for messages: "directory /srv/histologe".
	Describe() string
	// Current returns the live release, or nil when nothing is live. It reads the
	// real target (the `current` symlink, the app's last successful deployment) and
	// never downloads artifacts. What is live but not a sound deployment comes
	// with Problem set and no error: an unverified or failed release, or (ID and
	// Version empty) a `current` that leads to no release of the target.
	Current(ctx context.Context) (*Release, error)
	// Find returns a complete, earlier prepared release of spec (same version and
	// sha256) that can go live again without fetching the bytes, or nil.
	Find(ctx context.Context, spec Spec) (*Prepared, error)
	// Prepare consumes r, the artifact's bytes, and makes a release of them that is
	// not live yet. r fails at EOF when the bytes do not match spec.SHA256, so
	// Prepare reads r to its end and leaves nothing behind on any read error.
	Prepare(ctx context.Context, spec Spec, r io.Reader) (*Prepared, error)
	// Discard removes a prepared release that never went live (reused releases stay).
	Discard(ctx context.Context, p *Prepared) error
	// Activate makes p live atomically: either the old or the new release serves.
	Activate(ctx context.Context, p *Prepared) error
	// Restore makes previous live again after a failed deploy. previous == nil means
	// nothing was live before: the target stops serving the failed release when it
	// can. open is used when the previous release must be rebuilt from its artifact.
	Restore(ctx context.Context, previous *Release, open Opener) error
	// MarkFailed records that release failed after going live, so Prune keeps it
	// for inspection.
	MarkFailed(ctx context.Context, release Release, reason string) error
	// MarkUnverified records, durably and before the switch, that release is about
	// to go live without having passed its checks, and which release it replaces
	// (the sound one to go back to; nil: none). Current then reports the release
	// as Unverified, with Replaced and a Problem, until MarkVerified. A target
	// that cannot record it says so in its doc comment (Scalingo).
	MarkUnverified(ctx context.Context, release Release, replaced *Release) error
	// MarkVerified clears the mark once the after_switch hooks and smoke test
	// passed (and a failed mark from an earlier attempt).
	MarkVerified(ctx context.Context, release Release) error
	// Prune deletes releases beyond the newest keep ones. It never deletes the live
	// release, any release whose ID is in protect, nor a release marked failed.
	Prune(ctx context.Context, keep int, protect ...string) ([]string, error)
	// Remove deletes every release and stops serving (on_destroy = "remove").
	Remove(ctx context.Context) error
}
