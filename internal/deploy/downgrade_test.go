package deploy

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

func historyOf(t *testing.T, evs ...backend.Event) backend.History {
	t.Helper()
	be, err := backend.NewDirectory(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		ev.Environment, ev.Name = "production", "app"
		if err := be.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	return be
}

func TestCheckDowngrade(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	h := historyOf(t,
		backend.Event{Time: at(0), Kind: backend.KindDeployed, Version: "1.0.0"},
		backend.Event{Time: at(1), Kind: backend.KindDeployed, Version: "1.1.0"},
		// 1.2.0 failed and was rolled back to 1.1.0: it was never live.
		backend.Event{Time: at(2), Kind: backend.KindFailed, Version: "1.2.0"},
		backend.Event{Time: at(2), Kind: backend.KindRolledBack, Version: "1.1.0"},
		backend.Event{Time: at(3), Kind: backend.KindDeployed, Version: "1.3.0"},
	)
	for _, tc := range []struct {
		name, live, version string
		allow               bool
		want                *Downgrade
		refused             bool
	}{
		{name: "upgrade", live: "1.3.0", version: "1.4.0"},
		{name: "same version", live: "1.3.0", version: "1.3.0"},
		{name: "nothing live", live: "", version: "0.1.0"},
		{name: "not semantic versions", live: "latest", version: "1.0.0"},
		{name: "rollback to the last one, restored after a failure", live: "1.3.0", version: "1.1.0", want: &Downgrade{From: "1.3.0", Rollback: true, LiveUntil: at(3)}},
		{name: "rollback further", live: "1.3.0", version: "1.0.0", want: &Downgrade{From: "1.3.0", Rollback: true, LiveUntil: at(1)}},
		{name: "never live: failed", live: "1.3.0", version: "1.2.0", refused: true},
		{name: "never live", live: "1.3.0", version: "0.9.0", refused: true},
		{name: "pre-release of the live version", live: "1.3.0", version: "1.3.0-rc", refused: true},
		{name: "never live, allowed", live: "1.3.0", version: "0.9.0", allow: true, want: &Downgrade{From: "1.3.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckDowngrade(context.Background(), h, "production", "app", tc.live, tc.version, tc.allow)
			if tc.refused {
				if !errors.Is(err, ErrDowngrade) || got != nil {
					t.Fatalf("got %+v, %v; want ErrDowngrade", got, err)
				}
				for _, want := range []string{"app@" + tc.version + " is lower than " + tc.live + ", live in production", "never live there before", "allow_downgrade = true"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDowngradeStep(t *testing.T) {
	base := Facts{Environment: "production", Name: "app", Version: "1.0.0", Live: &Live{ReleaseID: "1.1.0-x", Version: "1.1.0"}, Previous: "1.1.0"}
	stepOf := func(f Facts) string {
		for _, s := range Steps(f) {
			if s.Name == StepDowngrade {
				return s.Description
			}
		}
		return ""
	}
	if got := stepOf(base); got != "" {
		t.Errorf("a plan that knows what is live and goes up shows a downgrade step: %q", got)
	}
	f := base
	f.Downgrade = &Downgrade{From: "1.1.0", Rollback: true, LiveUntil: time.Date(2026, 12, 1, 17, 35, 12, 0, time.UTC)}
	if got, want := stepOf(f), "roll back production from 1.1.0 to 1.0.0 (live here until 2026-12-01T17:35Z)"; got != want {
		t.Errorf("rollback step %q, want %q", got, want)
	}
	f.Downgrade = &Downgrade{From: "1.1.0"}
	if got, want := stepOf(f), "downgrade production from 1.1.0 to 1.0.0, which was never live here (allow_downgrade)"; got != want {
		t.Errorf("downgrade step %q, want %q", got, want)
	}
	f = base
	f.Live = nil
	if got, want := stepOf(f), "refuse 1.0.0 if a higher version is live when the apply starts, unless 1.0.0 was live in production before (a rollback)"; got != want {
		t.Errorf("step without knowing what is live %q, want %q", got, want)
	}
	names := names(Steps(f))
	if i, j := indexOf(names, StepBlocked), indexOf(names, StepDowngrade); j != i+1 || j > indexOf(names, StepFetch) {
		t.Errorf("the downgrade check is not right after the blocked check, before anything is fetched: %v", names)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// The apply decides again with what is live: a version that was never live
// is refused and nothing changes; a rollback goes through; allow_downgrade
// lets any lower version through.
func TestDeployRefusesDowngrades(t *testing.T) {
	f := newFixture(t)
	for _, v := range []string{"0.9.0", "1.0.0", "1.1.0"} {
		f.publish(v, "ok")
	}
	mustDeploy(t, f.request("1.0.0"))
	mustDeploy(t, f.request("1.1.0"))

	res, err := Deploy(context.Background(), f.request("0.9.0"))
	var de *Error
	if !errors.Is(err, ErrDowngrade) || !errors.As(err, &de) || de.Step != StepDowngrade {
		t.Fatalf("deploying 0.9.0 over 1.1.0: err = %v, want a refusal at the downgrade step", err)
	}
	for _, want := range []string{"app@0.9.0 is lower than 1.1.0, live in staging", "Nothing was changed", "still serves release 1.1.0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if f.serving() != "version 1.1.0" || res.Release != nil {
		t.Fatalf("a refused downgrade changed the target: serving %q, release %v", f.serving(), res.Release)
	}

	rb := mustDeploy(t, f.request("1.0.0"))
	if f.serving() != "version 1.0.0" || !rb.Reused {
		t.Fatalf("the rollback to 1.0.0 did not put its release back: serving %q, reused %v", f.serving(), rb.Reused)
	}

	req := f.request("0.9.0")
	req.AllowDowngrade = true
	mustDeploy(t, req)
	if f.serving() != "version 0.9.0" {
		t.Fatalf("allow_downgrade did not deploy 0.9.0: serving %q", f.serving())
	}
}
