package provider

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/notify"
)

// Every operation that writes the release history goes through this file, so that
// every type reports it the same way: the event is recorded, then announced to the
// webhooks that subscribed to its kind; a failed announcement is a warning (the
// change and its history event are done; only the chat message is missing), and a
// failed record is a warning too (the change itself is done).

// notificationWarningSummary is the summary of the warning of a failed notification.
const notificationWarningSummary = "Unable to send a release notification"

// historyOperation starts an operation that writes the release history, directly
// (recordEvent) or through the deploy, promote and backend packages, which append
// through the provider's notifying backend. It returns the context to run it with
// and done, to defer: done turns the notifications that failed into warnings.
func historyOperation(ctx context.Context, diags *diag.Diagnostics) (context.Context, func()) {
	ctx = notify.Collect(ctx)
	return ctx, func() {
		for _, w := range notify.Warnings(ctx) {
			diags.AddWarning(notificationWarningSummary, w)
		}
	}
}

// recordEvent appends ev to the release history and announces it. Time and Actor
// default to now and the provider's actor. done says what is already done, for the
// warning of a failed record, e.g. "The router switch itself is done".
// Run it within historyOperation, so that a failed announcement is a warning.
func (d *providerData) recordEvent(ctx context.Context, ev backend.Event, done string, diags *diag.Diagnostics) {
	if d == nil || d.Backend == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.Actor == "" {
		ev.Actor = d.Actor
	}
	if err := d.Backend.Append(ctx, ev); err != nil {
		diags.AddWarning("Unable to record the "+ev.Kind+" event in the release history",
			fmt.Sprintf("%s; the release history could not record it (%s): %v.", done, ev.Kind, err))
	}
}

// announceRecorded announces an event that the backend recorded by itself, in the
// same step as the change (lock acquisitions and releases), to the webhooks that
// subscribed to its kind: the newest event of one of kinds for the environment and
// the lock token. A failed announcement is a warning on diags, worded as for the
// events appended through the notifying backend.
func (d *providerData) announceRecorded(ctx context.Context, diags *diag.Diagnostics, env string, token int64, kinds ...string) {
	if d == nil || d.Backend == nil || !d.wantsAny(kinds) {
		return
	}
	ctx, done := historyOperation(ctx, diags)
	defer done()
	evs, err := d.Backend.History(ctx, backend.HistoryQuery{Environment: env, Kinds: kinds, Limit: 10})
	if err != nil {
		tflog.Warn(ctx, "Unable to read the event to announce", map[string]any{"environment": env, "error": err.Error()})
		return
	}
	i := slices.IndexFunc(evs, func(ev backend.Event) bool { return ev.LockToken == token })
	if i < 0 {
		return
	}
	// The event is recorded already: announce it through a backend that records nothing.
	_ = notify.Backend(recorded{d.Backend}, d.Notifier).Append(ctx, evs[i])
}

// wantsAny tells whether a webhook subscribed to one of kinds.
func (d *providerData) wantsAny(kinds []string) bool {
	if d.Notifier == nil {
		return false
	}
	for _, w := range d.Notifier.Webhooks {
		if slices.ContainsFunc(kinds, w.Wants) {
			return true
		}
	}
	return false
}

// recorded is a backend whose Append records nothing, for events already recorded.
type recorded struct{ backend.Backend }

func (recorded) Append(context.Context, backend.Event) error { return nil }

// withRun returns b recording run in every event appended without one; b
// itself when run is empty (outside CI).
func withRun(b backend.Backend, run string) backend.Backend {
	if run == "" || b == nil {
		return b
	}
	return runRecorder{Backend: b, run: run}
}

type runRecorder struct {
	backend.Backend
	run string
}

func (r runRecorder) Append(ctx context.Context, ev backend.Event) error {
	if ev.Run == "" {
		ev.Run = r.run
	}
	return r.Backend.Append(ctx, ev)
}
