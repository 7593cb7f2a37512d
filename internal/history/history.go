// Package history answers "what runs where, since when, who put it there" from the
// release history that deployments write to the backend.
//
// The history is the record of what the provider did; it does not look at the
// targets themselves (the deployment resource does that). What runs in an
// environment is decided by the newest deployment event of that environment:
//
//   - deployed: Version went live and passed its smoke test: it runs, healthy.
//   - rolled_back: a deployment failed after its switch and the previous release
//     was restored: Version (the restored one) runs; an empty Version means that
//     nothing was live before, so nothing runs.
//   - failed: a deployment of Version failed. A failure before the switch changes
//     nothing, and a failure after it is followed by rolled_back when the
//     deployment rolls back, so what runs is decided by the older events; with
//     rollback_on_failure = false the failed release may be live although the
//     history keeps the previous one: either way the environment is not healthy.
//
// Other kinds (locks, promotions, blocks, maintenance, switches) do not change what
// runs; they still count as the environment's last event.
package history

import (
	"context"
	"fmt"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

// DeploymentKinds are the event kinds that decide what runs in an environment.
var DeploymentKinds = []string{backend.KindDeployed, backend.KindRolledBack, backend.KindFailed}

// Live is what runs in one environment according to the history.
type Live struct {
	Environment string
	// Name, Version, SHA256 and GitCommit describe the release that runs; Version
	// is empty when nothing runs (nothing was ever deployed, or the first
	// deployment failed and was rolled back to nothing).
	Name, Version, SHA256, GitCommit string
	// Since is when that release went live (deployed or restored), By who did it.
	Since time.Time
	By    string
	// LiveEvent is the deployed or rolled_back event that made it live (nil: none).
	LiveEvent *backend.Event
	// LastDeployment is the newest deployed, rolled_back or failed event (nil: none).
	LastDeployment *backend.Event
	// LastEvent is the newest event of any kind in the environment (nil: none).
	LastEvent *backend.Event
}

// Running tells whether a release runs.
func (l Live) Running() bool { return l.Version != "" }

// Healthy tells whether the newest deployment event is a successful deployment.
func (l Live) Healthy() bool {
	return l.LastDeployment != nil && l.LastDeployment.Kind == backend.KindDeployed
}

// Current derives what runs in environment from the history. A non-empty name
// only considers the events of that artifact, for environments that run several.
func Current(ctx context.Context, b backend.History, environment, name string) (Live, error) {
	live := Live{Environment: environment}
	last, err := b.History(ctx, backend.HistoryQuery{Environment: environment, Name: name, Limit: 1})
	if err != nil {
		return live, fmt.Errorf("reading the history of %s: %w", environment, err)
	}
	if len(last) > 0 {
		live.LastEvent = &last[0]
	}
	events, err := b.History(ctx, backend.HistoryQuery{Environment: environment, Name: name, Kinds: DeploymentKinds})
	if err != nil {
		return live, fmt.Errorf("reading the history of %s: %w", environment, err)
	}
	return derive(live, events), nil
}

// derive fills live from deployment events, newest first.
func derive(live Live, events []backend.Event) Live {
	for i := range events {
		ev := events[i]
		if live.LastDeployment == nil {
			live.LastDeployment = &ev
		}
		if ev.Kind != backend.KindDeployed && ev.Kind != backend.KindRolledBack {
			continue
		}
		live.LiveEvent = &ev
		live.Name, live.Version, live.SHA256, live.GitCommit = ev.Name, ev.Version, ev.SHA256, ev.GitCommit
		live.Since, live.By = ev.Time, ev.Actor
		if ev.Version == "" {
			live.Name = ""
		}
		break
	}
	return live
}

// Query returns the events of environment (all environments when empty) and of
// name (all artifacts when empty), newest first, at most limit (0: all).
func Query(ctx context.Context, b backend.History, environment, name string, limit int) ([]backend.Event, error) {
	if limit < 0 {
		return nil, fmt.Errorf("limit must not be negative, got %d", limit)
	}
	events, err := b.History(ctx, backend.HistoryQuery{Environment: environment, Name: name, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("reading the release history: %w", err)
	}
	return events, nil
}
