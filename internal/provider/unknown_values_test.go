package provider

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
)

// The tests of this file give attributes the values users give them by referencing
// another resource of the same configuration: values that are unknown when the plan
// is made and become known during the apply. Terraform then checks that every value
// the provider planned as known is unchanged in the final plan; a plan that derived
// a known value from an unknown input (the first planned step from the lock's token)
// fails the very first apply with "Provider produced inconsistent final plan". Each
// test applies from empty, checks that the input was unknown in the plan and holds
// the other resource's value after the apply, and that a second plan is empty.

const (
	unknownLockAddr     = "release_environment_lock.staging"
	unknownArtifactAddr = "release_artifact.app"
	unknownDeployAddr   = "release_deployment.staging"
)

// unknownWorld is a provider environment with a build tarball on disk (published by
// the configuration itself, so its sha256 is unknown until the apply) and a site
// folder served over HTTP.
type unknownWorld struct {
	*acctest.Env
	tarball string
	site    string
	url     string
}

func newUnknownWorld(t *testing.T) *unknownWorld {
	t.Helper()
	w := &unknownWorld{Env: acctest.NewEnv(t)}
	w.site = filepath.Join(w.Dir, "site")
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(w.site, "current"))))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	w.tarball = filepath.Join(w.Dir, "dist", "app-1.0.0.tar.gz")
	if err := os.MkdirAll(filepath.Dir(w.tarball), 0o755); err != nil {
		t.Fatal(err)
	}
	data := archivetest.TarGz(t, map[string]string{"index.html": "version 1.0.0", "health": "ok"})
	if err := os.WriteFile(w.tarball, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// artifact publishes the tarball without a configured sha256: its sha256 is known
// only once the bytes are published.
func (w *unknownWorld) artifact() string {
	return fmt.Sprintf(`
resource "release_artifact" "app" {
  name    = "app"
  version = "1.0.0-staging"
  source  = %q
}
`, w.tarball)
}

// lockedDeployment is the README's short example: a lock held across applies whose
// token fences a deployment of the artifact this apply publishes.
func (w *unknownWorld) lockedDeployment(holder, sha256Expr string) string {
	return w.ProviderBlock() + w.artifact() + fmt.Sprintf(`
resource "release_environment_lock" "staging" {
  environment = "staging"
  holder      = %q
  reason      = "release 1.0.0"
  ttl         = "4h"
}

resource "release_deployment" "staging" {
  environment = "staging"
  artifact    = release_artifact.app.id
  sha256      = %s
  lock_token  = release_environment_lock.staging.token

  directory {
    path = %q
  }

  smoke_test {
    url           = "%s/health"
    body_contains = "ok"
    attempts      = 2
    interval      = "10ms"
  }
}
`, holder, sha256Expr, w.site, w.url)
}

// valueTracker is what statecheck.CompareValue returns: it compares one attribute
// across the steps that add it.
type valueTracker interface {
	AddStateValue(resourceAddress string, attributePath tfjsonpath.Path) statecheck.StateCheck
}

// lockFollowers checks that the deployment holds the lock's token and the artifact's
// id and sha256 once the apply learnt them.
func lockFollowers() []statecheck.StateCheck {
	return []statecheck.StateCheck{
		statecheck.CompareValuePairs(unknownDeployAddr, tfjsonpath.New("lock_token"), unknownLockAddr, tfjsonpath.New("token"), compare.ValuesSame()),
		statecheck.CompareValuePairs(unknownDeployAddr, tfjsonpath.New("artifact"), unknownArtifactAddr, tfjsonpath.New("id"), compare.ValuesSame()),
		statecheck.CompareValuePairs(unknownDeployAddr, tfjsonpath.New("sha256"), unknownArtifactAddr, tfjsonpath.New("sha256"), compare.ValuesSame()),
		statecheck.ExpectKnownValue(unknownDeployAddr, tfjsonpath.New("deployed_version"), knownvalue.StringExact("1.0.0-staging")),
	}
}

// fromEmptyStep applies the README's short example from empty: the lock's token and
// the artifact's sha256 do not exist yet when the deployment is planned.
func (w *unknownWorld) fromEmptyStep(tokens valueTracker) resource.TestStep {
	return resource.TestStep{
		Config: w.lockedDeployment("ci-1", "release_artifact.app.sha256"),
		ConfigPlanChecks: resource.ConfigPlanChecks{
			PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(unknownDeployAddr, plancheck.ResourceActionCreate),
				plancheck.ExpectUnknownValue(unknownDeployAddr, tfjsonpath.New("lock_token")),
				plancheck.ExpectUnknownValue(unknownDeployAddr, tfjsonpath.New("sha256")),
			},
			PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
		},
		ConfigStateChecks: append([]statecheck.StateCheck{tokens.AddStateValue(unknownLockAddr, tfjsonpath.New("token"))}, lockFollowers()...),
		Check:             checkSiteServes(w.site, "version 1.0.0"),
	}
}

// reacquiredStep applies config after the lock was acquired again: a new token that
// the deployment's update learns only during the apply.
func reacquiredStep(config string, taint []string, tokens valueTracker) resource.TestStep {
	return resource.TestStep{
		Config: config,
		Taint:  taint,
		ConfigPlanChecks: resource.ConfigPlanChecks{
			PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(unknownLockAddr, plancheck.ResourceActionReplace),
				plancheck.ExpectUnknownValue(unknownDeployAddr, tfjsonpath.New("lock_token")),
			},
			PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
		},
		ConfigStateChecks: append([]statecheck.StateCheck{tokens.AddStateValue(unknownLockAddr, tfjsonpath.New("token"))}, lockFollowers()...),
	}
}

// TestAccUnknownValues_lockTokenAndArtifact: lock_token from a lock resource, artifact
// and sha256 from an artifact resource, all created by the same apply (the README's
// short example); then the lock acquired again under another holder, which gives a
// new token.
func TestAccUnknownValues_lockTokenAndArtifact(t *testing.T) {
	w := newUnknownWorld(t)
	tokens := statecheck.CompareValue(compare.ValuesDiffer())
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			w.fromEmptyStep(tokens),
			reacquiredStep(w.lockedDeployment("ci-2", "release_artifact.app.sha256"), nil, tokens),
			{
				Config:            w.lockedDeployment("ci-2", "release_artifact.app.sha256"),
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: lockFollowers(),
			},
		},
	})
}

// TestAccUnknownValues_lockReplaced: the same configuration, the lock re-acquired by
// replacing it (terraform taint, as after a takeover or a force release, or apply
// -replace): the deployment must follow the new token, twice.
func TestAccUnknownValues_lockReplaced(t *testing.T) {
	w := newUnknownWorld(t)
	tokens := statecheck.CompareValue(compare.ValuesDiffer())
	config := w.lockedDeployment("ci-1", "release_artifact.app.sha256")
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			w.fromEmptyStep(tokens),
			reacquiredStep(config, []string{unknownLockAddr}, tokens),
			reacquiredStep(config, []string{unknownLockAddr}, tokens),
		},
	})
}

// TestAccUnknownValues_upperCaseSHA256: a deployment given the artifact's checksum
// in upper case (as PowerShell prints it), unknown until the artifact is published;
// the deployment keeps it as written.
func TestAccUnknownValues_upperCaseSHA256(t *testing.T) {
	w := newUnknownWorld(t)
	testUnknownUntilApply(t, w.lockedDeployment("ci-1", "upper(release_artifact.app.sha256)"),
		[]plancheck.PlanCheck{
			plancheck.ExpectUnknownValue(unknownDeployAddr, tfjsonpath.New("sha256")),
			plancheck.ExpectUnknownValue(unknownDeployAddr, tfjsonpath.New("lock_token")),
		},
		[]statecheck.StateCheck{
			statecheck.CompareValuePairs(unknownArtifactAddr, tfjsonpath.New("sha256"), unknownDeployAddr, tfjsonpath.New("sha256"), upperCaseOf{}),
		},
		checkSiteServes(w.site, "version 1.0.0"))
}

// upperCaseOf checks that the second value is the first in upper case: a checksum
// kept as the configuration wrote it.
type upperCaseOf struct{}

func (upperCaseOf) CompareValues(values ...any) error {
	if len(values) != 2 {
		return fmt.Errorf("upperCaseOf compares 2 values, got %d", len(values))
	}
	lower, ok1 := values[0].(string)
	upper, ok2 := values[1].(string)
	if !ok1 || !ok2 || lower == "" {
		return fmt.Errorf("upperCaseOf compares two non-empty strings, got %#v and %#v", values[0], values[1])
	}
	if upper != strings.ToUpper(lower) {
		return fmt.Errorf("got %q, want %q as configured (the upper case of %q)", upper, strings.ToUpper(lower), lower)
	}
	return nil
}

// chainedDeploymentHCL is a release_deployment, named after environment, of
// what the resource from (an artifact or a promotion) names, by its id and
// sha256, to the directory dir: one link of a release chain.
func chainedDeploymentHCL(environment, from, dir string) string {
	return fmt.Sprintf(`
resource "release_deployment" %[1]q {
  environment = %[1]q
  artifact    = %[2]s.id
  sha256      = %[2]s.sha256
  directory {
    path = %[3]q
  }
}
`, environment, from, dir)
}

// TestAccUnknownValues_promotionChain: the release_promotion example's chain, all in
// one apply: a promotion of the artifact's bytes by their sha256, then a deployment of
// the promotion by its id and sha256; the upper-case spelling of the checksum too.
func TestAccUnknownValues_promotionChain(t *testing.T) {
	w := newUnknownWorld(t)
	config := func(sha256Expr string) string {
		return w.ProviderBlock() + w.artifact() + fmt.Sprintf(`
resource "release_promotion" "rc" {
  name         = release_artifact.app.name
  from_version = release_artifact.app.version
  to_version   = "1.0.0-rc"
  sha256       = %s
}
`, sha256Expr) + chainedDeploymentHCL("recette", "release_promotion.rc", w.site)
	}
	const promo, deploy = "release_promotion.rc", "release_deployment.recette"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config("release_artifact.app.sha256"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectUnknownValue(promo, tfjsonpath.New("sha256")),
						plancheck.ExpectUnknownValue(deploy, tfjsonpath.New("sha256")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs(promo, tfjsonpath.New("sha256"), unknownArtifactAddr, tfjsonpath.New("sha256"), compare.ValuesSame()),
					statecheck.CompareValuePairs(deploy, tfjsonpath.New("sha256"), unknownArtifactAddr, tfjsonpath.New("sha256"), compare.ValuesSame()),
					statecheck.CompareValuePairs(deploy, tfjsonpath.New("artifact"), promo, tfjsonpath.New("id"), compare.ValuesSame()),
					statecheck.ExpectKnownValue(deploy, tfjsonpath.New("deployed_version"), knownvalue.StringExact("1.0.0-rc")),
				},
				Check: checkSiteServes(w.site, "version 1.0.0"),
			},
		},
	})

	// The same chain from empty with the checksum in upper case.
	w = newUnknownWorld(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config("upper(release_artifact.app.sha256)"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectUnknownValue(promo, tfjsonpath.New("sha256"))},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs(unknownArtifactAddr, tfjsonpath.New("sha256"), promo, tfjsonpath.New("sha256"), upperCaseOf{}),
				},
				Check: checkSiteServes(w.site, "version 1.0.0"),
			},
		},
	})
}

// TestAccUnknownValues_targetAndSmokeTest: the deployment's directory path and its
// smoke test URL come from other resources (a folder provisioned by another
// resource, the URL a web server resource outputs), through a local as well.
func TestAccUnknownValues_targetAndSmokeTest(t *testing.T) {
	w := newUnknownWorld(t)
	config := w.ProviderBlock() + w.artifact() + fmt.Sprintf(`
resource "terraform_data" "site" {
  input = %q
}

resource "terraform_data" "web" {
  input = { url = %q }
}

locals {
  health = "${terraform_data.web.output.url}/health"
}

resource "release_deployment" "staging" {
  environment = "staging"
  artifact    = release_artifact.app.id
  sha256      = release_artifact.app.sha256

  directory {
    path = terraform_data.site.output
  }

  smoke_test {
    url           = local.health
    body_contains = "ok"
    attempts      = 2
    interval      = "10ms"
  }
}
`, w.site, w.url)
	testUnknownUntilApply(t, config,
		[]plancheck.PlanCheck{
			plancheck.ExpectUnknownValue(unknownDeployAddr, tfjsonpath.New("directory").AtMapKey("path")),
			plancheck.ExpectUnknownValue(unknownDeployAddr, tfjsonpath.New("smoke_test").AtMapKey("url")),
		},
		[]statecheck.StateCheck{
			statecheck.CompareValuePairs(unknownDeployAddr, tfjsonpath.New("directory").AtMapKey("path"), "terraform_data.site", tfjsonpath.New("output"), compare.ValuesSame()),
			statecheck.ExpectKnownValue(unknownDeployAddr, tfjsonpath.New("smoke_test").AtMapKey("url"), knownvalue.StringExact(w.url+"/health")),
		},
		checkSiteServes(w.site, "version 1.0.0"))
}

// TestAccUnknownValues_maintenanceMessage: the maintenance page's message and folder
// come from other resources.
func TestAccUnknownValues_maintenanceMessage(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := filepath.Join(env.Dir, "shared")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	config := env.ProviderBlock() + fmt.Sprintf(`
resource "terraform_data" "notice" {
  input = { message = "Mise à jour en cours", path = %q }
}

resource "release_maintenance_mode" "prod" {
  enabled = true
  message = terraform_data.notice.output.message
  directory {
    path = terraform_data.notice.output.path
  }
}
`, dir)
	const addr = "release_maintenance_mode.prod"
	testUnknownUntilApply(t, config,
		[]plancheck.PlanCheck{
			plancheck.ExpectUnknownValue(addr, tfjsonpath.New("message")),
			plancheck.ExpectUnknownValue(addr, tfjsonpath.New("directory").AtMapKey("path")),
		},
		[]statecheck.StateCheck{
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("message"), knownvalue.StringExact("Mise à jour en cours")),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("directory").AtMapKey("path"), knownvalue.StringExact(dir)),
		},
		checkFileContains(filepath.Join(dir, "maintenance.html"), "Mise à jour en cours"))
}

// TestAccUnknownValues_routerUpstreams: the blue and green upstreams of an nginx
// router come from another resource (the application servers' addresses).
func TestAccUnknownValues_routerUpstreams(t *testing.T) {
	f := startRouterFixture(t)
	config := f.routerConfig(routerHCL{active: "green", attrs: routerFixtureChecks,
		blue: "terraform_data.servers.output.blue", green: "terraform_data.servers.output.green"}) + fmt.Sprintf(`
resource "terraform_data" "servers" {
  input = { blue = %q, green = %q }
}
`, f.blue.addr, f.green.addr)
	const addr = "release_blue_green_router.web"
	testUnknownUntilApply(t, config,
		[]plancheck.PlanCheck{
			plancheck.ExpectUnknownValue(addr, tfjsonpath.New("blue").AtMapKey("upstream")),
			plancheck.ExpectUnknownValue(addr, tfjsonpath.New("green").AtMapKey("upstream")),
		},
		[]statecheck.StateCheck{
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("blue").AtMapKey("upstream"), knownvalue.StringExact(f.blue.addr)),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("green").AtMapKey("upstream"), knownvalue.StringExact(f.green.addr)),
		},
		checkFileContains(f.file, f.green.addr))
}

// checkSiteServes checks what the site's current release serves.
func checkSiteServes(site, want string) resource.TestCheckFunc {
	return checkFileContains(filepath.Join(site, "current", "index.html"), want)
}

func checkFileContains(p, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("after the apply: %w", err)
		}
		if !strings.Contains(string(b), want) {
			return fmt.Errorf("%s holds %q, want it to contain %q", p, b, want)
		}
		return nil
	}
}

// testUnknownUntilApply applies config, whose plan must pass preApply (values
// unknown until the apply) and whose apply must pass stateChecks and check and
// leave nothing to change; then plans config again and expects no change.
func testUnknownUntilApply(t *testing.T, config string, preApply []plancheck.PlanCheck, stateChecks []statecheck.StateCheck, check resource.TestCheckFunc) {
	t.Helper()
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             preApply,
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: stateChecks,
				Check:             check,
			},
			emptyPlanStep(config),
		},
	})
}

// TestAccUnknownValues_maintenanceFolderMoves: the maintenance folder comes from
// another resource and moves to another folder in an update, unknown at plan.
func TestAccUnknownValues_maintenanceFolderMoves(t *testing.T) {
	env := acctest.NewEnv(t)
	config := func(dir string) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "terraform_data" "notice" {
  input = { path = %q }
}

resource "release_maintenance_mode" "prod" {
  enabled = true
  message = "down"
  directory {
    path = terraform_data.notice.output.path
  }
}
`, dir)
	}
	first, second := filepath.Join(env.Dir, "one"), filepath.Join(env.Dir, "two")
	for _, d := range []string{first, second} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: config(first), Check: checkFileContains(filepath.Join(first, "maintenance.html"), "down")},
			{Config: config(second), Check: checkFileContains(filepath.Join(second, "maintenance.html"), "down")},
			emptyPlanStep(config(second)),
		},
	})
}

// TestAccUnknownValues_routerUpstreamsChange: the upstreams come from another
// resource and change in an update (the servers are replaced), unknown at plan:
// the router is rewritten for the new addresses at the apply.
func TestAccUnknownValues_routerUpstreamsChange(t *testing.T) {
	f := startRouterFixture(t)
	config := func(blue, green string) string {
		return f.routerConfig(routerHCL{active: "green", attrs: routerFixtureChecks,
			blue: "terraform_data.servers.output.blue", green: "terraform_data.servers.output.green"}) + fmt.Sprintf(`
resource "terraform_data" "servers" {
  input = { blue = %q, green = %q }
}
`, blue, green)
	}
	const addr = "release_blue_green_router.web"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: config(f.blue.addr, f.green.addr), Check: f.serves("green")},
			{
				Config: config(f.green.addr, f.blue.addr),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("green").AtMapKey("upstream")),
				}},
				Check: f.serves("blue"), // the green colour is now the blue server
			},
			emptyPlanStep(config(f.green.addr, f.blue.addr)),
		},
	})
}

// serves checks that nginx sends the requests to the server that answers body.
func (f *routerFixture) serves(body string) resource.TestCheckFunc {
	return func(*terraform.State) error { return f.expectTraffic(nil, body) }
}
