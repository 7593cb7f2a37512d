package target

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
)

// Prepare implements Target. On the local machine it extracts r into
// releases/.tmp-<pid>-<id>, reads r to its end (which verifies the sha256),
// links the shared paths, writes the metadata and only then renames the folder
// to releases/<id>. On a remote host the archive is checked here while it
// streams to the host, and extracted there once the host confirmed its sha256
// (see prepareOn).
func (d *Directory) Prepare(ctx context.Context, spec Spec, r io.Reader) (*Prepared, error) {
	return d.prepare(ctx, spec, r, nil)
}

// prepare is Prepare, of release again (rebuilt from its artifact under its
// own id when that is free) when again is not nil.
func (d *Directory) prepare(ctx context.Context, spec Spec, r io.Reader, again *Release) (*Prepared, error) {
	if !d.local() {
		ps, err := prepareOn(ctx, []*Directory{d}, spec, r, 1, again)
		if err != nil {
			return nil, err
		}
		return ps[0], nil
	}
	h := d.host()
	if err := h.MkdirAll(ctx, d.releasesPath(), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", d.releasesPath(), err)
	}
	id, now, err := releaseID(ctx, []*Directory{d}, spec.Version, again, d.now(), 1)
	if err != nil {
		return nil, err
	}
	tmp := path.Join(d.releasesPath(), d.tempName(id))
	// Not MkdirAll: the folder must be new, this extraction's own.
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("create extraction folder: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = h.RemoveAll(context.WithoutCancel(ctx), tmp)
		}
	}()
	if _, err := archive.ExtractTarGz(ctx, r, tmp, d.Limits); err != nil {
		// Bytes that do not match their sha256 explain a bad archive best.
		if _, derr := io.Copy(io.Discard, r); derr != nil {
			return nil, fmt.Errorf("read %s@%s: %w (extraction stopped at: %v)", spec.Name, spec.Version, derr, err)
		}
		return nil, fmt.Errorf("extract %s@%s: %w", spec.Name, spec.Version, err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, fmt.Errorf("read %s@%s: %w", spec.Name, spec.Version, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	final := path.Join(d.releasesPath(), id)
	if err := d.linkShared(ctx, tmp, final); err != nil {
		return nil, err
	}
	rel := newRelease(id, spec, now)
	if err := d.writeMeta(ctx, rel); err != nil {
		return nil, err
	}
	if err := h.Rename(ctx, tmp, final); err != nil {
		_ = h.Remove(context.WithoutCancel(ctx), d.metaPath(id))
		return nil, fmt.Errorf("move release into %s: %w", final, err)
	}
	ok = true
	rel.Path = final
	return d.prepared(rel, false), nil
}

func newRelease(id string, spec Spec, now time.Time) Release {
	return Release{ID: id, Name: spec.Name, Version: spec.Version, SHA256: strings.ToLower(spec.SHA256), GitCommit: spec.GitCommit, PreparedAt: now}
}

// rebuild prepares rel again on dirs from its artifact, under its own id when
// that is free on every one of them, and returns the id it has now.
func rebuild(ctx context.Context, dirs []*Directory, rel *Release, open Opener, maxParallel int) (string, error) {
	if open == nil || rel.Name == "" || rel.SHA256 == "" {
		return "", fmt.Errorf("release folder %s is gone and its artifact is unknown", rel.ID)
	}
	spec := Spec{Name: rel.Name, Version: rel.Version, SHA256: rel.SHA256, GitCommit: rel.GitCommit}
	rc, err := open(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("reopen %s@%s: %w", spec.Name, spec.Version, err)
	}
	defer rc.Close()
	if len(dirs) == 1 {
		p, err := dirs[0].prepare(ctx, spec, rc, rel)
		if err != nil {
			return "", err
		}
		return p.Release.ID, nil
	}
	ps, err := prepareOn(ctx, dirs, spec, rc, maxParallel, rel)
	if err != nil {
		return "", err
	}
	return ps[0].Release.ID, nil
}
