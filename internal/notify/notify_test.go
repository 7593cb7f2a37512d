package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/errtest"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

type received struct {
	mu    sync.Mutex
	texts []string
}

func (r *received) handler(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Text string `json:"text"`
		}
		b, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.texts = append(r.texts, body.Text)
		r.mu.Unlock()
		w.WriteHeader(status)
	}
}

func (r *received) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.texts...)
}

func TestText(t *testing.T) {
	tests := []struct {
		ev   backend.Event
		want string
	}{
		{backend.Event{Kind: backend.KindDeployed, Environment: "production", Name: "histologe", Version: "1.7.4", Actor: "ci@runner", SHA256: "3f2a9c1e0123456789abcdef", LockToken: 7},
			":rocket: histologe 1.7.4 deployed to production by ci@runner (sha256 3f2a9c1e0123, lock token 7)"},
		{backend.Event{Kind: backend.KindRolledBack, Environment: "staging", Name: "histologe", Version: "1.7.3", Detail: "smoke test answered 502"},
			":rewind: staging rolled back to histologe 1.7.3: smoke test answered 502"},
		{backend.Event{Kind: backend.KindFailed, Environment: "staging", Name: "app", Version: "2.0.0"},
			":x: deploy of app 2.0.0 to staging failed"},
		{backend.Event{Kind: backend.KindPromoted, Name: "app", Version: "2.0.0-rc", Detail: "from 2.0.0-staging", GitCommit: "0123456789abcdef"},
			":arrow_up: app 2.0.0-rc promoted (commit 0123456789): from 2.0.0-staging"},
		{backend.Event{Kind: backend.KindLockAcquired, Environment: "staging", Actor: "bob"},
			"staging: lock acquired by bob"},
		{backend.Event{Kind: backend.KindBlocked, Name: "app", Version: "1.0.0", Detail: "corrupts invoices"},
			":no_entry: app 1.0.0 blocked: corrupts invoices"},
		{backend.Event{Kind: backend.KindDeployed, Environment: "production", Name: "app", Version: "1.1.0", Actor: "octocat via GitHub Actions (acme/app: deploy)",
			Run: "https://github.com/acme/app/actions/runs/42"},
			":rocket: app 1.1.0 deployed to production by octocat via GitHub Actions (acme/app: deploy) (run https://github.com/acme/app/actions/runs/42)"},
	}
	for _, tt := range tests {
		t.Run(tt.ev.Kind, func(t *testing.T) {
			if got := Text(tt.ev); got != tt.want {
				t.Errorf("Text() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		hook    Webhook
		wantErr string
	}{
		{"ok", Webhook{URL: "https://chat.example.org/hooks/abc"}, ""},
		{"relative url", Webhook{URL: "/hooks/abc"}, "absolute http"},
		{"ftp", Webhook{URL: "ftp://chat.example.org/x"}, "absolute http"},
		{"unknown kind", Webhook{URL: "https://chat.example.org/x", Events: []string{"shipped"}}, `unknown event kind "shipped"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New([]Webhook{tt.hook}, nil)
			errtest.Want(t, "New", err, tt.wantErr)
		})
	}
}

func TestNotifyFiltersEvents(t *testing.T) {
	var all, promotedOnly received
	s1 := httptest.NewServer(all.handler(http.StatusOK))
	defer s1.Close()
	s2 := httptest.NewServer(promotedOnly.handler(http.StatusOK))
	defer s2.Close()
	n, err := New([]Webhook{{URL: s1.URL + "/hooks/secret"}, {URL: s2.URL, Events: []string{backend.KindPromoted}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ev := range []backend.Event{
		{Kind: backend.KindDeployed, Environment: "staging", Name: "app", Version: "1.0.0"},
		{Kind: backend.KindLockAcquired, Environment: "staging"}, // not in the defaults
		{Kind: backend.KindPromoted, Name: "app", Version: "1.0.0-rc"},
	} {
		if err := n.Notify(ctx, ev); err != nil {
			t.Fatalf("Notify(%s): %v", ev.Kind, err)
		}
	}
	if got := all.all(); len(got) != 2 || !strings.Contains(got[0], "deployed") || !strings.Contains(got[1], "promoted") {
		t.Errorf("default webhook got %q, want the deployed and promoted events", got)
	}
	if got := promotedOnly.all(); len(got) != 1 || !strings.Contains(got[0], "1.0.0-rc promoted") {
		t.Errorf("promoted-only webhook got %q", got)
	}
}

func TestNotifyErrorsHideTheURL(t *testing.T) {
	var r received
	failing := httptest.NewServer(r.handler(http.StatusInternalServerError))
	defer failing.Close()
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name    string
		hook    Webhook
		wantErr string
	}{
		{"server error", Webhook{URL: failing.URL + "/hooks/T0SECRET"}, "answered 500"},
		{"timeout", Webhook{URL: slow.URL + "/hooks/T0SECRET", Timeout: 100 * time.Millisecond}, "timed out"},
		{"connection refused", Webhook{URL: closedURL + "/hooks/T0SECRET"}, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := New([]Webhook{tt.hook}, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = n.Notify(context.Background(), backend.Event{Kind: backend.KindDeployed, Environment: "prod"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Notify error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "T0SECRET") {
				t.Errorf("error %q reveals the webhook secret", err)
			}
		})
	}
}

func TestBackendDecorator(t *testing.T) {
	var ok received
	good := httptest.NewServer(ok.handler(http.StatusOK))
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	}))
	defer bad.Close()

	inner, err := backend.NewDirectory(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := New([]Webhook{{URL: good.URL}, {URL: bad.URL + "/hooks/T0SECRET", Events: []string{backend.KindDeployed}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := Backend(inner, n)

	ctx := Collect(context.Background())
	ev := backend.Event{Time: time.Now().UTC(), Kind: backend.KindDeployed, Environment: "staging", Name: "app", Version: "1.0.0"}
	if err := b.Append(ctx, ev); err != nil {
		t.Fatalf("Append must not fail because a webhook failed: %v", err)
	}
	hist, err := inner.History(context.Background(), backend.HistoryQuery{Environment: "staging"})
	if err != nil || len(hist) != 1 || hist[0].Version != "1.0.0" {
		t.Fatalf("history = %+v, %v; want the deployed event recorded", hist, err)
	}
	if got := ok.all(); len(got) != 1 {
		t.Errorf("good webhook got %d posts, want 1", len(got))
	}
	warnings := Warnings(ctx)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "410 Gone") || strings.Contains(warnings[0], "T0SECRET") {
		t.Errorf("warnings = %q, want one 410 warning without the secret", warnings)
	}
	if again := Warnings(ctx); len(again) != 0 {
		t.Errorf("Warnings must forget what it returned, got %q", again)
	}
	// Without a collector the failure is only logged, and Append still succeeds.
	var logs bytes.Buffer
	logged := logging.With(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err := b.Append(logged, ev); err != nil {
		t.Fatalf("Append without a collector: %v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "410 Gone") || !strings.Contains(logs.String(), "environment="+ev.Environment) {
		t.Errorf("the failure was not logged at WARN with its environment: %q", logs.String())
	}
	// The history alone can be decorated too.
	if h := History(inner, nil); h != backend.History(inner) {
		t.Error("History(h, nil) must return h itself")
	}
	if Backend(inner, nil) != backend.Backend(inner) {
		t.Error("Backend(b, nil) must return b itself")
	}
}
