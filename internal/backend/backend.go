// Package backend holds the coordination data that several Terraform runs share:
// environment locks with fencing tokens, the append-only release history, and the
// list of blocked versions and the freeze windows. The directory backend serves one machine; the PostgreSQL
// backend is shared by every runner.
package backend

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Errors callers can test with errors.Is.
var (
	// ErrLocked means another holder has the environment's lock; the error is a *LockedError.
	ErrLocked = errors.New("environment is locked")
	// ErrNotHolder means the lock id given is not the environment's current lock.
	ErrNotHolder = errors.New("lock is not held by this id")
	// ErrStaleToken means a fencing token is no longer the environment's current token.
	ErrStaleToken = errors.New("stale lock token")
)

// Event kinds written to the history.
const (
	KindLockAcquired      = "lock_acquired"
	KindLockReleased      = "lock_released"
	KindLockTakenOver     = "lock_taken_over"
	KindLockForceReleased = "lock_force_released"
	KindDeployed          = "deployed"
	KindFailed            = "failed"
	KindRolledBack        = "rolled_back"
	KindPromoted          = "promoted"
	KindBlocked           = "blocked"
	KindUnblocked         = "unblocked"
	KindMaintenance       = "maintenance"
	KindSwitched          = "switched"
	// KindFreezeOverridden records a deployment or promotion let through a
	// freeze window by freeze_override: the window, the override text, the actor.
	KindFreezeOverridden = "freeze_overridden"
)

// Lock is an environment lock as stored by the backend.
type Lock struct {
	ID          string    `json:"id"`
	Environment string    `json:"environment"`
	Holder      string    `json:"holder"`
	Reason      string    `json:"reason,omitempty"`
	Operation   string    `json:"operation,omitempty"`
	Token       int64     `json:"token"`
	AcquiredAt  time.Time `json:"acquired_at"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"` // zero: never expires
	// RunScoped marks a lock that exists for one Terraform run only (the ephemeral
	// release_environment_lock). Only such a lock may be released by ReleaseRunLock
	// when the run's deployment fails; a lock held across runs never is.
	RunScoped bool `json:"run_scoped,omitempty"`
}

// Expired tells whether the lock's ttl has run out at now.
func (l Lock) Expired(now time.Time) bool { return !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt) }

// AcquireRequest asks for an environment's lock.
type AcquireRequest struct {
	Environment string
	Holder      string
	Reason      string
	Operation   string
	TTL         time.Duration // 0: never expires
	WaitTimeout time.Duration // 0: fail at once when held
	RunScoped   bool          // the lock lives for one Terraform run only (see Lock.RunScoped)
}

// Event is one entry of the release history.
type Event struct {
	Time        time.Time `json:"time"`
	Environment string    `json:"environment,omitempty"`
	Kind        string    `json:"kind"`
	Name        string    `json:"name,omitempty"`
	Version     string    `json:"version,omitempty"`
	SHA256      string    `json:"sha256,omitempty"`
	GitCommit   string    `json:"git_commit,omitempty"`
	Actor       string    `json:"actor,omitempty"`
	LockToken   int64     `json:"lock_token,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	// Run names the CI run that made the change (its URL, else the CI system
	// and run id), empty outside CI.
	Run string `json:"run,omitempty"`
}

// HistoryQuery selects events; empty fields match everything.
type HistoryQuery struct {
	Environment string
	Name        string
	Kinds       []string
	Limit       int // 0: no limit
}

// Block marks a version as known-bad.
type Block struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	Reason    string    `json:"reason"`
	BlockedBy string    `json:"blocked_by,omitempty"`
	BlockedAt time.Time `json:"blocked_at"`
}

// Freeze is a freeze window definition as stored: a one-off window (Start, End)
// or a recurring one (Cron, Duration, TimeZone). internal/freeze computes its
// windows; the backend only stores it.
type Freeze struct {
	ID           string    `json:"id"`
	Environments []string  `json:"environments"`
	Reason       string    `json:"reason"`
	Start        time.Time `json:"start,omitzero"`
	End          time.Time `json:"end,omitzero"`
	Cron         string    `json:"cron,omitempty"`
	Duration     string    `json:"duration,omitempty"` // a Go duration, e.g. "62h"
	TimeZone     string    `json:"time_zone,omitempty"`
	CreatedBy    string    `json:"created_by,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// Locks are the environment locks and their fencing tokens.
type Locks interface {
	// Acquire takes the environment's lock, waiting up to req.WaitTimeout while another
	// holder has it. An expired lock is taken over (and a lock_taken_over event
	// recorded). The new lock's token is greater than every token given before for
	// that environment. When the wait runs out the error is a *LockedError.
	Acquire(ctx context.Context, req AcquireRequest) (Lock, error)
	// Release frees the lock only if lockID is still the environment's lock; otherwise
	// it returns an error wrapping ErrNotHolder and changes nothing. The history names
	// the lock's holder as who released it: it is for a holder freeing its own lock.
	Release(ctx context.Context, environment, lockID string) error
	// ReleaseBy frees the lock only if lockID is still the environment's lock, like
	// Release, and records actor (the one really releasing it) and detail in the
	// lock_released event; an empty actor is the holder, an empty detail says who
	// released whose lock. It returns the released lock.
	ReleaseBy(ctx context.Context, environment, lockID, actor, detail string) (Lock, error)
	// Inspect returns the environment's current lock, or nil when it is free. An
	// expired lock is still returned (check Expired).
	Inspect(ctx context.Context, environment string) (*Lock, error)
	// ForceRelease frees whatever lock the environment has and records who did it.
	// It returns the lock that was released, or nil when it was already free.
	ForceRelease(ctx context.Context, environment, actor, reason string) (*Lock, error)
	// ForceReleaseID frees the environment's lock only if lockID is still its lock,
	// and records who did it, in one step: no lock acquired in between can be broken.
	// It returns the released lock, nil when the environment is free, or an error
	// wrapping ErrNotHolder (changing nothing) when another lock is held now.
	ForceReleaseID(ctx context.Context, environment, lockID, actor, reason string) (*Lock, error)
	// Renew extends the lock's expiry to now+ttl (0: never) and updates its reason;
	// it fails with ErrNotHolder if lockID is no longer the environment's lock.
	Renew(ctx context.Context, environment, lockID string, ttl time.Duration, reason string) (Lock, error)
	Tokens
}

// Tokens is what a fencing check needs (CheckToken): the current token.
type Tokens interface {
	// CurrentToken returns the token of the environment's live (unexpired) lock, or
	// 0 when none is held.
	CurrentToken(ctx context.Context, environment string) (int64, error)
}

// History is the append-only release history.
type History interface {
	// Append records an event in the history.
	Append(ctx context.Context, ev Event) error
	// History returns matching events, newest first.
	History(ctx context.Context, q HistoryQuery) ([]Event, error)
}

// Blocks are the known-bad versions.
type Blocks interface {
	// SetBlock marks name@version as blocked (replacing an earlier block's reason).
	SetBlock(ctx context.Context, b Block) error
	// GetBlock returns the block on name@version, or nil.
	GetBlock(ctx context.Context, name, version string) (*Block, error)
	// RemoveBlock unblocks name@version; removing a missing block is not an error.
	RemoveBlock(ctx context.Context, name, version string) error
}

// Freezes are the freeze windows every pipeline and runner sees.
type Freezes interface {
	// SetFreeze stores f under f.ID, replacing an earlier definition.
	SetFreeze(ctx context.Context, f Freeze) error
	// GetFreeze returns the freeze with id, or nil.
	GetFreeze(ctx context.Context, id string) (*Freeze, error)
	// ListFreezes returns every freeze, ordered by id.
	ListFreezes(ctx context.Context) ([]Freeze, error)
	// RemoveFreeze deletes the freeze with id; removing a missing one is not an error.
	RemoveFreeze(ctx context.Context, id string) error
}

// Backend stores locks, history, blocks and freezes: the composition of Locks,
// History, Blocks and Freezes for whoever needs all (the provider opens one). Consumers ask for
// the smallest of them they use. Implementations are safe for concurrent use by
// several goroutines and several processes.
type Backend interface {
	Locks
	History
	Blocks
	Freezes
	// Close frees connections and file handles.
	Close() error
}

// LockedError says who holds an environment's lock.
type LockedError struct {
	Lock   Lock
	Waited time.Duration
}

func (e *LockedError) Error() string {
	msg := "environment " + e.Lock.Environment + " is locked by " + e.Lock.Holder
	if e.Lock.Reason != "" {
		msg += " (" + e.Lock.Reason + ")"
	}
	msg += " since " + e.Lock.AcquiredAt.UTC().Format(time.RFC3339)
	if !e.Lock.ExpiresAt.IsZero() {
		msg += ", expires " + e.Lock.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if e.Waited > 0 {
		msg += "; waited " + e.Waited.Round(time.Second).String()
	}
	return msg
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// CheckToken is the fencing check every target change calls first: it refuses a
// token that is not the environment's current lock token.
func CheckToken(ctx context.Context, b Tokens, environment string, token int64) error {
	if token == 0 {
		return nil
	}
	current, err := b.CurrentToken(ctx, environment)
	if err != nil {
		return err
	}
	if current != token {
		if current == 0 {
			return &StaleTokenError{Environment: environment, Token: token}
		}
		return &StaleTokenError{Environment: environment, Token: token, Current: current}
	}
	return nil
}

// StaleTokenError reports a fencing token that lost its lock.
type StaleTokenError struct {
	Environment string
	Token       int64
	Current     int64 // 0: no lock is held now
}

func (e *StaleTokenError) Error() string {
	if e.Current == 0 {
		return "lock token " + itoa(e.Token) + " for " + e.Environment + " is stale: the environment is no longer locked"
	}
	return "lock token " + itoa(e.Token) + " for " + e.Environment + " is stale: the current lock has token " + itoa(e.Current)
}

func (e *StaleTokenError) Unwrap() error { return ErrStaleToken }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
