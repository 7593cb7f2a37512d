package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/semver"
)

// ErrDowngrade means the version is lower than the live one, was never live in
// the environment before (no rollback), and allow_downgrade is not set.
var ErrDowngrade = errors.New("downgrade refused")

// Downgrade is a deployment of a version lower (semantic-version precedence)
// than the live one that is let through: a rollback to a version that was live
// in the environment before, or a downgrade allowed by allow_downgrade.
type Downgrade struct {
	// From is the live version the deployment goes down from.
	From string
	// Rollback is set when the history shows the version live here before;
	// LiveUntil is then when it stopped being live (zero when the history does
	// not say).
	Rollback  bool
	LiveUntil time.Time
}

// DowngradeTimeFormat writes LiveUntil as the plan shows it: 2026-12-01T17:35Z.
const DowngradeTimeFormat = "2006-01-02T15:04Z07:00"

// CheckDowngrade compares version with the live version of name in env. A
// version that is not lower, or that cannot be compared (not semantic
// versions, nothing live), gives nil. A lower version is a rollback when the
// history of env records it deployed (or restored) before; else it passes
// only with allow, and the error wraps ErrDowngrade and says what to do.
// The plan and the apply both decide with it.
func CheckDowngrade(ctx context.Context, h backend.History, env, name, live, version string, allow bool) (*Downgrade, error) {
	if live == "" || version == "" {
		return nil, nil
	}
	c, err := semver.Compare(version, live)
	if err != nil || c >= 0 {
		return nil, nil //nolint:nilerr // versions that are not semantic versions are not ordered
	}
	until, ok, err := LiveBefore(ctx, h, env, name, version)
	if err != nil {
		return nil, fmt.Errorf("could not read the history of %s to tell whether %s was live there before: %w", env, version, err)
	}
	if ok {
		return &Downgrade{From: live, Rollback: true, LiveUntil: until}, nil
	}
	if allow {
		return &Downgrade{From: live}, nil
	}
	return nil, fmt.Errorf("%w: %s@%s is lower than %s, live in %s, and was never live there before, so it is no rollback: "+
		"an old pipeline or a stale branch must not overwrite a newer release. Deploy %s or a newer version, or set allow_downgrade = true if going down to %s is intended",
		ErrDowngrade, name, version, live, env, live, version)
}

// LiveBefore tells whether version of name was live in env before, from the
// history: a deployed event of it, or a rolled_back event that restored it.
// until is when it stopped being live: the time of the next event that made
// another version live (zero when none did).
func LiveBefore(ctx context.Context, h backend.History, env, name, version string) (until time.Time, ok bool, err error) {
	evs, err := h.History(ctx, backend.HistoryQuery{Environment: env, Name: name, Kinds: []string{backend.KindDeployed, backend.KindRolledBack}})
	if err != nil {
		return time.Time{}, false, err
	}
	// Newest first: the first match is the last time it went live, and the
	// event before it in the list the one that replaced it.
	for i, ev := range evs {
		if ev.Version != version {
			continue
		}
		if i > 0 {
			until = evs[i-1].Time
		}
		return until, true, nil
	}
	return time.Time{}, false, nil
}

// downgradeSentence is the plan's step for a downgrade let through, or for a
// deployment whose plan cannot know what will be live.
func (f Facts) downgradeSentence() string {
	d := f.Downgrade
	switch {
	case d != nil && d.Rollback && !d.LiveUntil.IsZero():
		return fmt.Sprintf("roll back %s from %s to %s (live here until %s)", f.Environment, d.From, f.Version, d.LiveUntil.UTC().Format(DowngradeTimeFormat))
	case d != nil && d.Rollback:
		return fmt.Sprintf("roll back %s from %s to %s (live here before)", f.Environment, d.From, f.Version)
	case d != nil:
		return fmt.Sprintf("downgrade %s from %s to %s, which was never live here (allow_downgrade)", f.Environment, d.From, f.Version)
	case f.AllowDowngrade:
		return fmt.Sprintf("deploy %s even if a higher version is live when the apply starts (allow_downgrade)", f.Version)
	}
	return fmt.Sprintf("refuse %s if a higher version is live when the apply starts, unless %s was live in %s before (a rollback)", f.Version, f.Version, f.Environment)
}

// hasDowngradeStep tells whether the plan shows StepDowngrade: for a downgrade
// let through, and when the plan does not know what will be live. A plan that
// knows the live version and goes up needs none: the apply refuses when what
// is live changed since the plan.
func (f Facts) hasDowngradeStep() bool {
	return f.Downgrade != nil || f.Live == nil
}

// checkDowngrade is StepDowngrade at apply: the verified release that serves
// now (or, when what serves is not a finished deployment, the verified one it
// replaced) decides again, so that a plan that could not know it, or a
// rollback, is checked against what is really live.
func (r *run) checkDowngrade(ctx context.Context) error {
	req := r.req
	live := ""
	if r.prev != nil {
		live = r.prev.Version
	}
	if _, err := CheckDowngrade(ctx, req.Backend, req.Environment, req.Name, live, req.Version, req.AllowDowngrade); err != nil {
		return r.fail(StepDowngrade, err, "The deployment was refused: %s. Nothing was changed: %s still serves %s.",
			strings.TrimPrefix(err.Error(), ErrDowngrade.Error()+": "), req.Target.Describe(), r.serving())
	}
	return nil
}

// backupOf is the version whose data a backup taken before the switch holds:
// the live one, without build metadata, or 0.0.0 when nothing (no release)
// is live.
func backupOf(live string) string {
	v, _, _ := strings.Cut(live, "+")
	if v == "" {
		return NothingLiveVersion
	}
	return v
}

// NothingLiveVersion names the backup taken when no release is live: the data
// of no release of the application.
const NothingLiveVersion = "0.0.0"
