package provider

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
)

const scalingoApp = "histologe-staging"

// scalingoDeploymentEnv is a provider environment, a fake Scalingo API with one app
// and a PostgreSQL addon, published versions of "app", and a smoke test endpoint
// that fails while the broken version is what the app runs.
type scalingoDeploymentEnv struct {
	*acctest.Env
	fake   *scalingotest.Server
	addon  string
	smoke  *httptest.Server
	bytes  map[string][]byte
	broken string
}

func newScalingoDeploymentEnv(t *testing.T, broken string, versions ...string) *scalingoDeploymentEnv {
	t.Helper()
	fastScalingoPolling(t)
	e := &scalingoDeploymentEnv{Env: acctest.NewEnv(t), bytes: map[string][]byte{}, broken: broken}
	e.fake = scalingotest.NewServer(t, scalingotest.Options{StepDuration: 5 * time.Millisecond})
	e.fake.CreateApp(scalingoApp)
	e.addon = e.fake.AddAddon(scalingoApp, "postgresql")
	e.smoke = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if e.fake.LiveVersion(scalingoApp) == e.broken {
			fmt.Fprint(w, "fail")
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(e.smoke.Close)
	st := e.Store(t)
	for _, version := range versions {
		data := archivetest.TarGz(t, map[string]string{"index.php": "<?php echo '" + version + "';"})
		e.bytes[version] = data
		if _, err := st.Put(context.Background(), "app", version, bytes.NewReader(data), "", nil); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// config deploys app@version to the Scalingo app; extra goes inside the resource.
func (e *scalingoDeploymentEnv) config(version, extra string) string {
	return scalingoProviderBlock(e.Env, e.fake) + fmt.Sprintf(`
resource "release_deployment" "test" {
  environment = "staging"
  artifact    = "app@%s"
  scalingo {
    app = %q
  }
  smoke_test {
    url           = "%s/health"
    body_contains = "ok"
    attempts      = 2
    interval      = "10ms"
  }
%s
}
`, version, scalingoApp, e.smoke.URL, extra)
}

// checkLive checks what the fake app really runs, and that it runs the artifact's
// own bytes.
func (e *scalingoDeploymentEnv) checkLive(version string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if got := e.fake.LiveVersion(scalingoApp); got != version {
			return fmt.Errorf("the Scalingo app runs %q, want %s", got, version)
		}
		ds := e.fake.Deployments(scalingoApp)
		for i := len(ds) - 1; i >= 0; i-- {
			if ds[i].Status == "success" {
				if !ds[i].ByHand && !bytes.Equal(ds[i].Source, e.bytes[version]) {
					return fmt.Errorf("deployment %s of %s did not get the artifact's bytes", ds[i].ID, version)
				}
				return nil
			}
		}
		return nil
	}
}

func (e *scalingoDeploymentEnv) deployments() int { return len(e.fake.Deployments(scalingoApp)) }

const scalingoBackupBlock = `
  backup {
    scalingo_addon = "postgresql"
  }`

func TestAccDeploymentResource_scalingo(t *testing.T) {
	e := newScalingoDeploymentEnv(t, "1.0.2", "1.0.0", "1.0.1", "1.0.2", "1.0.3")
	var before int
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{ // deploy
				Config: e.config("1.0.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("id"), knownvalue.StringExact("staging:scalingo:"+scalingoApp)),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.0")),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("previous_version"), knownvalue.Null()),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("backup_id"), knownvalue.Null()),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						2: knownvalue.StringRegexp(regexp.MustCompile(`^upload the verified bytes as a source archive, deploy git_ref 1\.0\.0 to Scalingo app ` + scalingoApp + ` \(live now: nothing\)`)),
					})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.0")),
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("release_id"), knownvalue.StringRegexp(regexp.MustCompile(`^dep-`))),
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("scalingo").AtMapKey("source_url_from_store"), knownvalue.Bool(false)),
				},
				Check: e.checkLive("1.0.0"),
			},
			{ // import
				ResourceName:            deploymentAddr,
				ImportState:             true,
				ImportStateId:           "staging:scalingo:" + scalingoApp,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"smoke_test", "hooks", "backup", "timeouts", "lock_token", "planned_steps"},
			},
			{ // no-op plan
				Config: e.config("1.0.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{ // update
				Config: e.config("1.0.1", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("previous_version"), knownvalue.StringExact("1.0.0")),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.1")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.1")),
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("previous_version"), knownvalue.StringExact("1.0.0")),
				},
				Check: e.checkLive("1.0.1"),
			},
			{ // a failed build: Scalingo keeps the previous containers, nothing is redeployed
				PreConfig: func() {
					e.fake.FailNextDeployment(scalingoApp, "build-error")
					before = e.deployments()
				},
				Config:      e.config("1.0.3", ""),
				ExpectError: wrapped("Unable to deploy app@1.0.3 to staging", "Could not switch Scalingo app "+scalingoApp, "ended with status build-error", "still serves release 1.0.1"),
			},
			{ // the state and the app still say 1.0.1
				PreConfig: func() {
					if n := e.deployments(); n != before+1 {
						t.Fatalf("%d deployments after a failed build, want only the failed one", n-before)
					}
				},
				Config: e.config("1.0.1", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: e.checkLive("1.0.1"),
			},
			{ // a successful build that fails its smoke test: 1.0.1 is deployed again
				Config:      e.config("1.0.2", ""),
				ExpectError: wrapped("Unable to deploy app@1.0.2 to staging", "The smoke test GET", "The previous release 1.0.1 was restored and is serving."),
			},
			{ // the state still says 1.0.1, and the app runs 1.0.1 again
				Config: e.config("1.0.1", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.1")),
				},
				Check: resource.ComposeTestCheckFunc(e.checkLive("1.0.1"), func(*terraform.State) error {
					var refs []string
					for _, d := range e.fake.Deployments(scalingoApp) {
						refs = append(refs, d.GitRef+":"+d.Status)
					}
					want := []string{"1.0.0:success", "1.0.1:success", "1.0.3:build-error", "1.0.2:success", "1.0.1:success"}
					if fmt.Sprint(refs) != fmt.Sprint(want) {
						return fmt.Errorf("Scalingo deployments %v, want %v", refs, want)
					}
					return nil
				}),
			},
			{ // drift: someone deploys 1.0.0 by hand; the plan puts 1.0.1 back
				PreConfig: func() { e.fake.DeployByHand(scalingoApp, "1.0.0", e.bytes["1.0.0"]) },
				Config:    e.config("1.0.1", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("previous_version"), knownvalue.StringExact("1.0.0")),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.1")),
				}},
				Check: e.checkLive("1.0.1"),
			},
			{ // a database backup before the deployment
				Config: e.config("1.0.0", scalingoBackupBlock),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(deploymentAddr, depAttr("backup_id")),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						// 1.0.0 was live here before: a rollback.
						1: knownvalue.StringRegexp(regexp.MustCompile(`^roll back staging from 1\.0\.1 to 1\.0\.0 \(live here until `)),
						3: knownvalue.StringExact("take a manual backup of the postgresql addon of Scalingo app " + scalingoApp + " through Scalingo's database API and wait until it is done; a failure stops here"),
					})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.0")),
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("backup_id"), knownvalue.StringRegexp(regexp.MustCompile(`^.+$`))),
				},
				Check: resource.ComposeTestCheckFunc(e.checkLive("1.0.0"), func(s *terraform.State) error {
					id := s.RootModule().Resources[deploymentAddr].Primary.Attributes["backup_id"]
					bs := e.fake.Backups(e.addon)
					if len(bs) != 1 || bs[0].ID != id || bs[0].Status != "done" {
						return fmt.Errorf("backups on the fake %+v, want one done backup %s", bs, id)
					}
					// The backup was taken before the deployment was created.
					backupAt, deployAt := -1, -1
					for i, c := range e.fake.Calls() {
						switch {
						case c.Method == http.MethodPost && regexp.MustCompile(`/backups$`).MatchString(c.Path):
							backupAt = i
						case c.Method == http.MethodPost && c.Path == "/v1/apps/"+scalingoApp+"/deployments":
							deployAt = i
						}
					}
					if backupAt < 0 || backupAt > deployAt {
						return fmt.Errorf("backup request #%d, last deployment request #%d: the backup must come first", backupAt, deployAt)
					}
					return nil
				}),
			},
			{ // a failed backup stops the deployment before anything changes
				PreConfig: func() {
					e.fake.FailNextBackup(e.addon)
					before = e.deployments()
				},
				Config:      e.config("1.0.1", scalingoBackupBlock),
				ExpectError: wrapped("Unable to deploy app@1.0.1 to staging", "Taking the Scalingo backup of the postgresql addon of "+scalingoApp+" failed", "ended in error", "The switch did not happen"),
			},
			{
				PreConfig: func() {
					if n := e.deployments(); n != before {
						t.Fatalf("a failed backup was followed by %d deployments", n-before)
					}
				},
				Config: e.config("1.0.0", scalingoBackupBlock),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: e.checkLive("1.0.0"),
			},
		},
	})
}

func TestAccDeploymentResource_scalingoInvalid(t *testing.T) {
	e := newScalingoDeploymentEnv(t, "", "1.0.0")
	directory := func(backup string) string {
		return e.ProviderBlock() + fmt.Sprintf(`
resource "release_deployment" "test" {
  environment = "staging"
  artifact    = "app@1.0.0"
  directory {
    path = %q
  }
  backup {
    %s
  }
}
`, filepath.Join(e.Dir, "app"), backup)
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      directory(`scalingo_addon = "postgresql"`),
				PlanOnly:    true,
				ExpectError: wrapped("backup.scalingo_addon only works with the scalingo target block"),
			},
			{
				Config:      directory("command = \"true\"\n    scalingo_addon = \"postgresql\""),
				PlanOnly:    true,
				ExpectError: wrapped("Set exactly one of command, scalingo_addon in the backup block (found 2)"),
			},
			{
				Config:      directory(""),
				PlanOnly:    true,
				ExpectError: wrapped("Set exactly one of command, scalingo_addon in the backup block (found 0)"),
			},
			{
				Config: e.config("1.0.0", `  directory {
    path = "/srv/app"
  }`),
				PlanOnly:    true,
				ExpectError: wrapped("Invalid block combination", "directory and scalingo are both set"),
			},
			{ // an app that does not exist is reported at plan time
				Config:      scalingoProviderBlock(e.Env, e.fake) + `resource "release_deployment" "test" {` + "\n" + `  environment = "staging"` + "\n" + `  artifact = "app@1.0.0"` + "\n" + `  scalingo { app = "no-such-app" }` + "\n}\n",
				PlanOnly:    true,
				ExpectError: wrapped("Unable to read the deployment target", "Scalingo app no-such-app"),
			},
		},
	})
}

func TestAccDeploymentResource_scalingoImportNeedsHistory(t *testing.T) {
	e := newScalingoDeploymentEnv(t, "", "1.0.0")
	e.fake.DeployByHand(scalingoApp, "1.0.0", e.bytes["1.0.0"])
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:        e.config("1.0.0", ""),
				ResourceName:  deploymentAddr,
				ImportState:   true,
				ImportStateId: "staging:scalingo:" + scalingoApp,
				ExpectError:   wrapped("the release history of staging has no deployment of that version", "Import with staging:scalingo:"+scalingoApp+":<artifact name>"),
			},
			{ // with the artifact name: the app's live version becomes the state
				Config:             e.config("1.0.0", ""),
				ResourceName:       deploymentAddr,
				ImportState:        true,
				ImportStateId:      "staging:scalingo:" + scalingoApp + ":app",
				ImportStatePersist: true,
				ImportStateCheck: func(s []*terraform.InstanceState) error {
					if len(s) != 1 || s[0].Attributes["artifact"] != "app@1.0.0" || s[0].Attributes["deployed_version"] != "1.0.0" || s[0].Attributes["sha256"] == "" {
						return fmt.Errorf("imported %+v", s)
					}
					return nil
				},
			},
			{ // the imported state matches the configuration: nothing to deploy
				Config: e.config("1.0.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.0")),
				}},
				Check: func(*terraform.State) error {
					if n := e.deployments(); n != 1 {
						return fmt.Errorf("%d deployments after adopting the app, want only the one made by hand", n)
					}
					return nil
				},
			},
		},
	})
}
