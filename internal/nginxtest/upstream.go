package nginxtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Upstream is an HTTP server for nginx to route to, such as the blue or the
// green colour of a router. It answers Body to every request; /health answers
// with the status in Health (200 until changed), every FailEvery-th other
// request with 500 (0: none), and every answer waits Delay. The fields may be
// changed while nginx routes to it. It stops when the test ends.
type Upstream struct {
	// Addr is the upstream's host:port, as nginx names it.
	Addr string
	Body string

	Health    atomic.Int64
	FailEvery atomic.Int64
	Delay     atomic.Int64 // a time.Duration

	n atomic.Int64
}

// StartUpstream starts an Upstream that answers body ("blue").
func StartUpstream(t testing.TB, body string) *Upstream {
	t.Helper()
	u := &Upstream{Body: body}
	u.Health.Store(http.StatusOK)
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	u.Addr = strings.TrimPrefix(srv.URL, "http://")
	return u
}

// ServeHTTP answers as the Upstream's fields say.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(time.Duration(u.Delay.Load()))
	if r.URL.Path == "/health" {
		w.WriteHeader(int(u.Health.Load()))
	} else if f := u.FailEvery.Load(); f > 0 && u.n.Add(1)%f == 0 {
		w.WriteHeader(http.StatusInternalServerError)
	}
	fmt.Fprint(w, u.Body)
}

// Traffic sends GET / to s from clients goroutines at once, each pausing
// between its requests, until the test ends: the live traffic a router switch
// or a canary analysis is tested under. Answers are not checked.
func (s *Server) Traffic(t testing.TB, clients int, pause time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for ctx.Err() == nil {
				if resp, err := client.Get(s.URL("/")); err == nil {
					_ = resp.Body.Close()
				}
				time.Sleep(pause)
			}
		})
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}
