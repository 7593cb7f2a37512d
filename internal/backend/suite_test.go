package backend_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

// behaviours is the one table of lock, history and block behaviours that every
// backend must pass. Each case gets a fresh, empty backend.
var behaviours = []struct {
	name string
	run  func(t *testing.T, b backend.Backend)
}{
	{"acquire free lock", func(t *testing.T, b backend.Backend) {
		l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "alice@ci", Reason: "release 1.7.4", Operation: "apply"})
		if l.ID == "" || l.Token < 1 || l.Holder != "alice@ci" || l.Reason != "release 1.7.4" || l.Operation != "apply" {
			t.Fatalf("unexpected lock %+v", l)
		}
		if !l.ExpiresAt.IsZero() {
			t.Fatalf("ttl 0 must never expire, got expires_at %v", l.ExpiresAt)
		}
		if time.Since(l.AcquiredAt) > time.Minute || time.Until(l.AcquiredAt) > time.Minute {
			t.Fatalf("acquired_at %v is not now", l.AcquiredAt)
		}
		got := mustInspect(t, b, "staging")
		if got == nil || got.ID != l.ID || got.Token != l.Token || got.Holder != l.Holder || got.Reason != l.Reason {
			t.Fatalf("Inspect = %+v, want %+v", got, l)
		}
		if tok, err := b.CurrentToken(ctx(t), "staging"); err != nil || tok != l.Token {
			t.Fatalf("CurrentToken = %d, %v; want %d", tok, err, l.Token)
		}
	}},
	{"exclusive: second acquire fails at once naming the holder", func(t *testing.T, b backend.Backend) {
		first := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "alice@ci", Reason: "manual validation"})
		start := time.Now()
		_, err := b.Acquire(ctx(t), backend.AcquireRequest{Environment: "staging", Holder: "bob@ci"})
		var le *backend.LockedError
		if !errors.As(err, &le) || !errors.Is(err, backend.ErrLocked) {
			t.Fatalf("second Acquire error = %v, want *LockedError", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("wait_timeout 0 must fail at once, took %v", time.Since(start))
		}
		if le.Lock.ID != first.ID || le.Lock.Holder != "alice@ci" {
			t.Fatalf("LockedError names %+v, want the first lock", le.Lock)
		}
		for _, want := range []string{"alice@ci", "manual validation", "since"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	}},
	{"other environments are independent", func(t *testing.T, b backend.Backend) {
		mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "a"})
		mustAcquire(t, b, backend.AcquireRequest{Environment: "production", Holder: "b"})
	}},
	{"tokens strictly increase across releases", func(t *testing.T, b backend.Backend) {
		var last int64
		for i := range 5 {
			l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "a"})
			if l.Token <= last {
				t.Fatalf("round %d: token %d not greater than %d", i, l.Token, last)
			}
			last = l.Token
			if err := b.Release(ctx(t), "staging", l.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got := mustInspect(t, b, "staging"); got != nil {
			t.Fatalf("lock still present after release: %+v", got)
		}
		if tok, _ := b.CurrentToken(ctx(t), "staging"); tok != 0 {
			t.Fatalf("CurrentToken of a free environment = %d, want 0", tok)
		}
	}},
	{"release by a wrong id is refused and changes nothing", func(t *testing.T, b backend.Backend) {
		l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "alice"})
		err := b.Release(ctx(t), "staging", "not-the-id")
		if !errors.Is(err, backend.ErrNotHolder) || !strings.Contains(err.Error(), "alice") {
			t.Fatalf("Release(wrong id) = %v, want ErrNotHolder naming alice", err)
		}
		if got := mustInspect(t, b, "staging"); got == nil || got.ID != l.ID {
			t.Fatalf("lock changed by a refused release: %+v", got)
		}
		if _, err := b.Renew(ctx(t), "staging", "not-the-id", time.Hour, "x"); !errors.Is(err, backend.ErrNotHolder) {
			t.Fatalf("Renew(wrong id) = %v, want ErrNotHolder", err)
		}
		if err := b.Release(ctx(t), "staging", l.ID); err != nil {
			t.Fatal(err)
		}
		if err := b.Release(ctx(t), "staging", l.ID); !errors.Is(err, backend.ErrNotHolder) {
			t.Fatalf("second Release = %v, want ErrNotHolder", err)
		}
	}},
	{"expired lock is taken over with a larger token", func(t *testing.T, b backend.Backend) {
		old := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "crashed-job", TTL: 50 * time.Millisecond})
		if old.ExpiresAt.IsZero() {
			t.Fatal("ttl lock has no expires_at")
		}
		// Waiting longer than the ttl: the waiter takes over once it expires.
		l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "next-job", WaitTimeout: 10 * time.Second})
		if l.Token <= old.Token || l.ID == old.ID {
			t.Fatalf("takeover lock %+v does not supersede %+v", l, old)
		}
		if err := b.Release(ctx(t), "staging", old.ID); !errors.Is(err, backend.ErrNotHolder) {
			t.Fatalf("release by the expired holder = %v, want ErrNotHolder", err)
		}
		err := backend.CheckToken(ctx(t), b, "staging", old.Token)
		var stale *backend.StaleTokenError
		if !errors.As(err, &stale) || stale.Current != l.Token {
			t.Fatalf("CheckToken(old) = %v, want stale with current %d", err, l.Token)
		}
		if err := backend.CheckToken(ctx(t), b, "staging", l.Token); err != nil {
			t.Fatalf("CheckToken(current) = %v", err)
		}
		evs := mustHistory(t, b, backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockTakenOver}})
		if len(evs) != 1 || evs[0].Actor != "next-job" || evs[0].LockToken != l.Token || !strings.Contains(evs[0].Detail, "crashed-job") {
			t.Fatalf("takeover history = %+v", evs)
		}
	}},
	{"expired lock without a waiter: CurrentToken is 0", func(t *testing.T, b backend.Backend) {
		l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "a", TTL: time.Millisecond})
		waitUntil(t, func() bool { return time.Now().After(l.ExpiresAt.Add(5 * time.Millisecond)) })
		if tok, err := b.CurrentToken(ctx(t), "staging"); err != nil || tok != 0 {
			t.Fatalf("CurrentToken = %d, %v; want 0 for an expired lock", tok, err)
		}
		if got := mustInspect(t, b, "staging"); got == nil || !got.Expired(time.Now()) {
			t.Fatalf("Inspect must still show the expired lock, got %+v", got)
		}
		if err := backend.CheckToken(ctx(t), b, "staging", l.Token); !errors.Is(err, backend.ErrStaleToken) {
			t.Fatalf("CheckToken(expired) = %v, want ErrStaleToken", err)
		}
	}},
	{"waiter gets the lock when it is released", func(t *testing.T, b backend.Backend) {
		first := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "a"})
		done := make(chan backend.Lock, 1)
		errc := make(chan error, 1)
		go func() {
			l, err := b.Acquire(ctx(t), backend.AcquireRequest{Environment: "staging", Holder: "b", WaitTimeout: 20 * time.Second})
			if err != nil {
				errc <- err
				return
			}
			done <- l
		}()
		select {
		case l := <-done:
			t.Fatalf("waiter got the lock while held: %+v", l)
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(100 * time.Millisecond):
		}
		if err := b.Release(ctx(t), "staging", first.ID); err != nil {
			t.Fatal(err)
		}
		select {
		case l := <-done:
			if l.Holder != "b" || l.Token <= first.Token {
				t.Fatalf("waiter lock = %+v", l)
			}
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(15 * time.Second):
			t.Fatal("waiter did not get the released lock")
		}
	}},
	{"wait timeout runs out with a LockedError", func(t *testing.T, b backend.Backend) {
		mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "a", Reason: "validation"})
		start := time.Now()
		_, err := b.Acquire(ctx(t), backend.AcquireRequest{Environment: "staging", Holder: "b", WaitTimeout: 300 * time.Millisecond})
		var le *backend.LockedError
		if !errors.As(err, &le) || le.Lock.Holder != "a" {
			t.Fatalf("Acquire = %v, want LockedError by a", err)
		}
		if el := time.Since(start); el < 300*time.Millisecond {
			t.Fatalf("gave up after %v, before the wait timeout", el)
		}
	}},
	{"cancelled context stops the wait", func(t *testing.T, b backend.Backend) {
		mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "a"})
		c, cancel := context.WithTimeout(ctx(t), 200*time.Millisecond)
		defer cancel()
		_, err := b.Acquire(c, backend.AcquireRequest{Environment: "staging", Holder: "b", WaitTimeout: time.Hour})
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, backend.ErrLocked) {
			t.Fatalf("Acquire = %v, want deadline exceeded and ErrLocked", err)
		}
	}},
	{"force release frees any lock and records the actor", func(t *testing.T, b backend.Backend) {
		l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "stuck-job"})
		got, err := b.ForceRelease(ctx(t), "staging", "ops@laptop", "job 4711 was cancelled")
		if err != nil || got == nil || got.ID != l.ID {
			t.Fatalf("ForceRelease = %+v, %v", got, err)
		}
		if cur := mustInspect(t, b, "staging"); cur != nil {
			t.Fatalf("lock still held after force release: %+v", cur)
		}
		if got, err := b.ForceRelease(ctx(t), "staging", "ops", ""); err != nil || got != nil {
			t.Fatalf("ForceRelease of a free environment = %+v, %v; want nil, nil", got, err)
		}
		if err := b.Release(ctx(t), "staging", l.ID); !errors.Is(err, backend.ErrNotHolder) {
			t.Fatalf("release after force release = %v, want ErrNotHolder", err)
		}
		next := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "b"})
		if next.Token <= l.Token {
			t.Fatalf("token after force release %d <= %d", next.Token, l.Token)
		}
		evs := mustHistory(t, b, backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockForceReleased}})
		if len(evs) != 1 || evs[0].Actor != "ops@laptop" || evs[0].LockToken != l.Token ||
			!strings.Contains(evs[0].Detail, "stuck-job") || !strings.Contains(evs[0].Detail, "job 4711 was cancelled") {
			t.Fatalf("force release history = %+v", evs)
		}
	}},
	{"force release by lock id breaks only that lock", func(t *testing.T, b backend.Backend) {
		l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "stuck-job"})
		got, err := b.ForceReleaseID(ctx(t), "staging", "not-the-id", "ops@laptop", "wrong lock")
		if !errors.Is(err, backend.ErrNotHolder) || got != nil || !strings.Contains(err.Error(), "stuck-job") {
			t.Fatalf("ForceReleaseID(wrong id) = %+v, %v; want ErrNotHolder naming stuck-job", got, err)
		}
		if cur := mustInspect(t, b, "staging"); cur == nil || cur.ID != l.ID {
			t.Fatalf("lock changed by a refused force release: %+v", cur)
		}
		if _, err := b.ForceReleaseID(ctx(t), "staging", "", "ops", ""); err == nil {
			t.Fatal("ForceReleaseID with an empty lock id succeeded")
		}
		got, err = b.ForceReleaseID(ctx(t), "staging", l.ID, "ops@laptop", "job 4711 was cancelled")
		if err != nil || got == nil || got.ID != l.ID || got.Token != l.Token {
			t.Fatalf("ForceReleaseID = %+v, %v; want the stuck lock", got, err)
		}
		if cur := mustInspect(t, b, "staging"); cur != nil {
			t.Fatalf("lock still held after force release by id: %+v", cur)
		}
		if got, err := b.ForceReleaseID(ctx(t), "staging", l.ID, "ops", ""); err != nil || got != nil {
			t.Fatalf("ForceReleaseID of a free environment = %+v, %v; want nil, nil", got, err)
		}
		next := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "pipeline-b"})
		got, err = b.ForceReleaseID(ctx(t), "staging", l.ID, "ops", "")
		if !errors.Is(err, backend.ErrNotHolder) || got != nil || !strings.Contains(err.Error(), "pipeline-b") {
			t.Fatalf("ForceReleaseID(old id) = %+v, %v; want ErrNotHolder naming pipeline-b", got, err)
		}
		if cur := mustInspect(t, b, "staging"); cur == nil || cur.ID != next.ID {
			t.Fatalf("a force release by an old id broke the new lock: %+v", cur)
		}
		evs := mustHistory(t, b, backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockForceReleased}})
		if len(evs) != 1 || evs[0].Actor != "ops@laptop" || evs[0].LockToken != l.Token || !strings.Contains(evs[0].Detail, "job 4711 was cancelled") {
			t.Fatalf("force release history = %+v; want only the release of the stuck lock", evs)
		}
	}},
	{"force release by lock id never breaks a lock acquired in between", func(t *testing.T, b backend.Backend) {
		// The old holder releases and a new one acquires while the operator's force
		// release of the old id runs: whatever the interleaving, the new lock survives.
		for round := range 20 {
			old := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "old"})
			newc := make(chan backend.Lock, 1)
			errc := make(chan error, 1)
			go func() {
				if err := b.Release(ctx(t), "staging", old.ID); err != nil && !errors.Is(err, backend.ErrNotHolder) {
					errc <- err
					return
				}
				l, err := b.Acquire(ctx(t), backend.AcquireRequest{Environment: "staging", Holder: "new", WaitTimeout: 10 * time.Second})
				if err != nil {
					errc <- err
					return
				}
				newc <- l
			}()
			released, err := b.ForceReleaseID(ctx(t), "staging", old.ID, "ops", "race")
			if err != nil && !errors.Is(err, backend.ErrNotHolder) {
				t.Fatalf("round %d: ForceReleaseID = %v", round, err)
			}
			if released != nil && released.ID != old.ID {
				t.Fatalf("round %d: ForceReleaseID(%s) released %+v", round, old.ID, released)
			}
			var l backend.Lock
			select {
			case l = <-newc:
			case err := <-errc:
				t.Fatalf("round %d: %v", round, err)
			}
			if cur := mustInspect(t, b, "staging"); cur == nil || cur.ID != l.ID {
				t.Fatalf("round %d: the lock acquired in between is gone: %+v, want %+v", round, cur, l)
			}
			if err := b.Release(ctx(t), "staging", l.ID); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}},
	{"renew extends the expiry and updates the reason", func(t *testing.T, b backend.Backend) {
		l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "a", Reason: "r1", TTL: time.Minute})
		r, err := b.Renew(ctx(t), "staging", l.ID, time.Hour, "r2")
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != l.ID || r.Token != l.Token || r.Reason != "r2" || r.ExpiresAt.Sub(l.ExpiresAt) < 50*time.Minute {
			t.Fatalf("renewed = %+v from %+v", r, l)
		}
		if got := mustInspect(t, b, "staging"); got.Reason != "r2" || !got.ExpiresAt.Equal(r.ExpiresAt) {
			t.Fatalf("Inspect after renew = %+v", got)
		}
		r, err = b.Renew(ctx(t), "staging", l.ID, 0, "r2")
		if err != nil || !r.ExpiresAt.IsZero() {
			t.Fatalf("Renew(ttl 0) = %+v, %v; want no expiry", r, err)
		}
	}},
	{"history records lock events newest first", func(t *testing.T, b backend.Backend) {
		l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "alice", Reason: "release 1.7.4"})
		if err := b.Release(ctx(t), "staging", l.ID); err != nil {
			t.Fatal(err)
		}
		evs := mustHistory(t, b, backend.HistoryQuery{Environment: "staging"})
		if len(evs) != 2 || evs[0].Kind != backend.KindLockReleased || evs[1].Kind != backend.KindLockAcquired {
			t.Fatalf("history = %+v", evs)
		}
		for _, ev := range evs {
			if ev.Actor != "alice" || ev.LockToken != l.Token || ev.Environment != "staging" {
				t.Fatalf("event %+v does not name alice and token %d", ev, l.Token)
			}
		}
	}},
	{"history append, filters and limit", func(t *testing.T, b backend.Backend) {
		base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
		in := []backend.Event{
			{Time: base, Environment: "production", Kind: backend.KindDeployed, Name: "histologe", Version: "1.7.3", SHA256: "aa", Actor: "ci", LockToken: 7, GitCommit: "abc"},
			{Time: base.Add(time.Minute), Environment: "production", Kind: backend.KindDeployed, Name: "histologe", Version: "1.7.4", Detail: "détail ünïcode"},
			{Time: base.Add(2 * time.Minute), Environment: "staging", Kind: backend.KindDeployed, Name: "other", Version: "0.1.0"},
			{Time: base.Add(3 * time.Minute), Kind: backend.KindPromoted, Name: "histologe", Version: "1.7.4-rc"},
		}
		for _, ev := range in {
			if err := b.Append(ctx(t), ev); err != nil {
				t.Fatal(err)
			}
		}
		all := mustHistory(t, b, backend.HistoryQuery{})
		if len(all) != 4 || all[0].Version != "1.7.4-rc" || all[3].Version != "1.7.3" {
			t.Fatalf("all history = %+v", all)
		}
		if got := all[3]; got.SHA256 != "aa" || got.Actor != "ci" || got.LockToken != 7 || got.GitCommit != "abc" || !got.Time.Equal(base) {
			t.Fatalf("event not kept intact: %+v", got)
		}
		if got := all[2].Detail; got != "détail ünïcode" {
			t.Fatalf("detail = %q", got)
		}
		prod := mustHistory(t, b, backend.HistoryQuery{Environment: "production", Limit: 1})
		if len(prod) != 1 || prod[0].Version != "1.7.4" {
			t.Fatalf("production limit 1 = %+v", prod)
		}
		named := mustHistory(t, b, backend.HistoryQuery{Name: "histologe", Kinds: []string{backend.KindPromoted}})
		if len(named) != 1 || named[0].Version != "1.7.4-rc" {
			t.Fatalf("name+kind filter = %+v", named)
		}
		if none := mustHistory(t, b, backend.HistoryQuery{Environment: "nowhere"}); len(none) != 0 {
			t.Fatalf("unknown environment history = %+v", none)
		}
	}},
	{"freezes set, list, replace, get and remove", func(t *testing.T, b backend.Backend) {
		paris := time.FixedZone("CET", 3600)
		oneOff := backend.Freeze{ID: "year-end", Environments: []string{"production", "preproduction"}, Reason: "End-of-year freeze",
			Start: time.Date(2026, 12, 20, 0, 0, 0, 0, paris), End: time.Date(2027, 1, 5, 0, 0, 0, 0, paris), CreatedBy: "alice@ci"}
		weekly := backend.Freeze{ID: "weekends", Environments: []string{"production"}, Reason: "no weekend releases",
			Cron: "0 14 * * FRI", Duration: "62h", TimeZone: "Europe/Paris"}
		for _, f := range []backend.Freeze{weekly, oneOff} {
			if err := b.SetFreeze(ctx(t), f); err != nil {
				t.Fatal(err)
			}
		}
		got, err := b.GetFreeze(ctx(t), "year-end")
		if err != nil || got == nil {
			t.Fatalf("GetFreeze = %v, %v", got, err)
		}
		if !got.Start.Equal(oneOff.Start) || !got.End.Equal(oneOff.End) || got.Reason != oneOff.Reason || got.CreatedBy != "alice@ci" ||
			strings.Join(got.Environments, ",") != "production,preproduction" || got.Cron != "" || got.CreatedAt.IsZero() {
			t.Fatalf("GetFreeze = %+v, want %+v", got, oneOff)
		}
		list, err := b.ListFreezes(ctx(t))
		if err != nil || len(list) != 2 || list[0].ID != "weekends" || list[1].ID != "year-end" {
			t.Fatalf("ListFreezes = %+v, %v; want weekends then year-end", list, err)
		}
		if w := list[0]; w.Cron != "0 14 * * FRI" || w.Duration != "62h" || w.TimeZone != "Europe/Paris" || !w.Start.IsZero() || !w.End.IsZero() {
			t.Fatalf("cron freeze read back as %+v", w)
		}
		weekly.Reason, weekly.Environments = "no Friday releases", []string{"production", "staging"}
		if err := b.SetFreeze(ctx(t), weekly); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.GetFreeze(ctx(t), "weekends"); got == nil || got.Reason != "no Friday releases" || len(got.Environments) != 2 {
			t.Fatalf("replaced freeze = %+v", got)
		}
		if err := b.RemoveFreeze(ctx(t), "year-end"); err != nil {
			t.Fatal(err)
		}
		if err := b.RemoveFreeze(ctx(t), "year-end"); err != nil {
			t.Fatalf("removing a missing freeze: %v", err)
		}
		if got, err := b.GetFreeze(ctx(t), "year-end"); got != nil || err != nil {
			t.Fatalf("removed freeze still there: %+v, %v", got, err)
		}
		if list, _ := b.ListFreezes(ctx(t)); len(list) != 1 {
			t.Fatalf("ListFreezes after remove = %+v", list)
		}
		if err := b.SetFreeze(ctx(t), backend.Freeze{ID: "../etc"}); err == nil {
			t.Fatal("SetFreeze accepted an unsafe id")
		}
	}},
	{"history records the run", func(t *testing.T, b backend.Backend) {
		ev := backend.Event{Environment: "production", Kind: backend.KindDeployed, Name: "app", Version: "1.0.0", Actor: "octocat (GitHub Actions)",
			Run: "https://github.com/acme/app/actions/runs/42"}
		if err := b.Append(ctx(t), ev); err != nil {
			t.Fatal(err)
		}
		got := mustHistory(t, b, backend.HistoryQuery{Environment: "production"})
		if len(got) != 1 || got[0].Run != ev.Run || got[0].Actor != ev.Actor {
			t.Fatalf("History = %+v, want the run recorded", got)
		}
	}},
	{"blocks set, replace, get and remove", func(t *testing.T, b backend.Backend) {
		if got, err := b.GetBlock(ctx(t), "histologe", "1.7.4"); err != nil || got != nil {
			t.Fatalf("GetBlock(missing) = %+v, %v", got, err)
		}
		if err := b.SetBlock(ctx(t), backend.Block{Name: "histologe", Version: "1.7.4", Reason: "corrupts invoices", BlockedBy: "ops"}); err != nil {
			t.Fatal(err)
		}
		if err := b.SetBlock(ctx(t), backend.Block{Name: "histologe", Version: "1.7.4", Reason: "corrupts invoices and PDFs", BlockedBy: "ops"}); err != nil {
			t.Fatal(err)
		}
		got, err := b.GetBlock(ctx(t), "histologe", "1.7.4")
		if err != nil || got == nil || got.Reason != "corrupts invoices and PDFs" || got.BlockedBy != "ops" || got.BlockedAt.IsZero() {
			t.Fatalf("GetBlock = %+v, %v", got, err)
		}
		if other, _ := b.GetBlock(ctx(t), "histologe", "1.7.5"); other != nil {
			t.Fatalf("block leaked to another version: %+v", other)
		}
		if err := b.RemoveBlock(ctx(t), "histologe", "1.7.4"); err != nil {
			t.Fatal(err)
		}
		if err := b.RemoveBlock(ctx(t), "histologe", "1.7.4"); err != nil {
			t.Fatalf("removing a missing block = %v", err)
		}
		if got, _ := b.GetBlock(ctx(t), "histologe", "1.7.4"); got != nil {
			t.Fatalf("block still there: %+v", got)
		}
	}},
	{"run_scoped is stored with the lock", func(t *testing.T, b backend.Backend) {
		run := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "ci", RunScoped: true, TTL: time.Minute})
		if got := mustInspect(t, b, "staging"); !run.RunScoped || got == nil || !got.RunScoped {
			t.Fatalf("run-scoped lock = %+v, Inspect = %+v; want run_scoped", run, got)
		}
		mustAcquire(t, b, backend.AcquireRequest{Environment: "production", Holder: "alice"})
		if got := mustInspect(t, b, "production"); got == nil || got.RunScoped {
			t.Fatalf("lock held across runs = %+v; want run_scoped false", got)
		}
	}},
	{"every release names who really released the lock", func(t *testing.T, b backend.Backend) {
		l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "alice"})
		if _, err := b.ReleaseBy(ctx(t), "staging", "not-the-id", "mallory", ""); !errors.Is(err, backend.ErrNotHolder) {
			t.Fatalf("ReleaseBy(wrong id) = %v, want ErrNotHolder", err)
		}
		if got := mustInspect(t, b, "staging"); got == nil || got.ID != l.ID {
			t.Fatalf("a refused ReleaseBy changed the lock: %+v", got)
		}
		released, err := b.ReleaseBy(ctx(t), "staging", l.ID, "ops@ci", "")
		if err != nil || released.ID != l.ID {
			t.Fatalf("ReleaseBy = %+v, %v; want alice's lock released", released, err)
		}
		own := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "bob"})
		if err := b.Release(ctx(t), "staging", own.ID); err != nil {
			t.Fatal(err)
		}
		evs := mustHistory(t, b, backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockReleased}})
		if len(evs) != 2 {
			t.Fatalf("lock_released events = %+v, want 2", evs)
		}
		if evs[1].Actor != "ops@ci" || evs[1].LockToken != l.Token || !strings.Contains(evs[1].Detail, "released by ops@ci") || !strings.Contains(evs[1].Detail, "held as alice") {
			t.Errorf("release by another actor recorded as %+v; want actor ops@ci, naming alice as the holder", evs[1])
		}
		if evs[0].Actor != "bob" || evs[0].Detail != "released by its holder" {
			t.Errorf("release by the holder recorded as %+v", evs[0])
		}
	}},
	{"a failed run's lock is released for the re-run, and no other lock is", func(t *testing.T, b backend.Backend) {
		// A lock held across runs (manual validation) is never released by a failed
		// deployment, even with its exact token.
		held := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "alice", Reason: "manual validation"})
		if ok, err := backend.ReleaseRunLock(ctx(t), b, "staging", held.Token, "ci", "the deployment failed"); ok || err != nil {
			t.Fatalf("ReleaseRunLock(lock held across runs) = %v, %v; want false, nil", ok, err)
		}
		if got := mustInspect(t, b, "staging"); got == nil || got.ID != held.ID {
			t.Fatalf("the lock held across runs changed: %+v", got)
		}
		if err := b.Release(ctx(t), "staging", held.ID); err != nil {
			t.Fatal(err)
		}

		run := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "ci@runner", RunScoped: true, TTL: time.Hour})
		for _, token := range []int64{0, run.Token - 1, run.Token + 1} {
			if ok, err := backend.ReleaseRunLock(ctx(t), b, "staging", token, "ci", "failed"); ok || err != nil {
				t.Fatalf("ReleaseRunLock(token %d, lock has %d) = %v, %v; want false, nil", token, run.Token, ok, err)
			}
		}
		if ok, err := backend.ReleaseRunLock(ctx(t), b, "staging", run.Token, "ci", "the deployment that held this run's lock failed"); !ok || err != nil {
			t.Fatalf("ReleaseRunLock(the run's token) = %v, %v; want released", ok, err)
		}
		// Idempotent, and the run's Close coming later finds nothing to release.
		if ok, err := backend.ReleaseRunLock(ctx(t), b, "staging", run.Token, "ci", "failed"); ok || err != nil {
			t.Fatalf("second ReleaseRunLock = %v, %v; want false, nil", ok, err)
		}
		if err := b.Release(ctx(t), "staging", run.ID); !errors.Is(err, backend.ErrNotHolder) {
			t.Fatalf("Close after the release = %v, want ErrNotHolder", err)
		}

		// The re-run right away, not waiting, is not refused as locked by itself.
		rerun, err := b.Acquire(ctx(t), backend.AcquireRequest{Environment: "staging", Holder: "ci@runner", RunScoped: true, TTL: time.Hour})
		if err != nil {
			t.Fatalf("the re-run after the failed run was refused: %v", err)
		}
		if ok, err := backend.ReleaseRunLock(ctx(t), b, "staging", run.Token, "ci", "failed"); ok || err != nil {
			t.Fatalf("the failed run's token released the re-run's lock: %v, %v", ok, err)
		}
		if got := mustInspect(t, b, "staging"); got == nil || got.ID != rerun.ID {
			t.Fatalf("the re-run's lock changed: %+v", got)
		}
		evs := mustHistory(t, b, backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockReleased}, Limit: 1})
		if len(evs) != 1 || evs[0].Actor != "ci" || evs[0].LockToken != run.Token ||
			!strings.Contains(evs[0].Detail, "run lock of ci@runner") || !strings.Contains(evs[0].Detail, "the deployment that held this run's lock failed") {
			t.Fatalf("release of the failed run's lock recorded as %+v", evs)
		}
	}},
	{"a run lock taken over after its ttl is not released by the failed run", func(t *testing.T, b backend.Backend) {
		run := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "slow-run", RunScoped: true, TTL: 50 * time.Millisecond})
		next := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "next-run", RunScoped: true, TTL: time.Hour, WaitTimeout: 10 * time.Second})
		if ok, err := backend.ReleaseRunLock(ctx(t), b, "staging", run.Token, "slow-run", "failed"); ok || err != nil {
			t.Fatalf("ReleaseRunLock(taken-over token) = %v, %v; want false, nil", ok, err)
		}
		if got := mustInspect(t, b, "staging"); got == nil || got.ID != next.ID {
			t.Fatalf("the next run's lock changed: %+v", got)
		}
	}},
	{"invalid environment names are refused", func(t *testing.T, b backend.Backend) {
		for _, env := range []string{"", "../etc", "a/b", ".hidden", "with space", strings.Repeat("x", 200)} {
			_, err := b.Acquire(ctx(t), backend.AcquireRequest{Environment: env, Holder: "a"})
			if err == nil || !strings.Contains(err.Error(), "invalid environment name") {
				t.Errorf("Acquire(%q) = %v, want invalid environment name", env, err)
			}
		}
	}},
}

// checkAcquireAllOrNothing proves that an Acquire whose history entry cannot be
// written leaves no lock behind: breakHistory makes the history of "staging"
// unwritable, repair makes it writable again.
func checkAcquireAllOrNothing(t *testing.T, newBackend func(t *testing.T) backend.Backend, breakHistory, repair func(t *testing.T, b backend.Backend)) {
	t.Helper()
	cases := []struct {
		name     string
		previous bool // an expired lock is there to be taken over
		kind     string
	}{
		{"free environment", false, backend.KindLockAcquired},
		{"takeover of an expired lock", true, backend.KindLockTakenOver},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			var prev *backend.Lock
			if tc.previous {
				l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "crashed-job", TTL: time.Millisecond})
				waitUntil(t, func() bool { return time.Now().After(l.ExpiresAt.Add(5 * time.Millisecond)) })
				prev = &l
			}
			breakHistory(t, b)
			got, err := b.Acquire(ctx(t), backend.AcquireRequest{Environment: "staging", Holder: "pipeline-b", WaitTimeout: time.Second})
			if err == nil {
				t.Fatalf("Acquire succeeded with an unwritable history: %+v", got)
			}
			if errors.Is(err, backend.ErrLocked) || got.ID != "" {
				t.Fatalf("Acquire = %+v, %v; want a history error and no lock", got, err)
			}
			cur := mustInspect(t, b, "staging")
			switch {
			case prev == nil && cur != nil:
				t.Fatalf("failed Acquire left a lock behind: %+v", cur)
			case prev != nil && (cur == nil || cur.ID != prev.ID || cur.Token != prev.Token):
				t.Fatalf("failed takeover left %+v, want the expired lock %+v back", cur, prev)
			}
			if tok, err := b.CurrentToken(ctx(t), "staging"); err != nil || tok != 0 {
				t.Fatalf("CurrentToken after a failed Acquire = %d, %v; want 0", tok, err)
			}
			repair(t, b)
			l := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "pipeline-b"})
			if prev != nil && l.Token <= prev.Token {
				t.Fatalf("token %d after the failed takeover is not above %d", l.Token, prev.Token)
			}
			evs := mustHistory(t, b, backend.HistoryQuery{Environment: "staging", Kinds: []string{tc.kind}})
			if len(evs) != 1 || evs[0].LockToken != l.Token || evs[0].Actor != "pipeline-b" {
				t.Fatalf("%s history = %+v; want one event for token %d", tc.kind, evs, l.Token)
			}
		})
	}
}

func runBehaviours(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	t.Helper()
	for _, tc := range behaviours {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			tc.run(t, b)
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustAcquire(t *testing.T, b backend.Backend, req backend.AcquireRequest) backend.Lock {
	t.Helper()
	l, err := b.Acquire(ctx(t), req)
	if err != nil {
		t.Fatalf("Acquire(%s by %s): %v", req.Environment, req.Holder, err)
	}
	return l
}

func mustInspect(t *testing.T, b backend.Backend, env string) *backend.Lock {
	t.Helper()
	l, err := b.Inspect(ctx(t), env)
	if err != nil {
		t.Fatalf("Inspect(%s): %v", env, err)
	}
	return l
}

func mustHistory(t *testing.T, b backend.Backend, q backend.HistoryQuery) []backend.Event {
	t.Helper()
	evs, err := b.History(ctx(t), q)
	if err != nil {
		t.Fatalf("History(%+v): %v", q, err)
	}
	return evs
}

// waitUntil polls cond until it holds, failing after 10 s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
