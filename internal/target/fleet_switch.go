package target

import (
	"context"
	"fmt"
	"io/fs"
	"path"
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
// before this deployment's Activate when that was a sound release (rebuilt
// from its artifact where its folder is gone), else to previous (nil:
// `current` is removed). The error lists what each host serves now.
func (f *Fleet) Restore(ctx context.Context, previous *Release, open Opener) error {
	f.mu.Lock()
	before := f.before
	f.mu.Unlock()
	err := f.each("restore", func(i int, d *Directory) error {
		if before != nil && before[i].release.Sound() {
			return d.Restore(ctx, before[i].release, open)
		}
		return d.Restore(ctx, previous, open)
	})
	if err != nil {
		return fmt.Errorf("%w; %s", err, f.serving(context.WithoutCancel(ctx)))
	}
	return nil
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
