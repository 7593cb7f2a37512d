package provider

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

// colourDirs makes the blue/ and green/ folders of a directory router.
func colourDirs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, c := range []string{"blue", "green"} {
		if err := os.MkdirAll(filepath.Join(dir, c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The router's health_check is the same HTTP check block as the deployment's
// smoke_test: it sends the method and Host header it is given, over TLS verified
// against ca_file, or not verified with insecure = true; without either, an
// https check of a private CA fails and nothing switches.
func TestAccBlueGreenRouterResource_healthCheckMethodHostTLS(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := colourDirs(t)
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Host+" "+r.URL.Path)
		mu.Unlock()
		if r.Host != "example.com" {
			http.Error(w, "wrong virtual host", http.StatusMisdirectedRequest)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	config := func(active, tls string) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "release_blue_green_router" "site" {
  active = %q
  directory {
    path = %q
  }
  health_check {
    url      = "%s/health"
    method   = "HEAD"
    host     = "example.com"
    attempts = 1
    %s
  }
}
`, active, dir, srv.URL, tls)
	}
	lastSeen := func(want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			mu.Lock()
			defer mu.Unlock()
			if len(seen) == 0 || seen[len(seen)-1] != want {
				return fmt.Errorf("the health check sent %v, want last %q", seen, want)
			}
			return nil
		}
	}
	const res = "release_blue_green_router.site"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config("blue", "insecure = true"),
				Check:  lastSeen("HEAD example.com /health"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("health_check").AtMapKey("method"), knownvalue.StringExact("HEAD")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("health_check").AtMapKey("interval"), knownvalue.StringExact(httpCheckDefaultInterval)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("health_check").AtMapKey("timeout"), knownvalue.StringExact(httpCheckDefaultTimeout)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("health_check").AtMapKey("expect_status"), knownvalue.Int64Exact(httpCheckDefaultStatus)),
				},
			},
			{
				// Verified TLS without the CA: the check fails, blue stays live.
				Config:      config("green", ""),
				ExpectError: errorRe(`health check of green failed.*certificate.*Nothing was switched`),
			},
			{
				Config: config("green", fmt.Sprintf("ca_file = %q", caFile)),
				Check:  lastSeen("HEAD example.com /health"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("active"), knownvalue.StringExact("green")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("health_check").AtMapKey("insecure"), knownvalue.Bool(false)),
				},
			},
		},
	})
}

// Both HTTP check blocks refuse a bad URL, method or host at plan time, with the
// same messages, before anything is touched.
func TestAccHTTPCheckBlocks_invalidAtPlanTime(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := colourDirs(t)
	router := func(check string) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "release_blue_green_router" "site" {
  active = "blue"
  directory {
    path = %q
  }
  health_check {
    %s
  }
}
`, dir, check)
	}
	deployment := func(check string) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "release_deployment" "app" {
  environment = "staging"
  artifact    = "app@1.0.0"
  directory {
    path = %q
  }
  smoke_test {
    %s
  }
}
`, filepath.Join(dir, "app"), check)
	}
	var steps []resource.TestStep
	for _, build := range []func(string) string{router, deployment} {
		for _, c := range []struct{ check, want string }{
			{`url = "ftp://127.0.0.1/health"`, `Invalid check URL.*must use http or https`},
			{`url = "http:///health"`, `Invalid check URL.*has no host`},
			{"url = \"http://127.0.0.1/health\"\n    method = \"get\"", `Invalid HTTP method.*method "get" is not a valid HTTP method`},
			{"url = \"http://127.0.0.1/health\"\n    host = \"a b\"", `Invalid host.*"a b" is not a valid host name`},
			{"url = \"http://127.0.0.1/health\"\n    interval = \"soon\"", `Invalid duration.*"soon" is not a duration`},
		} {
			steps = append(steps, resource.TestStep{Config: build(c.check), PlanOnly: true, ExpectError: errorRe(c.want)})
		}
	}
	steps = append(steps,
		resource.TestStep{Config: router(`url = "http://127.0.0.1/health"` + "\n    path = \"/health\""), PlanOnly: true,
			ExpectError: errorRe(`Set exactly one of url, path in the health_check block \(found 2\)`)},
		resource.TestStep{Config: deployment(`method = "GET"`), PlanOnly: true,
			ExpectError: errorRe(`Missing required argument.*The argument "url" is required in the smoke_test block`)},
	)
	accParallelTest(t, resource.TestCase{
		Steps: steps,
	})
	if _, err := os.Lstat(filepath.Join(dir, "live")); !os.IsNotExist(err) {
		t.Errorf("an invalid configuration touched %s: %v", dir, err)
	}
}

// environment and artifact are Required in release_deployment's schema: Terraform
// itself refuses a deployment without them.
func TestAccDeploymentResource_requiredArguments(t *testing.T) {
	env := acctest.NewEnv(t)
	app := filepath.Join(t.TempDir(), "app")
	config := func(attrs string) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "release_deployment" "app" {
  %s
  directory {
    path = %q
  }
}
`, attrs, app)
	}
	accParallelTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: config(`artifact = "app@1.0.0"`), PlanOnly: true, ExpectError: errorRe(`Missing required argument.*The argument "environment" is required`)},
			{Config: config(`environment = "staging"`), PlanOnly: true, ExpectError: errorRe(`Missing required argument.*The argument "artifact" is required`)},
			{Config: config("environment = \"-staging\"\n  artifact = \"app@1.0.0\""), PlanOnly: true, ExpectError: errorRe(`Invalid environment name`)},
		},
	})
}

// failingWebhook is a chat webhook that answers 502 to every post; it counts them.
func failingWebhook(t *testing.T) (*httptest.Server, *int) {
	t.Helper()
	var posts int
	var mu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		posts++
		mu.Unlock()
		http.Error(w, "chat service down", http.StatusBadGateway)
	}))
	t.Cleanup(hook.Close)
	return hook, &posts
}

// notifyingData is provider data whose webhook, subscribed to events, always fails.
func notifyingData(t *testing.T, env *acctest.Env, events ...string) (*providerData, *int) {
	t.Helper()
	hook, posts := failingWebhook(t)
	data := &providerData{Store: env.Store(t), Backend: env.Backend(t), Actor: "tester",
		Webhooks: []webhookSettings{{URL: hook.URL, Events: events}}}
	if d := wireNotifications(data); d.HasError() {
		t.Fatal(d)
	}
	return data, posts
}

// notificationWarnings counts the warnings of failed notifications of kind.
func notificationWarnings(d diag.Diagnostics, kind string) int {
	n := 0
	for _, w := range d.Warnings() {
		if w.Summary() == notificationWarningSummary && strings.Contains(w.Detail(), "the "+kind+" notification") && strings.Contains(w.Detail(), "chat service down") {
			n++
		}
	}
	return n
}

type discardState struct{}

func (discardState) Set(context.Context, any) diag.Diagnostics { return nil }

// A failed notification of the router's switched event is a warning, as for a
// deployment: the switch is done and recorded. Terraform hides warnings from the
// test framework, so the apply is called directly.
func TestBlueGreenRouterResource_notificationFailureIsAWarning(t *testing.T) {
	env := acctest.NewEnv(t)
	data, posts := notifyingData(t, env, backend.KindSwitched)
	dir := colourDirs(t)
	r := &blueGreenRouterResource{resourceBase: resourceBase{data: data}}
	plan := blueGreenRouterResourceModel{
		Active: types.StringValue("blue"), Environment: types.StringValue("production"), OnDestroy: types.StringValue("keep"),
		Directory: &blueGreenDirectoryModel{Path: types.StringValue(dir)}, PreviousActive: types.StringNull(),
		PreviewUpstream: types.StringValue(filepath.Join(dir, "green")),
	}
	var diags diag.Diagnostics
	r.apply(context.Background(), &plan, nil, types.StringNull(), discardState{}, &diags)
	if diags.HasError() {
		t.Fatalf("a failing webhook failed the switch: %v", diags)
	}
	if *posts != 1 || notificationWarnings(diags, backend.KindSwitched) != 1 {
		t.Fatalf("webhook posts %d, warnings %v; want one post and its failure as a warning", *posts, diags.Warnings())
	}
	evs, err := data.Backend.History(context.Background(), backend.HistoryQuery{Environment: "production", Kinds: []string{backend.KindSwitched}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("history %v (%v), want the switched event", evs, err)
	}
}

// The lock resource announces the lock_acquired and lock_released events the
// backend records, and a failed announcement is a warning of Create and Delete.
func TestEnvironmentLockResource_notificationFailureIsAWarning(t *testing.T) {
	env := acctest.NewEnv(t)
	data, posts := notifyingData(t, env, backend.KindLockAcquired, backend.KindLockReleased)
	ctx := context.Background()
	r := &environmentLockResource{resourceBase: resourceBase{data: data}}
	sch := environmentLockSchema()
	typ := sch.Type().TerraformType(ctx)
	m := environmentLockResourceModel{
		ID: types.StringUnknown(), Environment: types.StringValue("staging"), Holder: types.StringValue("ci-job"),
		Reason: types.StringValue("release 1.7.4"), TTL: types.StringValue("1h"), WaitTimeout: types.StringValue("0s"),
		Token: types.Int64Unknown(), AcquiredAt: types.StringUnknown(), ExpiresAt: types.StringUnknown(),
	}
	plan := tfsdk.Plan{Schema: sch, Raw: tftypes.NewValue(typ, nil)}
	if d := plan.Set(ctx, &m); d.HasError() {
		t.Fatal(d)
	}
	created := fwresource.CreateResponse{State: tfsdk.State{Schema: sch, Raw: tftypes.NewValue(typ, nil)}}
	r.Create(ctx, fwresource.CreateRequest{Plan: plan}, &created)
	if created.Diagnostics.HasError() {
		t.Fatalf("a failing webhook failed the lock: %v", created.Diagnostics)
	}
	if *posts != 1 || notificationWarnings(created.Diagnostics, backend.KindLockAcquired) != 1 {
		t.Fatalf("webhook posts %d, warnings %v; want the lock_acquired post and its failure as a warning", *posts, created.Diagnostics.Warnings())
	}
	deleted := fwresource.DeleteResponse{State: tfsdk.State{Schema: sch, Raw: tftypes.NewValue(typ, nil)}}
	r.Delete(ctx, fwresource.DeleteRequest{State: created.State}, &deleted)
	if deleted.Diagnostics.HasError() {
		t.Fatalf("a failing webhook failed the release: %v", deleted.Diagnostics)
	}
	if *posts != 2 || notificationWarnings(deleted.Diagnostics, backend.KindLockReleased) != 1 {
		t.Fatalf("webhook posts %d, warnings %v; want the lock_released post and its failure as a warning", *posts, deleted.Diagnostics.Warnings())
	}
	if l, err := data.Backend.Inspect(ctx, "staging"); err != nil || l != nil {
		t.Fatalf("the lock is still held (%v, %v)", l, err)
	}
}

// release_maintenance_mode records every change of mode as a maintenance event of
// its environment, which data.release_history shows.
func TestAccMaintenanceModeResource_historyEvents(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := t.TempDir()
	config := func(enabled bool) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "release_maintenance_mode" "prod" {
  environment = "production"
  enabled     = %t
  message     = "Mise à jour en cours"
  directory {
    path = %q
  }
}

data "release_history" "prod" {
  environment = "production"
  kinds       = ["maintenance"]
  depends_on  = [release_maintenance_mode.prod]
}
`, enabled, dir)
	}
	const hist = "data.release_history.prod"
	event := func(i int, key string) tfjsonpath.Path {
		return tfjsonpath.New("events").AtSliceIndex(i).AtMapKey(key)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config(true),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(hist, tfjsonpath.New("events"), knownvalue.ListSizeExact(1)),
					statecheck.ExpectKnownValue(hist, event(0, "kind"), knownvalue.StringExact("maintenance")),
					statecheck.ExpectKnownValue(hist, event(0, "environment"), knownvalue.StringExact("production")),
					statecheck.ExpectKnownValue(hist, event(0, "detail"), knownvalue.StringExact("maintenance on on directory "+dir+"; message: Mise à jour en cours")),
				},
			},
			{
				Config: config(false),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(hist, tfjsonpath.New("events"), knownvalue.ListSizeExact(2)),
					statecheck.ExpectKnownValue(hist, event(0, "detail"), knownvalue.StringExact("maintenance off on directory "+dir)),
				},
			},
		},
	})
}
