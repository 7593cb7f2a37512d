package scalingo

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// outputTailLines is how many lines of a failed deployment's output go in errors.
const outputTailLines = 30

func poll(ctx context.Context, interval time.Duration, what string, fn func() (bool, error)) error {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		done, err := fn()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// WaitDeployment polls a deployment until it leaves queued/building/pushing/starting.
// It returns the deployment on success, and a *DeploymentFailedError holding the end
// of the output for any other final status. progress, when not nil, is called on
// every status change.
func (c *Client) WaitDeployment(ctx context.Context, app, id string, interval time.Duration, progress func(*Deployment)) (*Deployment, error) {
	var last *Deployment
	var lastStatus DeploymentStatus
	err := poll(ctx, interval, "deployment "+id+" of "+app, func() (bool, error) {
		d, err := c.Deployment(ctx, app, id)
		if err != nil {
			return false, err
		}
		last = d
		if d.Status != lastStatus && progress != nil {
			progress(d)
		}
		lastStatus = d.Status
		return d.IsFinished(), nil
	})
	if err != nil {
		return last, err
	}
	if last.Status == StatusSuccess {
		return last, nil
	}
	fe := &DeploymentFailedError{App: app, ID: id, GitRef: last.GitRef, Status: last.Status}
	if out, oerr := c.DeploymentLogs(ctx, app, id); oerr == nil {
		fe.OutputTail = Tail(out, outputTailLines)
	} else {
		fe.OutputTail = "(output unavailable: " + oerr.Error() + ")"
	}
	return last, fe
}

// WaitOperation polls an operation until it is done (nil) or in error
// (*OperationFailedError).
func (c *Client) WaitOperation(ctx context.Context, app, id string, interval time.Duration) (*Operation, error) {
	var last *Operation
	err := poll(ctx, interval, "operation "+id+" of "+app, func() (bool, error) {
		op, err := c.OperationsShow(ctx, app, id)
		if err != nil {
			return false, err
		}
		last = op
		return op.Status == OperationStatusDone || op.Status == OperationStatusError, nil
	})
	if err != nil {
		return last, err
	}
	if last.Status == OperationStatusError {
		return last, &OperationFailedError{App: app, ID: id, Type: last.Type, Err: last.Error}
	}
	return last, nil
}

// WaitBackup polls a backup until it is done (nil) or in error (*BackupFailedError).
func (c *Client) WaitBackup(ctx context.Context, app, addonID, id string, interval time.Duration) (*Backup, error) {
	var last *Backup
	err := poll(ctx, interval, "backup "+id+" of "+addonID, func() (bool, error) {
		b, err := c.BackupShow(ctx, app, addonID, id)
		if err != nil {
			return false, err
		}
		last = b
		return b.Status == BackupStatusDone || b.Status == BackupStatusError, nil
	})
	if err != nil {
		return last, err
	}
	if last.Status == BackupStatusError {
		return last, &BackupFailedError{AddonID: addonID, ID: id}
	}
	return last, nil
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// BackupDatabase takes a manual backup of an app's database addon, named by addon
// id or provider ("postgresql"), and waits until it is done.
func (c *Client) BackupDatabase(ctx context.Context, app, addonRef string, interval time.Duration) (*Backup, error) {
	addon, err := c.FindAddon(ctx, app, addonRef)
	if err != nil {
		return nil, err
	}
	b, err := c.BackupCreate(ctx, app, addon.ID)
	if err != nil {
		return nil, err
	}
	return c.WaitBackup(ctx, app, addon.ID, b.ID, interval)
}
