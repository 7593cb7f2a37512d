// Package notify posts release history events to chat webhooks (Slack and
// Mattermost incoming webhooks, or anything that accepts {"text": "..."}), and
// decorates a backend.Backend so that every event appended to the history is also
// announced, without the code that appends it knowing about notifications.
//
// A notification is best effort: a webhook that fails never fails the deploy,
// promotion or lock that produced the event. The failure is logged at WARN and
// collected for the caller that asked for it (see Collect), which turns it into a
// Terraform warning.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

// DefaultEvents are the event kinds announced when a webhook lists none.
var DefaultEvents = []string{backend.KindDeployed, backend.KindRolledBack, backend.KindFailed, backend.KindPromoted}

// DefaultTimeout bounds one webhook post when Webhook.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Webhook is one destination.
type Webhook struct {
	// URL receives a POST with a JSON body {"text": "..."}. It often embeds a
	// secret: it never appears in errors or logs (see Redact).
	URL string
	// Events are the history event kinds to post; empty means DefaultEvents.
	Events []string
	// Timeout bounds one post; zero means DefaultTimeout.
	Timeout time.Duration
}

// Notifier posts events to webhooks. The zero value posts nothing.
type Notifier struct {
	Webhooks []Webhook
	// Client sends the posts; nil uses a private client (no shared transport state).
	Client *http.Client
}

// New validates the webhooks and returns a Notifier.
func New(webhooks []Webhook, client *http.Client) (*Notifier, error) {
	for i, w := range webhooks {
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("webhook %d: the url must be an absolute http:// or https:// URL", i+1)
		}
		for _, k := range w.Events {
			if !slices.Contains(Kinds, k) {
				return nil, fmt.Errorf("webhook %d: unknown event kind %q; known kinds: %s", i+1, k, strings.Join(Kinds, ", "))
			}
		}
	}
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()} //nolint:forcetypeassert // the standard library sets an *http.Transport
	}
	return &Notifier{Webhooks: webhooks, Client: client}, nil
}

// Kinds lists every history event kind a webhook may subscribe to.
var Kinds = []string{
	backend.KindLockAcquired, backend.KindLockReleased, backend.KindLockTakenOver, backend.KindLockForceReleased,
	backend.KindDeployed, backend.KindFailed, backend.KindRolledBack, backend.KindPromoted,
	backend.KindBlocked, backend.KindUnblocked, backend.KindMaintenance, backend.KindSwitched,
	backend.KindFreezeOverridden,
}

// Wants tells whether the webhook posts events of kind.
func (w Webhook) Wants(kind string) bool {
	events := w.Events
	if len(events) == 0 {
		events = DefaultEvents
	}
	return slices.Contains(events, kind)
}

// Notify posts ev to every webhook that wants its kind, and returns the joined
// errors of the posts that failed (nil when all succeeded or none applied).
func (n *Notifier) Notify(ctx context.Context, ev backend.Event) error {
	if n == nil {
		return nil
	}
	var errs []error
	for i, w := range n.Webhooks {
		if !w.Wants(ev.Kind) {
			continue
		}
		if err := n.post(ctx, w, Text(ev)); err != nil {
			errs = append(errs, fmt.Errorf("webhook %d (%s): %w", i+1, Redact(w.URL), err))
		}
	}
	return errors.Join(errs...)
}

func (n *Notifier) post(ctx context.Context, w Webhook, text string) error {
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("invalid webhook request")
	}
	req.Header.Set("Content-Type", "application/json")
	client := n.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return scrub(err, w.URL)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(snippet))
		if msg != "" {
			return fmt.Errorf("answered %s: %s", resp.Status, msg)
		}
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// scrub turns a transport error into one that does not repeat the webhook URL
// (url.Error embeds it, and webhook URLs carry their secret in the path).
func scrub(err error, rawURL string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("timed out")
	}
	return errors.New(strings.ReplaceAll(err.Error(), rawURL, Redact(rawURL)))
}

// Redact keeps the scheme and host of a webhook URL and hides the rest, which for
// Slack and Mattermost is the secret.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "<webhook>"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Text renders an event as one chat line, for example
// "histologe 1.7.4 deployed to production by ci@runner (sha256 3f2a9c1e…)".
func Text(ev backend.Event) string {
	var b strings.Builder
	subject := strings.TrimSpace(ev.Name + " " + ev.Version)
	verb := strings.ReplaceAll(ev.Kind, "_", " ")
	switch ev.Kind {
	case backend.KindDeployed:
		fmt.Fprintf(&b, ":rocket: %s deployed", orDash(subject))
		if ev.Environment != "" {
			fmt.Fprintf(&b, " to %s", ev.Environment)
		}
	case backend.KindRolledBack:
		fmt.Fprintf(&b, ":rewind: %s", orDash(ev.Environment))
		b.WriteString(" rolled back")
		if subject != "" {
			fmt.Fprintf(&b, " to %s", subject)
		}
	case backend.KindFailed:
		fmt.Fprintf(&b, ":x: deploy of %s", orDash(subject))
		if ev.Environment != "" {
			fmt.Fprintf(&b, " to %s", ev.Environment)
		}
		b.WriteString(" failed")
	case backend.KindPromoted:
		fmt.Fprintf(&b, ":arrow_up: %s promoted", orDash(subject))
	case backend.KindBlocked:
		fmt.Fprintf(&b, ":no_entry: %s blocked", orDash(subject))
	case backend.KindFreezeOverridden:
		fmt.Fprintf(&b, ":snowflake: %s released into frozen %s", orDash(subject), orDash(ev.Environment))
	case backend.KindUnblocked:
		fmt.Fprintf(&b, ":white_check_mark: %s unblocked", orDash(subject))
	default:
		if ev.Environment != "" {
			fmt.Fprintf(&b, "%s: %s", ev.Environment, verb)
		} else {
			b.WriteString(verb)
		}
		if subject != "" {
			fmt.Fprintf(&b, " %s", subject)
		}
	}
	if ev.Actor != "" {
		fmt.Fprintf(&b, " by %s", ev.Actor)
	}
	var extra []string
	if ev.SHA256 != "" {
		extra = append(extra, "sha256 "+short(ev.SHA256, 12))
	}
	if ev.GitCommit != "" {
		extra = append(extra, "commit "+short(ev.GitCommit, 10))
	}
	if ev.LockToken != 0 {
		extra = append(extra, fmt.Sprintf("lock token %d", ev.LockToken))
	}
	if ev.Run != "" {
		extra = append(extra, "run "+ev.Run)
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(extra, ", "))
	}
	if ev.Detail != "" {
		fmt.Fprintf(&b, ": %s", ev.Detail)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
