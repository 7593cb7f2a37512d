// Package freeze decides whether an environment is frozen: release_freeze
// windows, one-off (start, end) or recurring (a cron expression, a duration and
// a time zone), during which deployments and promotions into the environment
// are refused unless overridden. The definitions live in the backend
// (backend.Freezes) so that every pipeline and runner sees them; this package
// computes their windows at a given time, which callers pass in (the clock is
// theirs, so tests inject it).
package freeze

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones do not depend on the runner's system files

	"github.com/robfig/cron/v3"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

// Lookahead is how far ahead a plan announces the next window.
const Lookahead = 7 * 24 * time.Hour

// ErrFrozen is wrapped by every *FrozenError.
var ErrFrozen = errors.New("environment is frozen")

// Window is one occurrence of a freeze: from Start (included) to End (excluded).
type Window struct {
	FreezeID string
	Reason   string
	Start    time.Time
	End      time.Time
}

// String names the window as messages do: `"End-of-year freeze" (release_freeze
// year-end) from 2026-12-19T23:00:00Z until 2027-01-04T23:00:00Z`.
func (w Window) String() string {
	return fmt.Sprintf("%q (release_freeze %s) from %s until %s", w.Reason, w.FreezeID, Stamp(w.Start), Stamp(w.End))
}

// Stamp formats a time as every freeze message does (RFC 3339, UTC).
func Stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Schedule is a validated freeze definition.
type Schedule struct {
	Freeze backend.Freeze
	cron   cron.Schedule
	dur    time.Duration
}

// Compile validates f: exactly one of a one-off window (start before end) or a
// recurring one (cron, a positive duration, an optional IANA time_zone, UTC by
// default), and at least one environment.
func Compile(f backend.Freeze) (*Schedule, error) {
	s := &Schedule{Freeze: f}
	oneOff := !f.Start.IsZero() || !f.End.IsZero()
	recurring := f.Cron != "" || f.Duration != ""
	switch {
	case len(f.Environments) == 0:
		return nil, errors.New("a freeze needs at least one environment")
	case oneOff && recurring:
		return nil, errors.New("set either start and end (a one-off window) or cron and duration (a recurring window), not both")
	case oneOff && (f.Start.IsZero() || f.End.IsZero()):
		return nil, errors.New("a one-off window needs both start and end")
	case oneOff && !f.End.After(f.Start):
		return nil, fmt.Errorf("end (%s) must be after start (%s)", Stamp(f.End), Stamp(f.Start))
	case oneOff && f.TimeZone != "":
		return nil, errors.New("time_zone applies to cron only: start and end carry their own UTC offset")
	case oneOff:
		return s, nil
	case f.Cron == "" || f.Duration == "":
		return nil, errors.New("a recurring window needs both cron and duration (or set start and end for a one-off window)")
	}
	d, err := time.ParseDuration(f.Duration)
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("duration %q is not a positive Go duration such as \"62h\" or \"90m\"", f.Duration)
	}
	s.dur = d
	tz := f.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return nil, fmt.Errorf("time_zone %q is not an IANA time zone such as \"Europe/Paris\": %w", f.TimeZone, err)
	}
	if strings.Contains(f.Cron, "TZ=") {
		return nil, fmt.Errorf("cron %q: set the time zone with time_zone, not in the expression", f.Cron)
	}
	sched, err := cron.ParseStandard("CRON_TZ=" + tz + " " + f.Cron)
	if err != nil {
		return nil, fmt.Errorf("cron %q is not a standard 5-field cron expression (minute hour day-of-month month day-of-week, e.g. \"0 14 * * FRI\"): %w", f.Cron, err)
	}
	s.cron = sched
	return s, nil
}

// Applies tells whether the freeze covers env.
func (s *Schedule) Applies(env string) bool { return slices.Contains(s.Freeze.Environments, env) }

func (s *Schedule) window(start, end time.Time) Window {
	return Window{FreezeID: s.Freeze.ID, Reason: s.Freeze.Reason, Start: start, End: end}
}

// ActiveAt returns the window that contains now, if any. Recurring windows that
// overlap are merged: End is when the freeze really ends.
func (s *Schedule) ActiveAt(now time.Time) (Window, bool) {
	if s.cron == nil {
		f := s.Freeze
		return s.window(f.Start, f.End), !now.Before(f.Start) && now.Before(f.End)
	}
	start := s.cron.Next(now.Add(-s.dur))
	if start.IsZero() || start.After(now) {
		return Window{}, false
	}
	end := start.Add(s.dur)
	for t, i := start, 0; i < 10000; i++ {
		next := s.cron.Next(t)
		if next.IsZero() || !next.Before(end) {
			break
		}
		if e := next.Add(s.dur); e.After(end) {
			end = e
		}
		t = next
	}
	return s.window(start, end), true
}

// NextAfter returns the first window that starts after now, if any.
func (s *Schedule) NextAfter(now time.Time) (Window, bool) {
	if s.cron == nil {
		f := s.Freeze
		return s.window(f.Start, f.End), f.Start.After(now)
	}
	start := s.cron.Next(now)
	if start.IsZero() {
		return Window{}, false
	}
	return s.window(start, start.Add(s.dur)), true
}

// Status is what the freezes say about one environment at one time.
type Status struct {
	Environment string
	At          time.Time
	// Active are the windows in force at At, ending last first.
	Active []Window
	// Next is the first window starting after At, nil when none ever will.
	Next *Window
}

// Frozen tells whether a window is in force.
func (st Status) Frozen() bool { return len(st.Active) > 0 }

// NextWithin returns Next when it starts within d of At.
func (st Status) NextWithin(d time.Duration) *Window {
	if st.Next == nil || st.Next.Start.Sub(st.At) > d {
		return nil
	}
	return st.Next
}

// Err returns a *FrozenError when the environment is frozen, else nil.
func (st Status) Err() error {
	if !st.Frozen() {
		return nil
	}
	return &FrozenError{Environment: st.Environment, At: st.At, Windows: st.Active}
}

// Check reads every freeze from b and says whether env is frozen at now, and
// when its next window starts. A stored freeze that no longer compiles is an
// error: a freeze must never be ignored silently.
func Check(ctx context.Context, b backend.Freezes, env string, now time.Time) (Status, error) {
	st := Status{Environment: env, At: now}
	all, err := b.ListFreezes(ctx)
	if err != nil {
		return st, fmt.Errorf("reading the freeze windows: %w", err)
	}
	for _, f := range all {
		s, err := Compile(f)
		if err != nil {
			return st, fmt.Errorf("freeze %s in the backend is invalid (%w); fix or delete its release_freeze", f.ID, err)
		}
		if !s.Applies(env) {
			continue
		}
		if w, ok := s.ActiveAt(now); ok {
			st.Active = append(st.Active, w)
		}
		if w, ok := s.NextAfter(now); ok && (st.Next == nil || w.Start.Before(st.Next.Start)) {
			st.Next = &w
		}
	}
	slices.SortFunc(st.Active, func(a, b Window) int { return b.End.Compare(a.End) })
	return st, nil
}

// FrozenError says that an environment is frozen: by which freezes, why, and
// until when.
type FrozenError struct {
	Environment string
	At          time.Time
	Windows     []Window
}

func (e *FrozenError) Error() string {
	parts := make([]string, len(e.Windows))
	for i, w := range e.Windows {
		parts[i] = w.String()
	}
	return fmt.Sprintf("%s is frozen: %s; it can be released again at %s (in %s)", e.Environment, strings.Join(parts, "; "),
		Stamp(e.Until()), Human(e.Until().Sub(e.At)))
}

// Until is when the last of the windows in force ends.
func (e *FrozenError) Until() time.Time {
	var until time.Time
	for _, w := range e.Windows {
		if w.End.After(until) {
			until = w.End
		}
	}
	return until
}

func (e *FrozenError) Unwrap() error { return ErrFrozen }

// OverrideDetail is the detail of the freeze_overridden event of a change let
// through e by freeze_override: the override's text and the windows.
func (e *FrozenError) OverrideDetail(override string) string {
	return fmt.Sprintf("freeze_override %q let it through: %v", override, e)
}

// Human rounds a duration for people: "2d3h", "5h20m", "45s".
func Human(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 48*time.Hour:
		hours := int64(d / time.Hour)
		return fmt.Sprintf("%dd%dh", hours/24, hours%24)
	case d >= time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	return d.String()
}
