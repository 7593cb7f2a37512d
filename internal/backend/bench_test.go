package backend_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

const benchWaiters = 32

// handoversPerOp makes one benchmark iteration a sample large enough for a p99, so
// `-benchtime 1x` still measures something.
const handoversPerOp = 200

// BenchmarkHandover measures the hand-over latency of an environment lock — from the
// holder's Release call to the next waiter holding the lock — with 32 waiters queued,
// on each backend, beside a simulation of the 1 s → 16 s polling backoff that
// Terraform's state locks use. Metrics: p50-ms and p99-ms.
func BenchmarkHandover(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			bk := mustOpen(b, k.newSpec(b))
			benchHandover(b, bk)
		})
	}
	b.Run("polling-1s-16s-simulated", func(b *testing.B) {
		var lat []time.Duration
		for range b.N {
			lat = simulatePolling(2000, benchWaiters, time.Second, 16*time.Second, 30*time.Second)
		}
		reportPercentiles(b, lat)
	})
}

func benchHandover(b *testing.B, bk backend.Backend) {
	ctx := context.Background()
	var (
		remaining atomic.Int64
		released  atomic.Int64 // UnixNano of the last Release call; 0 before the first
		mu        sync.Mutex
		lat       []time.Duration
		firstErr  error
		wg        sync.WaitGroup
	)
	remaining.Store(int64(b.N) * handoversPerOp)
	b.ResetTimer()
	for w := range benchWaiters {
		wg.Go(func() {
			for {
				l, err := bk.Acquire(ctx, backend.AcquireRequest{Environment: defaultEnv, Holder: fmt.Sprintf("w%d", w), WaitTimeout: time.Minute})
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				now := time.Now()
				left := remaining.Add(-1)
				if r := released.Load(); r != 0 && left >= 0 {
					mu.Lock()
					lat = append(lat, now.Sub(time.Unix(0, r)))
					mu.Unlock()
				}
				released.Store(time.Now().UnixNano())
				if err := bk.Release(ctx, defaultEnv, l.ID); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				if left <= 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	reportPercentiles(b, lat)
}

// simulatePolling runs n hand-overs in virtual time: waiters that find the lock held
// retry after 1 s, 2 s, 4 s, ... capped at maxBackoff (with ±25% jitter), and the
// first retry after a release takes the lock. Each holder keeps it for hold (a short
// deploy), long enough for the waiters to reach the longest backoff.
func simulatePolling(n, waiters int, first, maxBackoff, hold time.Duration) []time.Duration {
	rng := rand.New(rand.NewPCG(1, 2))
	jitter := func(d time.Duration) time.Duration {
		return d*3/4 + time.Duration(rng.Int64N(int64(d/2)+1))
	}
	type waiter struct {
		next    time.Duration // virtual time of the next poll
		backoff time.Duration
	}
	ws := make([]*waiter, waiters)
	for i := range ws {
		ws[i] = &waiter{next: jitter(first), backoff: first}
	}
	var lat []time.Duration
	releaseAt := hold
	for len(lat) < n {
		// The earliest poll at or after the release wins; earlier polls back off.
		slices.SortFunc(ws, func(a, b *waiter) int { return int(a.next - b.next) })
		for ws[0].next < releaseAt {
			w := ws[0]
			w.backoff = min(w.backoff*2, maxBackoff)
			w.next += jitter(w.backoff)
			slices.SortFunc(ws, func(a, b *waiter) int { return int(a.next - b.next) })
		}
		winner := ws[0]
		lat = append(lat, winner.next-releaseAt)
		releaseAt = winner.next + hold
		// The winner queues again behind the others, starting its backoff anew.
		winner.backoff = first
		winner.next = releaseAt + jitter(first)
	}
	return lat
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "p99-ms")
	b.ReportMetric(0, "ns/op") // the percentiles are the result; ns/op mixes in the hold time
}
