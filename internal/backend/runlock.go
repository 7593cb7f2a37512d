package backend

import (
	"context"
	"errors"
)

// OperationRunLock is the Operation of a lock acquired by the ephemeral
// release_environment_lock: a lock that exists for one Terraform run only.
const OperationRunLock = "ephemeral release_environment_lock"

// ReleaseRunLock frees the environment's lock when it is still the run-scoped lock
// with token, recording actor and reason in the history. A deployment that fails
// calls it with the token of its run's lock, because Terraform does not close an
// ephemeral resource whose run failed. It never frees a lock held across runs (a
// release_environment_lock kept during manual validation) nor a lock someone else
// holds now: then it changes nothing and returns false.
func ReleaseRunLock(ctx context.Context, b Backend, environment string, token int64, actor, reason string) (bool, error) {
	l, err := b.Inspect(ctx, environment)
	if err != nil || l == nil || l.Token != token || l.Operation != OperationRunLock {
		return false, err
	}
	released, err := b.ForceReleaseID(ctx, environment, l.ID, actor, reason)
	if errors.Is(err, ErrNotHolder) {
		return false, nil
	}
	return released != nil, err
}
