// Package shell is the one runner for server-side commands on this machine:
// deployment hooks and backup commands (internal/deploy), and the nginx test and
// reload commands of the router and the maintenance page (internal/nginxconf,
// through host.Local), so they are all started, capped, timed out and killed the
// same way. Code that may run on a remote host calls host.Host.Run, whose Local
// implementation is this package.
//
// A command runs with `sh -c` in a process group of its own. When its context is
// cancelled or its deadline passes, the whole group is killed (SIGKILL to -pgid),
// so a migration or a `sleep` started in the background by the script does not
// outlive it; leftovers still running when the script itself exits are killed
// too. The group is led by a small watchdog process that kills the group when
// the pipe from this process closes, which happens also when this process is
// killed with SIGKILL; on Linux the script's shell also gets Pdeathsig=SIGKILL.
// Only the last DefaultMaxOutput bytes of output are kept: enough to explain a
// failure, never a gigabyte of logs in memory.
package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultMaxOutput is how many bytes of output Run keeps when Command.MaxOutput is 0.
const DefaultMaxOutput = 2048

// Errors callers can test with errors.Is.
var (
	// ErrTimedOut means the command ran past Command.Timeout or its context's
	// deadline and was killed with every process it started.
	ErrTimedOut = errors.New("timed out")
	// ErrCancelled means the context was cancelled while the command ran, and it
	// was killed with every process it started.
	ErrCancelled = errors.New("cancelled")
)

// Command is one shell command.
type Command struct {
	// Script is run with `sh -c`.
	Script string
	// Dir is the working directory (empty: this process's own).
	Dir string
	// Env is added to this process's environment (later entries win).
	Env []string
	// Timeout bounds the command on top of the context's own deadline (0: none).
	Timeout time.Duration
	// MaxOutput is how many bytes of combined stdout and stderr are kept, the
	// last ones (0: DefaultMaxOutput).
	MaxOutput int
}

// StoppedError says that a command was killed before it ended by itself, because
// of a timeout or a cancellation. It matches ErrTimedOut or ErrCancelled, and the
// context error, with errors.Is.
type StoppedError struct {
	// TimedOut is true for a timeout, false for a cancellation.
	TimedOut bool
	// After is the time limit that was reached (Command.Timeout), or how long the
	// command had run when its context ended (Limit false).
	After time.Duration
	// Limit is true when After is Command.Timeout, the command's own limit.
	Limit bool
}

func (e *StoppedError) Error() string {
	switch {
	case e.TimedOut && e.Limit:
		return fmt.Sprintf("timed out after %s and was killed with every process it started", e.After)
	case e.TimedOut:
		return fmt.Sprintf("timed out after running %s and was killed with every process it started", e.After)
	}
	return fmt.Sprintf("was cancelled after %s and was killed with every process it started", e.After)
}

// Is makes errors.Is match ErrTimedOut and context.DeadlineExceeded, or
// ErrCancelled and context.Canceled.
func (e *StoppedError) Is(target error) bool {
	if e.TimedOut {
		return target == ErrTimedOut || target == context.DeadlineExceeded
	}
	return target == ErrCancelled || target == context.Canceled
}

// waitGrace bounds how long Run waits, after the script ended or was killed, for
// its output pipe to close (a process that left the group with setsid may hold it).
const waitGrace = 2 * time.Second

// Run runs c and returns the tail of its combined output. A command that exits
// with a non-zero status returns an *exec.ExitError; one that was killed because
// ctx ended or c.Timeout passed returns a *StoppedError.
func Run(ctx context.Context, c Command) (string, error) {
	parent := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return "", Stopped(parent, ctx, c.Timeout, 0)
	}
	limit := c.MaxOutput
	if limit <= 0 {
		limit = DefaultMaxOutput
	}
	out := NewTail(limit)

	pr, pw, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("create the output pipe: %w", err)
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, pr)
		close(copied)
	}()
	finishOutput := func() string {
		_ = pw.Close()
		select {
		case <-copied:
		case <-time.After(waitGrace):
			_ = pr.Close() // unblocks the copy
			<-copied
		}
		_ = pr.Close()
		return out.String()
	}

	g, err := newGroup()
	if err != nil {
		finishOutput()
		return "", fmt.Errorf("start the command's process group: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", c.Script)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = g.attr()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		g.kill()
		g.release()
		finishOutput()
		return "", fmt.Errorf("start sh: %w", err)
	}
	_ = pw.Close() // the children hold the write end now

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var runErr error
	select {
	case runErr = <-done:
	case <-ctx.Done():
		g.kill()
		_ = cmd.Process.Kill() // already dead with its group where there are groups
		select {
		case werr := <-done:
			_ = werr // the exit status of a killed script says nothing more
		case <-time.After(waitGrace):
		}
		runErr = Stopped(parent, ctx, c.Timeout, time.Since(started))
	}
	// Whatever the script left running in the background goes with it.
	g.kill()
	g.release()
	return finishOutput(), runErr
}

// Stopped builds the error for a command whose context ended: ctx is the
// command's context, parent the one it was derived from (to tell the command's
// own timeout from its caller's), timeout the command's own limit (0: none) and
// ran how long it had run. Every host returns it, so callers match ErrTimedOut
// and ErrCancelled whichever host ran the command.
func Stopped(parent, ctx context.Context, timeout, ran time.Duration) *StoppedError {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &StoppedError{After: round(ran)}
	}
	if timeout > 0 && parent.Err() == nil {
		return &StoppedError{TimedOut: true, After: timeout, Limit: true}
	}
	return &StoppedError{TimedOut: true, After: round(ran)}
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// TailBuffer is an io.Writer that keeps the last bytes written, up to a cap, so
// every host caps a command's output alike. It is safe for concurrent use.
type TailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
	cut bool
}

// NewTail returns a TailBuffer that keeps the last n bytes written.
func NewTail(n int) *TailBuffer {
	return &TailBuffer{max: n}
}

// Write keeps p, dropping what falls out of the cap; it never fails.
func (t *TailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	// Trim only once the buffer is twice the cap, so a chatty command costs an
	// amortised copy, not one per write.
	if len(t.b) > 2*t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
		t.cut = true
	}
	return len(p), nil
}

// String returns the kept output, trimmed, with a leading "…" when the start
// was dropped.
func (t *TailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, cut := t.b, t.cut
	if len(b) > t.max {
		b, cut = b[len(b)-t.max:], true
	}
	if cut {
		// Start at a line when one begins early enough, and never in the middle
		// of a UTF-8 sequence.
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)/4 {
			b = b[i+1:]
		}
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
			b = b[1:]
		}
	}
	s := strings.TrimSpace(string(b))
	if cut && s != "" {
		s = "…" + s
	}
	return s
}
