package hostseq

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
)

func TestChangeEveryHostInOrder(t *testing.T) {
	hosts := []host.Host{host.Local{}, host.Local{}, host.Local{}}
	var calls []string
	fail := Change(context.Background(), "test", hosts,
		func(_ context.Context, i int) (Undo, error) {
			calls = append(calls, "snapshot "+strconv.Itoa(i))
			return func(context.Context) error { t.Errorf("host %d put back after a success", i); return nil }, nil
		},
		func(_ context.Context, i int) error { calls = append(calls, "change "+strconv.Itoa(i)); return nil })
	if fail != nil {
		t.Fatalf("Change = %+v, want nil", fail)
	}
	want := []string{"snapshot 0", "change 0", "snapshot 1", "change 1", "snapshot 2", "change 2"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %q, want %q", calls, want)
	}
}

// A failure on host 2 stops there and puts hosts 0 and 1 back, in order, even
// though the context is cancelled by then; host 3 is never touched.
func TestChangePutsBackTheHostsBeforeAFailure(t *testing.T) {
	hosts := []host.Host{host.Local{}, host.Local{}, host.Local{}, host.Local{}}
	ctx, cancel := context.WithCancel(context.Background())
	broken, stuck := errors.New("nginx -t failed"), errors.New("disk full")
	var undone []int
	fail := Change(ctx, "test", hosts,
		func(_ context.Context, i int) (Undo, error) {
			return func(ctx context.Context) error {
				if ctx.Err() != nil {
					t.Errorf("host %d put back with a cancelled context", i)
				}
				undone = append(undone, i)
				if i == 1 {
					return stuck
				}
				return nil
			}, nil
		},
		func(_ context.Context, i int) error {
			if i == 3 {
				t.Error("host 3 changed after host 2 failed")
			}
			if i == 2 {
				cancel()
				return broken
			}
			return nil
		})
	if fail == nil || fail.Failed != 2 || !errors.Is(fail.Err, broken) {
		t.Fatalf("Change = %+v, want a failure on host 2", fail)
	}
	if !slices.Equal(undone, []int{0, 1}) {
		t.Errorf("hosts put back: %v, want [0 1]", undone)
	}
	for i, want := range []string{
		" (it had been changed and was put back)",
		" (it had been changed; putting it back failed: disk full; check it by hand)",
		" (the host that failed)",
		"",
	} {
		if got := fail.Outcome(i).Note(); got != want {
			t.Errorf("host %d: Note() = %q, want %q", i, got, want)
		}
	}
}

// A failed snapshot is the host's failure: its change is not made.
func TestChangeStopsAtAFailedSnapshot(t *testing.T) {
	hosts := []host.Host{host.Local{}, host.Local{}}
	unreadable := errors.New("permission denied")
	var changed []int
	fail := Change(context.Background(), "test", hosts,
		func(_ context.Context, i int) (Undo, error) {
			if i == 1 {
				return nil, unreadable
			}
			return func(context.Context) error { return nil }, nil
		},
		func(_ context.Context, i int) error { changed = append(changed, i); return nil })
	if fail == nil || fail.Failed != 1 || !errors.Is(fail.Err, unreadable) || !fail.Outcome(0).Changed || fail.Outcome(1).Changed {
		t.Fatalf("Change = %+v, want a failure on host 1 with host 0 put back", fail)
	}
	if !slices.Equal(changed, []int{0}) {
		t.Errorf("hosts changed: %v, want [0]", changed)
	}
}

// ReadAll reads every host at once (each read here waits until all have
// started) and keeps the hosts' order.
func TestReadAllReadsEveryHostAtOnce(t *testing.T) {
	hosts := []host.Host{host.Local{}, host.Local{}, host.Local{}}
	var started sync.WaitGroup
	started.Add(len(hosts))
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	got := ReadAll(hosts, func(i int, _ host.Host) string {
		started.Done()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			return "host " + strconv.Itoa(i) + " read alone"
		}
		return "host " + strconv.Itoa(i)
	})
	if want := []string{"host 0", "host 1", "host 2"}; !slices.Equal(got, want) {
		t.Fatalf("ReadAll = %q, want %q", got, want)
	}
}

func TestNames(t *testing.T) {
	if got := Names([]host.Host{host.Local{}, host.Local{}}); got != "local, local" {
		t.Errorf("Names = %q", got)
	}
}
