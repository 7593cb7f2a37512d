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
	if !d.local() {
		ps, err := prepareOn(ctx, []*Directory{d}, spec, r, 1)
		if err != nil {
			return nil, err
		}
		return ps[0], nil
	}
	h := d.host()
	if err := h.MkdirAll(ctx, d.releasesPath(), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", d.releasesPath(), err)
	}
	now := d.now()
	id, err := newID(ctx, []*Directory{d}, spec.Version, now, 1)
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
