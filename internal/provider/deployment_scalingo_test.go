package provider

import (
	"bytes"
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
	e.fake = scalingotest.NewServer(t, scalingotest.Options{StepDuration: 5 * time.Millisecond, RateWindow: time.Second, OneOffInactivity: 300 * time.Millisecond})
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
	return e.deploymentConfig(version, "", extra)
}

// configWith deploys app@version with more settings in the scalingo block.
func (e *scalingoDeploymentEnv) configWith(version, scalingoExtra string) string {
	return e.deploymentConfig(version, scalingoExtra, "")
}

// deploymentConfig deploys app@version to the Scalingo app, smoke tested;
// scalingoExtra goes inside the scalingo block, extra inside the resource.
func (e *scalingoDeploymentEnv) deploymentConfig(version, scalingoExtra, extra string) string {
	return scalingoProviderBlock(e.Env, e.fake) + fmt.Sprintf(`
resource "release_deployment" "test" {
  environment = "staging"
  artifact    = "app@%s"
  scalingo {
    app = %q
%s
  }
  smoke_test {
    url           = "%s/health"
    body_contains = "ok"
    attempts      = 2
    interval      = "10ms"
  }
%s
}
`, version, scalingoApp, scalingoExtra, e.smoke.URL, extra)
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
				if want := "<?php echo '" + version + "';"; !ds[i].ByHand && ds[i].Files["index.php"] != want {
					return fmt.Errorf("deployment %s of %s runs index.php %q, want the artifact's %q (wrapped in one top-level folder)", ds[i].ID, version, ds[i].Files["index.php"], want)
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
	accTest(t, resource.TestCase{
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
						3: knownvalue.StringRegexp(regexp.MustCompile(`^upload the verified bytes as a source archive, deploy git_ref 1\.0\.0 to Scalingo app ` + scalingoApp + ` \(live now: nothing\)`)),
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
					plansReplacing("1.0.0", "1.0.1"),
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
					plansReplacing("1.0.0", "1.0.1"),
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
						4: knownvalue.StringExact("take a manual backup of the postgresql addon of Scalingo app " + scalingoApp + " through Scalingo's database API and wait until it is done; a failure stops here"),
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
	e := newScalingoDeploymentEnv(t, "", "1.0.0", "1.0.0+build.7")
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
	accTest(t, resource.TestCase{
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
			{ // a version that cannot be an image tag is refused at plan time
				Config:      e.config("1.0.0+build.7", ""),
				PlanOnly:    true,
				ExpectError: wrapped("Version not deployable to Scalingo", `version "1.0.0+build.7"`, "holds a '+'"),
			},
			{ // Scalingo's build machines cannot download from this store
				Config:      e.configWith("1.0.0", "    source_url_from_store = true"),
				PlanOnly:    true,
				ExpectError: wrapped("Artifact URL unreachable from Scalingo", "app@1.0.0", "http(s) URL"),
			},
			{
				Config:      e.configWith("1.0.0", "    variables = { A = \"1\" }\n    sensitive_variables = { A = \"2\" }"),
				PlanOnly:    true,
				ExpectError: wrapped("A is in both variables and sensitive_variables"),
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
	accTest(t, resource.TestCase{
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

// expectLiveLater checks, before the next step, what the app runs.
func (e *scalingoDeploymentEnv) expectLiveLater(t *testing.T, version string) func() {
	return func() {
		if got := e.fake.LiveVersion(scalingoApp); got != version {
			t.Fatalf("the Scalingo app runs %q, want %s", got, version)
		}
	}
}

const (
	migrate = "php bin/console app:migrate-signalements"
	broken  = "php bin/console app:broken"
	hang    = "php bin/console app:wait-forever"
)

// TestAccDeploymentResource_scalingoOneOffs: one-off commands run after the
// deployment, in order and attached; a non-zero exit, our timeout or Scalingo's
// inactivity timeout fails the apply with the command's last lines, and the
// previous version is deployed again.
func TestAccDeploymentResource_scalingoOneOffs(t *testing.T) {
	e := newScalingoDeploymentEnv(t, "", "1.0.0", "1.0.1", "1.0.2", "1.0.3")
	e.fake.SetOneOff(scalingoApp, migrate, scalingotest.OneOff{Output: "Migrating 12 signalements\n[OK] done\n"})
	e.fake.SetOneOff(scalingoApp, broken, scalingotest.OneOff{Output: "Migrating\nIn Connection.php line 42:\n  SQLSTATE[HY000] connection refused\n", ExitCode: 1})
	e.fake.SetOneOff(scalingoApp, hang, scalingotest.OneOff{Output: "waiting\n", Hang: true})
	oneOffs := func(cmds ...string) string {
		b, _ := json.Marshal(cmds)
		return fmt.Sprintf("    one_off = %s\n", b)
	}
	rolledBack := func(t *testing.T) func() {
		return func() {
			e.expectLiveLater(t, "1.0.0")()
			ds := e.fake.Deployments(scalingoApp)
			if last := ds[len(ds)-1]; last.GitRef != "1.0.0" || last.Status != "success" {
				t.Fatalf("last deployment %s %s, want 1.0.0 deployed again", last.GitRef, last.Status)
			}
		}
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: e.configWith("1.0.0", oneOffs(migrate)+`    one_off_size = "L"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						5: knownvalue.StringExact("run 1 one-off command(s) in attached one-off containers of size L of Scalingo app " + scalingoApp + ", each within 10m0s, in order: `" + migrate + "`; a non-zero exit fails the deployment"),
					})),
				}},
				Check: func(*terraform.State) error {
					oo := e.fake.OneOffs(scalingoApp)
					if len(oo) != 1 || oo[0].Command != migrate || !oo[0].Attached || oo[0].Detached || oo[0].Size != "L" || oo[0].LiveVersion != "1.0.0" || oo[0].ExitCode != 0 {
						return fmt.Errorf("one-offs %+v, want %q run attached on 1.0.0", oo, migrate)
					}
					return nil
				},
			},
			{ // a non-zero exit: the error ends with the command's output, 1.0.0 comes back
				Config:      e.configWith("1.0.1", oneOffs(migrate, broken)),
				ExpectError: wrapped("One-off command 2 of 2 failed", "`"+broken+"` on "+scalingoApp+" exited with code 1", "SQLSTATE[HY000] connection refused", "The previous release 1.0.0 was restored"),
			},
			{ // our timeout
				PreConfig:   rolledBack(t),
				Config:      e.configWith("1.0.2", oneOffs(hang)+`    one_off_timeout = "100ms"`),
				ExpectError: wrapped("One-off command 1 of 1 failed", "did not finish within 100ms (one_off_timeout)", "The previous release 1.0.0 was restored"),
			},
			{ // Scalingo's inactivity timeout: /wait answers 408
				PreConfig:   rolledBack(t),
				Config:      e.configWith("1.0.3", oneOffs(hang)),
				ExpectError: wrapped("One-off command 1 of 1 failed", "stopped by Scalingo", "408", "The previous release 1.0.0 was restored"),
			},
			{
				PreConfig: rolledBack(t),
				Config:    e.configWith("1.0.0", oneOffs(migrate)+`    one_off_size = "L"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
		},
	})
	var ran []string
	for _, o := range e.fake.OneOffs(scalingoApp) {
		ran = append(ran, fmt.Sprintf("%s@%s", o.Command, o.LiveVersion))
	}
	want := []string{migrate + "@1.0.0", migrate + "@1.0.1", broken + "@1.0.1", hang + "@1.0.2", hang + "@1.0.3"}
	if fmt.Sprint(ran) != fmt.Sprint(want) {
		t.Fatalf("one-offs run: %v, want %v", ran, want)
	}
}

// TestAccDeploymentResource_scalingoVariables: variables are set with the
// deployment and put back when it fails or is rolled back; sensitive values
// never reach the plan's other attributes nor the logs.
func TestAccDeploymentResource_scalingoVariables(t *testing.T) {
	const secret, newSecret = "s3cr3t-value-8f2a", "n3w-s3cr3t-77c1"
	logFile := filepath.Join(t.TempDir(), "tf.log")
	t.Setenv("TF_ACC_LOG_PATH", logFile)
	t.Setenv("TF_LOG", "TRACE")
	e := newScalingoDeploymentEnv(t, "1.0.2", "1.0.0", "1.0.1", "1.0.2")
	e.fake.SetVariable(scalingoApp, "OWNED_ELSEWHERE", "keep")
	var before int
	vars := func(feature, key string) string {
		return fmt.Sprintf("    variables = { FEATURE_X = %q }\n    sensitive_variables = { API_KEY = %q }\n", feature, key)
	}
	expectVars := func(t *testing.T, feature, key string) func() {
		return func() {
			got := e.fake.Variables(scalingoApp)
			if got["FEATURE_X"] != feature || got["API_KEY"] != key || got["OWNED_ELSEWHERE"] != "keep" {
				t.Fatalf("variables %v, want FEATURE_X=%s and the first API_KEY, OWNED_ELSEWHERE untouched", got, feature)
			}
		}
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: e.configWith("1.0.0", vars("1", secret)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						3: knownvalue.StringRegexp(regexp.MustCompile(`^set the variables API_KEY \(sensitive value\) and FEATURE_X in one request \(put back if the deployment fails or is rolled back\), upload`)),
					})),
					secretOnlyIn(secret, "sensitive_variables"),
				}},
				Check: func(*terraform.State) error {
					ds := e.fake.Deployments(scalingoApp)
					if env := ds[len(ds)-1].Env; env["FEATURE_X"] != "1" || env["API_KEY"] != secret || env["OWNED_ELSEWHERE"] != "keep" {
						return fmt.Errorf("the deployment started with %v", env)
					}
					return nil
				},
			},
			{ // a failed build puts the variables back
				PreConfig:   func() { e.fake.FailNextDeployment(scalingoApp, "build-error") },
				Config:      e.configWith("1.0.1", vars("2", newSecret)),
				ExpectError: wrapped("ended with status build-error", "the variables API_KEY, FEATURE_X were put back as they were"),
			},
			{ // a rollback after a failed smoke test puts them back too
				PreConfig:   expectVars(t, "1", secret),
				Config:      e.configWith("1.0.2", vars("3", newSecret)),
				ExpectError: wrapped("The smoke test", "The previous release 1.0.0 was restored"),
			},
			{
				PreConfig: func() {
					expectVars(t, "1", secret)()
					e.expectLiveLater(t, "1.0.0")()
				},
				Config: e.configWith("1.0.0", vars("1", secret)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{ // a variable changed by hand shows in the plan, and is set again
				PreConfig: func() {
					e.fake.SetVariable(scalingoApp, "FEATURE_X", "by-hand")
					before = len(e.fake.Deployments(scalingoApp))
				},
				Config: e.configWith("1.0.0", vars("1", secret)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					if got := e.fake.Variables(scalingoApp)["FEATURE_X"]; got != "1" || len(e.fake.Deployments(scalingoApp)) != before+1 {
						return fmt.Errorf("FEATURE_X = %q after %d deployments, want 1 set again with one", got, len(e.fake.Deployments(scalingoApp))-before)
					}
					return nil
				},
			},
			{ // a change of variables alone deploys the version again with them
				Config: e.configWith("1.0.0", vars("4", newSecret)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionUpdate),
					secretOnlyIn(newSecret, "sensitive_variables"),
				}},
				Check: func(*terraform.State) error {
					ds := e.fake.Deployments(scalingoApp)
					if last := ds[len(ds)-1]; last.GitRef != "1.0.0" || last.Env["FEATURE_X"] != "4" || last.Env["API_KEY"] != newSecret {
						return fmt.Errorf("last deployment %s with %v", last.GitRef, last.Env)
					}
					return nil
				},
			},
		},
	})
	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	// The provider's lines only: the test harness logs the configuration itself.
	var provider [][]byte
	for _, line := range bytes.Split(logs, []byte("\n")) {
		if bytes.Contains(line, []byte("tf_provider_addr=")) {
			provider = append(provider, line)
		}
	}
	logs = bytes.Join(provider, []byte("\n"))
	if !bytes.Contains(logs, []byte("Scalingo variables set for the deployment")) {
		t.Fatalf("the provider's logs did not reach %s: the check below would prove nothing", logFile)
	}
	for _, s := range []string{secret, newSecret} {
		if i := bytes.Index(logs, []byte(s)); i >= 0 {
			t.Fatalf("a sensitive value is in the logs: %s", logs[max(0, i-600):min(len(logs), i+100)])
		}
	}
}

// secretOnlyIn checks that the planned values hold secret in the attribute
// named allowed of the scalingo block, and nowhere else.
func secretOnlyIn(secret, allowed string) plancheck.PlanCheck {
	return secretCheck{secret: secret, allowed: allowed}
}

type secretCheck struct{ secret, allowed string }

func (c secretCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != deploymentAddr {
			continue
		}
		after, ok := rc.Change.After.(map[string]any)
		if !ok {
			resp.Error = fmt.Errorf("no planned values for %s", deploymentAddr)
			return
		}
		blocks, _ := after["scalingo"].([]any)
		if len(blocks) == 0 {
			if m, ok := after["scalingo"].(map[string]any); ok {
				blocks = []any{m}
			}
		}
		rest := map[string]any{}
		for k, v := range after {
			rest[k] = v
		}
		scalingo := map[string]any{}
		if len(blocks) == 1 {
			for k, v := range blocks[0].(map[string]any) {
				scalingo[k] = v
			}
		}
		inAllowed, _ := json.Marshal(scalingo[c.allowed])
		delete(scalingo, c.allowed)
		rest["scalingo"] = scalingo
		others, _ := json.Marshal(rest)
		switch {
		case !bytes.Contains(inAllowed, []byte(c.secret)):
			resp.Error = fmt.Errorf("the secret is not in scalingo.%s: the check would prove nothing", c.allowed)
		case bytes.Contains(others, []byte(c.secret)):
			resp.Error = fmt.Errorf("a sensitive value is in another attribute of the plan: %s", others)
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", deploymentAddr)
}

// TestAccDeploymentScalingo_emptyValues: empty `variables`, `sensitive_variables`
// and `one_off` say "none" as leaving them out does: the deployment converges
// and the next plan is empty.
func TestAccDeploymentScalingo_emptyValues(t *testing.T) {
	e := newScalingoDeploymentEnv(t, "", "1.0.0")
	cfg := e.configWith("1.0.0", "    variables = {}\n    sensitive_variables = {}\n    one_off = []")
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg},
			emptyPlanStep(cfg),
		},
	})
}

// TestAccDeploymentScalingo_variablesKnownAtApply: a variable's value comes
// from another resource and changes in an update (unknown at plan): the apply
// sets it with a new deployment, and the next plan is empty.
func TestAccDeploymentScalingo_variablesKnownAtApply(t *testing.T) {
	e := newScalingoDeploymentEnv(t, "", "1.0.0")
	cfg := func(v string) string {
		return e.configWith("1.0.0", "    variables = { FEATURE_X = terraform_data.flags.output }") + fmt.Sprintf(`
resource "terraform_data" "flags" {
  input = %q
}
`, v)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg("0")},
			{
				Config: cfg("1"),
				Check: func(*terraform.State) error {
					if got := e.fake.Variables(scalingoApp)["FEATURE_X"]; got != "1" {
						return fmt.Errorf("FEATURE_X = %q on the app, want 1", got)
					}
					return nil
				},
			},
			emptyPlanStep(cfg("1")),
		},
	})
}
