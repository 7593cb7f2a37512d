package deploy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/freeze"
)

// A freeze that started after the plan is refused at apply, before anything
// goes live; freeze_override lets the deployment through and records who did
// it, with the override's text.
func TestDeployFreeze(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "ok")
	if _, err := Deploy(ctx, f.request("1.0.0")); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 22, 10, 0, 0, 0, time.UTC)
	if err := f.backend.SetFreeze(ctx, backend.Freeze{ID: "year-end", Environments: []string{"staging"}, Reason: "End-of-year freeze",
		Start: now.Add(-time.Hour), End: now.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	req := f.request("1.0.1")
	req.Now = func() time.Time { return now }
	_, err := Deploy(ctx, req)
	var de *Error
	if !errors.As(err, &de) || de.Step != StepFreeze || !errors.Is(err, freeze.ErrFrozen) {
		t.Fatalf("err = %v, want a refusal at step %s", err, StepFreeze)
	}
	for _, want := range []string{"staging is frozen", "End-of-year freeze", "release_freeze year-end", "2026-12-24T10:00:00Z", "Nothing was changed", "freeze_override"} {
		if !strings.Contains(de.Error(), want) {
			t.Errorf("refusal %q does not say %q", de.Error(), want)
		}
	}
	if got := f.serving(); got != "version 1.0.0" {
		t.Fatalf("serving %q after the refusal, want 1.0.0", got)
	}
	if slices.ContainsFunc(f.releases(), func(r string) bool { return strings.Contains(r, "1.0.1") }) {
		t.Fatalf("releases %v: the refused release was not discarded", f.releases())
	}

	req.FreezeOverride = "INC-4711 invoice hotfix"
	if _, err := Deploy(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := f.serving(); got != "version 1.0.1" {
		t.Fatalf("serving %q after the override, want 1.0.1", got)
	}
	evs, err := f.backend.History(ctx, backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindFreezeOverridden}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("freeze_overridden events = %+v, %v", evs, err)
	}
	ev := evs[0]
	if ev.Actor != "tester" || ev.Version != "1.0.1" || !strings.Contains(ev.Detail, `"INC-4711 invoice hotfix"`) || !strings.Contains(ev.Detail, "End-of-year freeze") {
		t.Fatalf("freeze_overridden event = %+v", ev)
	}
	if k := f.kinds(); !slices.Contains(k, "freeze_overridden 1.0.1") || k[len(k)-1] != "deployed 1.0.1" {
		t.Fatalf("history %v", k)
	}
}
