package scalingo_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
)

// apiCall sends one authenticated request to the fake as another client would.
func apiCall(t *testing.T, c *scalingo.Client, method, url string, body any) *http.Response {
	t.Helper()
	tok, err := c.TokenExchange(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&b).Encode(body)
	}
	req, _ := http.NewRequest(method, url, &b)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestSourcesCreateAnswers201(t *testing.T) {
	c, fake := newClient(t, scalingotest.Options{})
	if resp := apiCall(t, c, http.MethodPost, fake.URL+"/v1/sources", nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/sources answered %d, want 201 as Scalingo", resp.StatusCode)
	}
	src, err := c.SourcesCreate(ctxT(t))
	if err != nil || !strings.HasPrefix(src.UploadURL, fake.StorageURL) {
		t.Fatalf("source %+v, %v: want an upload URL on the storage service", src, err)
	}
}

func TestTokenJTIIsAString(t *testing.T) {
	c, _ := newClient(t, scalingotest.Options{})
	tok, err := c.TokenExchange(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if _, ok := claims["jti"].(string); !ok {
		t.Fatalf("jti = %#v, want a string as Scalingo's", claims["jti"])
	}
	if _, ok := claims["exp"].(float64); !ok {
		t.Fatalf("exp = %#v, want a number", claims["exp"])
	}
}

// TestServicesAreSeparate: auth, API and database API are separate services; a
// request sent to the wrong one fails as it would for real.
func TestServicesAreSeparate(t *testing.T) {
	fake := scalingotest.NewServer(t, scalingotest.Options{})
	fake.CreateApp("histologe")
	ad := fake.AddAddon("histologe", "postgresql")
	fake.DeployByHand("histologe", "1.0.0", nil)
	for name, mod := range map[string]func(*scalingo.ClientConfig){
		"auth at the API":          func(c *scalingo.ClientConfig) { c.AuthEndpoint = fake.URL },
		"database API at the API":  func(c *scalingo.ClientConfig) { c.DatabaseAPIEndpoint = fake.URL },
		"API at the database API":  func(c *scalingo.ClientConfig) { c.APIEndpoint = fake.DatabaseAPIURL },
		"database API at the auth": func(c *scalingo.ClientConfig) { c.DatabaseAPIEndpoint = fake.AuthURL },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := fake.ClientConfig()
			mod(&cfg)
			c, err := scalingo.New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.BackupDatabase(ctxT(t), "histologe", ad, poll)
			if scalingo.StatusCode(err) != http.StatusNotFound {
				t.Fatalf("err = %v, want a 404 from the wrong service", err)
			}
		})
	}
	c, _ := scalingo.New(context.Background(), fake.ClientConfig())
	if _, err := c.BackupDatabase(ctxT(t), "histologe", ad, poll); err != nil {
		t.Fatalf("with the right endpoints: %v", err)
	}
}

func TestAppStatusAndRestarts(t *testing.T) {
	c, fake := newClient(t, scalingotest.Options{StepDuration: 30 * time.Millisecond})
	ctx := ctxT(t)
	if st := fake.AppStatus("histologe-staging"); st != "new" {
		t.Fatalf("new app status = %s", st)
	}
	_, err := c.AppsRestart(ctx, "histologe-staging", nil)
	if scalingo.StatusCode(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "is not running") {
		t.Fatalf("restarting a new app: %v, want 422 is not running", err)
	}
	var refused *scalingo.RestartRefusedError
	if _, err := c.AppsRestartAndWait(ctx, "histologe-staging", nil, poll); !errors.As(err, &refused) {
		t.Fatalf("AppsRestartAndWait on a new app: %v, want a RestartRefusedError", err)
	}
	if _, err := deploy(t, c, "histologe-staging", "1.0.0", tarball(t, "v1")); err != nil {
		t.Fatal(err)
	}
	if st := fake.AppStatus("histologe-staging"); st != "running" {
		t.Fatalf("status after a deployment = %s", st)
	}
	if _, err := c.AppsRestart(ctx, "histologe-staging", nil); err != nil {
		t.Fatal(err)
	}
	if st := fake.AppStatus("histologe-staging"); st != "restarting" {
		t.Fatalf("status during a restart = %s", st)
	}
	_, err = c.AppsRestart(ctx, "histologe-staging", nil)
	if !scalingo.IsRestarting(err) || !strings.Contains(err.Error(), `app is restarting`) {
		t.Fatalf("second restart: %v, want 422 {\"errors\":{\"app\":[\"is restarting\"]}}", err)
	}
	op, err := c.AppsRestartAndWait(ctx, "histologe-staging", nil, poll)
	if err != nil || op.Status != "done" {
		t.Fatalf("AppsRestartAndWait while restarting: %+v, %v; want it to wait and restart", op, err)
	}
	if n := fake.Restarts("histologe-staging"); n != 2 {
		t.Fatalf("%d restarts, want 2", n)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.AppsRestart(ctx, "histologe-staging", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppsRestartAndWait(short, "histologe-staging", nil, poll); !errors.As(err, &refused) || !strings.Contains(err.Error(), "still restarting") {
		t.Fatalf("restarting until the deadline: %v, want a RestartRefusedError saying it was still restarting", err)
	}
	fake.StopApp("histologe-staging")
	if _, err := c.AppsRestartAndWait(ctx, "histologe-staging", nil, poll); !errors.As(err, &refused) || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("restarting a stopped app: %v", err)
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	fake := scalingotest.NewServer(t, scalingotest.Options{RateLimit: 5, RateWindow: time.Second})
	fake.CreateApp("a")
	cfg := fake.ClientConfig()
	cfg.RateLimit = -1 // no budget: the client is as impatient as it can be
	cfg.RetryMax = -1
	c, _ := scalingo.New(context.Background(), cfg)
	tok, _ := c.TokenExchange(ctxT(t))
	var last *http.Response
	for i := 0; i < 6; i++ {
		req, _ := http.NewRequest(http.MethodGet, fake.URL+"/v1/apps/a", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp
		if i < 5 && resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d answered %d", i+1, resp.StatusCode)
		}
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") != "1" {
		t.Fatalf("6th request: %d Retry-After %q, want 429 with Retry-After 1", last.StatusCode, last.Header.Get("Retry-After"))
	}
	// The client waits for Retry-After instead of failing.
	start := time.Now()
	if _, err := c.AppsShow(ctxT(t), "a"); err != nil {
		t.Fatalf("a throttled request failed: %v", err)
	}
	if time.Since(start) < 500*time.Millisecond {
		t.Fatalf("the throttled request did not wait for Retry-After (%s)", time.Since(start))
	}
}

func TestTheBudgetKeepsUnderTheRateLimit(t *testing.T) {
	fake := scalingotest.NewServer(t, scalingotest.Options{RateLimit: 10, RateWindow: 300 * time.Millisecond})
	fake.CreateApp("a")
	c, _ := scalingo.New(context.Background(), fake.ClientConfig())
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.AppsShow(ctxT(t), "a"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := fake.Throttled(); n != 0 {
		t.Fatalf("the fake answered 429 %d times: the client's budget let too many requests through", n)
	}
}

// TestTenParallelDeploymentsUnderTheRateLimit: ten deployments and their
// database backups at once through one client (one budget) never meet a 429;
// with a second client of the same token that ignores the budget, the fake
// answers 429 and still nothing fails.
func TestTenParallelDeploymentsUnderTheRateLimit(t *testing.T) {
	t.Run("one budget", func(t *testing.T) { parallelDeployments(t, false) })
	t.Run("and a client without budget", func(t *testing.T) { parallelDeployments(t, true) })
}

func parallelDeployments(t *testing.T, withGreedy bool) {
	fake := scalingotest.NewServer(t, scalingotest.Options{StepDuration: 20 * time.Millisecond, RateLimit: 60, RateWindow: time.Second})
	c, err := scalingo.New(context.Background(), fake.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	greedyCfg := fake.ClientConfig()
	greedyCfg.RateLimit = -1
	greedy, _ := scalingo.New(context.Background(), greedyCfg)
	var wg sync.WaitGroup
	var failures atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < 10; i++ {
		app := fmt.Sprintf("app-%d", i)
		fake.CreateApp(app)
		fake.AddAddon(app, "postgresql")
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := c.BackupDatabase(ctx, app, "postgresql", poll); err != nil {
				failures.Add(1)
				t.Errorf("backup of %s: %v", app, err)
			}
			data := tarball(t, app)
			url, err := c.SourcesUploadArchive(ctx, bytes.NewReader(data), int64(len(data)))
			if err == nil {
				ref := "1.0.0"
				var d *scalingo.Deployment
				if d, err = c.DeploymentsCreate(ctx, app, &scalingo.DeploymentsCreateParams{GitRef: &ref, SourceURL: url}); err == nil {
					_, err = c.WaitDeployment(ctx, app, d.ID, poll, nil)
				}
			}
			if err != nil {
				failures.Add(1)
				t.Errorf("deployment of %s: %v", app, err)
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; withGreedy && j < 8; j++ {
				if _, err := greedy.AppsShow(ctx, app); err != nil {
					failures.Add(1)
					t.Errorf("greedy client: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if failures.Load() > 0 {
		t.FailNow()
	}
	for i := 0; i < 10; i++ {
		if v := fake.LiveVersion(fmt.Sprintf("app-%d", i)); v != "1.0.0" {
			t.Fatalf("app-%d runs %q", i, v)
		}
	}
	if !withGreedy && fake.Throttled() > 0 {
		t.Fatalf("the fake answered 429 %d times: the budget let too many requests through", fake.Throttled())
	}
	if withGreedy && fake.Throttled() == 0 {
		t.Fatalf("the fake never answered 429: the test did not reach the rate limit")
	}
	t.Logf("%d requests answered 429, none failed", fake.Throttled())
}

func TestArchiveRules(t *testing.T) {
	c, fake := newClient(t, scalingotest.Options{MaxArchiveSize: 64 << 10})
	t.Run("flat archives are refused by Scalingo", func(t *testing.T) {
		_, err := deploy(t, c, "histologe-staging", "1.0.0", archive(t, map[string]string{"index.php": "a", "composer.json": "{}"}))
		if err == nil || !strings.Contains(err.Error(), "single top-level folder") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a wrapped archive is accepted", func(t *testing.T) {
		flat := archive(t, map[string]string{"index.php": "a", "src/App.php": "b", "./composer.json": "{}"})
		info, err := scalingo.InspectArchive(bytes.NewReader(flat))
		if err != nil || info.OneFolder() || fmt.Sprint(info.TopLevel) != "[composer.json index.php src/]" {
			t.Fatalf("inspect = %+v, %v", info, err)
		}
		var wrapped bytes.Buffer
		if _, err := scalingo.WrapArchive(&wrapped, bytes.NewReader(flat), "histologe-1.0.0"); err != nil {
			t.Fatal(err)
		}
		if info, err := scalingo.InspectArchive(bytes.NewReader(wrapped.Bytes())); err != nil || !info.OneFolder() {
			t.Fatalf("wrapped: %+v, %v", info, err)
		}
		if _, err := deploy(t, c, "histologe-staging", "1.0.0", wrapped.Bytes()); err != nil {
			t.Fatal(err)
		}
		ds := fake.Deployments("histologe-staging")
		if files := ds[len(ds)-1].Files; files["src/App.php"] != "b" || files["composer.json"] != "{}" {
			t.Fatalf("files = %v", files)
		}
	})
	t.Run("archives over the size limit are refused", func(t *testing.T) {
		big := make([]byte, 200<<10)
		_, _ = rand.New(rand.NewSource(7)).Read(big)
		_, err := deploy(t, c, "histologe-staging", "1.0.1", archive(t, map[string]string{"app/blob": string(big)}))
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("err = %v", err)
		}
		if err := scalingo.CheckArchiveSize(scalingo.MaxArchiveSize + 1); err == nil || !strings.Contains(err.Error(), "300 MiB") {
			t.Fatalf("CheckArchiveSize = %v", err)
		}
	})
	t.Run("git_ref must be an image tag", func(t *testing.T) {
		for _, ref := range []string{"1.0.0+build.7", "-1.0.0", ".hidden", ""} {
			if err := scalingo.ValidGitRef(ref); err == nil {
				t.Errorf("ValidGitRef(%q) passed", ref)
			}
			_, err := c.DeploymentsCreate(ctxT(t), "histologe-staging", &scalingo.DeploymentsCreateParams{GitRef: &ref, SourceURL: "https://example.org/a.tar.gz"})
			if err == nil || !strings.Contains(err.Error(), "image tag") {
				t.Errorf("DeploymentsCreate(%q) = %v", ref, err)
			}
		}
		for _, ref := range []string{"1.8.0", "1.8.0-staging", "v2_rc.1"} {
			if err := scalingo.ValidGitRef(ref); err != nil {
				t.Errorf("ValidGitRef(%q) = %v", ref, err)
			}
		}
		resp := apiCall(t, c, http.MethodPost, fake.URL+"/v1/apps/histologe-staging/deployments",
			map[string]any{"deployment": map[string]string{"git_ref": "1.0.0+b", "source_url": "https://example.org/a.tar.gz"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("the fake accepted git_ref 1.0.0+b: %d", resp.StatusCode)
		}
	})
}

func TestSourceURLIsDownloadedByScalingo(t *testing.T) {
	c, _ := newClient(t, scalingotest.Options{SourceTTL: 50 * time.Millisecond})
	data := tarball(t, "from a store")
	var gets atomic.Int32
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		gets.Add(1)
		_, _ = w.Write(data)
	}))
	defer store.Close()
	ref := "1.0.0"
	d, err := c.DeploymentsCreate(ctxT(t), "histologe-staging", &scalingo.DeploymentsCreateParams{GitRef: &ref, SourceURL: store.URL + "/app-1.0.0.tar.gz"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitDeployment(ctxT(t), "histologe-staging", d.ID, poll, nil); err != nil {
		t.Fatal(err)
	}
	if gets.Load() != 1 {
		t.Fatalf("the store was read %d times, want once by the build machine", gets.Load())
	}
	t.Run("upload URLs live 10 minutes", func(t *testing.T) {
		src, err := c.SourcesCreate(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(80 * time.Millisecond)
		err = c.SourcesUpload(ctxT(t), src.UploadURL, bytes.NewReader(data), int64(len(data)))
		if scalingo.StatusCode(err) != http.StatusForbidden {
			t.Fatalf("upload after expiry: %v, want 403", err)
		}
	})
	t.Run("store URLs Scalingo cannot reach are refused", func(t *testing.T) {
		for u, want := range map[string]string{
			"http://127.0.0.1:8080/a.tgz":               "loopback",
			"https://10.1.2.3/a.tgz":                    "private",
			"https://192.168.1.10/a.tgz":                "private",
			"http://[::1]/a.tgz":                        "loopback",
			"http://localhost:9000/a.tgz":               "localhost",
			"https://user:secret@dav.example.org/a.tgz": "credentials",
			"s3://bucket/a.tgz":                         "http(s)",
		} {
			err := scalingo.CheckSourceURL(ctxT(t), u)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("CheckSourceURL(%s) = %v, want %q", u, err, want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("the error quotes the password: %v", err)
			}
		}
		if err := scalingo.CheckSourceURL(ctxT(t), "https://93.184.216.34/releases/a.tgz?X-Amz-Signature=x"); err != nil {
			t.Errorf("a public URL was refused: %v", err)
		}
	})
}

// TestDeploymentCreationAccepts200: the reference page says 200, go-scalingo
// expects 201; the client takes both.
func TestDeploymentCreationAccepts200(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/tokens/exchange":
			_, _ = w.Write([]byte(`{"token":"x.eyJleHAiOjQxMDI0NDQ4MDB9.y"}`))
		default:
			_, _ = w.Write([]byte(`{"deployment":{"id":"dep-1","status":"queued","git_ref":"1.0.0"}}`))
		}
	}))
	defer srv.Close()
	c, err := scalingo.New(context.Background(), scalingo.ClientConfig{APIToken: "tk-us-x", APIEndpoint: srv.URL, AuthEndpoint: srv.URL, DatabaseAPIEndpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ref := "1.0.0"
	d, err := c.DeploymentsCreate(ctxT(t), "a", &scalingo.DeploymentsCreateParams{GitRef: &ref, SourceURL: "https://example.org/a.tgz"})
	if err != nil || d.ID != "dep-1" {
		t.Fatalf("%+v, %v", d, err)
	}
}

func TestOneOffs(t *testing.T) {
	c, fake := newClient(t, scalingotest.Options{OneOffInactivity: 100 * time.Millisecond})
	ctx := ctxT(t)
	const app = "histologe-staging"
	run := func(ctx context.Context, cmd string, out io.Writer) (int, error) {
		return c.RunAttached(ctx, scalingo.RunOpts{App: app, Command: []string{cmd}, Env: map[string]string{"RELEASE": "1"}, Size: "L"}, out, poll)
	}
	if _, err := run(ctx, "php bin/console about", nil); scalingo.StatusCode(err) != http.StatusUnprocessableEntity {
		t.Fatalf("a one-off on an app that never ran: %v, want 422", err)
	}
	if _, err := deploy(t, c, app, "1.0.0", tarball(t, "v1")); err != nil {
		t.Fatal(err)
	}
	fake.SetVariable(app, "DATABASE_URL", "postgres://db")
	fake.SetOneOff(app, "php bin/console app:migrate-signalements", scalingotest.OneOff{Output: "Migrating 12 signalements\n[OK] done\n"})
	fake.SetOneOff(app, "php bin/console app:broken", scalingotest.OneOff{Output: strings.Repeat("working\n", 50) + "In Connection.php line 42:\n  SQLSTATE[HY000] connection refused\n", ExitCode: 1})
	fake.SetOneOff(app, "php bin/console app:hang", scalingotest.OneOff{Output: "starting\n", Hang: true})

	var out bytes.Buffer
	code, err := run(ctx, "php bin/console app:migrate-signalements", &out)
	if err != nil || code != 0 || out.String() != "Migrating 12 signalements\n[OK] done\n" {
		t.Fatalf("success: %d, %v, output %q", code, err, out.String())
	}
	oo := fake.OneOffs(app)
	if len(oo) != 1 || !oo[0].Attached || oo[0].Detached || oo[0].Size != "L" || oo[0].Env["RELEASE"] != "1" || oo[0].Env["DATABASE_URL"] != "postgres://db" || oo[0].LiveVersion != "1.0.0" {
		t.Fatalf("one-off = %+v", oo)
	}

	code, err = run(ctx, "php bin/console app:broken", nil)
	var fe *scalingo.OneOffFailedError
	if !errors.As(err, &fe) || code != 1 || fe.ExitCode != 1 || !strings.Contains(err.Error(), "exited with code 1") || !strings.Contains(fe.OutputTail, "SQLSTATE[HY000] connection refused") {
		t.Fatalf("non-zero exit: %d, %v", code, err)
	}
	if n := strings.Count(fe.OutputTail, "\n") + 1; n > 30 {
		t.Fatalf("the error holds %d output lines, want the last 30", n)
	}

	_, err = run(ctx, "php bin/console app:hang", nil)
	if !errors.As(err, &fe) || !fe.TimedOut || !strings.Contains(err.Error(), "408") {
		t.Fatalf("inactivity: %v, want a timed-out OneOffFailedError", err)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := run(short, "php bin/console app:hang", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("client timeout: %v, want the deadline", err)
	}

	code, err = run(ctx, "vendor/bin/nope", nil)
	if !errors.As(err, &fe) || code != 127 || !strings.Contains(fe.OutputTail, "command not found") {
		t.Fatalf("unknown command: %d, %v", code, err)
	}
}

// TestPollingAdapts: while a long build does not change status, polling slows
// down instead of spending the request budget.
func TestPollingAdapts(t *testing.T) {
	c, fake := newClient(t, scalingotest.Options{StepDuration: 150 * time.Millisecond})
	data := tarball(t, "v1")
	url, err := c.SourcesUploadArchive(ctxT(t), bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	ref := "1.0.0"
	d, err := c.DeploymentsCreate(ctxT(t), "histologe-staging", &scalingo.DeploymentsCreateParams{GitRef: &ref, SourceURL: url})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.WaitDeployment(ctxT(t), "histologe-staging", d.ID, 5*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	polls := fake.CountCalls(http.MethodGet, "/v1/apps/histologe-staging/deployments/"+d.ID)
	fixed := int(time.Since(start) / (5 * time.Millisecond))
	if polls*3 > fixed {
		t.Fatalf("%d polls in %s, a fixed 5ms interval would make %d: polling did not slow down", polls, time.Since(start), fixed)
	}
	t.Logf("%d polls in %s (fixed interval: %d)", polls, time.Since(start).Round(time.Millisecond), fixed)
}
