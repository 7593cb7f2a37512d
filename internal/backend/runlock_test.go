package backend_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

func TestReleaseRunLock(t *testing.T) {
	ctx := context.Background()
	be, err := backend.NewDirectory(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	// A lock held across runs is never released by a failed deployment.
	held, err := be.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "alice", Operation: "release_environment_lock"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := backend.ReleaseRunLock(ctx, be, "staging", held.Token, "ci", "failed"); ok || err != nil {
		t.Fatalf("released a lock held across runs: %v %v", ok, err)
	}
	if err := be.Release(ctx, "staging", held.ID); err != nil {
		t.Fatal(err)
	}
	run, err := be.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "ci", Operation: backend.OperationRunLock})
	if err != nil {
		t.Fatal(err)
	}
	// Another token (a stale one) changes nothing.
	if ok, err := backend.ReleaseRunLock(ctx, be, "staging", run.Token-1, "ci", "failed"); ok || err != nil {
		t.Fatalf("released with another token: %v %v", ok, err)
	}
	if ok, err := backend.ReleaseRunLock(ctx, be, "staging", run.Token, "ci", "the deployment failed"); !ok || err != nil {
		t.Fatalf("the run lock was not released: %v %v", ok, err)
	}
	if cur, _ := be.CurrentToken(ctx, "staging"); cur != 0 {
		t.Fatalf("the environment still has lock %d", cur)
	}
	// A re-run takes the lock at once, and a second release is a no-op.
	if _, err := be.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "ci", Operation: backend.OperationRunLock}); err != nil {
		t.Fatalf("the re-run was refused: %v", err)
	}
	if ok, err := backend.ReleaseRunLock(ctx, be, "staging", run.Token, "ci", "failed"); ok || err != nil {
		t.Fatalf("the old token released the re-run's lock: %v %v", ok, err)
	}
	evs, err := be.History(ctx, backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindLockForceReleased}, Limit: 5})
	if err != nil || len(evs) != 1 || evs[0].Actor != "ci" {
		t.Fatalf("history of the release: %+v %v", evs, err)
	}
}
