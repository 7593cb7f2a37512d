package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/releaseplan/terraform-provider-release/internal/shell"
)

// How long Run waits for a session to end: after the command reported its
// status (a daemon it started may hold the output open), and after the
// watchdog was told to kill the group (before killing it from a session of
// its own).
const (
	sshWaitGrace = 2 * time.Second
	sshStopGrace = time.Second
)

// maxCommandSessions bounds the commands one connection runs at once. OpenSSH
// refuses more than MaxSessions (10 by default) sessions per connection; SFTP
// holds one, and killGroup may need another while a command still runs, so
// further commands wait for a slot rather than fail.
const maxCommandSessions = 8

// ExitStatusError says that a command ran on a host and exited with a
// non-zero status.
type ExitStatusError struct {
	// Host is the host's name.
	Host string
	// Status is the exit status; 128+n when signal n killed the script.
	Status int
}

func (e *ExitStatusError) Error() string {
	return fmt.Sprintf("%s: command exited with status %d", e.Host, e.Status)
}

// ExitCode returns Status, as (*exec.ExitError).ExitCode does for Local.
func (e *ExitStatusError) ExitCode() int { return e.Status }

// sshWrapper runs one command on the host. It is run by /bin/sh with the
// folder as $1, the script as $2 and the NAME=value pairs to export after
// them, all passed as quoted words and never pasted into a script. It reports
// on stderr, which only it writes (the script's stderr goes to stdout with its
// stdout): its pid, which is also its process group (sshd starts every session
// in a session of its own), then the script's exit status.
//
// A watchdog in the group reads the session's stdin, which the client never
// writes: when the client closes it (cancellation, timeout) or the connection
// ends (the client was killed, the network went away), the watchdog kills the
// whole group, so nothing the script started outlives it. The wrapper kills
// the group itself once the script ends, so leftovers go with the script, as
// with Local.
const sshWrapper = `g=
if [ -r /proc/$$/stat ]; then read -r _ _ _ _ g _ </proc/$$/stat; fi
[ -n "$g" ] || g=$(ps -o pgid= -p $$ 2>/dev/null)
case " $g " in
*" $$ "*) ;;
*) echo "release-ssh nogroup" >&2; exit 125 ;;
esac
echo "release-ssh pid $$" >&2
exec 3<&0
{ read -r _ <&3; kill -9 0; } </dev/null >/dev/null 2>&1 &
exec 3<&- </dev/null
if [ -n "$1" ] && ! cd -- "$1" 2>/dev/null; then
	if [ -e "$1" ]; then echo "release-ssh chdir denied" >&2; else echo "release-ssh chdir missing" >&2; fi
	kill -9 0
fi
s=$2
shift 2
( [ $# -eq 0 ] || export "$@"; exec /bin/sh -c "$s" ) 2>&1
echo "release-ssh exit $?" >&2
kill -9 0
`

// Run implements Host. The command runs in a session of its own with no
// terminal, under sshWrapper: Env values reach it as quoted words, never as
// shell code; ctx's end or c.Timeout kills its whole process group on the
// host.
func (h *SSH) Run(ctx context.Context, c Command) (string, error) {
	parent := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	if ctx.Err() != nil {
		return "", h.stopped(parent, ctx, c.Timeout, 0)
	}
	line, err := remoteCommand(c)
	if err != nil {
		return "", h.wrap(err)
	}
	if err := h.ready(context.Background()); err != nil {
		return "", err
	}
	limit := c.MaxOutput
	if limit <= 0 {
		limit = DefaultMaxOutput
	}
	out := shell.NewTail(limit)
	ctl := newControl()
	release, err := h.commandSlot(ctx)
	if err != nil {
		return "", h.stopped(parent, ctx, c.Timeout, 0)
	}
	defer release()
	sess, err := h.newSession(ctx)
	if err != nil && ctx.Err() != nil {
		return "", h.stopped(parent, ctx, c.Timeout, 0)
	}
	if err != nil {
		if strings.Contains(err.Error(), "open failed") {
			err = fmt.Errorf("%w (the server refused another session on the connection: raise sshd's MaxSessions to at least %d)", err, maxCommandSessions+2)
		}
		return "", h.fail("open a session for the command", err)
	}
	defer func() { _ = sess.Close() }()
	stdin, err := sess.StdinPipe()
	if err != nil {
		return "", h.fail("open the command's input", err)
	}
	sess.Stdout, sess.Stderr = out, ctl
	started := time.Now()
	if err := sess.Start(line); err != nil {
		return "", h.fail("start the command", err)
	}
	// waitErr is read only once waited is closed.
	var waitErr, sessionErr error
	waited := make(chan struct{})
	go func() { waitErr = sess.Wait(); close(waited) }()
	select {
	case <-waited:
		sessionErr = waitErr
	case <-ctl.exited:
		// Done; a daemon it started may still hold the output open.
		select {
		case <-waited:
		case <-time.After(sshWaitGrace):
		}
	case <-ctx.Done():
		h.stopCommand(stdin, ctl, waited)
		return out.String(), h.stopped(parent, ctx, c.Timeout, time.Since(started))
	}
	return out.String(), h.commandResult(ctl, sessionErr, c.Dir)
}

// commandSlot waits for one of the connection's command sessions; it fails
// only when ctx ends first.
func (h *SSH) commandSlot(ctx context.Context) (release func(), err error) {
	select {
	case h.sessions <- struct{}{}:
		return func() { <-h.sessions }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// newSession opens a session, or gives up when ctx ends: on a connection that
// hangs, opening waits until the keep-alive gives up on it.
func (h *SSH) newSession(ctx context.Context) (*ssh.Session, error) {
	type opened struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		s, err := h.client.NewSession()
		// A session the server has not reaped yet still counts towards its
		// MaxSessions: a refusal right after other commands ended is retried
		// for a while before it is reported.
		for wait := 20 * time.Millisecond; sessionRefused(err) && wait < 3*time.Second && ctx.Err() == nil; wait *= 2 {
			time.Sleep(wait)
			s, err = h.client.NewSession()
		}
		ch <- opened{s, err}
	}()
	select {
	case o := <-ch:
		return o.s, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.s != nil {
				_ = o.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// sessionRefused tells whether the server refused to open a session channel
// (too many sessions on the connection).
func sessionRefused(err error) bool {
	var oce *ssh.OpenChannelError
	return errors.As(err, &oce) && oce.Reason == ssh.ConnectionFailed
}

// stopCommand kills a running command's process group: closing its input
// makes the watchdog kill it; if the session is still there after
// sshStopGrace, the group is killed from a session of its own. (An SSH
// "signal" request would not do: OpenSSH delivers it to the session's first
// process only, never to what the script started.)
//
// Every step runs aside and is waited for a bounded time: on a connection that
// hangs, sending anything blocks until the keep-alive gives up on it, and the
// caller must not wait that long.
func (h *SSH) stopCommand(stdin io.Closer, ctl *control, ended <-chan struct{}) {
	go func() { _ = stdin.Close() }()
	select {
	case <-ended:
		return
	case <-time.After(sshStopGrace):
	}
	if pid := ctl.state().pid; pid > 1 {
		go h.killGroup(pid)
	}
	select {
	case <-ended:
	case <-time.After(sshWaitGrace):
	}
}

// killGroup sends SIGKILL to the process group pgid on the host.
func (h *SSH) killGroup(pgid int) {
	sess, err := h.client.NewSession()
	if err != nil {
		return
	}
	defer func() { _ = sess.Close() }()
	t := time.AfterFunc(sshWaitGrace, func() { _ = sess.Close() })
	defer t.Stop()
	_ = sess.Run("kill -9 -" + strconv.Itoa(pgid))
}

// stopped is the error of a command whose context ended: shell's, so callers
// match ErrTimedOut and ErrCancelled whichever host ran it.
func (h *SSH) stopped(parent, ctx context.Context, timeout, ran time.Duration) error {
	return h.wrap(fmt.Errorf("command %w", shell.Stopped(parent, ctx, timeout, ran)))
}

// commandResult turns what the wrapper reported into Run's error.
func (h *SSH) commandResult(ctl *control, waitErr error, dir string) error {
	st := ctl.state()
	switch {
	case st.chdir == "missing":
		return h.wrap(&fs.PathError{Op: "chdir", Path: dir, Err: fs.ErrNotExist})
	case st.chdir != "":
		return h.wrap(&fs.PathError{Op: "chdir", Path: dir, Err: fs.ErrPermission})
	case st.nogroup:
		return h.wrap(errors.New("cannot run commands: the login shell does not lead a process group of its own, " +
			"so a command could not be stopped with every process it starts (the SSH server must be OpenSSH)"))
	case st.exited && st.status == 0:
		return nil
	case st.exited:
		return &ExitStatusError{Host: h.name, Status: st.status}
	}
	// No status: the connection broke, or the account cannot run /bin/sh. A
	// broken connection ends the client right after the session.
	select {
	case <-h.gone:
	case <-time.After(200 * time.Millisecond):
	}
	if lost := h.lost(); lost != nil {
		return fmt.Errorf("%s: the command's outcome is unknown: %w: %v", h.name, ErrConnectionLost, lost)
	}
	detail := ""
	if st.other != "" {
		detail = " Its login shell said: " + st.other
	}
	return fmt.Errorf("%s: the command ended without reporting its exit status (%v); "+
		"the account's login shell must run POSIX sh commands.%s", h.name, waitErr, detail)
}

// remoteCommand is the command line the login shell runs: exec /bin/sh with
// sshWrapper and its arguments, each one quoted.
func remoteCommand(c Command) (string, error) {
	if strings.ContainsRune(c.Script, 0) || strings.ContainsRune(c.Dir, 0) {
		return "", errors.New("the command or its folder holds a NUL byte")
	}
	words := []string{"exec", "/bin/sh", "-c", shellQuote(sshWrapper), "release-ssh", shellQuote(c.Dir), shellQuote(c.Script)}
	for _, kv := range c.Env {
		if err := checkEnv(kv); err != nil {
			return "", err
		}
		words = append(words, shellQuote(kv))
	}
	line := strings.Join(words, " ")
	if len(line) > maxCommandLine {
		return "", fmt.Errorf("the command with its environment takes %d bytes, more than the %d a remote shell accepts in one argument: pass large data in a file", len(line), maxCommandLine)
	}
	return line, nil
}

// maxCommandLine keeps the command line under Linux's limit for one argument
// (MAX_ARG_STRLEN, 128 KiB): sshd hands it to the login shell as `-c` line.
const maxCommandLine = 120 << 10

// checkEnv accepts NAME=value where NAME is a shell variable name: anything
// else could not be exported, or would be read by export as an option.
func checkEnv(kv string) error {
	name, value, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("environment entry %q is not NAME=value", name)
	}
	if !validEnvName(name) {
		return fmt.Errorf("environment variable name %q is not a shell name (letters, digits and _, not starting with a digit)", name)
	}
	if strings.ContainsRune(value, 0) {
		return fmt.Errorf("the value of environment variable %s holds a NUL byte", name)
	}
	return nil
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// shellQuote returns s as one POSIX sh word that stands for s exactly: inside
// single quotes nothing is special, and each quote of s ends the quoted part,
// is written escaped, and opens a new quoted part.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// control reads what sshWrapper reports on stderr, line by line.
type control struct {
	mu      sync.Mutex
	partial []byte
	st      controlState
	exited  chan struct{} // closed once the exit status is known
	other   *shell.TailBuffer
}

type controlState struct {
	pid     int
	status  int
	exited  bool
	chdir   string // "missing" or "denied"
	nogroup bool
	other   string // lines that are not the wrapper's (the login shell's)
}

func newControl() *control {
	return &control{exited: make(chan struct{}), other: shell.NewTail(512)}
}

func (c *control) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(string(c.partial[:i]))
		c.partial = c.partial[i+1:]
	}
	if len(c.partial) > 4096 {
		// Not the wrapper: it writes short lines.
		_, _ = c.other.Write(c.partial)
		c.partial = nil
	}
	return len(p), nil
}

func (c *control) line(l string) {
	f := strings.Fields(l)
	if len(f) < 2 || f[0] != "release-ssh" {
		_, _ = c.other.Write([]byte(l + "\n"))
		return
	}
	switch {
	case f[1] == "pid" && len(f) == 3:
		c.st.pid, _ = strconv.Atoi(f[2])
	case f[1] == "exit" && len(f) == 3:
		if !c.st.exited {
			c.st.status, _ = strconv.Atoi(f[2])
			c.st.exited = true
			close(c.exited)
		}
	case f[1] == "chdir" && len(f) == 3:
		c.st.chdir = f[2]
	case f[1] == "nogroup":
		c.st.nogroup = true
	default:
		_, _ = c.other.Write([]byte(l + "\n"))
	}
}

func (c *control) state() controlState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	st.other = c.other.String()
	return st
}
