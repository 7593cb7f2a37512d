package backend

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// blockVersion also allows '+' (semver build metadata).
var safeVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)

// ValidateEnvironment checks that an environment name is usable by every backend: 1 to
// 128 letters, digits, '-', '_' or '.', starting with a letter or digit.
func ValidateEnvironment(env string) error {
	if !safeName.MatchString(env) {
		return fmt.Errorf("invalid environment name %q: use 1 to 128 letters, digits, '-', '_' or '.', starting with a letter or digit", env)
	}
	return nil
}

func validateBlockKey(name, version string) error {
	if !safeName.MatchString(name) {
		return fmt.Errorf("invalid artifact name %q: use letters, digits, '-', '_' or '.', starting with a letter or digit", name)
	}
	if !safeVersion.MatchString(version) {
		return fmt.Errorf("invalid version %q: use letters, digits, '-', '_', '.' or '+', starting with a letter or digit", version)
	}
	return nil
}

// ValidateFreezeID refuses a freeze id that is not a safe file name.
func ValidateFreezeID(id string) error {
	if !safeName.MatchString(id) {
		return fmt.Errorf("invalid freeze id %q: use letters, digits, '-', '_' or '.', starting with a letter or digit", id)
	}
	return nil
}

// requireLockID refuses the empty lock id of a ForceReleaseID, which would
// otherwise free whatever lock the environment holds.
func requireLockID(environment, lockID string) error {
	if lockID == "" {
		return errors.New("force-releasing the lock of " + environment + ": the lock id is empty")
	}
	return nil
}

func (q HistoryQuery) matches(ev Event) bool {
	if q.Environment != "" && ev.Environment != q.Environment {
		return false
	}
	if q.Name != "" && ev.Name != q.Name {
		return false
	}
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, ev.Kind) {
		return false
	}
	return true
}

// newLockID returns a random UUID (version 4).
func newLockID() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl).UTC()
}

func newLock(req AcquireRequest, token int64, now time.Time) Lock {
	return Lock{
		ID:          newLockID(),
		Environment: req.Environment,
		Holder:      req.Holder,
		Reason:      req.Reason,
		Operation:   req.Operation,
		Token:       token,
		AcquiredAt:  now.UTC(),
		ExpiresAt:   expiry(now, req.TTL),
		RunScoped:   req.RunScoped,
	}
}

// acquiredEvent is the history entry of a new lock; previous is the expired lock it
// took over, if any.
func acquiredEvent(l Lock, previous *Lock) Event {
	ev := Event{Time: l.AcquiredAt, Environment: l.Environment, Kind: KindLockAcquired, Actor: l.Holder, LockToken: l.Token, Detail: l.Reason}
	if previous != nil {
		ev.Kind = KindLockTakenOver
		ev.Detail = fmt.Sprintf("took over the lock of %s (token %d, acquired %s) that expired at %s",
			previous.Holder, previous.Token, previous.AcquiredAt.UTC().Format(time.RFC3339), previous.ExpiresAt.UTC().Format(time.RFC3339))
		if l.Reason != "" {
			ev.Detail += "; reason: " + l.Reason
		}
	}
	return ev
}

// releasedEvent is the history entry of a lock freed by actor (the holder when
// empty): the event names who really released it, never the holder in their stead.
func releasedEvent(released Lock, actor, detail string) Event {
	if actor == "" {
		actor = released.Holder
	}
	if detail == "" {
		if actor == released.Holder {
			detail = "released by its holder"
		} else {
			detail = fmt.Sprintf("released by %s; the lock was held as %s", actor, released.Holder)
		}
	}
	return Event{Time: time.Now().UTC(), Environment: released.Environment, Kind: KindLockReleased, Actor: actor, LockToken: released.Token, Detail: detail}
}

func forceReleasedEvent(released Lock, actor, reason string) Event {
	detail := fmt.Sprintf("force-released the lock of %s (token %d, acquired %s)",
		released.Holder, released.Token, released.AcquiredAt.UTC().Format(time.RFC3339))
	if reason != "" {
		detail += "; reason: " + reason
	}
	return Event{Time: time.Now().UTC(), Environment: released.Environment, Kind: KindLockForceReleased, Actor: actor, LockToken: released.Token, Detail: detail}
}

// checkHolder refuses a lock id that is not the environment's current lock.
func checkHolder(env string, cur *Lock, lockID string) error {
	if cur == nil {
		return fmt.Errorf("%w: the lock of %s was already released (it was force-released, or taken over and released)", ErrNotHolder, env)
	}
	if cur.ID != lockID {
		return fmt.Errorf("%w: the lock of %s is now held by %s (token %d, acquired %s)", ErrNotHolder, env, cur.Holder, cur.Token, cur.AcquiredAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// waiter paces the retries of one Acquire call while another holder has the lock and
// logs the wait at INFO.
type waiter struct {
	req      AcquireRequest
	start    time.Time
	deadline time.Time
	backoff  time.Duration
	max      time.Duration
	lastLog  time.Time
	lastID   string
}

// waitLogEvery is how often a continuing wait is logged.
const waitLogEvery = 10 * time.Second

func newWaiter(_ context.Context, req AcquireRequest, first, maxBackoff time.Duration) *waiter {
	now := time.Now()
	return &waiter{req: req, start: now, deadline: now.Add(req.WaitTimeout), backoff: first, max: maxBackoff}
}

// next returns how long to wait before the next try while held has the lock, or a
// *LockedError when the wait timeout has run out.
func (w *waiter) next(ctx context.Context, held Lock) (time.Duration, error) {
	now := time.Now()
	waited := now.Sub(w.start)
	if w.req.WaitTimeout <= 0 || !now.Before(w.deadline) {
		return 0, &LockedError{Lock: held, Waited: waited}
	}
	if held.ID != w.lastID || now.Sub(w.lastLog) >= waitLogEvery {
		fields := []any{
			logging.Environment, held.Environment,
			"holder", held.Holder,
			"since", held.AcquiredAt.UTC().Format(time.RFC3339),
			"token", held.Token,
			"waited", waited.Round(time.Millisecond).String(),
			"wait_left", w.deadline.Sub(now).Round(time.Second).String(),
		}
		if held.Reason != "" {
			fields = append(fields, "reason", held.Reason)
		}
		if !held.ExpiresAt.IsZero() {
			fields = append(fields, "expires_at", held.ExpiresAt.UTC().Format(time.RFC3339))
		}
		logging.Info(ctx, "Waiting for the environment lock held by "+held.Holder, fields...)
		w.lastLog, w.lastID = now, held.ID
	}
	d := w.backoff
	// Jitter spreads the retries of many waiters.
	d = d/2 + rand.N(d/2+1)
	w.backoff = min(w.backoff*2, w.max)
	if left := w.deadline.Sub(now); d > left {
		d = left
	}
	if !held.ExpiresAt.IsZero() {
		if untilExpiry := held.ExpiresAt.Sub(now); untilExpiry >= 0 && d > untilExpiry {
			d = untilExpiry + time.Millisecond
		}
	}
	return d, nil
}

// wait sleeps until the next try: the backoff, a wake-up, or the end of ctx.
func (w *waiter) wait(ctx context.Context, held Lock, wake <-chan struct{}) error {
	d, err := w.next(ctx, held)
	if err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-ctx.Done():
		return w.interrupted(ctx, held)
	}
	return nil
}

// acquire tries until try takes the lock (held == nil), fails, or the wait ends.
// tk, when not nil, is the waiter's place in q: a release wakes it at once.
func (w *waiter) acquire(ctx context.Context, q *wakeQueue, tk *ticket, try func() (held *Lock, got Lock, err error)) (Lock, error) {
	var last *Lock // the lock that held us up, once we waited
	for {
		// Take the wake channel before trying, so a release between the try and
		// the wait is not missed.
		var wake <-chan struct{}
		if tk != nil {
			wake = q.retrying(tk)
		}
		held, lock, err := try()
		if err != nil && last != nil && ctx.Err() != nil {
			// The wait ended during a re-check: say so, with who held the lock,
			// rather than as a failed query.
			return Lock{}, w.interrupted(ctx, *last)
		}
		if err != nil || held == nil {
			return lock, err
		}
		last = held
		if err := w.wait(ctx, *held, wake); err != nil {
			return Lock{}, err
		}
	}
}

func (w *waiter) interrupted(ctx context.Context, held Lock) error {
	return fmt.Errorf("waiting for the lock of %s was interrupted (%w): %w", held.Environment, ctx.Err(), &LockedError{Lock: held, Waited: time.Since(w.start)})
}

// wakeQueue wakes the waiters of one process in arrival order: a release wakes only
// the longest-waiting waiter of the environment instead of all of them, so a
// hand-over costs one retry per process rather than one per waiter.
type wakeQueue struct {
	mu sync.Mutex
	q  map[string][]*ticket
}

// ticket is one waiter's place in the queue.
type ticket struct {
	ch      chan struct{} // closed when the waiter should retry
	pending bool          // woken and not yet retried
}

// join queues a waiter of env at the back.
func (w *wakeQueue) join(env string) *ticket {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.q == nil {
		w.q = map[string][]*ticket{}
	}
	t := &ticket{ch: make(chan struct{})}
	w.q[env] = append(w.q[env], t)
	return t
}

// retrying is called by a waiter right before it tries again; it returns the channel
// to wait on after that try.
func (w *wakeQueue) retrying(t *ticket) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.pending {
		t.pending = false
		t.ch = make(chan struct{})
	}
	return t.ch
}

// leave removes a waiter; a wake-up it received but did not use goes to the next one.
func (w *wakeQueue) leave(env string, t *ticket) {
	w.mu.Lock()
	q := w.q[env]
	for i, x := range q {
		if x == t {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(w.q, env)
	} else {
		w.q[env] = q
	}
	pending := t.pending
	w.mu.Unlock()
	if pending {
		w.wake(env)
	}
}

// wake tells the first waiter of env that is not already woken to retry.
func (w *wakeQueue) wake(env string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.q[env] {
		if !t.pending {
			t.pending = true
			close(t.ch)
			return
		}
	}
}

// wakeAll tells every waiter to retry (after notifications may have been lost).
func (w *wakeQueue) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, q := range w.q {
		for _, t := range q {
			if !t.pending {
				t.pending = true
				close(t.ch)
			}
		}
	}
}
