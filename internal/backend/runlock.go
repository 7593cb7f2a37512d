package backend

import (
	"context"
	"errors"
	"fmt"
)

// OperationRunLock is the Operation of a lock acquired by the ephemeral
// release_environment_lock: a lock that exists for one Terraform run only.
const OperationRunLock = "ephemeral release_environment_lock"

// ReleaseRunLock frees the environment's lock when it is still the run-scoped lock
// with token, recording actor and reason in the history (a lock_released event). A
// deployment that fails calls it with the token of its run's lock, because Terraform
// does not close an ephemeral resource when a resource that used it failed, and the
// next run must find the environment free.
//
// It never frees a lock held across runs (a release_environment_lock kept during
// manual validation, RunScoped false) nor a lock someone else holds now (another
// token): then it changes nothing and returns false. A lock already released (by
// this call earlier, or by the run's Close) is not an error either: false, nil. When
// the lock was released but its history entry could not be written, it returns
// true and the error.
func ReleaseRunLock(ctx context.Context, b Locks, environment string, token int64, actor, reason string) (bool, error) {
	if token <= 0 {
		return false, nil
	}
	l, err := b.Inspect(ctx, environment)
	if err != nil || l == nil || l.Token != token || !l.RunScoped {
		return false, err
	}
	detail := fmt.Sprintf("released the run lock of %s (token %d)", l.Holder, l.Token)
	if reason != "" {
		detail += ": " + reason
	}
	// Released by id: a lock acquired since the Inspect (after this one expired) has
	// another id and is left alone.
	released, err := b.ReleaseBy(ctx, environment, l.ID, actor, detail)
	switch {
	case errors.Is(err, ErrNotHolder):
		return false, nil
	case err != nil:
		return released.ID != "", err
	}
	return true, nil
}
