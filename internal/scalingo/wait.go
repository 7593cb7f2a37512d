package scalingo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// outputTailLines is how many lines of a failed deployment's output go in errors.
const outputTailLines = 30

// maxIdleGrowth bounds how much polling slows down while nothing changes.
const maxIdleGrowth = 8

// poll calls fn until it is done. The interval adapts: it grows by half each
// time the state fn reports is unchanged (up to 8 times interval) and doubles
// while more than half of the request budget is used, so that long builds and
// many parallel waits leave room for the requests that matter.
func (c *Client) poll(ctx context.Context, interval time.Duration, what string, fn func() (bool, string, error)) error {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	idle, last := 0, ""
	for {
		done, state, err := fn()
		if err != nil || done {
			return err
		}
		if state == last {
			idle++
		} else {
			idle, last = 0, state
		}
		t := time.NewTimer(c.nextInterval(interval, idle))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("stopped waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// nextInterval is the wait before the next poll after idle unchanged polls.
func (c *Client) nextInterval(interval time.Duration, idle int) time.Duration {
	d := float64(interval) * math.Min(math.Pow(1.5, float64(idle)), maxIdleGrowth)
	if c.limiter.load() > 0.5 {
		d *= 2
	}
	return time.Duration(d)
}

// WaitDeployment polls a deployment until it leaves queued/building/pushing/starting.
// It returns the deployment on success, and a *DeploymentFailedError holding the end
// of the output for any other final status. progress, when not nil, is called on
// every status change.
func (c *Client) WaitDeployment(ctx context.Context, app, id string, interval time.Duration, progress func(*Deployment)) (*Deployment, error) {
	var last *Deployment
	var lastStatus DeploymentStatus
	err := c.poll(ctx, interval, "deployment "+id+" of "+app, func() (bool, string, error) {
		d, err := c.Deployment(ctx, app, id)
		if err != nil {
			return false, "", err
		}
		last = d
		if d.Status != lastStatus && progress != nil {
			progress(d)
		}
		lastStatus = d.Status
		return d.IsFinished(), string(d.Status), nil
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
	err := c.poll(ctx, interval, "operation "+id+" of "+app, func() (bool, string, error) {
		op, err := c.OperationsShow(ctx, app, id)
		if err != nil {
			return false, "", err
		}
		last = op
		return op.Status == OperationStatusDone || op.Status == OperationStatusError, op.Status, nil
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
	err := c.poll(ctx, interval, "backup "+id+" of "+addonID, func() (bool, string, error) {
		b, err := c.BackupShow(ctx, app, addonID, id)
		if err != nil {
			return false, "", err
		}
		last = b
		return b.Status == BackupStatusDone || b.Status == BackupStatusError, string(b.Status), nil
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

// RestartRefusedError is a restart the API refused (422): the app is not
// running, or it was still restarting when the wait ended. Nothing restarted.
type RestartRefusedError struct {
	App    string
	Reason string
}

func (e *RestartRefusedError) Error() string {
	return fmt.Sprintf("Scalingo refused to restart %s: %s", e.App, e.Reason)
}

// IsRestarting reports whether err is the API's 422 "app is restarting".
func IsRestarting(err error) bool {
	var ue *UnprocessableEntityError
	if !errors.As(err, &ue) {
		return false
	}
	for _, m := range ue.Errors["app"] {
		if strings.Contains(m, "is restarting") {
			return true
		}
	}
	return false
}

// AppsRestartAndWait restarts an app and waits for the restart operation. While
// the app is already restarting (422 "is restarting") it waits and asks again
// until ctx ends; any other refusal, or still restarting at the end, is a
// *RestartRefusedError. An operation that ends in error is an
// *OperationFailedError.
func (c *Client) AppsRestartAndWait(ctx context.Context, app string, params *AppsRestartParams, interval time.Duration) (*Operation, error) {
	var opID string
	err := c.poll(ctx, interval, "the restart of "+app, func() (bool, string, error) {
		id, err := c.AppsRestart(ctx, app, params)
		switch {
		case err == nil:
			opID = id
			return true, "", nil
		case IsRestarting(err):
			return false, "restarting", nil
		case StatusCode(err) == http.StatusUnprocessableEntity:
			var ue *UnprocessableEntityError
			errors.As(err, &ue)
			return false, "", &RestartRefusedError{App: app, Reason: ue.Error()}
		}
		return false, "", err
	})
	if err != nil {
		var rr *RestartRefusedError
		if opID == "" && !errors.As(err, &rr) && ctx.Err() != nil {
			return nil, &RestartRefusedError{App: app, Reason: "it was still restarting when the wait ended (" + ctx.Err().Error() + ")"}
		}
		return nil, err
	}
	return c.WaitOperation(ctx, app, opID, interval)
}
