package target

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/shell"
)

// Prune implements Target. Failed releases and releases in protect do not count
// towards keep; temporary folders of deployments that are over are removed
// (see removeStaleTemp).
func (d *Directory) Prune(ctx context.Context, keep int, protect ...string) ([]string, error) {
	if keep < 1 {
		keep = 1
	}
	d.removeStaleTemp(ctx)
	rels, err := d.list(ctx)
	if err != nil {
		return nil, err
	}
	live, err := d.Current(ctx)
	if err != nil {
		return nil, err
	}
	keepIDs := map[string]bool{}
	for _, id := range protect {
		keepIDs[id] = true
	}
	if live != nil {
		keepIDs[live.ID] = true
	}
	var removed []string
	kept := 0
	for i := len(rels) - 1; i >= 0; i-- { // newest first
		r := rels[i]
		if r.Failed || keepIDs[r.ID] {
			if !r.Failed {
				kept++
			}
			continue
		}
		if kept < keep {
			kept++
			continue
		}
		if err := d.removeRelease(ctx, r.ID); err != nil {
			return removed, fmt.Errorf("prune release %s: %w", r.ID, err)
		}
		removed = append(removed, r.ID)
	}
	d.removeOrphanMeta(ctx)
	return removed, nil
}

// removeOrphanMeta removes metadata whose folder is gone (a crash between the
// two writes).
func (d *Directory) removeOrphanMeta(ctx context.Context) {
	h := d.host()
	entries, err := h.ReadDir(ctx, d.releasesPath())
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".json") || strings.HasPrefix(n, tmpPrefix) {
			continue
		}
		id := strings.TrimSuffix(strings.TrimPrefix(n, "."), ".json")
		if _, err := h.Lstat(ctx, path.Join(d.releasesPath(), id)); errors.Is(err, fs.ErrNotExist) {
			_ = h.Remove(ctx, path.Join(d.releasesPath(), n))
		}
	}
}

// removeStaleTemp deletes the temporary folders, symbolic links and metadata
// files of deployments that are over: on the local machine, those whose
// process no longer runs (a deploy that was killed); on a remote host, where
// no pid tells, those older than staleRemoteTemp (by the time in their name,
// or the host's modification time for `current`'s temporary links).
func (d *Directory) removeStaleTemp(ctx context.Context) {
	h := d.host()
	now := time.Now()
	if entries, err := h.ReadDir(ctx, d.releasesPath()); err == nil {
		for _, e := range entries {
			n := e.Name()
			switch {
			case strings.Contains(n, ".json.tmp-"):
				_ = h.Remove(ctx, path.Join(d.releasesPath(), n)) // metadata is written under a lock-free rename; a leftover is garbage
			case strings.HasPrefix(n, tmpPrefix) && d.stale(strings.TrimPrefix(n, tmpPrefix), now):
				_ = h.RemoveAll(ctx, path.Join(d.releasesPath(), n))
			}
		}
	}
	linkTmp := "." + currentLink + tmpPrefix
	if entries, err := h.ReadDir(ctx, d.Path); err == nil {
		for _, e := range entries {
			n := e.Name()
			if !strings.HasPrefix(n, linkTmp) {
				continue
			}
			if d.stale(strings.TrimPrefix(n, linkTmp), now) || (!d.local() && now.Sub(e.ModTime()) > staleRemoteTemp) {
				_ = h.RemoveAll(ctx, path.Join(d.Path, n))
			}
		}
	}
}

// stale tells whether the temporary entry whose name goes on with rest (after
// its prefix) belongs to a deployment that is over: "at-<time>-…" older than
// staleRemoteTemp, or, on the local machine, "<pid>-…" of a process that is
// gone.
func (d *Directory) stale(rest string, now time.Time) bool {
	if at, ok := strings.CutPrefix(rest, remoteTmpTag); ok {
		stamp, _, _ := strings.Cut(at, "-")
		t, err := time.Parse(timestampForm, stamp)
		return err == nil && now.Sub(t) > staleRemoteTemp
	}
	if !d.local() {
		return false // a pid of another machine
	}
	pidStr, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidStr)
	return err == nil && !shell.ProcessAlive(pid)
}
