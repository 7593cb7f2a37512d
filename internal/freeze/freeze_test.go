package freeze_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/freeze"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustCompile(t *testing.T, f backend.Freeze) *freeze.Schedule {
	t.Helper()
	s, err := freeze.Compile(f)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", f, err)
	}
	return s
}

func TestOneOffWindow(t *testing.T) {
	cet := time.FixedZone("+01:00", 3600)
	f := backend.Freeze{ID: "year-end", Environments: []string{"production"}, Reason: "End-of-year freeze",
		Start: time.Date(2026, 12, 20, 0, 0, 0, 0, cet), End: time.Date(2027, 1, 5, 0, 0, 0, 0, cet)}
	s := mustCompile(t, f)
	cases := []struct {
		now        time.Time
		active     bool
		nextExists bool
	}{
		{time.Date(2026, 12, 19, 22, 59, 59, 0, time.UTC), false, true},
		{time.Date(2026, 12, 19, 23, 0, 0, 0, time.UTC), true, false}, // start is included
		{time.Date(2027, 1, 4, 22, 59, 59, 0, time.UTC), true, false},
		{time.Date(2027, 1, 4, 23, 0, 0, 0, time.UTC), false, false}, // end is excluded
	}
	for _, c := range cases {
		w, active := s.ActiveAt(c.now)
		if active != c.active {
			t.Errorf("ActiveAt(%s) = %v, want %v", c.now, active, c.active)
		}
		if active && (!w.Start.Equal(f.Start) || !w.End.Equal(f.End) || w.Reason != f.Reason || w.FreezeID != "year-end") {
			t.Errorf("ActiveAt(%s) window = %+v", c.now, w)
		}
		if _, ok := s.NextAfter(c.now); ok != c.nextExists {
			t.Errorf("NextAfter(%s) exists = %v, want %v", c.now, ok, c.nextExists)
		}
	}
}

// Every weekend from Friday 14:00 Paris time for 62h, across the switch to
// summer time (Sunday 29 March 2026, 02:00 → 03:00): the window starts at 14:00
// Paris wall time on both sides (13:00 UTC in winter, 12:00 UTC in summer), and
// lasts 62 hours of elapsed time.
func TestCronWindowAcrossDaylightSavingInParis(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	s := mustCompile(t, backend.Freeze{ID: "weekends", Environments: []string{"production"}, Reason: "weekend",
		Cron: "0 14 * * FRI", Duration: "62h", TimeZone: "Europe/Paris"})

	winter := time.Date(2026, 3, 27, 13, 59, 0, 0, paris) // Friday before the switch
	if _, ok := s.ActiveAt(winter); ok {
		t.Fatalf("frozen at %s, before the window", winter)
	}
	next, ok := s.NextAfter(winter)
	if !ok || !next.Start.Equal(time.Date(2026, 3, 27, 13, 0, 0, 0, time.UTC)) {
		t.Fatalf("NextAfter(%s) = %+v, want Friday 13:00 UTC (14:00 CET)", winter, next)
	}
	// Sunday morning, after the switch: still in the window that started Friday.
	sunday := time.Date(2026, 3, 29, 10, 0, 0, 0, paris)
	w, ok := s.ActiveAt(sunday)
	if !ok || !w.Start.Equal(next.Start) || !w.End.Equal(next.Start.Add(62*time.Hour)) {
		t.Fatalf("ActiveAt(%s) = %+v, %v; want the window of Friday 27", sunday, w, ok)
	}
	// 62 h after Friday 14:00 CET is Monday 05:00 CEST (one hour went missing).
	if got := w.End.In(paris); got.Hour() != 5 || got.Weekday() != time.Monday {
		t.Fatalf("window ends %s, want Monday 05:00 CEST", got)
	}
	if _, ok := s.ActiveAt(w.End); ok {
		t.Fatalf("frozen at the end of the window %s", w.End)
	}
	summer, ok := s.NextAfter(w.End)
	if !ok || !summer.Start.Equal(time.Date(2026, 4, 3, 12, 0, 0, 0, time.UTC)) || summer.Start.In(paris).Hour() != 14 {
		t.Fatalf("next window after the switch = %+v, want Friday 3 April 14:00 CEST (12:00 UTC)", summer)
	}
	// A Wednesday is never frozen.
	if _, ok := s.ActiveAt(time.Date(2026, 4, 8, 12, 0, 0, 0, paris)); ok {
		t.Fatal("frozen on a Wednesday")
	}
}

func TestCronWindowsThatOverlapAreMerged(t *testing.T) {
	// Every day at 18:00 UTC for 30 h: the freeze never ends once started.
	s := mustCompile(t, backend.Freeze{ID: "nights", Environments: []string{"production"}, Reason: "r", Cron: "0 18 * * *", Duration: "30h"})
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	w, ok := s.ActiveAt(now)
	if !ok {
		t.Fatal("not frozen inside overlapping windows")
	}
	if w.End.Sub(now) < 30*24*time.Hour {
		t.Fatalf("merged window ends %s, want far ahead (windows overlap forever)", w.End)
	}
}

func TestCompileRefusesBadDefinitions(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	env := []string{"production"}
	cases := map[string]struct {
		f    backend.Freeze
		want string
	}{
		"no environment":   {backend.Freeze{Start: at, End: at.Add(time.Hour)}, "at least one environment"},
		"both kinds":       {backend.Freeze{Environments: env, Start: at, End: at.Add(time.Hour), Cron: "0 1 * * *", Duration: "1h"}, "not both"},
		"end before start": {backend.Freeze{Environments: env, Start: at, End: at.Add(-time.Hour)}, "must be after start"},
		"start only":       {backend.Freeze{Environments: env, Start: at}, "both start and end"},
		"cron only":        {backend.Freeze{Environments: env, Cron: "0 1 * * *"}, "both cron and duration"},
		"bad cron":         {backend.Freeze{Environments: env, Cron: "every friday", Duration: "1h"}, "not a standard 5-field cron"},
		"bad duration":     {backend.Freeze{Environments: env, Cron: "0 1 * * *", Duration: "-1h"}, "positive Go duration"},
		"bad zone":         {backend.Freeze{Environments: env, Cron: "0 1 * * *", Duration: "1h", TimeZone: "Mars/Olympus"}, "IANA time zone"},
		"zone on one-off":  {backend.Freeze{Environments: env, Start: at, End: at.Add(time.Hour), TimeZone: "Europe/Paris"}, "cron only"},
		"zone in cron":     {backend.Freeze{Environments: env, Cron: "CRON_TZ=UTC 0 1 * * *", Duration: "1h"}, "with time_zone"},
	}
	for name, c := range cases {
		if _, err := freeze.Compile(c.f); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Compile error = %v, want it to say %q", name, err, c.want)
		}
	}
}

type freezes []backend.Freeze

func (f freezes) ListFreezes(context.Context) ([]backend.Freeze, error)      { return f, nil }
func (f freezes) SetFreeze(context.Context, backend.Freeze) error            { return nil }
func (f freezes) GetFreeze(context.Context, string) (*backend.Freeze, error) { return nil, nil }
func (f freezes) RemoveFreeze(context.Context, string) error                 { return nil }

func TestCheckSaysWhyAndUntilWhen(t *testing.T) {
	now := time.Date(2026, 12, 22, 10, 0, 0, 0, time.UTC) // a Tuesday
	all := freezes{
		{ID: "year-end", Environments: []string{"production", "preproduction"}, Reason: "End-of-year freeze",
			Start: time.Date(2026, 12, 19, 23, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 4, 23, 0, 0, 0, time.UTC)},
		{ID: "staging-weekends", Environments: []string{"staging"}, Reason: "weekend", Cron: "0 14 * * FRI", Duration: "62h", TimeZone: "Europe/Paris"},
	}
	st, err := freeze.Check(context.Background(), all, "production", now)
	if err != nil {
		t.Fatal(err)
	}
	ferr := st.Err()
	var fe *freeze.FrozenError
	if !errors.As(ferr, &fe) || !errors.Is(ferr, freeze.ErrFrozen) || !fe.Until().Equal(all[0].End) {
		t.Fatalf("Err() = %v, want a FrozenError until %s", ferr, all[0].End)
	}
	for _, want := range []string{"production is frozen", "End-of-year freeze", "release_freeze year-end", "2027-01-04T23:00:00Z", "in 13d13h"} {
		if !strings.Contains(ferr.Error(), want) {
			t.Errorf("error %q does not say %q", ferr, want)
		}
	}

	st, err = freeze.Check(context.Background(), all, "staging", now)
	if err != nil || st.Frozen() {
		t.Fatalf("staging frozen on a Tuesday: %+v, %v", st, err)
	}
	next := st.NextWithin(freeze.Lookahead)
	if next == nil || next.FreezeID != "staging-weekends" || !next.Start.Equal(time.Date(2026, 12, 25, 13, 0, 0, 0, time.UTC)) {
		t.Fatalf("next window = %+v, want Friday 25 December 14:00 Paris", next)
	}
	if st.NextWithin(24*time.Hour) != nil {
		t.Fatal("a window 3 days ahead is within 24h")
	}

	st, _ = freeze.Check(context.Background(), all, "qa", now)
	if st.Frozen() || st.Next != nil {
		t.Fatalf("an environment no freeze names: %+v", st)
	}
	if _, err := freeze.Check(context.Background(), freezes{{ID: "broken", Environments: []string{"qa"}, Cron: "x", Duration: "1h"}}, "qa", now); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("an invalid stored freeze: err = %v, want it named", err)
	}
}
