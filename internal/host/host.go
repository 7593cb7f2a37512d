// Package host is where server-side effects happen. Everything the provider does
// on a server — reading and atomically replacing files, switching symbolic links,
// listing and removing folders, running commands — goes through a Host, so that the
// same code works on the machine Terraform runs on (Local) and, later, on remote
// servers over SSH (golang.org/x/crypto/ssh + github.com/pkg/sftp) without its
// callers changing.
//
// The interface is shaped for that: paths are strings (slash-separated, absolute
// on the host), never *os.File; errors for missing files unwrap to fs.ErrNotExist
// (and existing ones to fs.ErrExist) whatever the transport; file listings and
// Stat return fs.FileInfo values that a remote implementation can build from SFTP
// attributes; and commands are a script run with `sh -c` in a folder with extra
// environment variables, returning the capped tail of their output.
//
// Local runs commands through internal/shell (own process group, the group
// killed on cancel and timeout, output capped, the timeout named in the error)
// and replaces files through internal/atomicfile (temp file, fsync, rename,
// folder fsync).
package host

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"strings"

	"github.com/releaseplan/terraform-provider-release/internal/shell"
)

// ErrNotFound means that the thing a caller manages is not there: a target's
// app or release, a router's file or link, a maintenance file or app. It is the
// one "gone" of the domain packages (target, router and maintenance re-export
// it), which the provider turns into "remove the resource from the state". It
// is not fs.ErrNotExist: a file missing on the way is an error, not a sign that
// the managed thing is gone.
var ErrNotFound = errors.New("not found")

// Errors a command can end with, for errors.Is. They are internal/shell's, so a
// caller never needs to know which Host ran the command.
var (
	// ErrTimedOut means the command ran past Command.Timeout or its context's
	// deadline and was stopped with every process it started.
	ErrTimedOut = shell.ErrTimedOut
	// ErrCancelled means the context was cancelled while the command ran, and
	// the command was stopped with every process it started.
	ErrCancelled = shell.ErrCancelled
)

// DefaultMaxOutput is how many bytes of output Run keeps when Command.MaxOutput is 0.
const DefaultMaxOutput = shell.DefaultMaxOutput

// Command is one shell command run on a host: internal/shell's, so every host
// takes the same fields. On a host, Script is run with `sh -c` (values belong in
// Env, never pasted into Script); Dir is the working directory on the host
// (empty: the host's default); Env entries reach the command as they are, never
// interpreted by a shell (a remote implementation quotes them itself rather than
// relying on sshd's AcceptEnv).
type Command = shell.Command

// Host is one machine the provider changes. Implementations are safe for
// concurrent use. Every path is absolute on the host. Errors about a path that
// does not exist match fs.ErrNotExist with errors.Is.
type Host interface {
	// Name names the host for messages and logs: "local", "web1.example.org".
	Name() string

	// Stat describes the file path leads to (symbolic links followed).
	Stat(ctx context.Context, path string) (fs.FileInfo, error)
	// Lstat describes path itself (a symbolic link is not followed).
	Lstat(ctx context.Context, path string) (fs.FileInfo, error)
	// ReadFile returns the whole content of a file.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// Open streams the content of a file (a backup, too large to hold in
	// memory); the caller closes it.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// WriteFile replaces path with data and permissions perm atomically: readers
	// see the old or the new content, never a half-written file. The content goes
	// to a temporary name in the same folder (starting with a dot, so include
	// globs such as *.conf never match it), is synced, and is renamed over path;
	// nothing is left behind on failure.
	WriteFile(ctx context.Context, path string, data []byte, perm fs.FileMode) error
	// WriteFileFrom is WriteFile for content streamed from r up to EOF, so a
	// large file (an artifact) never has to fit in memory. When reading r fails,
	// path is left as it was and the error is r's.
	WriteFileFrom(ctx context.Context, path string, r io.Reader, perm fs.FileMode) error
	// Rename renames oldpath to newpath, replacing newpath when it is a file or a
	// symbolic link (rename(2)).
	Rename(ctx context.Context, oldpath, newpath string) error
	// Symlink points link at target atomically: a temporary link renamed over
	// link, so link never disappears on the way (never `ln -sfn`).
	Symlink(ctx context.Context, target, link string) error
	// Readlink returns the target of a symbolic link, as written.
	Readlink(ctx context.Context, path string) (string, error)
	// Remove deletes a file, a symbolic link or an empty folder.
	Remove(ctx context.Context, path string) error
	// RemoveAll deletes path and everything under it; a missing path is not an
	// error.
	RemoveAll(ctx context.Context, path string) error
	// MkdirAll creates a folder and its missing parents with permissions perm.
	MkdirAll(ctx context.Context, path string, perm fs.FileMode) error
	// ReadDir lists a folder, sorted by name; entries describe themselves as
	// Lstat does.
	ReadDir(ctx context.Context, path string) ([]fs.FileInfo, error)

	// Run runs c with `sh -c` and returns the tail of its combined output. It
	// returns an error when the command could not start, exited with a non-zero
	// status (the message says which), or was stopped because ctx ended or
	// c.Timeout passed (then the error matches ErrTimedOut or ErrCancelled, and
	// the context's error, with errors.Is, and every process the command started
	// was stopped with it).
	Run(ctx context.Context, c Command) (string, error)

	// Close ends the connection to the host, stopping the commands still running
	// there; Local has none.
	Close() error
}

// Names lists the hosts' names (Name), in order.
func Names(hosts []Host) []string {
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name()
	}
	return names
}

// Hostname is the host part of a host name as Name gives it ("web2.example.org"
// for "web2.example.org:2222", "::1" for "[::1]:22"): what a URL needs to reach
// the host's own services ({host} in a smoke test URL).
func Hostname(name string) string {
	if h, _, err := net.SplitHostPort(name); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
}
