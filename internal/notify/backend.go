package notify

import (
	"context"
	"sync"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// History returns h with an Append that also announces the event through n. The
// event is recorded first; a webhook failure never makes Append fail: it is
// logged at WARN (internal/logging, so TF_LOG shows it) and added to the
// Warnings collected in the context, if the caller asked for them with Collect.
// A nil n (or one without webhooks) returns h unchanged.
func History(h backend.History, n *Notifier) backend.History {
	if n == nil || len(n.Webhooks) == 0 {
		return h
	}
	return &notifyingHistory{inner: h, n: n}
}

// Backend is History for a whole backend: every method but Append is b's own.
func Backend(b backend.Backend, n *Notifier) backend.Backend {
	if n == nil || len(n.Webhooks) == 0 {
		return b
	}
	return &notifyingBackend{Backend: b, history: &notifyingHistory{inner: b, n: n}}
}

type notifyingBackend struct {
	backend.Backend
	history *notifyingHistory
}

// Unwrap returns the decorated backend.
func (nb *notifyingBackend) Unwrap() backend.Backend { return nb.Backend }

func (nb *notifyingBackend) Append(ctx context.Context, ev backend.Event) error {
	return nb.history.Append(ctx, ev)
}

type notifyingHistory struct {
	inner backend.History
	n     *Notifier
}

func (nh *notifyingHistory) History(ctx context.Context, q backend.HistoryQuery) ([]backend.Event, error) {
	return nh.inner.History(ctx, q)
}

func (nh *notifyingHistory) Append(ctx context.Context, ev backend.Event) error {
	if err := nh.inner.Append(ctx, ev); err != nil {
		return err
	}
	if err := nh.n.Notify(ctx, ev); err != nil {
		msg := "Unable to send the " + ev.Kind + " notification: " + err.Error() +
			". The event is recorded in the release history; only the chat message is missing."
		logging.Warn(ctx, msg, "kind", ev.Kind, logging.Environment, ev.Environment, "name", ev.Name, logging.Version, ev.Version)
		if c, ok := ctx.Value(collectorKey{}).(*collector); ok {
			c.add(msg)
		}
	}
	return nil
}

type collectorKey struct{}

type collector struct {
	mu   sync.Mutex
	msgs []string
}

func (c *collector) add(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msg)
}

// Collect returns a context in which notification failures are collected, so that
// the operation that appended events can report them as warnings (Warnings).
func Collect(ctx context.Context) context.Context {
	return context.WithValue(ctx, collectorKey{}, &collector{})
}

// Warnings returns the notification failures collected in ctx since Collect, and
// forgets them.
func Warnings(ctx context.Context) []string {
	c, ok := ctx.Value(collectorKey{}).(*collector)
	if !ok {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	msgs := c.msgs
	c.msgs = nil
	return msgs
}
