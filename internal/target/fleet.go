package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

// DefaultMaxParallel is how many hosts a Fleet changes at once when
// NewFleet is given no limit.
const DefaultMaxParallel = 10

// Fleet is one directory target on several hosts (the same Path, Shared and
// Limits on each), changed in two phases: Prepare puts the release on every
// host (and the caller runs its before_switch hooks there); only then does
// Activate switch every host, and a host that fails to switch sends every
// host that did back to what it served before. Every method works on all
// hosts concurrently, at most maxParallel at a time, and its errors name the
// hosts they happened on (*HostsError).
type Fleet struct {
	dirs        []*Directory
	maxParallel int

	mu sync.Mutex
	// before is what each host served when Activate last ran: the release
	// (nil: nothing) and the raw target of `current` ("" with no link).
	before []servedBefore
}

type servedBefore struct {
	release *Release
	link    string
	notLink bool // `current` was no symbolic link: the host could not be switched
}

var _ Target = (*Fleet)(nil)

// HostRelease is what one host of a target serves: Release is nil when
// nothing is live there.
type HostRelease struct {
	Host    string
	Release *Release
}

// NewFleet returns the fleet of dirs, which must share Path, Shared and
// Limits and each have a host of its own. maxParallel <= 0 means
// DefaultMaxParallel.
func NewFleet(dirs []*Directory, maxParallel int) (*Fleet, error) {
	if len(dirs) == 0 {
		return nil, errors.New("a fleet needs at least one host")
	}
	if maxParallel <= 0 {
		maxParallel = DefaultMaxParallel
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		if d.Path != dirs[0].Path || !slices.Equal(d.Shared, dirs[0].Shared) || d.Limits != dirs[0].Limits {
			return nil, fmt.Errorf("every host of a fleet needs the same directory settings: %s differs from %s", d.Describe(), dirs[0].Describe())
		}
		name := d.host().Name()
		if seen[name] {
			return nil, fmt.Errorf("host %s is twice in the fleet", name)
		}
		seen[name] = true
	}
	return &Fleet{dirs: slices.Clone(dirs), maxParallel: maxParallel}, nil
}

// forget drops what Activate recorded: a new deployment begins.
func (f *Fleet) forget() {
	f.mu.Lock()
	f.before = nil
	f.mu.Unlock()
}

// Directories returns the fleet's directories, in host order.
func (f *Fleet) Directories() []*Directory { return slices.Clone(f.dirs) }

func (f *Fleet) names() []string {
	out := make([]string, len(f.dirs))
	for i, d := range f.dirs {
		out[i] = d.host().Name()
	}
	return out
}

// Describe implements Target: "directory /srv/app on web1, web2:2222 and web3".
func (f *Fleet) Describe() string {
	return "directory " + f.dirs[0].Path + " on " + joinNames(f.names())
}

// each runs fn on every directory and gathers the errors under op.
func (f *Fleet) each(op string, fn func(i int, d *Directory) error) error {
	errs := each(len(f.dirs), f.maxParallel, func(i int) error { return fn(i, f.dirs[i]) })
	return hostsError(f.dirs, errs, op)
}

// HostsLive reads what every host serves, in host order.
func (f *Fleet) HostsLive(ctx context.Context) ([]HostRelease, error) {
	out := make([]HostRelease, len(f.dirs))
	err := f.each("read what is live", func(i int, d *Directory) error {
		rel, err := d.Current(ctx)
		out[i] = HostRelease{Host: d.host().Name(), Release: rel}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HostsLive returns what the directory's one host serves.
func (d *Directory) HostsLive(ctx context.Context) ([]HostRelease, error) {
	rel, err := d.Current(ctx)
	if err != nil {
		return nil, err
	}
	return []HostRelease{{Host: d.host().Name(), Release: rel}}, nil
}

// Current implements Target. When every host serves the same release, it is
// that release (unverified or failed, with a Problem naming the host, when a
// host says so). When hosts disagree (one switched by hand, a new host with
// nothing live), it is a Release without ID whose Problem says what each host
// serves, and whose Replaced is the sound release most hosts serve (the first
// host's on ties), to go back to if the deployment that converges them fails.
func (f *Fleet) Current(ctx context.Context) (*Release, error) {
	live, err := f.HostsLive(ctx)
	if err != nil {
		return nil, err
	}
	return combineLive(live), nil
}

func combineLive(live []HostRelease) *Release {
	if len(live) == 1 {
		return live[0].Release
	}
	first := live[0].Release
	allNil, sameID := true, first != nil && first.ID != ""
	for _, hr := range live {
		if hr.Release != nil {
			allNil = false
		}
		if hr.Release == nil || first == nil || hr.Release.ID != first.ID {
			sameID = false
		}
	}
	switch {
	case allNil:
		return nil
	case sameID:
		return mergeAgreeing(live)
	}
	parts := make([]string, len(live))
	for i, hr := range live {
		parts[i] = describeServes(hr)
	}
	return &Release{Problem: "hosts disagree: " + strings.Join(parts, ", "), Replaced: mostServed(live)}
}

// mergeAgreeing is the release every host serves, with the marks any host
// holds and a Problem naming the hosts that have one.
func mergeAgreeing(live []HostRelease) *Release {
	rel := *live[0].Release
	rel.Problem = ""
	var problems []string
	for _, hr := range live {
		r := hr.Release
		if r.Problem == "" {
			continue
		}
		problems = append(problems, hr.Host+": "+r.Problem)
		rel.Unverified = rel.Unverified || r.Unverified
		if r.Failed && !rel.Failed {
			rel.Failed, rel.FailReason = true, r.FailReason
		}
		if rel.Replaced == nil {
			rel.Replaced = r.Replaced
		}
	}
	rel.Problem = strings.Join(problems, "; ")
	return &rel
}

// describeServes says what one host serves: "web1 serves 1.7.4
// (1.7.4-20260102T150405Z)", "web3 serves nothing".
func describeServes(hr HostRelease) string {
	r := hr.Release
	switch {
	case r == nil:
		return hr.Host + " serves nothing"
	case r.ID == "":
		return hr.Host + " serves no release (" + r.Problem + ")"
	}
	s := fmt.Sprintf("%s serves %s (%s)", hr.Host, r.Version, r.ID)
	switch {
	case r.Unverified:
		s += ", unverified"
	case r.Failed:
		s += ", failed"
	}
	return s
}

// mostServed is the sound release most hosts serve, the first host's on ties;
// nil when no host serves a sound release.
func mostServed(live []HostRelease) *Release {
	count := map[string]int{}
	var best *Release
	for _, hr := range live {
		if !hr.Release.Sound() {
			continue
		}
		count[hr.Release.ID]++
		if best == nil || count[hr.Release.ID] > count[best.ID] {
			best = hr.Release
		}
	}
	if best == nil {
		return nil
	}
	r := *best
	r.Replaced, r.Problem = nil, ""
	return &r
}

// Find implements Target: a release of spec that every host holds complete
// under the same id (fleet releases are prepared with one id), newest first,
// preferring releases no host marked failed.
func (f *Fleet) Find(ctx context.Context, spec Spec) (*Prepared, error) {
	f.forget()
	lists := make([][]Release, len(f.dirs))
	err := f.each("list the releases", func(i int, d *Directory) error {
		var err error
		lists[i], err = d.list(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	var best *Prepared
	for _, r := range lists[0] {
		if !r.holds(spec) {
			continue
		}
		p := f.preparedEverywhere(r, lists, spec)
		if p == nil {
			continue
		}
		if best == nil || (best.Release.Failed && !p.Release.Failed) ||
			(best.Release.Failed == p.Release.Failed && p.Release.PreparedAt.After(best.Release.PreparedAt)) {
			best = p
		}
	}
	return best, nil
}

// preparedEverywhere is r as a Prepared on every host, or nil when a host
// lacks it (or holds other bytes under its id).
func (f *Fleet) preparedEverywhere(r Release, lists [][]Release, spec Spec) *Prepared {
	p := &Prepared{Release: r, Dir: r.Path, Reused: true}
	for i, list := range lists {
		j := slices.IndexFunc(list, func(o Release) bool { return o.ID == r.ID && o.holds(spec) })
		if j < 0 {
			return nil
		}
		p.Release.Failed = p.Release.Failed || list[j].Failed
		p.Hosts = append(p.Hosts, HostDir{Host: f.dirs[i].host(), Dir: list[j].Path})
	}
	return p
}

// Prepare implements Target: r is read once and streamed to every host
// concurrently (at most maxParallel at a time; with more hosts it is spooled
// to a local temporary file first), its archive checked once here on the way;
// each host checks the sha256 of what it received and extracts it. If any
// host fails, the release is removed from every host and the error names the
// hosts that failed.
func (f *Fleet) Prepare(ctx context.Context, spec Spec, r io.Reader) (*Prepared, error) {
	f.forget()
	ps, err := prepareOn(ctx, f.dirs, spec, r, f.maxParallel, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (no host was switched: each serves what it served before)", err)
	}
	p := *ps[0]
	p.Hosts = nil
	for _, hp := range ps {
		p.Hosts = append(p.Hosts, hp.Hosts...)
	}
	return &p, nil
}

// Discard implements Target, on every host.
func (f *Fleet) Discard(ctx context.Context, p *Prepared) error {
	if p == nil || p.Reused {
		return nil
	}
	return f.each("discard release "+p.Release.ID, func(_ int, d *Directory) error {
		return d.removeRelease(ctx, p.Release.ID)
	})
}

// readLink returns the target `current` has as written, "" when there is none.
func (d *Directory) readLink(ctx context.Context) (string, error) {
	dest, err := d.host().Readlink(ctx, path.Join(d.Path, currentLink))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return dest, err
}

// putLink points `current` back at dest as it was written ("" removes it).
func (d *Directory) putLink(ctx context.Context, dest string) error {
	link := path.Join(d.Path, currentLink)
	if dest == "" {
		if err := d.host().Remove(ctx, link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return d.host().Symlink(ctx, dest, link)
}
