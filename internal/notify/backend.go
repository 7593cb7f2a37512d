package notify

import (
	"context"
	"sync"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

// Backend returns b with an Append that also announces the event through n. Every
// other method is b's own. The event is recorded first; a webhook failure never
// makes Append fail: it is logged at WARN (tflog, so TF_LOG shows it) and added to
// the Warnings collected in the context, if the caller asked for them with Collect.
// A nil n returns b unchanged.
func Backend(b backend.Backend, n *Notifier) backend.Backend {
	if n == nil || len(n.Webhooks) == 0 {
		return b
	}
	return &notifyingBackend{Backend: b, n: n}
}

type notifyingBackend struct {
	backend.Backend
	n *Notifier
}

// Unwrap returns the decorated backend.
func (nb *notifyingBackend) Unwrap() backend.Backend { return nb.Backend }

func (nb *notifyingBackend) Append(ctx context.Context, ev backend.Event) error {
	if err := nb.Backend.Append(ctx, ev); err != nil {
		return err
	}
	if err := nb.n.Notify(ctx, ev); err != nil {
		msg := "Unable to send the " + ev.Kind + " notification: " + err.Error() +
			". The event is recorded in the release history; only the chat message is missing."
		tflog.Warn(ctx, msg, map[string]any{"kind": ev.Kind, "environment": ev.Environment, "name": ev.Name, "version": ev.Version})
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
