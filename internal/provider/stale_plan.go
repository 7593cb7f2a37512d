package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/maintenance"
	"github.com/releaseplan/terraform-provider-release/internal/router"
)

// What was reviewed is what runs: every type that changes a live system
// compares, at apply, what is there now with what the plan was made over (the
// prior state, refreshed by the plan), and refuses a plan the world moved away
// from, in the words of staleMessage.

// staleMessage is the one wording of every refusal of a plan that the world
// moved away from, whatever the type: what the plan expected, what is there
// now, that nothing was changed, and to plan again.
func staleMessage(subject, planned, now string) string {
	return fmt.Sprintf("%s changed since this plan was made: it planned to %s, and %s. Nothing was changed. Plan again and review.", subject, planned, now)
}

// lastChange names the newest event of kind in env, ", switched by bob at
// 2026-12-01T17:35:00Z", or "" when the history has none (or no environment).
func (d *providerData) lastChange(ctx context.Context, env, kind string) string {
	if env == "" {
		return ""
	}
	evs, err := d.Backend.History(ctx, backend.HistoryQuery{Environment: env, Kinds: []string{kind}, Limit: 1})
	if err != nil || len(evs) == 0 {
		return ""
	}
	return fmt.Sprintf(", %s by %s at %s", evs[0].Kind, orPlaceholder(evs[0].Actor, "an unknown actor"), evs[0].Time.UTC().Format(time.RFC3339))
}

// staleRouter compares the router's live colour with the prior state's: ""
// when it is what the plan was made over, else the refusal.
func (r *blueGreenRouterResource) staleRouter(ctx context.Context, rt router.Router, prior *blueGreenRouterResourceModel, to router.Colour) string {
	live, err := rt.Read(ctx)
	now := ""
	switch {
	case errors.Is(err, router.ErrNotFound):
		now = "nothing is routed there now (the configuration is gone)"
	case err != nil:
		return "" // the switch reports what cannot be read
	case live.Active != "" && string(live.Active) == prior.Active.ValueString():
		return ""
	case live.Active != "":
		now = fmt.Sprintf("%s is active now (%s%s)", live.Active, live.Live, r.data.lastChange(ctx, prior.Environment.ValueString(), backend.KindSwitched))
	case live.Live == prior.Active.ValueString():
		return ""
	default:
		now = fmt.Sprintf("traffic goes to %s now, neither colour", live.Live)
	}
	return staleMessage(sentenceCase(prior.describe()), fmt.Sprintf("switch from %s to %s", prior.Active.ValueString(), to), now)
}

// staleMaintenance compares the maintenance mode in place with the prior
// state's: "" when it is what the plan was made over, else the refusal.
func (r *maintenanceModeResource) staleMaintenance(ctx context.Context, b maintenance.Switch, prior *maintenanceModeResourceModel, want maintenance.State) string {
	live, err := b.Read(ctx)
	now := ""
	switch {
	case errors.Is(err, maintenance.ErrNotFound) && prior.mode() == "off":
		return ""
	case errors.Is(err, maintenance.ErrNotFound):
		now = "nothing is set up there now"
	case err != nil:
		return "" // the change reports what cannot be read
	case describeMaintenance(live) == prior.mode(), describeMaintenance(live) == describeMaintenance(want):
		// As the plan was made over, or already as planned (a staged change
		// whose restart failed is applied again): nothing conflicts.
		return ""
	default:
		now = fmt.Sprintf("it is %s now%s", describeMaintenance(live), r.data.lastChange(ctx, prior.Environment.ValueString(), backend.KindMaintenance))
	}
	return staleMessage("Maintenance on "+b.Describe(), fmt.Sprintf("turn it %s (it was %s)", describeMaintenance(want), prior.mode()), now)
}
