package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// fixture is a store, a backend and a directory target in temp folders, plus an
// HTTP server that serves the target's `current` release like a web server would.
type fixture struct {
	t       testing.TB
	root    string
	store   *store.Directory
	backend *backend.Directory
	target  *target.Directory
	server  *httptest.Server
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureAt(t, t.TempDir())
}

// newUpgradeFixture is a fixture where 1.0.0 is live and 1.0.1, healthy, is
// published: where most upgrade tests start.
func newUpgradeFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.publish("1.0.0", "ok")
	f.publish("1.0.1", "ok")
	mustDeploy(t, f.request("1.0.0"))
	return f
}

// newStoreAndBackend makes a directory store in root/artifacts and a directory
// backend in root/state.
func newStoreAndBackend(t testing.TB, root string) (*store.Directory, *backend.Directory) {
	t.Helper()
	st, err := store.NewDirectory(filepath.Join(root, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	be, err := backend.NewDirectory(filepath.Join(root, "state"))
	if err != nil {
		t.Fatal(err)
	}
	return st, be
}

// newFixtureAt makes the fixture in root.
func newFixtureAt(t testing.TB, root string) *fixture {
	t.Helper()
	st, be := newStoreAndBackend(t, root)
	tg, err := target.NewDirectory(filepath.Join(root, "app"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, root: root, store: st, backend: be, target: tg}
	f.server = httptest.NewServer(http.FileServer(http.Dir(filepath.Join(tg.Path, "current"))))
	t.Cleanup(f.server.Close)
	return f
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// publish stores app@version whose /health answers health.
func (f *fixture) publish(version, health string) store.Object {
	f.t.Helper()
	data := archivetest.TarGz(f.t, map[string]string{"health": health, "index.html": "version " + version})
	obj, err := f.store.Put(context.Background(), "app", version, bytes.NewReader(data), sha256hex(data), map[string]string{"git_commit": "c0ffee" + version})
	if err != nil {
		f.t.Fatal(err)
	}
	return obj
}

func (f *fixture) request(version string) Request {
	return Request{
		Facts: Facts{
			Environment:       "staging",
			Name:              "app",
			Version:           version,
			RollbackOnFailure: true,
		},
		Target:  f.target,
		Store:   f.store,
		Backend: f.backend,
		Actor:   "tester",
	}
}

func (f *fixture) serving() string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.target.Path, "current", "index.html"))
	if err != nil {
		return ""
	}
	return string(b)
}

func (f *fixture) releases() []string {
	f.t.Helper()
	entries, _ := os.ReadDir(filepath.Join(f.target.Path, "releases"))
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func (f *fixture) kinds() []string {
	f.t.Helper()
	evs, err := f.backend.History(context.Background(), backend.HistoryQuery{Environment: "staging"})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind+" "+e.Version)
	}
	slices.Reverse(out) // oldest first reads better in failures
	return out
}

// messageHandler is a slog.Handler that hands each record's message and
// attributes (as strings) to the function: how the crash tests keep a journal
// of a deployment's progress.
type messageHandler func(msg string, attrs map[string]string)

func (messageHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h messageHandler) WithAttrs([]slog.Attr) slog.Handler     { return h }
func (h messageHandler) WithGroup(string) slog.Handler          { return h }

func (h messageHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	h(r.Message, attrs)
	return nil
}
