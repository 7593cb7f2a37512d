package scalingo

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// DefaultRateLimit and DefaultRateWindow are Scalingo's API rate limit: 60
// requests per minute per token.
const (
	DefaultRateLimit  = 60
	DefaultRateWindow = time.Minute
)

// limiter is the request budget of one client, shared by every resource of a
// run that uses it: a request holds one of limit slots from the moment it
// leaves until a window after its answer came back, so that however long
// requests take to arrive, the API never receives more than limit requests in
// any window. A 429 pauses every request until its Retry-After.
type limiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	slots  []*slot
	paused time.Time
}

// slot is held by one request: until is zero while it is in flight.
type slot struct{ until time.Time }

func newLimiter(limit int, window time.Duration) *limiter {
	if limit == 0 {
		limit = DefaultRateLimit
	}
	if window <= 0 {
		window = DefaultRateWindow
	}
	if limit < 0 {
		return nil
	}
	return &limiter{limit: limit, window: window + 5*time.Millisecond, now: time.Now}
}

// wait blocks until a request may leave and returns its slot, to release
// when its answer came back.
func (l *limiter) wait(ctx context.Context) (*slot, error) {
	if l == nil {
		return nil, nil
	}
	for {
		sl, d := l.reserve()
		if sl != nil {
			return sl, nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// reserve takes a slot, or says how long to wait before trying again.
func (l *limiter) reserve() (*slot, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Before(l.paused) {
		return nil, l.paused.Sub(now)
	}
	l.purge(now)
	if len(l.slots) < l.limit {
		sl := &slot{}
		l.slots = append(l.slots, sl)
		return sl, 0
	}
	next := 10 * time.Millisecond // a request still in flight
	for _, sl := range l.slots {
		if !sl.until.IsZero() && sl.until.Sub(now) < next {
			next = sl.until.Sub(now)
		}
	}
	return nil, next
}

// purge frees the slots whose window ended. Called with l.mu held.
func (l *limiter) purge(now time.Time) {
	keep := l.slots[:0]
	for _, sl := range l.slots {
		if sl.until.IsZero() || now.Before(sl.until) {
			keep = append(keep, sl)
		}
	}
	l.slots = keep
}

// release starts the window of a request whose answer came back.
func (l *limiter) release(sl *slot) {
	if l == nil || sl == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	sl.until = l.now().Add(l.window)
}

// pause holds every request until d from now (a 429's Retry-After).
func (l *limiter) pause(d time.Duration) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.now().Add(d); until.After(l.paused) {
		l.paused = until
	}
}

// load is the share of the budget used in the current window, from 0 to 1.
func (l *limiter) load() float64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.purge(l.now())
	return float64(len(l.slots)) / float64(l.limit)
}

// limitedTransport makes every request to the API host, retries included, wait
// for the budget, and pauses the budget on a 429.
type limitedTransport struct {
	base    http.RoundTripper
	host    string
	limiter *limiter
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		return t.base.RoundTrip(req)
	}
	sl, err := t.limiter.wait(req.Context())
	if err != nil {
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	t.limiter.release(sl)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		t.limiter.pause(retryAfter(resp, 0))
	}
	return resp, err
}

// retryAfter reads a Retry-After header in seconds; def when there is none.
func retryAfter(resp *http.Response, def time.Duration) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return def
}
