package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/router"
)

// canaryLogFormat is an nginx JSON access log with what the analysis reads.
const canaryLogFormat = `log_format release_json escape=json '{"time":"$time_iso8601","status":"$status",' ` +
	`'"request_time":"$request_time","upstream_addr":"$upstream_addr","request":"$request"}';`

type canaryFixture struct {
	nginxFixture
	log string
}

// startCanaryFixture runs nginx (JSON access log) in front of blue and green,
// with a client loop sending requests until the test ends.
func startCanaryFixture(t *testing.T) *canaryFixture {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.access.json")
	f := &canaryFixture{
		nginxFixture: startNginxFixture(t, dir, canaryLogFormat+"\n", "access_log "+log+" release_json;\n"),
		log:          log,
	}
	t.Cleanup(sendRequests(f.srv.URL("/"), time.Millisecond))
	return f
}

func (f *canaryFixture) config(active, canary string) string {
	return f.routerConfig(routerHCL{active: active, attrs: canary})
}

func (f *canaryFixture) analysis(minRequests int) string {
	return fmt.Sprintf(`
    analysis {
      access_log      = %q
      window          = "1s"
      min_requests    = %d
      max_error_rate  = 0.05
      max_p99_latency = "500ms"
    }`, f.log, minRequests)
}

// nginxHas checks the weights in the include file.
func (f *canaryFixture) nginxHas(active router.Colour, c router.Canary) error {
	b, err := os.ReadFile(f.file)
	if err != nil {
		return err
	}
	st, err := router.Parse(string(b), "app")
	if err != nil {
		return err
	}
	if st.Active != active || st.Canary != c {
		return fmt.Errorf("nginx routes %s with canary %+v, want %s with %+v:\n%s", st.Active, st.Canary, active, c, b)
	}
	return nil
}

// expectWeightChange checks the plan moves canary.weight from before to after.
type expectWeightChange struct{ before, after int }

func (e expectWeightChange) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != "release_blue_green_router.web" {
			continue
		}
		weight := func(v any) any {
			m, _ := v.(map[string]any)
			c, _ := m["canary"].(map[string]any)
			return c["weight"]
		}
		b, a := weight(rc.Change.Before), weight(rc.Change.After)
		if fmt.Sprint(b) != fmt.Sprint(e.before) || fmt.Sprint(a) != fmt.Sprint(e.after) {
			js, _ := json.Marshal(rc.Change)
			resp.Error = fmt.Errorf("canary.weight planned %v → %v, want %v → %v: %s", b, a, e.before, e.after, js)
		}
		return
	}
	resp.Error = fmt.Errorf("no change of release_blue_green_router.web in the plan")
}

func TestAccBlueGreenRouterResource_canary(t *testing.T) {
	f := startCanaryFixture(t)
	const res = "release_blue_green_router.web"
	weightIs := func(w int64) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(res, tfjsonpath.New("canary").AtMapKey("weight"), knownvalue.Int64Exact(w))
	}
	one := func(weight int, sticky string, minRequests int) string {
		return fmt.Sprintf("  canary {\n    colour = \"green\"\n    weight = %d\n    sticky = %q\n%s\n  }", weight, sticky, f.analysis(minRequests))
	}
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,"0.2"]}]}}`, time.Now().Unix())
	}))
	t.Cleanup(prom.Close)
	prometheus := prom.URL
	steps := "  canary {\n    colour = \"green\"\n    steps  = [{ weight = 25 }, { weight = 50, pause = \"1500ms\" }, { weight = 100 }]\n" + f.analysis(10) + "\n  }"

	accParallelTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: f.config("blue", one(10, "cookie", 10)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("canary").AtMapKey("summary"), knownvalue.StringExact(
						"send 10% of requests to green (sticky by cookie), then check 5xx ≤ 5% and p99 ≤ 500ms over 1s on at least 10 requests")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{weightIs(10)},
				Check: func(*terraform.State) error {
					return f.nginxHas(router.Blue, router.Canary{Weight: 10, Sticky: router.StickyCookie})
				},
			},
			{
				// A whole rollout in one apply.
				Config: f.config("blue", steps),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectWeightChange{10, 100},
					plancheck.ExpectKnownValue(res, tfjsonpath.New("canary").AtMapKey("summary"), knownvalue.StringExact(
						"send 25% of requests to green, then check 5xx ≤ 5% and p99 ≤ 500ms over 1s on at least 10 requests; "+
							"then 50% for 1.5s, then check 5xx ≤ 5% and p99 ≤ 500ms over 1s on at least 10 requests; "+
							"then 100%, then check 5xx ≤ 5% and p99 ≤ 500ms over 1s on at least 10 requests")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{weightIs(100)},
				Check: func(*terraform.State) error {
					return f.nginxHas(router.Blue, router.Canary{Weight: 100, Sticky: router.StickyNone})
				},
			},
			{
				// Green answers 500 for a quarter of the requests: back to 0, with the figures.
				PreConfig:   func() { f.green.failEvery.Store(4) },
				Config:      f.config("blue", one(30, "none", 10)),
				ExpectError: regexp.MustCompile(`(?s)Canary\s+analysis\s+of\s+green\s+failed\s+at\s+30%.*green\s+answered\s+\d+(\.\d)?%\s+5xx\s+\(\d+\s+of\s+\d+\)\s+over\s+1s,\s+limit\s+5%;\s+blue\s+0%;\s+traffic\s+is\s+back\s+on\s+blue.*canary.weight\s+=\s+0`),
			},
			{
				// The state says 0: the next plan sends 30% again, and green is healthy now.
				PreConfig: func() {
					f.green.failEvery.Store(0)
					if err := f.nginxHas(router.Blue, router.Canary{}); err != nil {
						t.Fatal(err)
					}
				},
				Config:            f.config("blue", one(30, "none", 10)),
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{expectWeightChange{0, 30}}},
				ConfigStateChecks: []statecheck.StateCheck{weightIs(30)},
			},
			{
				Config:      f.config("blue", one(40, "none", 1000000)),
				ExpectError: regexp.MustCompile(`(?s)green\s+answered\s+only\s+\d+\s+requests\s+over\s+1s,\s+at\s+least\s+1000000\s+are\s+needed.*traffic\s+is\s+back\s+on\s+blue`),
			},
			{
				// Drift: someone sets the weights by hand.
				PreConfig: func() {
					if err := f.nginxHas(router.Blue, router.Canary{}); err != nil {
						t.Fatal(err)
					}
					n := &router.Nginx{ConfigFile: f.file, UpstreamName: "app", Blue: f.blue.addr, Green: f.green.addr,
						TestCommand: f.srv.TestCommand(), ReloadCommand: f.srv.ReloadCommand(), Canary: router.Canary{Weight: 70}}
					if _, err := n.Switch(context.Background(), router.Blue, nil); err != nil {
						t.Fatal(err)
					}
				},
				Config:            f.config("blue", one(30, "none", 10)),
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{expectWeightChange{70, 30}}},
				ConfigStateChecks: []statecheck.StateCheck{weightIs(30)},
				Check: func(*terraform.State) error {
					return f.nginxHas(router.Blue, router.Canary{Weight: 30, Sticky: router.StickyNone})
				},
			},
			{
				// Prometheus instead of the access log: the canary's error ratio is too high.
				Config: f.config("blue", `  canary {
    colour = "green"
    weight = 20
    analysis {
      window = "1s"
      prometheus {
        url   = "`+prometheus+`"
        query = "canary_error_ratio"
        max   = 0.01
      }
    }
  }`),
				ExpectError: regexp.MustCompile(`(?s)Canary\s+analysis\s+of\s+green\s+failed\s+at\s+20%.*the\s+Prometheus\s+query\s+"canary_error_ratio"\s+returned\s+0.2,\s+limit\s+0.01;\s+traffic\s+is\s+back\s+on\s+blue`),
			},
			{
				// End the canary: green active, no canary block.
				Config: f.config("green", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("canary"), knownvalue.Null()),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("active"), knownvalue.StringExact("green")),
				},
				Check: func(*terraform.State) error { return f.nginxHas(router.Green, router.Canary{}) },
			},
			emptyPlanStep(f.config("green", "")),
		},
	})
}

func TestAccBlueGreenRouterResource_canaryInvalidConfig(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := t.TempDir()
	nginx := `active = "blue"
  nginx {
    config_file   = "` + dir + `/x.conf"
    upstream_name = "app"
  }
  blue { upstream = "127.0.0.1:1" }
  green { upstream = "127.0.0.1:2" }
`
	expectRouterConfigsRefused(t, env, []refusedRouterConfig{
		{"canary on the active colour", nginx + `  canary {
    colour = "blue"
    weight = 10
  }`, regexp.MustCompile(`(?s)Canary colour is the active colour.*not active \(blue is active\)`)},
		{"canary with the directory router", `active = "blue"
  directory { path = "` + dir + `" }
  canary {
    colour = "green"
    weight = 10
  }`, regexp.MustCompile(`Canary needs the nginx router`)},
		{"weight and steps", nginx + `  canary {
    colour = "green"
    weight = 10
    steps  = [{ weight = 50 }]
  }`, regexp.MustCompile(`(?s)weight.*cannot be specified when.*steps|steps.*weight`)},
		{"neither weight nor steps", nginx + `  canary {
    colour = "green"
  }`, regexp.MustCompile(`Missing canary weight`)},
		{"no colour", nginx + `  canary {
    weight = 10
  }`, regexp.MustCompile(`(?s)Missing required argument.*"colour"`)},
		{"weight above 100", nginx + `  canary {
    colour = "green"
    weight = 101
  }`, regexp.MustCompile(`(?s)weight.*between 0 and 100`)},
		{"unknown stickiness", nginx + `  canary {
    colour = "green"
    weight = 10
    sticky = "session"
  }`, regexp.MustCompile(`value must be one of`)},
		{"analysis without window", nginx + `  canary {
    colour = "green"
    weight = 10
    analysis {
      access_log     = "/var/log/nginx/app.json"
      min_requests   = 10
      max_error_rate = 0.01
    }
  }`, regexp.MustCompile(`(?s)Missing required argument.*"window" is required in the analysis block`)},
	})
	if _, err := os.Stat(filepath.Join(dir, "x.conf")); !os.IsNotExist(err) {
		t.Errorf("an invalid configuration wrote the include file: %v", err)
	}
}

// TestAccBlueGreenRouterResource_canaryWeightKnownAtApply: the canary's weight
// and steps come from another resource and change in an update (unknown at
// plan): the apply sets them and the next plan is empty.
func TestAccBlueGreenRouterResource_canaryWeightKnownAtApply(t *testing.T) {
	f := startCanaryFixture(t)
	const res = "release_blue_green_router.web"
	cfg := func(weight, last int) string {
		return f.config("blue", fmt.Sprintf(`  canary {
    colour = "green"
    steps  = [{ weight = terraform_data.rollout.output.first }, { weight = terraform_data.rollout.output.last }]
%s
  }`, f.analysis(5))) + fmt.Sprintf(`
resource "terraform_data" "rollout" {
  input = { first = %d, last = %d }
}
`, weight, last)
	}
	accParallelTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: cfg(10, 20),
				Check: func(*terraform.State) error {
					return f.nginxHas(router.Blue, router.Canary{Weight: 20, Sticky: router.StickyNone})
				},
			},
			{
				Config: cfg(30, 50),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("canary").AtMapKey("weight")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("canary").AtMapKey("weight"), knownvalue.Int64Exact(50)),
				},
				Check: func(*terraform.State) error {
					return f.nginxHas(router.Blue, router.Canary{Weight: 50, Sticky: router.StickyNone})
				},
			},
			emptyPlanStep(cfg(30, 50)),
		},
	})
}
