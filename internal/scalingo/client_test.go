package scalingo_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
)

const poll = 5 * time.Millisecond

// tarball is a source archive as Scalingo wants it: one top-level folder.
func tarball(t *testing.T, content string) []byte {
	t.Helper()
	return archive(t, map[string]string{"app/index.php": content})
}

// archive is a tar.gz of files (path to content), as given.
func archive(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(files[n]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newClient(t *testing.T, opts scalingotest.Options) (*scalingo.Client, *scalingotest.Server) {
	t.Helper()
	fake := scalingotest.NewServer(t, opts)
	fake.CreateApp("histologe-staging")
	c, err := scalingo.New(context.Background(), fake.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	return c, fake
}

// newTokenedClient is newClient after one request: the client holds a bearer
// token, so the faults FailNext injects meet the request under test, not the
// token exchange.
func newTokenedClient(t *testing.T) (*scalingo.Client, *scalingotest.Server) {
	t.Helper()
	c, fake := newClient(t, scalingotest.Options{})
	if _, err := c.AppsShow(ctxT(t), "histologe-staging"); err != nil {
		t.Fatal(err)
	}
	return c, fake
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func deploy(t *testing.T, c *scalingo.Client, app, version string, data []byte) (*scalingo.Deployment, error) {
	t.Helper()
	ctx := ctxT(t)
	url, err := c.SourcesUploadArchive(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	d, err := c.DeploymentsCreate(ctx, app, &scalingo.DeploymentsCreateParams{GitRef: &version, SourceURL: url})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	if d.Status != scalingo.StatusQueued {
		t.Errorf("new deployment status = %s, want queued", d.Status)
	}
	var seen []scalingo.DeploymentStatus
	d, err = c.WaitDeployment(ctx, app, d.ID, poll, func(d *scalingo.Deployment) { seen = append(seen, d.Status) })
	t.Logf("statuses seen: %v", seen)
	return d, err
}

func TestDeploySuccess(t *testing.T) {
	c, fake := newClient(t, scalingotest.Options{})
	data := tarball(t, "app v1.7.4")
	d, err := deploy(t, c, "histologe-staging", "1.7.4", data)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if d.Status != scalingo.StatusSuccess || d.GitRef != "1.7.4" {
		t.Fatalf("deployment = %+v, want success 1.7.4", d)
	}
	deps := fake.Deployments("histologe-staging")
	if len(deps) != 1 || !bytes.Equal(deps[0].Source, data) {
		t.Fatalf("the fake did not build the uploaded bytes: %+v", deps)
	}
	last, err := c.LastSuccessfulDeployment(ctxT(t), "histologe-staging", 0)
	if err != nil || last == nil || last.GitRef != "1.7.4" {
		t.Fatalf("LastSuccessfulDeployment = %+v, %v", last, err)
	}
	out, err := c.DeploymentLogs(ctxT(t), "histologe-staging", d.ID)
	if err != nil || !strings.Contains(out, "Build complete") {
		t.Fatalf("DeploymentLogs = %q, %v", out, err)
	}
	app, err := c.AppsShow(ctxT(t), "histologe-staging")
	if err != nil || app.Name != "histologe-staging" || app.ID == "" {
		t.Fatalf("AppsShow = %+v, %v", app, err)
	}
}

func TestDeployFailuresCarryTheOutput(t *testing.T) {
	tests := []struct {
		status string
		want   string
	}{
		{"build-error", "composer install failed"},
		{"crashed-error", "crashed while booting"},
		{"timeout-error", "did not bind to $PORT"},
		{"hook-error", "postdeploy hook failed"},
		{"aborted", "aborted"},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			c, fake := newClient(t, scalingotest.Options{})
			fake.FailNextDeployment("histologe-staging", tt.status)
			_, err := deploy(t, c, "histologe-staging", "1.7.5", tarball(t, "bad"))
			var fe *scalingo.DeploymentFailedError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a DeploymentFailedError", err)
			}
			if string(fe.Status) != tt.status || !strings.Contains(fe.OutputTail, tt.want) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q: want status %s and output containing %q", err, tt.status, tt.want)
			}
			last, err := c.LastSuccessfulDeployment(ctxT(t), "histologe-staging", 0)
			if err != nil || last != nil {
				t.Fatalf("a failed deployment counted as live: %+v %v", last, err)
			}
		})
	}
}

func TestNotAGzipIsABuildError(t *testing.T) {
	c, _ := newClient(t, scalingotest.Options{})
	_, err := deploy(t, c, "histologe-staging", "1.0.0", []byte("plain text"))
	if err == nil || !strings.Contains(err.Error(), "gzip: invalid header") {
		t.Fatalf("err = %v, want a build error about gzip", err)
	}
}

func TestTokenRefresh(t *testing.T) {
	tests := []struct {
		name        string
		opts        scalingotest.Options
		calls       int
		expireAfter int // the fake expires its tokens after this many calls (0: never)
		// What the fake sees: token exchanges, GETs of the app, and requests it
		// refused with 401 (each one retried after a new exchange).
		wantExchanges, wantGets, wantRefused int
	}{
		{name: "one exchange while the token is fresh", calls: 5, wantExchanges: 1, wantGets: 5},
		// A 30s token is always within the refresh margin: every request exchanges
		// first and none goes out with an expiring token.
		{name: "refreshed before exp", opts: scalingotest.Options{TokenTTL: 30 * time.Second}, calls: 3, wantExchanges: 3, wantGets: 3},
		// ok, 401, ok.
		{name: "expired token is replaced once", calls: 2, expireAfter: 1, wantExchanges: 2, wantGets: 3, wantRefused: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake := newClient(t, tt.opts)
			for i := range tt.calls {
				if tt.expireAfter > 0 && i == tt.expireAfter {
					fake.ExpireTokens()
				}
				if _, err := c.AppsShow(ctxT(t), "histologe-staging"); err != nil {
					t.Fatalf("call %d: %v", i+1, err)
				}
			}
			if got := fake.Exchanges(); got != tt.wantExchanges {
				t.Errorf("exchanges = %d, want %d", got, tt.wantExchanges)
			}
			if n := fake.CountCalls(http.MethodGet, "/v1/apps/histologe-staging"); n != tt.wantGets {
				t.Errorf("GET app calls = %d, want %d", n, tt.wantGets)
			}
			var refused []scalingotest.Call
			for _, call := range fake.Calls() {
				if call.Status == http.StatusUnauthorized {
					refused = append(refused, call)
				}
			}
			if len(refused) != tt.wantRefused {
				t.Errorf("requests refused with 401: %+v, want %d", refused, tt.wantRefused)
			}
		})
	}
}

func TestBadTokenIsRefusedWithoutLeakingIt(t *testing.T) {
	fake := scalingotest.NewServer(t, scalingotest.Options{})
	fake.CreateApp("a")
	cfg := fake.ClientConfig()
	cfg.APIToken = "tk-us-not-the-right-one-0123456789"
	c, err := scalingo.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AppsShow(ctxT(t), "a")
	if scalingo.StatusCode(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v, want a 401 refusal", err)
	}
	if strings.Contains(err.Error(), cfg.APIToken) {
		t.Fatalf("the error leaks the API token: %v", err)
	}
	if n := fake.CountCalls(http.MethodPost, "/v1/tokens/exchange"); n != 1 {
		t.Fatalf("a 401 was retried: %d exchanges", n)
	}
}

func TestMissingAuthIsRejectedByTheFake(t *testing.T) {
	fake := scalingotest.NewServer(t, scalingotest.Options{})
	fake.CreateApp("a")
	resp, err := http.Get(fake.URL + "/v1/apps/a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", resp.StatusCode)
	}
}

func TestRetries(t *testing.T) {
	t.Run("429 then success", func(t *testing.T) {
		c, fake := newTokenedClient(t)
		fake.FailNext(http.StatusTooManyRequests, 1)
		if _, err := c.AppsShow(ctxT(t), "histologe-staging"); err != nil {
			t.Fatalf("429 was not retried: %v", err)
		}
		calls := fake.Calls()
		if got := calls[len(calls)-2].Status; got != http.StatusTooManyRequests {
			t.Fatalf("second to last call status = %d, want 429", got)
		}
	})
	t.Run("5xx exhaustion", func(t *testing.T) {
		c, fake := newTokenedClient(t)
		fake.FailNext(http.StatusServiceUnavailable, 10)
		_, err := c.VariablesList(ctxT(t), "histologe-staging")
		if scalingo.StatusCode(err) != http.StatusServiceUnavailable {
			t.Fatalf("err = %v, want 503 after retries", err)
		}
		if n := fake.CountCalls(http.MethodGet, "/v1/apps/histologe-staging/variables"); n != 4 {
			t.Fatalf("attempts = %d, want 1 + 3 retries", n)
		}
	})
	t.Run("500 on a POST is not replayed", func(t *testing.T) {
		c, fake := newTokenedClient(t)
		fake.FailNext(http.StatusInternalServerError, 1)
		ref := "1.0.0"
		_, err := c.DeploymentsCreate(ctxT(t), "histologe-staging", &scalingo.DeploymentsCreateParams{GitRef: &ref, SourceURL: "https://example.invalid/a.tgz"})
		if scalingo.StatusCode(err) != http.StatusInternalServerError {
			t.Fatalf("err = %v, want 500", err)
		}
		if n := fake.CountCalls(http.MethodPost, "/v1/apps/histologe-staging/deployments"); n != 1 {
			t.Fatalf("POST attempts = %d, want 1", n)
		}
	})
	t.Run("4xx is never retried", func(t *testing.T) {
		c, fake := newClient(t, scalingotest.Options{})
		_, err := c.AppsShow(ctxT(t), "no-such-app")
		if !scalingo.IsNotFound(err) || !strings.Contains(err.Error(), "app not found") {
			t.Fatalf("err = %v, want app not found", err)
		}
		if n := fake.CountCalls(http.MethodGet, "/v1/apps/no-such-app"); n != 1 {
			t.Fatalf("attempts = %d, want 1", n)
		}
	})
}

// TestRetriesAreLoggedWithTheRequestsContext: one client serves many operations
// (the provider caches it); a retry is logged with the logger of the operation
// that made the request, not of the one that created the client.
func TestRetriesAreLoggedWithTheRequestsContext(t *testing.T) {
	fake := scalingotest.NewServer(t, scalingotest.Options{})
	fake.CreateApp("histologe-staging")
	var creator, user bytes.Buffer
	creatorCtx := logging.With(ctxT(t), slog.New(slog.NewTextHandler(&creator, nil)))
	c, err := scalingo.New(creatorCtx, fake.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	userCtx := logging.With(ctxT(t), slog.New(slog.NewTextHandler(&user, nil)))
	if _, err := c.AppsShow(userCtx, "histologe-staging"); err != nil {
		t.Fatal(err)
	}
	fake.FailNext(http.StatusTooManyRequests, 1)
	if _, err := c.AppsShow(userCtx, "histologe-staging"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(user.String(), `msg="Retrying Scalingo API request" method=GET path=/v1/apps/histologe-staging attempt=1`) {
		t.Errorf("the retry was not logged with the request's logger: %q", user.String())
	}
	if creator.Len() != 0 {
		t.Errorf("the retry went to the logger of the context that created the client: %q", creator.String())
	}
}

func TestUnprocessableMessages(t *testing.T) {
	c, _ := newClient(t, scalingotest.Options{})
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"blank source_url", func() error {
			_, err := c.DeploymentsCreate(ctxT(t), "histologe-staging", &scalingo.DeploymentsCreateParams{})
			return err
		}, "source_url can't be blank"},
		{"bad variable name", func() error {
			_, err := c.VariableMultipleSet(ctxT(t), "histologe-staging", scalingo.Variables{{Name: "MAINTENANCE-ENABLE", Value: "1"}})
			return err
		}, "name must only contain letters"},
		{"no variables", func() error {
			_, err := c.VariableMultipleSet(ctxT(t), "histologe-staging", nil)
			return err
		}, "variables can't be blank"},
		{"unknown restart scope", func() error {
			_, err := c.AppsRestart(ctxT(t), "histologe-staging", &scalingo.AppsRestartParams{Scope: []string{"nope"}})
			return err
		}, "scope container type nope does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ue *scalingo.UnprocessableEntityError
			if !errors.As(err, &ue) || scalingo.StatusCode(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a 422 saying %q", err, tt.want)
			}
		})
	}
}

func TestVariablesAndRestart(t *testing.T) {
	c, fake := newClient(t, scalingotest.Options{})
	ctx := ctxT(t)
	fake.DeployByHand("histologe-staging", "1.7.4", tarball(t, "x"))
	vs, err := c.VariableMultipleSet(ctx, "histologe-staging", scalingo.Variables{
		{Name: "MAINTENANCE_ENABLE", Value: "1"}, {Name: "MAINTENANCE_BANNER_MESSAGE", Value: "Mise à jour"}})
	if err != nil || len(vs) != 2 || vs[0].ID == "" {
		t.Fatalf("set = %+v, %v", vs, err)
	}
	if got := fake.RunningEnv("histologe-staging")["MAINTENANCE_ENABLE"]; got != "" {
		t.Fatalf("a variable change restarted the app by itself: %q", got)
	}
	opID, err := c.AppsRestart(ctx, "histologe-staging", nil)
	if err != nil {
		t.Fatal(err)
	}
	op, err := c.WaitOperation(ctx, "histologe-staging", opID, poll)
	if err != nil || op.Status != "done" || op.Type != "restart" {
		t.Fatalf("operation = %+v, %v", op, err)
	}
	if got := fake.RunningEnv("histologe-staging")["MAINTENANCE_ENABLE"]; got != "1" {
		t.Fatalf("running env after restart = %q, want 1", got)
	}
	list, err := c.VariablesList(ctx, "histologe-staging")
	if err != nil {
		t.Fatal(err)
	}
	v := list.Get("MAINTENANCE_BANNER_MESSAGE")
	if v == nil || v.Value != "Mise à jour" {
		t.Fatalf("list = %+v", list)
	}
	if err := c.VariableUnset(ctx, "histologe-staging", v.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.VariableUnset(ctx, "histologe-staging", v.ID); !scalingo.IsNotFound(err) {
		t.Fatalf("second unset = %v, want not found", err)
	}
	fake.FailNextRestart("histologe-staging", "container web-1 failed to restart")
	opID, err = c.AppsRestart(ctx, "histologe-staging", &scalingo.AppsRestartParams{Scope: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WaitOperation(ctx, "histologe-staging", opID, poll)
	var oe *scalingo.OperationFailedError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "web-1 failed to restart") {
		t.Fatalf("err = %v, want the operation's error", err)
	}
}

func TestBackups(t *testing.T) {
	c, fake := newClient(t, scalingotest.Options{})
	ctx := ctxT(t)
	pg := fake.AddAddon("histologe-staging", "postgresql")
	fake.AddAddon("histologe-staging", "redis")
	ad, err := c.FindAddon(ctx, "histologe-staging", "postgresql")
	if err != nil || ad.ID != pg {
		t.Fatalf("FindAddon = %+v, %v", ad, err)
	}
	if ad, err := c.FindAddon(ctx, "histologe-staging", pg); err != nil || ad.ID != pg {
		t.Fatalf("FindAddon by id = %+v, %v", ad, err)
	}
	if _, err := c.FindAddon(ctx, "histologe-staging", "mysql"); err == nil || !strings.Contains(err.Error(), "redis") {
		t.Fatalf("missing addon error = %v, want the list of addons", err)
	}
	b, err := c.BackupCreate(ctx, "histologe-staging", pg)
	if err != nil || b.Status != scalingo.BackupStatusPending {
		t.Fatalf("BackupCreate = %+v, %v", b, err)
	}
	done, err := c.WaitBackup(ctx, "histologe-staging", pg, b.ID, poll)
	if err != nil || done.Status != scalingo.BackupStatusDone || done.Size == 0 {
		t.Fatalf("WaitBackup = %+v, %v", done, err)
	}
	list, err := c.BackupList(ctx, "histologe-staging", pg)
	if err != nil || len(list) != 1 || list[0].ID != b.ID {
		t.Fatalf("BackupList = %+v, %v", list, err)
	}
	if n := fake.CountCalls(http.MethodPost, "/v1/apps/histologe-staging/addons/"+pg+"/token"); n != 1 {
		t.Fatalf("addon token exchanges = %d, want 1 (cached)", n)
	}
	whole, err := c.BackupDatabase(ctx, "histologe-staging", "postgresql", poll)
	if err != nil || whole.Status != scalingo.BackupStatusDone {
		t.Fatalf("BackupDatabase = %+v, %v", whole, err)
	}
	fake.FailNextBackup(pg)
	b, err = c.BackupCreate(ctx, "histologe-staging", pg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WaitBackup(ctx, "histologe-staging", pg, b.ID, poll)
	var be *scalingo.BackupFailedError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a BackupFailedError", err)
	}
}

func TestWaitHonoursTheDeadline(t *testing.T) {
	c, _ := newClient(t, scalingotest.Options{StepDuration: time.Hour})
	ref := "1.0.0"
	data := tarball(t, "x")
	url, err := c.SourcesUploadArchive(ctxT(t), bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DeploymentsCreate(ctxT(t), "histologe-staging", &scalingo.DeploymentsCreateParams{GitRef: &ref, SourceURL: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.WaitDeployment(ctx, "histologe-staging", d.ID, poll, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestDriftFromADeployByHand(t *testing.T) {
	c, fake := newClient(t, scalingotest.Options{})
	if _, err := deploy(t, c, "histologe-staging", "1.7.4", tarball(t, "a")); err != nil {
		t.Fatal(err)
	}
	fake.DeployByHand("histologe-staging", "hotfix-3f2a9c1", tarball(t, "b"))
	last, err := c.LastSuccessfulDeployment(ctxT(t), "histologe-staging", 0)
	if err != nil || last.GitRef != "hotfix-3f2a9c1" {
		t.Fatalf("live = %+v, %v; want the hand deploy", last, err)
	}
}

func TestNewValidatesTheConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  scalingo.ClientConfig
		want string
	}{
		{"no token", scalingo.ClientConfig{}, "no Scalingo API token"},
		{"bad url", scalingo.ClientConfig{APIToken: "tk", APIEndpoint: "api.example.org"}, "invalid Scalingo api_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scalingo.New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	c, err := scalingo.New(context.Background(), scalingo.ClientConfig{APIToken: "tk", Region: "osc-secnum-fr1"})
	if err != nil || c.APIEndpoint() != "https://api.osc-secnum-fr1.scalingo.com" {
		t.Fatalf("region endpoint = %v, %v", c, err)
	}
}
