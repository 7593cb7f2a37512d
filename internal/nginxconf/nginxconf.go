// Package nginxconf is the one way the provider changes an nginx configuration
// file: the blue/green router's upstream include and the maintenance snippet both
// go through Apply, so they write, test, reload and restore the same way.
//
// Apply writes the new content to a temporary file and renames it over the file
// (host.Host.WriteFile), runs the test command, then the reload command. When the
// test or the reload fails, the previous content is put back (or the new file
// removed when there was none before) and, when the reload had been attempted,
// nginx is reloaded again so it serves the restored file. The error names the
// stage that failed, the command, its output, and what was left in place.
//
// The test command: an empty TestCommand means DefaultTestCommand, and SkipTest
// ("-") skips the test. Skipping is discouraged: `nginx -s reload` alone does not
// report a configuration nginx rejects, it keeps the old one silently.
package nginxconf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// DefaultTestCommand validates the system nginx configuration.
const DefaultTestCommand = "nginx -t -q"

// DefaultReloadCommand reloads the system nginx.
const DefaultReloadCommand = "nginx -s reload"

// SkipTest, as a test command, skips the configuration test.
const SkipTest = "-"

// Stage names the step of Apply that failed.
type Stage string

// Stages of Apply.
const (
	StageWrite  Stage = "write"
	StageTest   Stage = "test_command"
	StageReload Stage = "reload_command"
)

// Change is one change of an nginx configuration file.
type Change struct {
	// File is the configuration file's absolute path on the host.
	File string
	// Content replaces the file; Remove deletes it instead.
	Content []byte
	Remove  bool
	// TestCommand validates the configuration (sh -c). Empty means
	// DefaultTestCommand; SkipTest skips the test.
	TestCommand string
	// ReloadCommand reloads nginx (sh -c). Empty means DefaultReloadCommand.
	ReloadCommand string
}

// Test returns the test command Apply runs ("" when the test is skipped).
func (c Change) Test() string {
	switch c.TestCommand {
	case "":
		return DefaultTestCommand
	case SkipTest:
		return ""
	}
	return c.TestCommand
}

// Reload returns the reload command Apply runs.
func (c Change) Reload() string {
	if c.ReloadCommand == "" {
		return DefaultReloadCommand
	}
	return c.ReloadCommand
}

// Error is a failed Apply.
type Error struct {
	Stage Stage
	File  string
	// Command and Output (its tail) are set for test and reload failures.
	Command, Output string
	Err             error
	// HadPrevious says the file existed before Apply; Restored that the previous
	// content (or the file's absence) was put back; RestoreErr is why not.
	HadPrevious bool
	Restored    bool
	RestoreErr  error
}

func (e *Error) Error() string {
	var b strings.Builder
	switch e.Stage {
	case StageWrite:
		fmt.Fprintf(&b, "writing %s failed: %v", e.File, e.Err)
	case StageTest:
		fmt.Fprintf(&b, "the nginx configuration test (test_command %q) failed: %v", e.Command, e.Err)
	default:
		fmt.Fprintf(&b, "the nginx reload (reload_command %q) failed: %v", e.Command, e.Err)
	}
	if e.Output != "" {
		fmt.Fprintf(&b, ": %s", e.Output)
	}
	var rre *restoredReloadError
	switch {
	case e.Stage == StageWrite:
	case errors.As(e.RestoreErr, &rre) && e.HadPrevious:
		fmt.Fprintf(&b, "; the previous %s was put back, but %v: check nginx by hand", e.File, rre)
	case errors.As(e.RestoreErr, &rre):
		fmt.Fprintf(&b, "; %s was removed again, but %v: check nginx by hand", e.File, rre)
	case e.RestoreErr != nil:
		fmt.Fprintf(&b, "; putting the previous %s back failed too (%v): check it by hand", e.File, e.RestoreErr)
	case e.HadPrevious:
		fmt.Fprintf(&b, "; the previous %s was put back and nginx keeps serving as before", e.File)
	default:
		fmt.Fprintf(&b, "; %s was removed again and nginx keeps serving as before", e.File)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Apply makes c on h: write (or remove), test, reload; on a failed test or reload
// the previous state of the file is restored (and nginx reloaded again when the
// failed step was the reload). It returns the reload's output.
func Apply(ctx context.Context, h host.Host, c Change) (string, error) {
	previous, err := h.ReadFile(ctx, c.File)
	hadPrevious := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", &Error{Stage: StageWrite, File: c.File, Err: err}
	}
	if c.Remove && !hadPrevious {
		return "", nil
	}
	if c.Remove {
		err = h.Remove(ctx, c.File)
	} else {
		err = h.WriteFile(ctx, c.File, c.Content, 0o644)
	}
	if err != nil {
		return "", &Error{Stage: StageWrite, File: c.File, Err: err, HadPrevious: hadPrevious}
	}
	fail := func(stage Stage, command, output string, err error) error {
		e := &Error{Stage: stage, File: c.File, Command: command, Output: output, Err: err, HadPrevious: hadPrevious}
		e.RestoreErr = restore(ctx, h, c, previous, hadPrevious, stage == StageReload)
		e.Restored = e.RestoreErr == nil
		logging.Warn(ctx, "nginx configuration restored after a failed "+string(stage),
			"file", c.File, "host", h.Name(), "restored", e.Restored)
		return e
	}
	if test := c.Test(); test != "" {
		if out, err := h.Run(ctx, host.Command{Script: test}); err != nil {
			return "", fail(StageTest, test, out, err)
		}
	}
	out, err := h.Run(ctx, host.Command{Script: c.Reload()})
	if err != nil {
		return "", fail(StageReload, c.Reload(), out, err)
	}
	logging.Info(ctx, "nginx reloaded", "file", c.File, "host", h.Name())
	return out, nil
}

// restore puts the file back as it was before Apply. It runs even when ctx was
// cancelled: leaving a rejected configuration in place is worse than finishing.
func restore(ctx context.Context, h host.Host, c Change, previous []byte, hadPrevious, reload bool) error {
	ctx = context.WithoutCancel(ctx)
	var err error
	switch {
	case hadPrevious:
		err = h.WriteFile(ctx, c.File, previous, 0o644)
	case !c.Remove:
		err = h.Remove(ctx, c.File)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	}
	if err != nil || !reload {
		return err
	}
	// The failed reload may have been half-applied: reload the restored file.
	if out, err := h.Run(ctx, host.Command{Script: c.Reload()}); err != nil {
		return &restoredReloadError{command: c.Reload(), output: out, err: err}
	}
	return nil
}

// restoredReloadError: the file was put back, but nginx could not be reloaded
// with it.
type restoredReloadError struct {
	command, output string
	err             error
}

func (e *restoredReloadError) Error() string {
	msg := fmt.Sprintf("reloading the restored configuration (%s) failed too: %v", e.command, e.err)
	if e.output != "" {
		msg += ": " + e.output
	}
	return msg
}

func (e *restoredReloadError) Unwrap() error { return e.err }
