package promote

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/freeze"
	"github.com/releaseplan/terraform-provider-release/internal/history"
)

// HealthySince is when version of name began to run in env without a failed
// deployment since: the oldest of the unbroken series of successful
// deployments of version that ends with the newest deployment event. ok is
// false when version does not run there healthy (never deployed, or the newest
// deployment event is another version, a failure or a rollback).
func HealthySince(ctx context.Context, b backend.History, env, name, version string) (since time.Time, ok bool, err error) {
	events, err := b.History(ctx, backend.HistoryQuery{Environment: env, Name: name, Kinds: history.DeploymentKinds})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading the history of %s: %w", env, err)
	}
	for _, ev := range events { // newest first
		if ev.Kind != backend.KindDeployed || ev.Version != version {
			break
		}
		since, ok = ev.Time, true
	}
	return since, ok, nil
}

// checkHealthyFor is the soak-time guard of env: FromVersion must have run
// there healthy for RequireHealthyFor.
func checkHealthyFor(ctx context.Context, req Request, env string) (*GuardError, error) {
	since, ok, err := HealthySince(ctx, req.Backend, env, req.Name, req.FromVersion)
	if err != nil || !ok {
		return nil, err // checkDeployedIn reports a version that does not run healthy
	}
	live := req.now().Sub(since)
	if live >= req.RequireHealthyFor {
		return nil, nil
	}
	left := req.RequireHealthyFor - live
	return &GuardError{Guard: GuardHealthyFor, Reason: fmt.Sprintf("%s@%s has been live in %s for %s only (since %s, without a failed deployment); require_healthy_for is %s: %s left, it can be promoted from %s",
		req.Name, req.FromVersion, env, freeze.Human(live), stamp(since), req.RequireHealthyFor, freeze.Human(left), stamp(since.Add(req.RequireHealthyFor)))}, nil
}

// checkFreeze is the freeze guard of the promotion's Environment: a guard
// error while it is frozen without FreezeOverride; with it, the freeze it
// goes through (to record).
func checkFreeze(ctx context.Context, req Request) (*freeze.FrozenError, *GuardError, error) {
	if req.Environment == "" {
		return nil, nil, nil
	}
	st, err := freeze.Check(ctx, req.Backend, req.Environment, req.now())
	if err != nil {
		return nil, nil, err
	}
	fe, _ := st.Err().(*freeze.FrozenError)
	switch {
	case fe == nil:
		return nil, nil, nil
	case strings.TrimSpace(req.FreezeOverride) == "":
		return nil, &GuardError{Guard: GuardFreeze, Reason: fe.Error() + "; promote after the freeze, or set freeze_override = \"<ticket: why>\" to promote anyway (recorded in the history)", Err: fe}, nil
	}
	return fe, nil, nil
}
