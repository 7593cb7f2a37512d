package target

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Activate implements Target: phase two. Every host already holds p (phase
// one: Prepare and the caller's before_switch hooks). Activate records what
// each host serves, then switches `current` on every host by rename. If any
// host fails to switch, every host that switched is pointed back at what it
// served before, and the error lists what each host serves now.
func (f *Fleet) Activate(ctx context.Context, p *Prepared) error {
	id := p.Release.ID
	before := make([]servedBefore, len(f.dirs))
	err := f.each("read what is live before switching to "+id, func(i int, d *Directory) error {
		var err error
		before[i], err = d.served(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w; no host was switched", err)
	}
	f.mu.Lock()
	f.before = before
	f.mu.Unlock()
	switched := make([]bool, len(f.dirs))
	err = f.each("switch to release "+id, func(i int, d *Directory) error {
		if err := d.switchTo(ctx, id); err != nil {
			return err
		}
		switched[i] = true
		return nil
	})
	if err == nil {
		return nil
	}
	back, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	rbErr := f.each("switch back", func(i int, d *Directory) error {
		if !switched[i] {
			return nil
		}
		return d.putLink(back, before[i].link)
	})
	var names []string
	for i, d := range f.dirs {
		if switched[i] {
			names = append(names, d.host().Name())
		}
	}
	note := "no host had switched"
	switch {
	case rbErr != nil:
		note = rbErr.Error()
	case len(names) > 0:
		note = "switched back " + joinNames(names)
	}
	return fmt.Errorf("%w; %s; %s", err, note, f.serving(back))
}

// served reads what the directory serves, and how `current` is written.
func (d *Directory) served(ctx context.Context) (servedBefore, error) {
	fi, err := d.host().Lstat(ctx, path.Join(d.Path, currentLink))
	if err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return servedBefore{notLink: true}, nil
	}
	link, err := d.readLink(ctx)
	if err != nil {
		return servedBefore{}, err
	}
	rel, err := d.Current(ctx)
	if err != nil {
		return servedBefore{}, err
	}
	return servedBefore{release: rel, link: link}, nil
}

// serving says what every host serves now, for errors: "now web1 serves 1.7.3
// (1.7.3-…), web2 serves nothing".
func (f *Fleet) serving(ctx context.Context) string {
	parts := make([]string, len(f.dirs))
	each(len(f.dirs), f.maxParallel, func(i int) error {
		d := f.dirs[i]
		if rel, err := d.Current(ctx); err != nil {
			parts[i] = d.host().Name() + " cannot be read (" + err.Error() + ")"
		} else {
			parts[i] = describeServes(HostRelease{Host: d.host().Name(), Release: rel})
		}
		return nil
	})
	return "now " + strings.Join(parts, ", ")
}

// Restore implements Target: each host goes back to the release it served
// before this deployment's Activate when that was a sound release, else to
// previous (nil: `current` is removed). A release whose folder is gone from
// some hosts is rebuilt there from its artifact, read once for all of them,
// under its own id. The error lists what each host serves now.
func (f *Fleet) Restore(ctx context.Context, previous *Release, open Opener) error {
	f.mu.Lock()
	before := f.before
	f.mu.Unlock()
	goal := make([]*Release, len(f.dirs))
	for i := range f.dirs {
		goal[i] = previous
		if before != nil && before[i].release.Sound() {
			goal[i] = before[i].release
		}
	}
	ids, rebuildErr := f.rebuildMissing(ctx, goal, open)
	err := f.each("restore", func(i int, d *Directory) error {
		switch {
		case goal[i] == nil:
			return d.Restore(ctx, nil, nil)
		case ids[i] == "":
			return nil // its rebuild failed: said by rebuildErr
		}
		return d.switchTo(ctx, ids[i])
	})
	if err = errors.Join(rebuildErr, err); err != nil {
		return fmt.Errorf("%w; %s", err, f.serving(context.WithoutCancel(ctx)))
	}
	return nil
}

// rebuildMissing makes sure every host holds its goal release, rebuilding it
// from its artifact on the hosts where its folder is gone, and returns the
// release id each host is to switch to ("" when its rebuild failed).
func (f *Fleet) rebuildMissing(ctx context.Context, goal []*Release, open Opener) ([]string, error) {
	ids := make([]string, len(f.dirs))
	missing := map[string][]int{} // release id → hosts lacking its folder
	var order []string
	_ = f.each("look for the releases to go back to", func(i int, d *Directory) error {
		if goal[i] == nil {
			return nil
		}
		ids[i] = goal[i].ID
		if _, err := d.host().Stat(ctx, path.Join(d.releasesPath(), goal[i].ID)); errors.Is(err, fs.ErrNotExist) {
			f.mu.Lock()
			if missing[goal[i].ID] == nil {
				order = append(order, goal[i].ID)
			}
			missing[goal[i].ID] = append(missing[goal[i].ID], i)
			f.mu.Unlock()
		}
		return nil // any other error: the switch says it
	})
	var errs []error
	for _, id := range order {
		idx := missing[id]
		slices.Sort(idx)
		dirs := make([]*Directory, len(idx))
		for j, i := range idx {
			dirs[j] = f.dirs[i]
		}
		newID, err := rebuild(ctx, dirs, goal[idx[0]], open, f.maxParallel)
		for _, i := range idx {
			ids[i] = newID
		}
		if err != nil {
			names := make([]string, len(dirs))
			for j, d := range dirs {
				names[j] = d.host().Name()
			}
			errs = append(errs, fmt.Errorf("rebuild release %s on %s: %w", id, joinNames(names), err))
		}
	}
	return ids, errors.Join(errs...)
}

// MarkFailed implements Target, on every host.
func (f *Fleet) MarkFailed(ctx context.Context, release Release, reason string) error {
	return f.each("mark release "+release.ID+" failed", func(_ int, d *Directory) error {
		return d.MarkFailed(ctx, release, reason)
	})
}

// MarkUnverified implements Target, on every host.
func (f *Fleet) MarkUnverified(ctx context.Context, release Release, replaced *Release) error {
	return f.each("mark release "+release.ID+" unverified", func(_ int, d *Directory) error {
		return d.MarkUnverified(ctx, release, replaced)
	})
}

// MarkVerified implements Target, on every host.
func (f *Fleet) MarkVerified(ctx context.Context, release Release) error {
	return f.each("mark release "+release.ID+" verified", func(_ int, d *Directory) error {
		return d.MarkVerified(ctx, release)
	})
}

// Prune implements Target on every host (each keeps its own live release);
// it returns the ids removed from any host.
func (f *Fleet) Prune(ctx context.Context, keep int, protect ...string) ([]string, error) {
	removed := make([][]string, len(f.dirs))
	err := f.each("prune", func(i int, d *Directory) error {
		var err error
		removed[i], err = d.Prune(ctx, keep, protect...)
		return err
	})
	var out []string
	seen := map[string]bool{}
	for _, ids := range removed {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out, err
}

// Remove implements Target, on every host.
func (f *Fleet) Remove(ctx context.Context) error {
	return f.each("remove", func(_ int, d *Directory) error { return d.Remove(ctx) })
}
