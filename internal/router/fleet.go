package router

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/hostseq"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/nginxconf"
)

// Fleet is one router on several hosts, such as the two load balancers of an
// HA pair: every host gets the same include file or live symlink.
//
// Switch and Remove change one host at a time, in order, so a configuration
// that a host's nginx rejects stops at that host. When a host fails, every host
// changed before it is put back exactly as it was (its previous file, or no
// file, tested and reloaded again), and the *FleetError lists each host with
// what it routes to now. Read reads every host at once; hosts that disagree
// read as a State whose Active is "" and whose Live names what each host
// routes to, which the provider shows as drift.
type Fleet struct {
	// Hosts are the hosts, in the order they are switched.
	Hosts []host.Host
	// On returns the router on one host: an *Nginx or a *Directory whose Host is h.
	On func(h host.Host) Router
}

var _ Router = (*Fleet)(nil)

// HostState is what one host of a Fleet routes to.
type HostState struct {
	Host string
	// State is the host's state; Missing says the host has no router file or link.
	State   State
	Missing bool
}

// Describe says what the host routes to, for messages.
func (h HostState) Describe() string {
	if h.Missing {
		return "nothing (no router configuration)"
	}
	if h.State.Canary.Active() && h.State.Active.Valid() {
		return h.State.Canary.Describe(h.State.Active)
	}
	return describe(h.State.Active, h.State.Live)
}

// HostReport is one host of a failed fleet change: what it routes to now.
type HostReport struct {
	Host string
	// Routes says what the host routes to now, or why it could not be read.
	Routes string
	// Changed says this host's change had been made and was put back (or, with
	// RestoreErr, could not be).
	Changed    bool
	RestoreErr error
}

// FleetError is a change that failed on one host of a Fleet.
type FleetError struct {
	// Host is the host that failed and Err its error (a *SwitchError for Switch).
	Host string
	Err  error
	// Hosts are every host of the fleet after the failure, in order.
	Hosts []HostReport
}

func (e *FleetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "on host %s: %v\n%s", e.Host, e.Err, e.Report())
	return b.String()
}

// Report lists each host with what it routes to now.
func (e *FleetError) Report() string {
	var b strings.Builder
	b.WriteString("Each host now:")
	for _, h := range e.Hosts {
		o := hostseq.Outcome{Changed: h.Changed, UndoErr: h.RestoreErr, Failed: h.Host == e.Host}
		fmt.Fprintf(&b, "\n  - %s: %s%s", h.Host, h.Routes, o.Note())
	}
	return b.String()
}

func (e *FleetError) Unwrap() error { return e.Err }

// snapshotter is a router that can record its host's configuration and put it
// back exactly: Nginx and Directory.
type snapshotter interface {
	snapshot(ctx context.Context) (restore func(context.Context) error, err error)
}

// ReadHosts reads every host at once; an error names the host.
func (f *Fleet) ReadHosts(ctx context.Context) ([]HostState, error) {
	errs := make([]error, len(f.Hosts))
	out := hostseq.ReadAll(f.Hosts, func(i int, h host.Host) HostState {
		st, err := f.On(h).Read(ctx)
		hs := HostState{Host: h.Name(), State: st, Missing: errors.Is(err, ErrNotFound)}
		if err != nil && !hs.Missing {
			errs[i] = fmt.Errorf("host %s: %w", h.Name(), err)
		}
		return hs
	})
	return out, errors.Join(errs...)
}

// Read implements Router: the hosts' common state; ErrNotFound when no host has
// the router; a State with Active "" and Live naming each host's target when
// they disagree (ReadHosts tells each host's state).
func (f *Fleet) Read(ctx context.Context) (State, error) {
	hosts, err := f.ReadHosts(ctx)
	if err != nil {
		return State{}, err
	}
	first := hosts[0]
	agree, missing := true, 0
	for _, h := range hosts {
		if h.Missing {
			missing++
		}
		if h.Missing != first.Missing || h.State.Active != first.State.Active || h.State.Live != first.State.Live || h.State.Canary != first.State.Canary {
			agree = false
		}
	}
	if missing == len(hosts) {
		return State{}, fmt.Errorf("on %s: %w", hostseq.Names(f.Hosts), ErrNotFound)
	}
	if agree {
		st := first.State
		for _, h := range hosts { // the newest switch of any host
			if h.State.SwitchedAt.After(st.SwitchedAt) {
				st.SwitchedAt = h.State.SwitchedAt
			}
		}
		return st, nil
	}
	var st State
	parts := make([]string, len(hosts))
	for i, h := range hosts {
		parts[i] = h.Host + ": " + h.Describe()
		if !h.Missing && st.Blue == "" {
			st = h.State
		}
	}
	st.Active, st.Live = "", "hosts disagree: "+strings.Join(parts, "; ")
	return st, nil
}

// Switch implements Router: colour goes live on every host, one host after the
// other; check runs at most once, before the first host whose live target
// changes. A failure on any host puts back the hosts switched before it.
func (f *Fleet) Switch(ctx context.Context, colour Colour, check HealthCheck) (State, error) {
	var once sync.Once
	var checkErr error
	shared := check
	if check != nil {
		shared = func(ctx context.Context, c Colour, target string) error {
			once.Do(func() { checkErr = check(ctx, c, target) })
			return checkErr
		}
	}
	var st State
	err := f.each(ctx, func(r Router) error {
		s, err := r.Switch(ctx, colour, shared)
		if err == nil && !s.SwitchedAt.Before(st.SwitchedAt) {
			st = s // the newest switch, as Read reports it
		}
		return err
	})
	if err != nil {
		return State{}, err
	}
	logging.Info(ctx, "Blue/green router switched on every host", "colour", string(colour), "hosts", hostseq.Names(f.Hosts))
	return st, nil
}

// Remove implements Router: the router is removed from every host; a failure
// puts back the hosts removed before it.
func (f *Fleet) Remove(ctx context.Context) error {
	return f.each(ctx, func(r Router) error { return r.Remove(ctx) })
}

// each runs op on every host in order (hostseq.Change). When it fails on a
// host, the hosts before it are put back as they were, and the error is a
// *FleetError.
func (f *Fleet) each(ctx context.Context, op func(Router) error) error {
	routers := make([]Router, len(f.Hosts))
	snaps := make([]snapshotter, len(f.Hosts))
	for i, h := range f.Hosts {
		r := f.On(h)
		s, ok := r.(snapshotter)
		if !ok {
			return fmt.Errorf("the router %T cannot be used on several hosts", r)
		}
		routers[i], snaps[i] = r, s
	}
	fail := hostseq.Change(ctx, "Blue/green router", f.Hosts,
		func(ctx context.Context, i int) (hostseq.Undo, error) { return snaps[i].snapshot(ctx) },
		func(_ context.Context, i int) error { return op(routers[i]) })
	if fail == nil {
		return nil
	}
	return f.failed(context.WithoutCancel(ctx), fail)
}

// failed reports every host after fail, the hosts before the failed one having
// been put back.
func (f *Fleet) failed(ctx context.Context, fail *hostseq.Failure) error {
	fe := &FleetError{Host: f.Hosts[fail.Failed].Name(), Err: fail.Err, Hosts: make([]HostReport, len(f.Hosts))}
	for i, h := range f.Hosts {
		o := fail.Outcome(i)
		fe.Hosts[i] = HostReport{Host: h.Name(), Changed: o.Changed, RestoreErr: o.UndoErr}
		st, rerr := f.On(h).Read(ctx)
		hs := HostState{Host: h.Name(), State: st, Missing: errors.Is(rerr, ErrNotFound)}
		fe.Hosts[i].Routes = hs.Describe()
		if rerr != nil && !hs.Missing {
			fe.Hosts[i].Routes = "unknown (reading it failed: " + rerr.Error() + ")"
		}
	}
	return fe
}

// snapshot records the include file (or its absence); restore puts it back
// through nginxconf (write, test, reload).
func (n *Nginx) snapshot(ctx context.Context) (func(context.Context) error, error) {
	h := n.host()
	previous, err := h.ReadFile(ctx, n.ConfigFile)
	had := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if had && previous == nil {
		previous = []byte{} // an empty file, not "no file"
	}
	return func(ctx context.Context) error {
		c := n.change(previous)
		if !had {
			c = n.change(nil)
		}
		_, err := nginxconf.Apply(ctx, h, c)
		return err
	}, nil
}

// snapshot records where the live symlink points (or its absence); restore
// points it there again.
func (d *Directory) snapshot(ctx context.Context) (func(context.Context) error, error) {
	h := d.host()
	target, err := h.Readlink(ctx, d.LivePath())
	had := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return func(ctx context.Context) error {
		if !had {
			err := h.Remove(ctx, d.LivePath())
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		return h.Symlink(ctx, target, d.LivePath())
	}, nil
}
