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
// run that uses it: at most limit requests leave in any window (a sliding
// window, with a little slack for the time requests take to arrive), and a 429
// pauses every request until its Retry-After.
type limiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	sent   []time.Time
	paused time.Time
}

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
	return &limiter{limit: limit, window: window + window/50 + 5*time.Millisecond, now: time.Now}
}

// wait blocks until a request may leave, and counts it.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	for {
		d := l.reserve()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// reserve counts a request and returns 0, or how long to wait before trying again.
func (l *limiter) reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Before(l.paused) {
		return l.paused.Sub(now)
	}
	keep := l.sent[:0]
	for _, at := range l.sent {
		if now.Sub(at) < l.window {
			keep = append(keep, at)
		}
	}
	l.sent = keep
	if len(l.sent) < l.limit {
		l.sent = append(l.sent, now)
		return 0
	}
	return l.sent[0].Add(l.window).Sub(now)
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
	now, n := l.now(), 0
	for _, at := range l.sent {
		if now.Sub(at) < l.window {
			n++
		}
	}
	return float64(n) / float64(l.limit)
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
	if err := t.limiter.wait(req.Context()); err != nil {
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
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
