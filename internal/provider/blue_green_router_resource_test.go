package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/nginxtest"
	"github.com/releaseplan/terraform-provider-release/internal/router"
)

// colourServer answers its colour on every path; /health answers with the
// status health, and, when failEvery is set, every failEvery-th request to
// another path answers 500.
type colourServer struct {
	addr      string
	health    atomic.Int32
	failEvery atomic.Int64
	n         atomic.Int64
}

func startColourServer(t *testing.T, colour string) *colourServer {
	t.Helper()
	s := &colourServer{}
	s.health.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(int(s.health.Load()))
		} else if f := s.failEvery.Load(); f > 0 && s.n.Add(1)%f == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
		fmt.Fprint(w, colour)
	}))
	t.Cleanup(srv.Close)
	s.addr = strings.TrimPrefix(srv.URL, "http://")
	return s
}

// nginxFixture is nginx in front of a blue and a green colour server,
// proxying to the nginx router's map variable of upstream "app", whose include
// file is file.
type nginxFixture struct {
	env         *acctest.Env
	srv         *nginxtest.Server
	blue, green *colourServer
	file        string
}

// startNginxFixture starts the colour servers and nginx, with httpExtra in
// its http block and serverExtra in its server block; the include file goes in
// dir, seeded with blue live (seedNginxRouter).
func startNginxFixture(t *testing.T, dir, httpExtra, serverExtra string) nginxFixture {
	t.Helper()
	f := nginxFixture{env: acctest.NewEnv(t), blue: startColourServer(t, "blue"), green: startColourServer(t, "green")}
	f.file = filepath.Join(dir, "app-upstream.conf")
	seedNginxRouter(t, f.file, "app", f.blue.addr, f.green.addr)
	f.srv = nginxtest.Start(t, nginxtest.Config{
		HTTP:   httpExtra + "include " + dir + "/*.conf;",
		Server: serverExtra + "location / { proxy_pass http://$app_backend; }",
	})
	return f
}

// routerHCL is what a router over an nginx fixture sets besides the fixture's
// own settings.
type routerHCL struct {
	active      string
	blue, green string // the upstreams' HCL expressions; the colour servers' addresses when empty
	testCommand string // nginx's own test command when empty
	nginxAttrs  string // more attributes of the nginx block
	attrs       string // more attributes of the resource
}

// routerConfig is the release_blue_green_router "web" over the fixture.
func (f *nginxFixture) routerConfig(r routerHCL) string {
	if r.blue == "" {
		r.blue, r.green = fmt.Sprintf("%q", f.blue.addr), fmt.Sprintf("%q", f.green.addr)
	}
	if r.testCommand == "" {
		r.testCommand = f.srv.TestCommand()
	}
	return f.env.ProviderBlock() + fmt.Sprintf(`
resource "release_blue_green_router" "web" {
  active = %q
  blue {
    upstream = %s
  }
  green {
    upstream = %s
  }
  nginx {
    config_file    = %q
    upstream_name  = "app"
    reload_command = %q
    test_command   = %q
    %s
  }
%s
}
`, r.active, r.blue, r.green, f.file, f.srv.ReloadCommand(), r.testCommand, r.nginxAttrs, r.attrs)
}

// seedNginxRouter writes the nginx router's include file for upstream with
// blue live, the way an earlier setup would have left it: nginx refuses to
// start while the router's map variable is undefined.
// It returns that router, to read what nginx routes.
func seedNginxRouter(t *testing.T, file, upstream, blue, green string) *router.Nginx {
	t.Helper()
	seed := &router.Nginx{ConfigFile: file, UpstreamName: upstream, Blue: blue, Green: green, ReloadCommand: "true"}
	if _, err := seed.Switch(context.Background(), router.Blue, nil); err != nil {
		t.Fatal(err)
	}
	return seed
}

// sendRequests is a client loop sending GET url, one request every pause,
// until stop is called (stop waits for the loop's last request).
func sendRequests(url string, pause time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 5 * time.Second}
		for ctx.Err() == nil {
			if resp, err := client.Get(url); err == nil {
				resp.Body.Close()
			}
			time.Sleep(pause)
		}
	}()
	return func() { cancel(); <-done }
}

// routerFixture is an nginx fixture whose router has a preview server name
// and health checks the colour servers.
type routerFixture struct{ nginxFixture }

func startRouterFixture(t *testing.T) *routerFixture {
	t.Helper()
	return &routerFixture{startNginxFixture(t, t.TempDir(), "", "")}
}

// routerFixtureChecks are the router fixture's environment and health check
// of the colour servers.
const routerFixtureChecks = `  environment = "production"
  health_check {
    path          = "/health"
    expect_status = 200
    attempts      = 2
    interval      = "100ms"
    timeout       = "2s"
  }`

func (f *routerFixture) config(active, testCommand string) string {
	return f.routerConfig(routerHCL{active: active, testCommand: testCommand,
		nginxAttrs: `preview_server_name = "preview.example.test"`, attrs: routerFixtureChecks})
}

// expectTraffic polls nginx until the request answers want (reloads are asynchronous).
func (f *routerFixture) expectTraffic(headers map[string]string, want string) error {
	deadline := time.Now().Add(10 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		status, body, err := f.srv.Get("/", headers)
		if err == nil && status == http.StatusOK && body == want {
			return nil
		}
		last = fmt.Sprintf("%d %q %v", status, body, err)
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("GET / with %v never answered %q; last: %s", headers, want, last)
}

func (f *routerFixture) checkTraffic(live, idle string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, c := range []struct {
			headers map[string]string
			want    string
		}{
			{nil, live},
			{map[string]string{router.PreviewHeader: "1"}, idle},
			{map[string]string{"Host": "preview.example.test"}, idle},
		} {
			if err := f.expectTraffic(c.headers, c.want); err != nil {
				return err
			}
		}
		return nil
	}
}

// stillServes fails the test unless nginx answers want now (used after failed applies,
// where nothing must have changed: no need to wait).
func (f *routerFixture) stillServes(t *testing.T, want string) {
	t.Helper()
	for i := 0; i < 5; i++ {
		if status, body, err := f.srv.Get("/", nil); err != nil || status != http.StatusOK || body != want {
			t.Errorf("after a failed switch nginx answers %d %q %v, want %q", status, body, err, want)
			return
		}
	}
}

func TestAccBlueGreenRouterResource_nginx(t *testing.T) {
	f := startRouterFixture(t)
	const res = "release_blue_green_router.web"
	var before string

	accParallelTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			// on_destroy = "keep": nginx keeps routing to the last colour.
			if _, err := os.Stat(f.file); err != nil {
				return fmt.Errorf("destroy removed the include file: %v", err)
			}
			return f.expectTraffic(nil, "green")
		},
		Steps: []resource.TestStep{
			{
				Config: f.config("blue", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("id"), knownvalue.StringExact(f.file)),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("preview_upstream"), knownvalue.StringExact(f.green.addr)),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("previous_active"), knownvalue.Null()),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("active"), knownvalue.StringExact("blue")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("on_destroy"), knownvalue.StringExact("keep")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("switched_at"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT`))),
				},
				Check: f.checkTraffic("blue", "green"),
			},
			{
				ResourceName:      res,
				ImportState:       true,
				ImportStateId:     f.file,
				ImportStateVerify: true,
				// Neither is recorded in the include file.
				ImportStateVerifyIgnore: []string{"health_check", "environment"},
			},
			{
				Config: f.config("green", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("previous_active"), knownvalue.StringExact("blue")),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("preview_upstream"), knownvalue.StringExact(f.blue.addr)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("active"), knownvalue.StringExact("green")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("previous_active"), knownvalue.StringExact("blue")),
				},
				Check: resource.ComposeTestCheckFunc(f.checkTraffic("green", "blue"), func(*terraform.State) error {
					events, err := f.env.Backend(t).History(context.Background(), backend.HistoryQuery{Environment: "production", Kinds: []string{backend.KindSwitched}})
					if err != nil {
						return err
					}
					if len(events) != 2 || !strings.Contains(events[0].Detail, "blue → green") {
						return fmt.Errorf("history has %d switched events, newest %+v; want 2, newest blue → green", len(events), events)
					}
					return nil
				}),
			},
			{
				// Blue is sick: switching back to it is refused and nothing moves.
				PreConfig:   func() { f.blue.health.Store(http.StatusServiceUnavailable) },
				Config:      f.config("blue", ""),
				ExpectError: regexp.MustCompile(`(?s)health\s+check\s+of\s+blue\s+failed.*answered\s+503.*Nothing\s+was\s+switched;\s+traffic\s+still\s+goes\s+to\s+green`),
			},
			{
				PreConfig: func() {
					f.stillServes(t, "green")
					f.blue.health.Store(http.StatusOK)
					b, err := os.ReadFile(f.file)
					if err != nil {
						t.Fatal(err)
					}
					before = string(b)
				},
				Config: f.config("green", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// nginx rejects the configuration: the previous file comes back.
				Config:      f.config("blue", "echo 'nginx: configuration file test failed' >&2; exit 1"),
				ExpectError: regexp.MustCompile(`(?s)test_command.*configuration\s+file\s+test\s+failed.*previous\s+configuration\s+was\s+restored`),
			},
			{
				PreConfig: func() {
					if got, err := os.ReadFile(f.file); err != nil || string(got) != before {
						t.Errorf("the include file was not restored after the failed test_command (%v):\n%s", err, got)
					}
					f.stillServes(t, "green")
					// Someone switches nginx to blue by hand.
					edited := strings.Replace(before, "upstream app {\n    server "+f.green.addr, "upstream app {\n    server "+f.blue.addr, 1)
					if err := os.WriteFile(f.file, []byte(edited), 0o644); err != nil {
						t.Fatal(err)
					}
					f.srv.Reload(t)
					if err := f.expectTraffic(nil, "blue"); err != nil {
						t.Fatal(err)
					}
				},
				Config: f.config("green", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("previous_active"), knownvalue.StringExact("blue")),
					},
				},
				Check: f.checkTraffic("green", "blue"),
			},
			emptyPlanStep(f.config("green", "")),
			{
				// The file disappears: the router is gone from the state and created again.
				PreConfig: func() {
					if err := os.Remove(f.file); err != nil {
						t.Fatal(err)
					}
				},
				Config: f.config("green", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate)},
				},
				Check: f.checkTraffic("green", "blue"),
			},
		},
	})
}

// directoryRouterConfig is a release_blue_green_router "site" switching the
// live link of dir to active, with more attributes (attrs, may be empty).
func directoryRouterConfig(env *acctest.Env, dir, active, attrs string) string {
	return env.ProviderBlock() + fmt.Sprintf(`
resource "release_blue_green_router" "site" {
  active = %q
  %s
  directory {
    path = %q
  }
}
`, active, attrs, dir)
}

func TestAccBlueGreenRouterResource_directory(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := colourDirs(t)
	for _, c := range []string{"blue", "green"} {
		if err := os.WriteFile(filepath.Join(dir, c, "index.html"), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	live := filepath.Join(dir, "live")
	serves := func(want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			b, err := os.ReadFile(filepath.Join(live, "index.html"))
			if err != nil || string(b) != want {
				return fmt.Errorf("live serves %q (%v), want %q", b, err, want)
			}
			return nil
		}
	}
	config := func(active string) string {
		return directoryRouterConfig(env, dir, active, `on_destroy = "remove"`)
	}
	const res = "release_blue_green_router.site"

	accParallelTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			if _, err := os.Lstat(live); !os.IsNotExist(err) {
				return fmt.Errorf("on_destroy = remove left %s: %v", live, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "green", "index.html")); err != nil {
				return fmt.Errorf("destroy touched the colours: %v", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config("blue"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("id"), knownvalue.StringExact(dir)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("active"), knownvalue.StringExact("blue")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("preview_upstream"), knownvalue.StringExact(filepath.Join(dir, "green"))),
				},
				Check: serves("blue"),
			},
			{
				ResourceName:            res,
				ImportState:             true,
				ImportStateId:           dir,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"on_destroy"},
			},
			{
				Config: config("green"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("previous_active"), knownvalue.StringExact("blue")),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("preview_upstream"), knownvalue.StringExact(filepath.Join(dir, "blue"))),
					},
				},
				Check: serves("green"),
			},
			{
				// The blue release directory is missing: nothing switches.
				PreConfig: func() {
					if err := os.Rename(filepath.Join(dir, "blue"), filepath.Join(dir, "blue.moved")); err != nil {
						t.Fatal(err)
					}
				},
				Config:      config("blue"),
				ExpectError: regexp.MustCompile(`(?s)blue.*no\s+such\s+file.*traffic\s+still\s+goes\s+to\s+green`),
			},
			{
				PreConfig: func() {
					if err := os.Rename(filepath.Join(dir, "blue.moved"), filepath.Join(dir, "blue")); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("green"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: serves("green"),
			},
			{
				// Switched back by hand: the plan puts green back.
				PreConfig: func() {
					if err := os.Remove(live); err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink("blue", live); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("green"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate)},
				},
				Check: serves("green"),
			},
			emptyPlanStep(config("green")),
		},
	})
}

// refusedRouterConfig is the body of a release_blue_green_router that the plan
// refuses with the error want.
type refusedRouterConfig struct {
	name, body string
	want       *regexp.Regexp
}

// expectRouterConfigsRefused plans each body as a release_blue_green_router
// and expects the plan to fail with its error.
func expectRouterConfigsRefused(t *testing.T, env *acctest.Env, tests []refusedRouterConfig) {
	t.Helper()
	steps := make([]resource.TestStep, 0, len(tests))
	for _, tt := range tests {
		steps = append(steps, resource.TestStep{
			Config:      env.ProviderBlock() + "\nresource \"release_blue_green_router\" \"x\" {\n  " + tt.body + "\n}\n",
			PlanOnly:    true,
			ExpectError: tt.want,
		})
	}
	accParallelTest(t, resource.TestCase{
		Steps: steps,
	})
}

func TestAccBlueGreenRouterResource_invalidConfig(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := t.TempDir()
	expectRouterConfigsRefused(t, env, []refusedRouterConfig{
		{"unknown colour", `active = "purple"
  directory { path = "` + dir + `" }`, regexp.MustCompile(`value must be one of`)},
		{"two routers", `active = "blue"
  directory { path = "` + dir + `" }
  nginx {
    config_file   = "` + dir + `/x.conf"
    upstream_name = "app"
  }
  blue { upstream = "127.0.0.1:1" }
  green { upstream = "127.0.0.1:2" }`, regexp.MustCompile(`(?s)Invalid block combination.*nginx\s+and\s+directory\s+are\s+both\s+set`)},
		{"nginx without upstreams", `active = "blue"
  nginx {
    config_file   = "` + dir + `/x.conf"
    upstream_name = "app"
  }`, regexp.MustCompile(`needs blue \{ upstream`)},
		{"injected upstream", `active = "blue"
  nginx {
    config_file   = "` + dir + `/x.conf"
    upstream_name = "app"
  }
  blue { upstream = "127.0.0.1:1; } server {" }
  green { upstream = "127.0.0.1:2" }`, regexp.MustCompile(`Invalid upstream`)},
		{"bad upstream name", `active = "blue"
  nginx {
    config_file   = "` + dir + `/x.conf"
    upstream_name = "my-app"
  }
  blue { upstream = "127.0.0.1:1" }
  green { upstream = "127.0.0.1:2" }`, regexp.MustCompile(`Invalid upstream name`)},
		{"health check path without upstream", `active = "blue"
  directory { path = "` + dir + `" }
  health_check { path = "/health" }`, regexp.MustCompile(`needs a host:port upstream`)},
		{"health check url and path", `active = "blue"
  directory { path = "` + dir + `" }
  health_check {
    path = "/health"
    url  = "http://127.0.0.1/health"
  }`, errorRe(`Set exactly one of url, path in the health_check block`)},
	})
	if _, err := os.Lstat(filepath.Join(dir, "live")); !os.IsNotExist(err) {
		t.Errorf("an invalid configuration touched %s: %v", dir, err)
	}
}
