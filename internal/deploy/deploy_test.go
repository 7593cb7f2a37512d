package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/check"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

func (f *fixture) smoke() *check.HTTPCheck {
	return &check.HTTPCheck{URL: f.server.URL + "/health", ExpectStatus: 200, BodyContains: "ok", Attempts: 2, Interval: 10 * time.Millisecond, Timeout: 2 * time.Second}
}

func mustDeploy(t *testing.T, req Request) Result {
	t.Helper()
	res, err := Deploy(context.Background(), req)
	if err != nil {
		t.Fatalf("deploy %s: %v", req.Version, err)
	}
	return res
}

func TestDeploySuccessRecordsHistory(t *testing.T) {
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	obj := f.publish("1.0.1", "ok")
	req := f.request("1.0.0")
	req.SmokeTest = f.smoke()
	r1 := mustDeploy(t, req)
	if r1.Previous != nil || r1.Live == nil || r1.Live.Version != "1.0.0" || !r1.Activated {
		t.Fatalf("first deploy result: %+v", r1)
	}
	req = f.request("1.0.1")
	req.SHA256 = obj.SHA256
	req.SmokeTest = f.smoke()
	r2 := mustDeploy(t, req)
	if r2.Previous.Version != "1.0.0" || r2.Live.Version != "1.0.1" || r2.Live.SHA256 != obj.SHA256 || r2.Reused {
		t.Fatalf("second deploy result: %+v", r2)
	}
	if got := f.serving(); got != "version 1.0.1" {
		t.Fatalf("serving %q", got)
	}
	evs, err := f.backend.History(context.Background(), backend.HistoryQuery{Environment: "staging", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	if ev.Kind != backend.KindDeployed || ev.Version != "1.0.1" || ev.SHA256 != obj.SHA256 || ev.GitCommit != "c0ffee1.0.1" || ev.Actor != "tester" || ev.Name != "app" {
		t.Fatalf("deployed event: %+v", ev)
	}
}

func TestDeployRefusals(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(f *fixture, req *Request)
		step  string
		is    error
		in    string
	}{
		{
			name: "stale lock token",
			setup: func(f *fixture, req *Request) {
				l, err := f.backend.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "a"})
				if err != nil {
					t.Fatal(err)
				}
				req.Lock, req.LockToken = LockToken, l.Token
				if err := f.backend.Release(ctx, "staging", l.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := f.backend.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "b"}); err != nil {
					t.Fatal(err)
				}
			},
			step: "fence", is: backend.ErrStaleToken, in: "is stale",
		},
		{
			name: "blocked version",
			setup: func(f *fixture, req *Request) {
				if err := f.backend.SetBlock(ctx, backend.Block{Name: "app", Version: "1.0.1", Reason: "corrupts invoices", BlockedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
			},
			step: "blocked", is: ErrBlocked, in: "corrupts invoices",
		},
		{
			name:  "expected sha256 differs from the store's",
			setup: func(f *fixture, req *Request) { req.SHA256 = strings.Repeat("0", 64) },
			step:  "verify", is: store.ErrChecksumMismatch, in: "does not match",
		},
		{
			name: "stored bytes corrupted",
			setup: func(f *fixture, req *Request) {
				p := filepath.Join(f.store.Root(), filepath.FromSlash(store.DataPath("app", "1.0.1")))
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)-1] ^= 0xff // same size, other bytes: only the streamed hash sees it
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			step: "", is: store.ErrChecksumMismatch, in: "Nothing was changed",
		},
		{
			name:  "missing artifact",
			setup: func(f *fixture, req *Request) { req.Version = "9.9.9" },
			step:  "fetch", is: store.ErrNotFound, in: "Could not find app@9.9.9",
		},
		{
			name: "failing before_switch hook",
			setup: func(f *fixture, req *Request) {
				req.Hooks.BeforeSwitch = []string{"true", "echo migration broke >&2; exit 3"}
			},
			step: "before_switch", is: ErrHook, in: "migration broke",
		},
		{
			name:  "failing backup",
			setup: func(f *fixture, req *Request) { req.BackupCommand = "echo no database >&2; exit 1" },
			step:  "backup", is: ErrBackup, in: "no database",
		},
		{
			name: "failing backup function",
			setup: func(f *fixture, req *Request) {
				req.BackupName = "the Scalingo backup of postgresql"
				req.BackupFunc = "a backup of postgresql"
				req.Backup = func(context.Context) (string, error) { return "", errors.New("backup ended in error") }
			},
			step: "backup", is: ErrBackup, in: "Taking the Scalingo backup of postgresql failed: backup ended in error",
		},
		{
			name: "backup function returns no id",
			setup: func(f *fixture, req *Request) {
				req.BackupFunc = "a backup"
				req.Backup = func(context.Context) (string, error) { return "", nil }
			},
			step: "backup", is: ErrBackup, in: "no backup id",
		},
		{
			name:  "backup writes no file",
			setup: func(f *fixture, req *Request) { req.BackupCommand = "true" },
			step:  "backup", is: ErrBackup, in: "did not write",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newUpgradeFixture(t)
			before := f.releases()
			req := f.request("1.0.1")
			tc.setup(f, &req)
			res, err := Deploy(ctx, req)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if tc.step != "" && de.Step != tc.step {
				t.Errorf("step %q, want %q", de.Step, tc.step)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.in) {
				t.Errorf("err = %q, want it to mention %q", err, tc.in)
			}
			if got := f.serving(); got != "version 1.0.0" {
				t.Errorf("serving %q after a refused deploy", got)
			}
			if after := f.releases(); !slices.Equal(before, after) {
				t.Errorf("releases changed: %v -> %v", before, after)
			}
			if res.Live == nil || res.Live.Version != "1.0.0" || res.Activated {
				t.Errorf("result live = %+v activated=%v, want 1.0.0 untouched", res.Live, res.Activated)
			}
		})
	}
}

func TestDeployAllowBlocked(t *testing.T) {
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	if err := f.backend.SetBlock(context.Background(), backend.Block{Name: "app", Version: "1.0.0", Reason: "known bad", BlockedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	req := f.request("1.0.0")
	req.AllowBlocked = true
	mustDeploy(t, req)
	if f.serving() != "version 1.0.0" {
		t.Fatal("allow_blocked did not deploy")
	}
}

func TestDeployHooksAndBackup(t *testing.T) {
	f := newUpgradeFixture(t)
	out := filepath.Join(f.root, "hooks.log")
	req := f.request("1.0.1")
	req.Hooks.BeforeSwitch = []string{`echo "before $RELEASE_VERSION $RELEASE_PREVIOUS_VERSION $(pwd) $RELEASE_PATH $(cat current-version 2>/dev/null || readlink ../../current)" >> ` + out}
	req.Hooks.AfterSwitch = []string{`echo "after $(readlink ../../current)" >> ` + out}
	req.BackupCommand = `printf 'dump of %s' "$RELEASE_PREVIOUS_VERSION" > "$RELEASE_BACKUP_FILE"`
	req.Now = func() time.Time { return time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC) }
	res := mustDeploy(t, req)

	log, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	dir := res.Release.Path
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	wantBefore := "before 1.0.1 1.0.0 " + dir + " " + dir + " releases/" + res.Previous.ID
	if len(lines) != 2 || lines[0] != wantBefore || lines[1] != "after releases/"+res.Release.ID {
		t.Fatalf("hooks saw:\n%s\nwant:\n%s\nafter releases/%s", log, wantBefore, res.Release.ID)
	}
	// Named after the release whose data it holds: 1.0.0, live when it ran.
	if res.Backup == nil || res.Backup.ID() != "app-backup@1.0.0+20250304T050607Z" || res.BackupID != res.Backup.ID() {
		t.Fatalf("backup = %+v, id %q", res.Backup, res.BackupID)
	}
	if m := res.Backup.Metadata; m["holds_version"] != "1.0.0" || m["deploying"] != "app@1.0.1" {
		t.Fatalf("backup metadata = %v, want holds_version 1.0.0 and deploying app@1.0.1", m)
	}
	if res.Backup.SHA256 != sha256hex([]byte("dump of 1.0.0")) {
		t.Fatalf("backup sha256 %s does not match the file written", res.Backup.SHA256)
	}
	if _, err := f.store.Verify(context.Background(), "app-backup", "1.0.0+20250304T050607Z"); err != nil {
		t.Fatal(err)
	}
}

// A first deploy has no live release to run the backup in: the command runs in an
// empty folder, and the file it writes is elsewhere, so archiving "." is safe.
func TestDeployFirstBackupArchivesAnEmptyFolder(t *testing.T) {
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	req := f.request("1.0.0")
	req.BackupCommand = `case "$RELEASE_BACKUP_FILE" in "$PWD"/*) echo "backup file inside the working folder" >&2; exit 1;; esac
[ -z "$(ls -A .)" ] || { echo "working folder not empty" >&2; exit 1; }
tar -czf "$RELEASE_BACKUP_FILE" .`
	res := mustDeploy(t, req)
	if res.Backup == nil || res.Backup.Size == 0 {
		t.Fatalf("backup = %+v", res.Backup)
	}
}

func TestDeployBackupFunc(t *testing.T) {
	f := newUpgradeFixture(t)
	req := f.request("1.0.1")
	var sawServing string
	req.BackupFunc = "a backup of the database"
	req.Backup = func(ctx context.Context) (string, error) {
		// Runs once the new release is prepared and verified, before the switch.
		sawServing = f.serving()
		return "bk-42", nil
	}
	res := mustDeploy(t, req)
	if res.BackupID != "bk-42" || res.Backup != nil {
		t.Fatalf("backup id %q, stored backup %+v; want bk-42 and no stored file", res.BackupID, res.Backup)
	}
	if sawServing != "version 1.0.0" {
		t.Fatalf("the backup ran while %q was serving, want before the switch", sawServing)
	}
	if f.serving() != "version 1.0.1" {
		t.Fatalf("serving %q after the deployment", f.serving())
	}

	both := f.request("1.0.0")
	both.BackupCommand = "true"
	both.Backup = req.Backup
	if _, err := Deploy(context.Background(), both); err == nil || !strings.Contains(err.Error(), "exclusive") {
		t.Fatalf("BackupCommand with Backup: err = %v, want a refusal", err)
	}
}

func TestDeploySmokeFailureRollsBack(t *testing.T) {
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "ok")
	f.publish("1.0.2", "fail")
	mustDeploy(t, f.request("1.0.0"))
	prev := mustDeploy(t, f.request("1.0.1"))
	req := f.request("1.0.2")
	req.SmokeTest = f.smoke()
	res, err := Deploy(context.Background(), req)
	if !errors.Is(err, ErrSmokeTest) {
		t.Fatalf("err = %v, want a smoke test failure", err)
	}
	msg := err.Error()
	for _, want := range []string{"The smoke test", f.server.URL + "/health", "The previous release 1.0.1 was restored and is serving."} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if !res.RolledBack || res.Live == nil || res.Live.ID != prev.Live.ID {
		t.Fatalf("result: rolled back %v, live %+v; want %s", res.RolledBack, res.Live, prev.Live.ID)
	}
	if got := f.serving(); got != "version 1.0.1" {
		t.Fatalf("serving %q, want the restored 1.0.1", got)
	}
	if got, want := f.kinds(), []string{"deployed 1.0.0", "deployed 1.0.1", "failed 1.0.2", "rolled_back 1.0.1"}; !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	// The failed release stays for inspection; pruning keeps it.
	rels, _ := f.target.Releases(context.Background())
	failed := 0
	for _, r := range rels {
		if r.Failed {
			failed++
			if r.Version != "1.0.2" {
				t.Fatalf("release %s marked failed", r.ID)
			}
		}
	}
	if failed != 1 {
		t.Fatalf("%d failed releases recorded, want 1", failed)
	}
}

func TestDeployFailureWithoutRollbackOrPrevious(t *testing.T) {
	t.Run("rollback_on_failure false keeps the new release live", func(t *testing.T) {
		f := newFixture(t)
		f.publish("1.0.0", "ok")
		f.publish("1.0.1", "fail")
		mustDeploy(t, f.request("1.0.0"))
		req := f.request("1.0.1")
		req.SmokeTest = f.smoke()
		req.RollbackOnFailure = false
		res, err := Deploy(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), "stays live") {
			t.Fatalf("err = %v", err)
		}
		if res.Live.Version != "1.0.1" || f.serving() != "version 1.0.1" {
			t.Fatalf("live %+v, serving %q", res.Live, f.serving())
		}
	})
	t.Run("failed first deploy serves nothing", func(t *testing.T) {
		f := newFixture(t)
		f.publish("1.0.0", "fail")
		req := f.request("1.0.0")
		req.SmokeTest = f.smoke()
		res, err := Deploy(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), "serves nothing") {
			t.Fatalf("err = %v", err)
		}
		if res.Live != nil || f.serving() != "" {
			t.Fatalf("live %+v, serving %q; want nothing", res.Live, f.serving())
		}
	})
	t.Run("failing after_switch hook rolls back", func(t *testing.T) {
		f := newUpgradeFixture(t)
		req := f.request("1.0.1")
		req.Hooks.AfterSwitch = []string{"exit 7"}
		res, err := Deploy(context.Background(), req)
		if !errors.Is(err, ErrHook) || res.Live.Version != "1.0.0" || f.serving() != "version 1.0.0" {
			t.Fatalf("err %v, live %+v, serving %q", err, res.Live, f.serving())
		}
	})
}

func TestDeployRollbackByVersionReusesTheRelease(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "ok")
	first := mustDeploy(t, f.request("1.0.0"))
	mustDeploy(t, f.request("1.0.1"))
	// The bytes are no longer in the store: going back must not need them.
	if err := f.store.Delete(ctx, "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	req := f.request("1.0.0")
	req.SHA256 = first.Live.SHA256
	res := mustDeploy(t, req)
	if !res.Reused || res.Live.ID != first.Live.ID {
		t.Fatalf("rollback did not reuse %s: %+v", first.Live.ID, res)
	}
	if f.serving() != "version 1.0.0" {
		t.Fatalf("serving %q", f.serving())
	}
}

func TestDeployPrunes(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 8; i++ {
		v := "1.0." + string(rune('0'+i))
		f.publish(v, "ok")
		req := f.request(v)
		req.KeepReleases = 3
		mustDeploy(t, req)
	}
	if got := f.releases(); len(got) != 6 { // 3 folders + their 3 metadata files
		t.Fatalf("releases after pruning: %v", got)
	}
}

// fencingBackend hands out a different current token after the first check, as if
// the lock were taken over while hooks ran.
type fencingBackend struct {
	backend.Backend
	calls int
}

func (b *fencingBackend) CurrentToken(ctx context.Context, env string) (int64, error) {
	b.calls++
	if b.calls > 1 {
		return 99, nil
	}
	return 7, nil
}

func TestDeployFencesAgainBeforeTheSwitch(t *testing.T) {
	f := newUpgradeFixture(t)
	req := f.request("1.0.1")
	req.Backend = &fencingBackend{Backend: f.backend}
	req.Lock, req.LockToken = LockToken, 7
	before := f.releases()
	_, err := Deploy(context.Background(), req)
	var de *Error
	if !errors.As(err, &de) || de.Step != "fence" || !strings.Contains(err.Error(), "switch did not happen") {
		t.Fatalf("err = %v", err)
	}
	if f.serving() != "version 1.0.0" || !slices.Equal(before, f.releases()) {
		t.Fatalf("serving %q, releases %v", f.serving(), f.releases())
	}
}
