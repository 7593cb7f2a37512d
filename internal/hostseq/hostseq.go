// Package hostseq runs one operation over the hosts of a fleet (the two load
// balancers of an HA pair, the hosts of a web farm), as the router and the
// maintenance place of a fleet need it: Change changes the hosts one after the
// other, all or nothing, so that a change one host rejects stops at that host
// and every host changed before it is put back exactly as it was; ReadAll
// reads every host at once.
package hostseq

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// Undo puts one host back exactly as it was before its change.
type Undo func(ctx context.Context) error

// Failure is a Change that stopped at one host.
type Failure struct {
	// Failed is the index of the host that failed and Err its error.
	Failed int
	Err    error
	// UndoErrs has one entry for each host changed before Failed (hosts 0 to
	// Failed-1), in order: nil when the host was put back, else why it was not.
	UndoErrs []error
}

// Outcome is what a failed Change did to host i.
func (f *Failure) Outcome(i int) Outcome {
	o := Outcome{Changed: i < len(f.UndoErrs), Failed: i == f.Failed}
	if o.Changed {
		o.UndoErr = f.UndoErrs[i]
	}
	return o
}

// Outcome is what a failed Change did to one host.
type Outcome struct {
	// Changed says the host had been changed and was put back (or, when
	// UndoErr is not nil, could not be).
	Changed bool
	UndoErr error
	// Failed says this is the host that failed.
	Failed bool
}

// Note is what a report of a failed change says after the host's state: that
// it had been changed and was put back, that putting it back failed, that it
// is the host that failed, or nothing.
func (o Outcome) Note() string {
	switch {
	case o.UndoErr != nil:
		return fmt.Sprintf(" (it had been changed; putting it back failed: %v; check it by hand)", o.UndoErr)
	case o.Changed:
		return " (it had been changed and was put back)"
	case o.Failed:
		return " (the host that failed)"
	}
	return ""
}

// Change changes hosts in order: for host i, snapshot records the host as it
// is and returns how to put it back, then change makes the change. At the
// first host where either fails, Change stops and puts back every host changed
// before it, in order, even if ctx is cancelled by then (hosts left half
// changed are worse than finishing); it logs each one as "<what> put back
// after a failure on another host" and returns the *Failure. It returns nil
// when every host was changed.
func Change(ctx context.Context, what string, hosts []host.Host,
	snapshot func(ctx context.Context, i int) (Undo, error), change func(ctx context.Context, i int) error,
) *Failure {
	undos := make([]Undo, 0, len(hosts))
	for i := range hosts {
		undo, err := snapshot(ctx, i)
		if err == nil {
			err = change(ctx, i)
		}
		if err != nil {
			return putBack(ctx, what, hosts, &Failure{Failed: i, Err: err}, undos)
		}
		undos = append(undos, undo)
	}
	return nil
}

func putBack(ctx context.Context, what string, hosts []host.Host, f *Failure, undos []Undo) *Failure {
	ctx = context.WithoutCancel(ctx)
	f.UndoErrs = make([]error, len(undos))
	for i, undo := range undos {
		f.UndoErrs[i] = undo(ctx)
		logging.Warn(ctx, what+" put back after a failure on another host", logging.Host, hosts[i].Name(),
			"failed_host", hosts[f.Failed].Name(), "restored", f.UndoErrs[i] == nil)
	}
	return f
}

// ReadAll calls read for every host at once and returns what it returned for
// each host, in the hosts' order.
func ReadAll[T any](hosts []host.Host, read func(i int, h host.Host) T) []T {
	out := make([]T, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { out[i] = read(i, h) })
	}
	wg.Wait()
	return out
}

// Names are the hosts' names for messages: "web1, web2".
func Names(hosts []host.Host) string {
	return strings.Join(host.Names(hosts), ", ")
}
