package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// killedAfterSwitch leaves version live as a deployment killed during its
// after_switch hooks or smoke test leaves it: marked unverified (replacing
// replaced) and switched to, never verified.
func (f *fixture) killedAfterSwitch(version string, replaced *target.Release) target.Release {
	f.t.Helper()
	ctx := context.Background()
	obj, err := f.store.Stat(ctx, "app", version)
	if err != nil {
		f.t.Fatal(err)
	}
	spec := target.Spec{Name: "app", Version: version, SHA256: obj.SHA256}
	p, err := f.target.Find(ctx, spec)
	if err != nil {
		f.t.Fatal(err)
	}
	if p == nil {
		rc, _, err := f.store.Get(ctx, "app", version)
		if err != nil {
			f.t.Fatal(err)
		}
		defer rc.Close()
		if p, err = f.target.Prepare(ctx, spec, rc); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.target.MarkUnverified(ctx, p.Release, replaced); err != nil {
		f.t.Fatal(err)
	}
	if err := f.target.Activate(ctx, p); err != nil {
		f.t.Fatal(err)
	}
	return p.Release
}

func (f *fixture) live() *target.Release {
	f.t.Helper()
	cur, err := f.target.Current(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return cur
}

// TestDeployAfterAnUnfinishedDeployment: a live release that never finished its
// verification (or failed it) is not a deployment. The next deployment goes back
// to the verified release it replaced when it fails, verifies the same release
// again when asked for the same bytes, and clears the mark only when that passed.
func TestDeployAfterAnUnfinishedDeployment(t *testing.T) {
	type world struct {
		good *target.Release // the verified 1.0.0, nil when the scenario has none
	}
	for _, tc := range []struct {
		name string
		// setup leaves the target in its broken state; 1.0.0 is live and verified
		// first unless noGood is set.
		noGood bool
		setup  func(f *fixture, w world)
		deploy string // version deployed next, with the smoke test
		// what is expected afterwards
		wantErr        error
		wantErrSays    []string
		wantReverified bool
		wantRolledBack bool
		wantPrevious   string // version, "" for nil
		wantServing    string // "" for nothing
		wantLiveFailed bool   // what serves at the end is marked failed
	}{
		{
			name:           "killed during the smoke test of a failing version, deployed again: rolled back to the verified release",
			setup:          func(f *fixture, w world) { f.killedAfterSwitch("1.0.1", w.good) },
			deploy:         "1.0.1",
			wantErr:        ErrSmokeTest,
			wantErrSays:    []string{"The previous release 1.0.0 was restored and is serving"},
			wantReverified: true, wantRolledBack: true, wantPrevious: "1.0.0", wantServing: "version 1.0.0",
		},
		{
			name: "failed, rolled back, then killed during the retry: rolled back again",
			setup: func(f *fixture, w world) {
				req := f.request("1.0.1")
				req.SmokeTest = f.smoke()
				if _, err := Deploy(context.Background(), req); !errors.Is(err, ErrSmokeTest) {
					f.t.Fatalf("first attempt: %v", err)
				}
				f.killedAfterSwitch("1.0.1", w.good)
				if cur := f.live(); cur.Sound() || !cur.Failed || !cur.Unverified {
					f.t.Fatalf("after the killed retry: %+v", cur)
				}
			},
			deploy:         "1.0.1",
			wantErr:        ErrSmokeTest,
			wantReverified: true, wantRolledBack: true, wantPrevious: "1.0.0", wantServing: "version 1.0.0",
		},
		{
			name:           "killed during the after_switch hooks of a good version, deployed again: verified",
			setup:          func(f *fixture, w world) { f.killedAfterSwitch("1.0.3", w.good) },
			deploy:         "1.0.3",
			wantReverified: true, wantPrevious: "1.0.0", wantServing: "version 1.0.3",
		},
		{
			name: "failed and left live (rollback_on_failure = false), then fixed: deployed again and verified",
			setup: func(f *fixture, w world) {
				req := f.request("1.0.3")
				req.SmokeTest = f.smoke()
				req.Hooks.AfterSwitch = []string{"exit 1"}
				req.RollbackOnFailure = false
				if _, err := Deploy(context.Background(), req); !errors.Is(err, ErrHook) {
					f.t.Fatalf("first attempt: %v", err)
				}
				if cur := f.live(); cur.Sound() || !cur.Failed || !strings.Contains(cur.Problem, "failed") {
					f.t.Fatalf("a failed live release: %+v", cur)
				}
			},
			deploy:         "1.0.3",
			wantReverified: true, wantPrevious: "1.0.0", wantServing: "version 1.0.3",
		},
		{
			name:           "unverified live, another version fails: back to the verified release, not the unverified one",
			setup:          func(f *fixture, w world) { f.killedAfterSwitch("1.0.3", w.good) },
			deploy:         "1.0.1",
			wantErr:        ErrSmokeTest,
			wantRolledBack: true, wantPrevious: "1.0.0", wantServing: "version 1.0.0",
		},
		{
			name:         "unverified live, another version passes",
			setup:        func(f *fixture, w world) { f.killedAfterSwitch("1.0.1", w.good) },
			deploy:       "1.0.3",
			wantPrevious: "1.0.0", wantServing: "version 1.0.3",
		},
		{
			name:         "unverified live, going back by version to the release it replaced",
			setup:        func(f *fixture, w world) { f.killedAfterSwitch("1.0.1", w.good) },
			deploy:       "1.0.0",
			wantPrevious: "1.0.0", wantServing: "version 1.0.0",
		},
		{
			name: "unverified live, going back by version to the release it replaced, which fails now: it stays live, marked failed",
			setup: func(f *fixture, w world) {
				f.killedAfterSwitch("1.0.3", w.good)
				breakHealth(f.t, w.good.Path)
			},
			deploy:       "1.0.0",
			wantErr:      ErrSmokeTest,
			wantErrSays:  []string{"nothing else to go back to", "stays live", "marked failed"},
			wantPrevious: "1.0.0", wantServing: "version 1.0.0",
			wantLiveFailed: true,
		},
		{
			name: "the live release deployed again (killed while it was verified again), failing now: it stays live, marked failed",
			setup: func(f *fixture, w world) {
				f.killedAfterSwitch("1.0.0", w.good)
				breakHealth(f.t, w.good.Path)
			},
			deploy:         "1.0.0",
			wantErr:        ErrSmokeTest,
			wantErrSays:    []string{"nothing else to go back to"},
			wantReverified: true, wantPrevious: "1.0.0", wantServing: "version 1.0.0",
			wantLiveFailed: true,
		},
		{
			name:           "first deployment killed after the switch, failing again: nothing verified to go back to",
			noGood:         true,
			setup:          func(f *fixture, w world) { f.killedAfterSwitch("1.0.1", nil) },
			deploy:         "1.0.1",
			wantErr:        ErrSmokeTest,
			wantErrSays:    []string{"not a verified release to go back to", "never finished", "serves nothing now"},
			wantReverified: true, wantRolledBack: true, wantServing: "",
		},
		{
			name: "current points outside releases, the deployment fails: serves nothing",
			setup: func(f *fixture, w world) {
				elsewhere := filepath.Join(f.root, "elsewhere", w.good.ID)
				if err := os.MkdirAll(elsewhere, 0o755); err != nil {
					f.t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(elsewhere, "index.html"), []byte("version 6.6.6"), 0o644); err != nil {
					f.t.Fatal(err)
				}
				repoint(f.t, f.target.Path, elsewhere)
			},
			deploy:         "1.0.1",
			wantErr:        ErrSmokeTest,
			wantErrSays:    []string{"outside", "serves nothing now"},
			wantRolledBack: true, wantServing: "",
		},
		{
			name:         "current points outside releases, the deployment passes: current is replaced",
			setup:        func(f *fixture, w world) { repoint(f.t, f.target.Path, filepath.Join(f.root, "elsewhere")) },
			deploy:       "1.0.3",
			wantPrevious: "", wantServing: "version 1.0.3",
		},
		{
			name: "dangling current: deployed again",
			setup: func(f *fixture, w world) {
				if err := os.RemoveAll(w.good.Path); err != nil {
					f.t.Fatal(err)
				}
				if cur := f.live(); cur.ID != "" || !strings.Contains(cur.Problem, "no longer exists") {
					f.t.Fatalf("dangling current: %+v", cur)
				}
			},
			deploy:       "1.0.0",
			wantPrevious: "", wantServing: "version 1.0.0",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.publish("1.0.0", "ok")
			f.publish("1.0.1", "fail")
			f.publish("1.0.3", "ok")
			var w world
			if !tc.noGood {
				req := f.request("1.0.0")
				req.SmokeTest = f.smoke()
				w.good = mustDeploy(t, req).Live
			}
			tc.setup(f, w)
			if cur := f.live(); cur.Sound() || cur.Problem == "" {
				t.Fatalf("the setup left a sound live release: %+v", cur)
			}
			req := f.request(tc.deploy)
			obj, err := f.store.Stat(context.Background(), "app", tc.deploy)
			if err != nil {
				t.Fatal(err)
			}
			req.SHA256 = obj.SHA256 // as the provider does: finds the release folder of the same bytes
			req.SmokeTest = f.smoke()
			res, err := Deploy(context.Background(), req)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, s := range tc.wantErrSays {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if res.Reverified != tc.wantReverified || res.RolledBack != tc.wantRolledBack {
				t.Errorf("reverified %v, rolled back %v; want %v, %v", res.Reverified, res.RolledBack, tc.wantReverified, tc.wantRolledBack)
			}
			if got := versionOf(res.Previous); got != tc.wantPrevious {
				t.Errorf("Previous = %q, want %q", got, tc.wantPrevious)
			}
			if got := f.serving(); got != tc.wantServing {
				t.Fatalf("serving %q, want %q", got, tc.wantServing)
			}
			cur := f.live()
			if tc.wantServing == "" {
				if cur != nil || res.Live != nil {
					t.Fatalf("Current = %+v, Live = %+v; want nothing", cur, res.Live)
				}
				return
			}
			if res.Live == nil || res.Live.ID != cur.ID {
				t.Fatalf("Result.Live = %+v, want %s", res.Live, cur.ID)
			}
			if tc.wantLiveFailed {
				if cur.Sound() || !cur.Failed || cur.Problem == "" {
					t.Fatalf("Current = %+v, want a release marked failed", cur)
				}
				return
			}
			// Whatever serves at the end is a sound, verified release, and the
			// result says which.
			if !cur.Sound() || cur.Problem != "" || cur.Replaced != nil || "version "+cur.Version != tc.wantServing {
				t.Fatalf("Current = %+v, want a sound release serving %q", cur, tc.wantServing)
			}
			if res.Live == nil || res.Live.ID != cur.ID {
				t.Fatalf("Result.Live = %+v, want %s", res.Live, cur.ID)
			}
		})
	}
}

// TestDeployBeforeSwitchFailureSaysWhatServes: a failure before the switch says
// the unfinished release still serves, not the release it replaced.
func TestDeployBeforeSwitchFailureSaysWhatServes(t *testing.T) {
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "fail")
	f.publish("1.0.3", "ok")
	good := mustDeploy(t, f.request("1.0.0")).Live
	bad := f.killedAfterSwitch("1.0.1", good)
	req := f.request("1.0.3")
	req.Hooks.BeforeSwitch = []string{"exit 4"}
	res, err := Deploy(context.Background(), req)
	if !errors.Is(err, ErrHook) {
		t.Fatalf("err = %v", err)
	}
	want := "still serves release 1.0.1 (" + bad.ID + "), which is not a finished deployment (release 1.0.1"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	if res.Live == nil || res.Live.ID != bad.ID || res.Live.Sound() || versionOf(res.Previous) != "1.0.0" {
		t.Fatalf("result: live %+v, previous %+v", res.Live, res.Previous)
	}
	if cur := f.live(); cur.ID != bad.ID || !cur.Unverified {
		t.Fatalf("Current = %+v, want the unverified 1.0.1 still", cur)
	}
}

func versionOf(rel *target.Release) string {
	if rel == nil {
		return ""
	}
	return rel.Version
}

// repoint renames a link to dest over current, as someone on the server would.
func repoint(t testing.TB, app, dest string) {
	t.Helper()
	tmp := filepath.Join(app, "current.by-hand")
	if err := os.Symlink(dest, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(app, "current")); err != nil {
		t.Fatal(err)
	}
}

// breakHealth makes the release in dir fail its smoke test from now on.
func breakHealth(t testing.TB, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "health"), []byte("fail"), 0o644); err != nil {
		t.Fatal(err)
	}
}
