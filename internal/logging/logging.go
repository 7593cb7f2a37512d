// Package logging is how the domain packages (backend, check, notify, router,
// maintenance, target, store, promote, nginxconf, scalingo) log: log/slog, with
// the operation's context handed to every record (Info, Warn, Debug here), so a
// handler can reach whatever the context carries.
//
// The provider installs, once, a default logger whose handler
// (logging/tfhandler) forwards each record to tflog with the record's context:
// messages go to the Terraform run that caused them and show in TF_LOG. A
// caller can also put a logger of its own in a context (With); tests do. The
// domain packages never import anything of Terraform. Without either, messages
// are discarded.
//
// Fields use the same names everywhere: Environment, Version, Attempt and Host,
// plus the package's own for what only it knows.
package logging

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// Field names shared by every package.
const (
	// Environment is the environment a message is about ("staging").
	Environment = "environment"
	// Version is the artifact version ("1.7.4").
	Version = "version"
	// Attempt is the number of an attempt, from 1 (checks, retries).
	Attempt = "attempt"
	// Host names the host a message is about ("local", "web1.example.org").
	Host = "host"
)

type loggerKey struct{}

// discard is the logger of a context without one.
var discard = slog.New(slog.DiscardHandler)

// fallback is the logger of contexts that carry none (SetDefault).
var fallback atomic.Pointer[slog.Logger]

// SetDefault makes l the logger of every context that carries none. The
// provider sets it once, to a logger that forwards to tflog.
func SetDefault(l *slog.Logger) { fallback.Store(l) }

// With returns a context carrying l.
func With(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// From returns the logger carried by ctx, else the default one (SetDefault),
// else one that discards everything. Log with its ...Context methods (or Info,
// Warn, Debug below) so the handler gets ctx.
func From(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	if l := fallback.Load(); l != nil {
		return l
	}
	return discard
}

// Debug logs a detail (each attempt of a check, each poll) with ctx's logger.
func Debug(ctx context.Context, msg string, args ...any) {
	From(ctx).DebugContext(ctx, msg, args...)
}

// Info logs progress with ctx's logger.
func Info(ctx context.Context, msg string, args ...any) {
	From(ctx).InfoContext(ctx, msg, args...)
}

// Warn logs something recoverable that the user should know with ctx's logger.
func Warn(ctx context.Context, msg string, args ...any) {
	From(ctx).WarnContext(ctx, msg, args...)
}
