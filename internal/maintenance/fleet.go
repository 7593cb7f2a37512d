package maintenance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/hostseq"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/nginxconf"
)

// Fleet is one maintenance place (a Directory or an Nginx snippet) on several
// hosts: every host of a web farm shows the same maintenance.
//
// Apply changes one host at a time, in order. When a host fails, every host
// changed before it is put back exactly as it was (its files, or their absence;
// an nginx snippet tested and reloaded again), and the *FleetError lists each
// host with its maintenance now. Read reads every host at once; hosts that
// disagree are a *DisagreementError.
type Fleet struct {
	// Hosts are the hosts, in the order they are changed.
	Hosts []host.Host
	// On returns the place on one host: a *Directory or an *Nginx whose Host is h.
	On func(h host.Host) Switch
}

var _ Switch = (*Fleet)(nil)

// Describe implements Switch: the place and its hosts.
func (f *Fleet) Describe() string {
	return f.On(f.Hosts[0]).Describe() + " on " + hostseq.Names(f.Hosts)
}

// Capabilities implements Switch: the place's.
func (f *Fleet) Capabilities() Capabilities { return f.On(f.Hosts[0]).Capabilities() }

// HostState is the maintenance of one host of a Fleet.
type HostState struct {
	Host  string
	State State
	// Missing says the place does not exist on the host (ErrNotFound).
	Missing bool
	// Err is why the host could not be read, if it could not.
	Err error
}

// Describe says what the host shows, for messages.
func (h HostState) Describe() string {
	switch {
	case h.Err != nil:
		return "unknown (reading it failed: " + h.Err.Error() + ")"
	case h.Missing:
		return "no maintenance place"
	case !h.State.Enabled:
		return "off"
	case h.State.Banner:
		return "banner"
	}
	return "on"
}

// DisagreementError is a Read of a Fleet whose hosts show different maintenance.
type DisagreementError struct{ Hosts []HostState }

func (e *DisagreementError) Error() string { return "hosts disagree: " + e.Summary() }

// Summary names what each host shows: "web1: on; web2: off".
func (e *DisagreementError) Summary() string {
	parts := make([]string, len(e.Hosts))
	for i, h := range e.Hosts {
		parts[i] = h.Host + ": " + h.Describe()
	}
	return strings.Join(parts, "; ")
}

// ReadHosts reads every host at once.
func (f *Fleet) ReadHosts(ctx context.Context) []HostState {
	return hostseq.ReadAll(f.Hosts, func(_ int, h host.Host) HostState { return f.readHost(ctx, h) })
}

func (f *Fleet) readHost(ctx context.Context, h host.Host) HostState {
	s, err := f.On(h).Read(ctx)
	hs := HostState{Host: h.Name(), State: s, Missing: errors.Is(err, ErrNotFound)}
	if err != nil && !hs.Missing {
		hs.Err = err
	}
	return hs
}

// Read implements Switch: the hosts' common state; ErrNotFound when the place
// exists on no host; an error naming the host that could not be read; a
// *DisagreementError when the hosts differ (one without the place included).
func (f *Fleet) Read(ctx context.Context) (State, error) {
	hosts := f.ReadHosts(ctx)
	var errs []error
	missing := 0
	for _, h := range hosts {
		if h.Err != nil {
			errs = append(errs, fmt.Errorf("host %s: %w", h.Host, h.Err))
		}
		if h.Missing {
			missing++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return State{}, err
	}
	if missing == len(hosts) {
		return State{}, fmt.Errorf("%s on %s: %w", f.On(f.Hosts[0]).Describe(), hostseq.Names(f.Hosts), ErrNotFound)
	}
	for _, h := range hosts[1:] {
		if h.Missing != hosts[0].Missing || !sameState(h.State, hosts[0].State) {
			return State{}, &DisagreementError{Hosts: hosts}
		}
	}
	return hosts[0].State, nil
}

func sameState(a, b State) bool {
	return a.Enabled == b.Enabled && a.Banner == b.Banner && a.Message == b.Message && a.Reason == b.Reason &&
		a.Until.Equal(b.Until) && reflect.DeepEqual(a.AllowedIPs, b.AllowedIPs)
}

// FleetError is an Apply that failed on one host of a Fleet.
type FleetError struct {
	// Host is the host that failed and Err its error.
	Host string
	Err  error
	// Hosts are every host after the failure, in order; Changed and
	// RestoreErrs say which were changed and put back.
	Hosts       []HostState
	Changed     []bool
	RestoreErrs []error
}

func (e *FleetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "on host %s: %v\nEach host now:", e.Host, e.Err)
	for i, h := range e.Hosts {
		o := hostseq.Outcome{Changed: e.Changed[i], UndoErr: e.RestoreErrs[i], Failed: h.Host == e.Host}
		fmt.Fprintf(&b, "\n  - %s: maintenance %s%s", h.Host, h.Describe(), o.Note())
	}
	return b.String()
}

func (e *FleetError) Unwrap() error { return e.Err }

// snapshotter is a place that can record its host's files and put them back
// exactly: Directory and Nginx.
type snapshotter interface {
	snapshot(ctx context.Context) (restore func(context.Context) error, err error)
}

// Apply implements Switch: s on every host, one after the other
// (hostseq.Change); a failure puts back the hosts changed before it and is a
// *FleetError.
func (f *Fleet) Apply(ctx context.Context, s State) error {
	places := make([]Switch, len(f.Hosts))
	snaps := make([]snapshotter, len(f.Hosts))
	for i, h := range f.Hosts {
		sw := f.On(h)
		snap, ok := sw.(snapshotter)
		if !ok {
			return fmt.Errorf("%s cannot be used on several hosts", sw.Describe())
		}
		places[i], snaps[i] = sw, snap
	}
	fail := hostseq.Change(ctx, "maintenance", f.Hosts,
		func(ctx context.Context, i int) (hostseq.Undo, error) { return snaps[i].snapshot(ctx) },
		func(ctx context.Context, i int) error { return places[i].Apply(ctx, s) })
	if fail != nil {
		return f.failed(context.WithoutCancel(ctx), fail)
	}
	logging.Info(ctx, "maintenance mode set on every host", "place", f.Describe(), "maintenance", s.Blocking())
	return nil
}

// failed reports every host after fail, the hosts before the failed one having
// been put back.
func (f *Fleet) failed(ctx context.Context, fail *hostseq.Failure) error {
	n := len(f.Hosts)
	fe := &FleetError{Host: f.Hosts[fail.Failed].Name(), Err: fail.Err, Changed: make([]bool, n), RestoreErrs: make([]error, n)}
	for i := range f.Hosts {
		o := fail.Outcome(i)
		fe.Changed[i], fe.RestoreErrs[i] = o.Changed, o.UndoErr
	}
	fe.Hosts = f.ReadHosts(ctx)
	return fe
}

// fileSnapshot is the content of a file, or its absence.
type fileSnapshot struct {
	path    string
	content []byte
	exists  bool
}

func snapshotFile(ctx context.Context, h host.Host, path string) (fileSnapshot, error) {
	b, err := h.ReadFile(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileSnapshot{path: path}, nil
	}
	if err != nil {
		return fileSnapshot{}, fmt.Errorf("read %s: %w", path, err)
	}
	return fileSnapshot{path: path, content: b, exists: true}, nil
}

func (s fileSnapshot) restore(ctx context.Context, h host.Host) error {
	if s.exists {
		return h.WriteFile(ctx, s.path, s.content, 0o644)
	}
	if err := h.Remove(ctx, s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// snapshot records maintenance.html and maintenance.json; restore writes them
// back (the page first, as Apply does) or removes them.
func (d *Directory) snapshot(ctx context.Context) (func(context.Context) error, error) {
	h := orLocal(d.Host)
	page, err := snapshotFile(ctx, h, filepath.Join(d.Path, HTMLFile))
	if err != nil {
		return nil, err
	}
	state, err := snapshotFile(ctx, h, filepath.Join(d.Path, JSONFile))
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if err := page.restore(ctx, h); err != nil {
			return err
		}
		return state.restore(ctx, h)
	}, nil
}

// snapshot records the snippet and its page; restore puts the page back, then
// the snippet through nginxconf (write, test, reload).
func (n *Nginx) snapshot(ctx context.Context) (func(context.Context) error, error) {
	h := orLocal(n.Host)
	page, err := snapshotFile(ctx, h, n.PagePath())
	if err != nil {
		return nil, err
	}
	snippet, err := snapshotFile(ctx, h, n.ConfigFile)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if err := page.restore(ctx, h); err != nil {
			return err
		}
		c := nginxconf.Change{File: n.ConfigFile, Content: snippet.content, Remove: !snippet.exists,
			TestCommand: n.TestCommand, ReloadCommand: n.ReloadCommand}
		if c.Content == nil && snippet.exists {
			c.Content = []byte{}
		}
		_, err := nginxconf.Apply(ctx, h, c)
		return err
	}, nil
}
