package promote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo/gitrepotest"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/promote/promotetest"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type fixture struct {
	st   *store.Directory
	be   *backend.Directory
	repo *gitrepotest.Repo
	// base is production's commit; feature descends from it; side does not.
	base, feature, side string
	sum                 string
}

// newFixture is a store holding app@1.0.0-staging built from g.Feature, and a
// backend.
func newFixture(t *testing.T, g promotetest.History) *fixture {
	t.Helper()
	st, err := store.NewDirectory(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	be, err := backend.NewDirectory(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, be: be, repo: g.Repo, base: g.Base, feature: g.Feature, side: g.Side}

	content := []byte("release 1.0.0 bytes")
	h := sha256.Sum256(content)
	f.sum = hex.EncodeToString(h[:])
	if _, err := st.Put(context.Background(), "app", "1.0.0-staging", strings.NewReader(string(content)), "", map[string]string{"git_commit": f.feature, "built_by": "ci"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) append(t *testing.T, evs ...backend.Event) {
	t.Helper()
	for i, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = t0.Add(time.Duration(i) * time.Minute)
		}
		if ev.Name == "" {
			ev.Name = "app"
		}
		if err := f.be.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) request() Request {
	return Request{Name: "app", FromVersion: "1.0.0-staging", ToVersion: "1.0.0-rc", SHA256: f.sum, Actor: "ci@runner", Store: f.st, Backend: f.be, Now: func() time.Time { return t0.Add(time.Hour) }}
}

func deployed(env, version, sha string) backend.Event {
	return backend.Event{Environment: env, Kind: backend.KindDeployed, Version: version, SHA256: sha, Actor: "deployer"}
}

func TestGuards(t *testing.T) {
	g := promotetest.New(t)
	shallow := g.Repo.ShallowClone(1)
	tests := []struct {
		name    string
		setup   func(t *testing.T, f *fixture, req *Request)
		guards  []string // guards expected to fail, in order
		wantMsg []string // fragments of the error
	}{
		{name: "all guards pass", setup: func(t *testing.T, f *fixture, req *Request) {
			f.append(t, deployed("staging", "1.0.0-staging", f.sum))
			req.RequireDeployedIn = []string{"staging"}
			req.RequireDescendantOf = &DescendantOf{Repository: f.repo.Dir, Commit: f.base}
		}},
		{name: "sha256 differs", setup: func(t *testing.T, f *fixture, req *Request) {
			req.SHA256 = strings.Repeat("0", 64)
		}, guards: []string{GuardSHA256}, wantMsg: []string{"guard sha256: app@1.0.0-staging has sha256 " + "", "not the bytes that were reviewed"}},
		{name: "source blocked", setup: func(t *testing.T, f *fixture, req *Request) {
			if err := f.be.SetBlock(context.Background(), backend.Block{Name: "app", Version: "1.0.0-staging", Reason: "corrupts invoices", BlockedBy: "qa", BlockedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}, guards: []string{GuardBlocked}, wantMsg: []string{"app@1.0.0-staging is blocked by qa since 2026-03-01T10:00:00Z: corrupts invoices", "Remove the release_version_block"}},
		{name: "target blocked", setup: func(t *testing.T, f *fixture, req *Request) {
			if err := f.be.SetBlock(context.Background(), backend.Block{Name: "app", Version: "1.0.0-rc", Reason: "bad"}); err != nil {
				t.Fatal(err)
			}
		}, guards: []string{GuardBlocked}, wantMsg: []string{"app@1.0.0-rc is blocked"}},
		{name: "soak time met", setup: func(t *testing.T, f *fixture, req *Request) {
			// Deployed at t0 and again (same version) at t0+1m: healthy since t0, an hour before now.
			f.append(t, deployed("staging", "1.0.0-staging", f.sum), deployed("staging", "1.0.0-staging", f.sum))
			req.RequireDeployedIn = []string{"staging"}
			req.RequireHealthyFor = time.Hour
		}},
		{name: "soak time not met", setup: func(t *testing.T, f *fixture, req *Request) {
			f.append(t, deployed("staging", "1.0.0-staging", f.sum))
			req.RequireDeployedIn = []string{"staging"}
			req.RequireHealthyFor = 24 * time.Hour
		}, guards: []string{GuardHealthyFor}, wantMsg: []string{"app@1.0.0-staging has been live in staging for 1h0m only (since 2026-03-01T10:00:00Z, without a failed deployment); require_healthy_for is 24h0m0s: 23h0m left, it can be promoted from 2026-03-02T10:00:00Z"}},
		{name: "soak time restarts after a failed deployment", setup: func(t *testing.T, f *fixture, req *Request) {
			f.append(t, deployed("staging", "1.0.0-staging", f.sum),
				backend.Event{Environment: "staging", Kind: backend.KindFailed, Version: "1.0.0-staging", Detail: "smoke test"},
				deployed("staging", "1.0.0-staging", f.sum))
			req.RequireDeployedIn = []string{"staging"}
			req.RequireHealthyFor = time.Hour
		}, guards: []string{GuardHealthyFor}, wantMsg: []string{"for 58m0s only (since 2026-03-01T10:02:00Z", "2m0s left"}},
		{name: "environment frozen", setup: func(t *testing.T, f *fixture, req *Request) {
			if err := f.be.SetFreeze(context.Background(), backend.Freeze{ID: "year-end", Environments: []string{"production"}, Reason: "End-of-year freeze",
				Start: t0, End: t0.Add(48 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			req.Environment = "production"
		}, guards: []string{GuardFreeze}, wantMsg: []string{"production is frozen: \"End-of-year freeze\" (release_freeze year-end) from 2026-03-01T10:00:00Z until 2026-03-03T10:00:00Z", "freeze_override"}},
		{name: "environment frozen, overridden", setup: func(t *testing.T, f *fixture, req *Request) {
			if err := f.be.SetFreeze(context.Background(), backend.Freeze{ID: "year-end", Environments: []string{"production"}, Reason: "End-of-year freeze",
				Start: t0, End: t0.Add(48 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			req.Environment, req.FreezeOverride = "production", "INC-4711 invoice hotfix"
		}},
		{name: "never deployed", setup: func(t *testing.T, f *fixture, req *Request) {
			req.RequireDeployedIn = []string{"staging"}
		}, guards: []string{GuardDeployedIn}, wantMsg: []string{"app has never been deployed to staging"}},
		{name: "another version runs", setup: func(t *testing.T, f *fixture, req *Request) {
			f.append(t, deployed("staging", "0.9.0", "abc"))
			req.RequireDeployedIn = []string{"staging"}
		}, guards: []string{GuardDeployedIn}, wantMsg: []string{"staging runs app@0.9.0 (deployed 2026-03-01T10:00:00Z by deployer), not 1.0.0-staging"}},
		{name: "last deployment failed", setup: func(t *testing.T, f *fixture, req *Request) {
			f.append(t, deployed("staging", "1.0.0-staging", f.sum),
				backend.Event{Environment: "staging", Kind: backend.KindFailed, Version: "1.0.0-staging", Detail: "smoke test answered 502.\nmore"})
			req.RequireDeployedIn = []string{"staging"}
		}, guards: []string{GuardDeployedIn}, wantMsg: []string{"the last deployment to staging, of app@1.0.0-staging at 2026-03-01T10:01:00Z, failed (smoke test answered 502); app@1.0.0-staging runs there now"}},
		{name: "rolled back", setup: func(t *testing.T, f *fixture, req *Request) {
			f.append(t, deployed("staging", "0.9.0", "abc"),
				backend.Event{Environment: "staging", Kind: backend.KindFailed, Version: "1.0.0-staging"},
				backend.Event{Environment: "staging", Kind: backend.KindRolledBack, Version: "0.9.0", Detail: "restored app@0.9.0"})
			req.RequireDeployedIn = []string{"staging"}
		}, guards: []string{GuardDeployedIn}, wantMsg: []string{"staging was rolled back at 2026-03-01T10:02:00Z (restored app@0.9.0); app@0.9.0 runs there now"}},
		{name: "same version, other bytes", setup: func(t *testing.T, f *fixture, req *Request) {
			f.append(t, deployed("staging", "1.0.0-staging", strings.Repeat("f", 64)))
			req.RequireDeployedIn = []string{"staging"}
		}, guards: []string{GuardDeployedIn}, wantMsg: []string{"staging runs app@1.0.0-staging with sha256 ffff"}},
		{name: "one of two environments", setup: func(t *testing.T, f *fixture, req *Request) {
			f.append(t, deployed("staging", "1.0.0-staging", f.sum))
			req.RequireDeployedIn = []string{"staging", "recette"}
		}, guards: []string{GuardDeployedIn}, wantMsg: []string{"never been deployed to recette"}},
		{name: "not a descendant", setup: func(t *testing.T, f *fixture, req *Request) {
			req.RequireDescendantOf = &DescendantOf{Repository: f.repo.Dir, Commit: f.side}
		}, guards: []string{GuardDescendantOf}, wantMsg: []string{"does not descend from " + "", "would drop commits that run now"}},
		{name: "unknown commit", setup: func(t *testing.T, f *fixture, req *Request) {
			req.RequireDescendantOf = &DescendantOf{Repository: f.repo.Dir, Commit: strings.Repeat("1", 40)}
		}, guards: []string{GuardDescendantOf}, wantMsg: []string{"fetch the missing commits"}},
		{name: "empty commit", setup: func(t *testing.T, f *fixture, req *Request) {
			req.RequireDescendantOf = &DescendantOf{Repository: f.repo.Dir, Commit: ""}
		}, guards: []string{GuardDescendantOf}, wantMsg: []string{"commit is empty"}},
		{name: "shallow clone cannot answer", setup: func(t *testing.T, f *fixture, req *Request) {
			req.RequireDescendantOf = &DescendantOf{Repository: shallow, Commit: f.base}
		}, guards: []string{GuardDescendantOf}, wantMsg: []string{"shallow"}},
		{name: "several guards at once", setup: func(t *testing.T, f *fixture, req *Request) {
			req.SHA256 = strings.Repeat("0", 64)
			req.RequireDeployedIn = []string{"staging"}
			req.RequireDescendantOf = &DescendantOf{Repository: f.repo.Dir, Commit: f.side}
		}, guards: []string{GuardSHA256, GuardDeployedIn, GuardDescendantOf}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, g)
			req := f.request()
			tt.setup(t, f, &req)
			src, err := Check(context.Background(), req)
			if src.ID() != "app@1.0.0-staging" {
				t.Errorf("Check returned source %q", src.ID())
			}
			var got []string
			if err != nil {
				var joined interface{ Unwrap() []error }
				errs := []error{err}
				if errors.As(err, &joined) {
					errs = joined.Unwrap()
				}
				for _, e := range errs {
					var ge *GuardError
					if !errors.As(e, &ge) {
						t.Fatalf("error %v is not a *GuardError", e)
					}
					got = append(got, ge.Guard)
				}
				if !errors.Is(err, ErrGuard) {
					t.Errorf("error does not wrap ErrGuard: %v", err)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.guards, ",") {
				t.Fatalf("failed guards = %v, want %v (error: %v)", got, tt.guards, err)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			if tt.name == "shallow clone cannot answer" && !errors.Is(err, gitrepo.ErrShallow) {
				t.Errorf("shallow error does not wrap gitrepo.ErrShallow: %v", err)
			}
		})
	}
}

func TestCheckRefusesBadRequests(t *testing.T) {
	f := newFixture(t, promotetest.New(t))
	tests := []struct {
		name    string
		mutate  func(*Request)
		wantErr string
	}{
		{"missing source", func(r *Request) { r.FromVersion = "2.0.0" }, "app@2.0.0 is not published"},
		{"same versions", func(r *Request) { r.ToVersion = r.FromVersion }, "both 1.0.0-staging"},
		{"bad name", func(r *Request) { r.Name = "../x" }, "invalid artifact name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request()
			tt.mutate(&req)
			_, err := Check(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrGuard) {
				t.Fatalf("error = %v, want a non-guard error containing %q", err, tt.wantErr)
			}
		})
	}
}

// countingBackend counts Append calls.
type countingBackend struct {
	backend.Backend
	appends atomic.Int32
}

func (c *countingBackend) Append(ctx context.Context, ev backend.Event) error {
	c.appends.Add(1)
	return c.Backend.Append(ctx, ev)
}

func TestPromote(t *testing.T) {
	f := newFixture(t, promotetest.New(t))
	var logs bytes.Buffer
	ctx := logging.With(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	f.append(t, deployed("staging", "1.0.0-staging", f.sum))
	cb := &countingBackend{Backend: f.be}
	req := f.request()
	req.Backend = cb
	req.RequireDeployedIn = []string{"staging"}
	req.RequireDescendantOf = &DescendantOf{Repository: f.repo.Dir, Commit: f.base}

	res, err := Promote(ctx, req)
	if err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if res.AlreadyPromoted || res.Object.ID() != "app@1.0.0-rc" || res.Object.SHA256 != f.sum {
		t.Fatalf("result = %+v", res)
	}
	obj, err := f.st.Verify(ctx, "app", "1.0.0-rc")
	if err != nil {
		t.Fatal(err)
	}
	if obj.Metadata[MetaPromotedFrom] != "1.0.0-staging" || obj.Metadata[MetaPromotedBy] != "ci@runner" || obj.Metadata["built_by"] != "ci" || obj.Metadata[MetaGitCommit] != f.feature {
		t.Errorf("metadata = %v", obj.Metadata)
	}
	events, err := f.be.History(ctx, backend.HistoryQuery{Kinds: []string{backend.KindPromoted}})
	if err != nil || len(events) != 1 {
		t.Fatalf("promoted events = %+v, %v", events, err)
	}
	ev := events[0]
	if ev.Version != "1.0.0-rc" || ev.SHA256 != f.sum || ev.GitCommit != f.feature || ev.Actor != "ci@runner" || !strings.Contains(ev.Detail, "promoted from 1.0.0-staging (deployed in staging; descends from ") {
		t.Errorf("event = %+v", ev)
	}
	if !strings.Contains(logs.String(), `msg="copying the bytes" from=app@1.0.0-staging version=1.0.0-rc`) {
		t.Errorf("the copy was not logged with its version: %q", logs.String())
	}

	// Applying again adopts the promotion: no copy, no second event.
	again, err := Promote(ctx, req)
	if err != nil || !again.AlreadyPromoted || !again.Object.PublishedAt.Equal(res.Object.PublishedAt) {
		t.Fatalf("second Promote = %+v, %v", again, err)
	}
	if n := cb.appends.Load(); n != 1 {
		t.Errorf("%d events appended, want 1", n)
	}

	// A version published directly is never overwritten by a promotion.
	if _, err := f.st.Put(ctx, "app", "1.0.0", strings.NewReader("other bytes"), "", nil); err != nil {
		t.Fatal(err)
	}
	req.ToVersion = "1.0.0"
	if _, err := Promote(ctx, req); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "published directly") {
		t.Errorf("promotion onto a published version: %v", err)
	}

	// A failed guard copies nothing.
	req.ToVersion = "1.0.1"
	req.RequireDeployedIn = []string{"production"}
	if _, err := Promote(ctx, req); !errors.Is(err, ErrGuard) {
		t.Fatalf("Promote with a failing guard: %v", err)
	}
	if _, err := f.st.Stat(ctx, "app", "1.0.1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused promotion published something: %v", err)
	}
}

func TestPromoteReverifiesBytes(t *testing.T) {
	f := newFixture(t, promotetest.New(t))
	ctx := context.Background()
	// The bytes rot in the store after the sha256 was recorded.
	corruptStore := &corruptingStore{Store: f.st}
	req := f.request()
	req.Store = corruptStore
	if _, err := Promote(ctx, req); !errors.Is(err, store.ErrChecksumMismatch) {
		t.Fatalf("Promote of rotten bytes = %v, want ErrChecksumMismatch", err)
	}
	if _, err := f.st.Stat(ctx, "app", "1.0.0-rc"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotten bytes were promoted: %v", err)
	}
}

// corruptingStore serves other bytes than the ones recorded, as a disk that rots.
type corruptingStore struct{ store.Store }

func (c *corruptingStore) Copy(ctx context.Context, name, from, to, sum string, meta map[string]string) (store.Object, error) {
	return store.CopyVersion(ctx, c, name, from, to, sum, meta)
}

func (c *corruptingStore) Get(ctx context.Context, name, version string) (io.ReadCloser, store.Object, error) {
	rc, obj, err := c.Store.Get(ctx, name, version)
	if err != nil {
		return nil, obj, err
	}
	rc.Close()
	return io.NopCloser(strings.NewReader("RELEASE 1.0.0 BYTES")), obj, nil
}

// TestPromoteUpperCaseChecksum: PowerShell prints sha256 in upper case. The
// sha256 guard and require_deployed_in compare without regard to case, and a
// re-applied promotion with it is adopted, not refused as a conflict.
func TestPromoteUpperCaseChecksum(t *testing.T) {
	f := newFixture(t, promotetest.New(t))
	ctx := context.Background()
	f.append(t, deployed("staging", "1.0.0-staging", strings.ToUpper(f.sum)))
	req := f.request()
	req.SHA256 = strings.ToUpper(f.sum)
	req.RequireDeployedIn = []string{"staging"}
	if _, err := Promote(ctx, req); err != nil {
		t.Fatalf("Promote with an upper-case sha256: %v", err)
	}
	res, err := Promote(ctx, req)
	if err != nil || !res.AlreadyPromoted {
		t.Fatalf("Promote again = %+v, %v; want the promotion adopted", res, err)
	}
}

// TestPromoteRefusesNonCanonicalVersions: v1.0.0-rc would be a second name for
// 1.0.0-rc; the refusal gives the form to use.
func TestPromoteRefusesNonCanonicalVersions(t *testing.T) {
	f := newFixture(t, promotetest.New(t))
	req := f.request()
	req.ToVersion = "v1.0.0-rc"
	_, err := Promote(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), `to_version`) || !strings.Contains(err.Error(), `use "1.0.0-rc"`) {
		t.Fatalf("err = %v, want a refusal of to_version that names 1.0.0-rc", err)
	}
}

func TestPromoteRecordsFreezeOverride(t *testing.T) {
	f := newFixture(t, promotetest.New(t))
	ctx := context.Background()
	if err := f.be.SetFreeze(ctx, backend.Freeze{ID: "year-end", Environments: []string{"production"}, Reason: "End-of-year freeze", Start: t0, End: t0.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	req := f.request()
	req.Environment, req.FreezeOverride = "production", "INC-4711 invoice hotfix"
	if _, err := Promote(ctx, req); err != nil {
		t.Fatal(err)
	}
	evs, err := f.be.History(ctx, backend.HistoryQuery{Environment: "production", Kinds: []string{backend.KindFreezeOverridden}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("freeze_overridden events = %+v, %v", evs, err)
	}
	if ev := evs[0]; ev.Actor != "ci@runner" || ev.Version != "1.0.0-rc" || !strings.Contains(ev.Detail, `freeze_override "INC-4711 invoice hotfix" let it through`) || !strings.Contains(ev.Detail, "End-of-year freeze") {
		t.Fatalf("event = %+v", ev)
	}
}
