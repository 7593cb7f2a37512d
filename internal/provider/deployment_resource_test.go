package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

// deploymentEnv is an acceptance test's world: a provider environment, an
// application folder served over HTTP like a web server would, and published
// versions of the "app" artifact whose /health answers "ok" (or "fail").
type deploymentEnv struct {
	*acctest.Env
	app    string
	server *httptest.Server
	sums   map[string]string
}

func newDeploymentEnv(t *testing.T, versions map[string]string) *deploymentEnv {
	t.Helper()
	e := &deploymentEnv{Env: acctest.NewEnv(t), sums: map[string]string{}}
	e.app = filepath.Join(e.Dir, "app")
	e.server = httptest.NewServer(http.FileServer(http.Dir(filepath.Join(e.app, "current"))))
	t.Cleanup(e.server.Close)
	st := e.Store(t)
	for version, health := range versions {
		data := archivetest.TarGz(t, map[string]string{"health": health, "index.html": "version " + version})
		obj, err := st.Put(context.Background(), "app", version, bytes.NewReader(data), "", map[string]string{"git_commit": "abc" + version})
		if err != nil {
			t.Fatal(err)
		}
		e.sums[version] = obj.SHA256
	}
	return e
}

// config deploys app@version; extra goes inside the resource block.
func (e *deploymentEnv) config(version, extra string) string {
	return e.ProviderBlock() + fmt.Sprintf(`
resource "release_deployment" "test" {
  environment = "staging"
  artifact    = "app@%s"
  directory {
    path          = %q
    keep_releases = 3
  }
  smoke_test {
    url           = "%s/health"
    body_contains = "ok"
    attempts      = 2
    interval      = "10ms"
  }
%s
}
`, version, e.app, e.server.URL, extra)
}

func (e *deploymentEnv) serving(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.app, "current", "index.html"))
	if err != nil {
		return ""
	}
	return string(b)
}

func (e *deploymentEnv) checkServing(version string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		b, _ := os.ReadFile(filepath.Join(e.app, "current", "index.html"))
		if string(b) != "version "+version {
			return fmt.Errorf("current serves %q, want version %s", b, version)
		}
		return nil
	}
}

// deployStep deploys app@version, with no more settings, and checks that the
// site serves it.
func (e *deploymentEnv) deployStep(version string) resource.TestStep {
	return resource.TestStep{Config: e.config(version, ""), Check: e.checkServing(version)}
}

// switchCurrent repoints current by hand, as an operator would.
func (e *deploymentEnv) switchCurrent(t *testing.T, version string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.app, "releases"))
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.IsDir() && strings.HasPrefix(en.Name(), version+"-") {
			tmp := filepath.Join(e.app, "current.manual")
			if err := os.Symlink(filepath.Join("releases", en.Name()), tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(e.app, "current")); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no release folder of %s", version)
}

const deploymentAddr = "release_deployment.test"

const backupBlock = `
  backup {
    command = "printf 'dump of %s' \"$RELEASE_PREVIOUS_VERSION\" > \"$RELEASE_BACKUP_FILE\""
  }`

// wrapped matches the parts in order, however Terraform wraps the lines.
func wrapped(parts ...string) *regexp.Regexp {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = strings.Join(strings.Fields(regexp.QuoteMeta(p)), `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(quoted, ".*"))
}

func depAttr(name string) tfjsonpath.Path { return tfjsonpath.New(name) }

// plansReplacing checks that the plan updates the deployment, replacing the
// version previous with deployed (its planned previous_version and
// deployed_version).
func plansReplacing(previous, deployed string) plancheck.PlanCheck {
	return allPlanChecks{
		plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionUpdate),
		plancheck.ExpectKnownValue(deploymentAddr, depAttr("previous_version"), knownvalue.StringExact(previous)),
		plancheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact(deployed)),
	}
}

// allPlanChecks is a plan check that runs each of its checks and reports the
// errors of all.
type allPlanChecks []plancheck.PlanCheck

func (cs allPlanChecks) CheckPlan(ctx context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	errs := []error{resp.Error}
	for _, c := range cs {
		var r plancheck.CheckPlanResponse
		c.CheckPlan(ctx, req, &r)
		errs = append(errs, r.Error)
	}
	resp.Error = errors.Join(errs...)
}

func TestAccDeploymentResource_story(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok", "1.0.1": "ok", "1.0.2": "fail"})
	sameRelease := statecheck.CompareValue(compare.ValuesSame())
	backupSum := sha256.Sum256([]byte("dump of 1.0.0"))
	var staleToken int64

	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			// on_destroy = "keep": the site keeps running.
			if e.serving(t) == "" {
				return fmt.Errorf("destroy stopped the site although on_destroy is keep")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{ // deploy
				Config: e.config("1.0.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.0")),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("previous_version"), knownvalue.Null()),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("sha256"), knownvalue.StringExact(e.sums["1.0.0"])),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("id"), knownvalue.StringExact("staging:"+e.app)),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("backup_id"), knownvalue.Null()),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						1: knownvalue.StringRegexp(regexp.MustCompile(`with sha256 ` + e.sums["1.0.0"] + ` when one is still on directory .*, verifying the sha256 before anything goes live$`)),
					})),
					plancheck.ExpectUnknownValue(deploymentAddr, depAttr("release_id")),
					plancheck.ExpectUnknownValue(deploymentAddr, depAttr("deployed_at")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.0")),
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("release_id"), knownvalue.StringRegexp(regexp.MustCompile(`^1\.0\.0-\d{8}T\d{6}Z$`))),
					sameRelease.AddStateValue(deploymentAddr, depAttr("release_id")),
				},
				Check: e.checkServing("1.0.0"),
			},
			{ // import
				ResourceName:      deploymentAddr,
				ImportState:       true,
				ImportStateId:     "staging:" + e.app,
				ImportStateVerify: true,
				// Settings that only live in the configuration.
				ImportStateVerifyIgnore: []string{"smoke_test", "hooks", "backup", "timeouts", "lock_token", "planned_steps", "directory.keep_releases"},
			},
			{ // no-op plan
				Config: e.config("1.0.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{ // update, with a backup
				Config: e.config("1.0.1", backupBlock),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plansReplacing("1.0.0", "1.0.1"),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("sha256"), knownvalue.StringExact(e.sums["1.0.1"])),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("rollback_on_failure"), knownvalue.Bool(true)),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("backup"), knownvalue.NotNull()),
					plancheck.ExpectUnknownValue(deploymentAddr, depAttr("backup_id")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.1")),
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("previous_version"), knownvalue.StringExact("1.0.0")),
					// Named after 1.0.0, whose data it holds.
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("backup_id"), knownvalue.StringRegexp(regexp.MustCompile(`^app-backup@1\.0\.0\+\d{8}T\d{6}Z$`))),
				},
				Check: resource.ComposeTestCheckFunc(
					e.checkServing("1.0.1"),
					func(s *terraform.State) error {
						id := s.RootModule().Resources[deploymentAddr].Primary.Attributes["backup_id"]
						version := strings.TrimPrefix(id, "app-backup@")
						obj, err := e.Store(t).Verify(context.Background(), "app-backup", version)
						if err != nil {
							return err
						}
						if obj.SHA256 != hex.EncodeToString(backupSum[:]) {
							return fmt.Errorf("backup %s has sha256 %s, want the sha256 of the file the command wrote", id, obj.SHA256)
						}
						return nil
					},
				),
			},
			{ // failed smoke test: rolled back, the state keeps 1.0.1
				Config:      e.config("1.0.2", backupBlock),
				ExpectError: wrapped("Unable to deploy app@1.0.2 to staging", "The smoke test GET", "/health answered 200 but the body does not contain", "The previous release 1.0.1 was restored and is serving."),
			},
			{ // the state says 1.0.1 and current serves 1.0.1
				Config: e.config("1.0.1", backupBlock),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.1")),
				},
				Check: e.checkServing("1.0.1"),
			},
			{ // rollback by variable: the 1.0.0 folder goes live again
				Config: e.config("1.0.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plansReplacing("1.0.1", "1.0.0"),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						1: knownvalue.StringRegexp(regexp.MustCompile(`^roll back staging from 1\.0\.1 to 1\.0\.0 \(live here until \d{4}-\d\d-\d\dT\d\d:\d\dZ\)$`)),
						2: knownvalue.StringRegexp(regexp.MustCompile(`^reuse a release of app@1\.0\.0 with sha256 [0-9a-f]{64} when one is still on directory `)),
					})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameRelease.AddStateValue(deploymentAddr, depAttr("release_id")),
				},
				Check: e.checkServing("1.0.0"),
			},
			{ // drift: someone points current at 1.0.1 by hand
				PreConfig: func() { e.switchCurrent(t, "1.0.1") },
				Config:    e.config("1.0.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plansReplacing("1.0.1", "1.0.0"),
				}},
				Check: e.checkServing("1.0.0"),
			},
			{ // a stale lock token is refused
				PreConfig: func() {
					be := e.Backend(t)
					ctx := context.Background()
					l, err := be.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "old-job"})
					if err != nil {
						t.Fatal(err)
					}
					if err := be.Release(ctx, "staging", l.ID); err != nil {
						t.Fatal(err)
					}
					if _, err := be.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "new-job"}); err != nil {
						t.Fatal(err)
					}
					staleToken = l.Token
				},
				Config:      e.config("1.0.1", "  lock_token = 1\n"),
				ExpectError: wrapped("Unable to deploy app@1.0.1 to staging", "lock token 1 for staging is stale"),
			},
			{
				Config: e.config("1.0.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: resource.ComposeTestCheckFunc(e.checkServing("1.0.0"), func(*terraform.State) error {
					if staleToken != 1 {
						return fmt.Errorf("the stale token step used token 1 but the lock had %d", staleToken)
					}
					return nil
				}),
			},
		},
	})
}

func TestAccDeploymentResource_failedCreateSavesNothing(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "fail", "1.0.1": "ok"})
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      e.config("1.0.0", ""),
				ExpectError: wrapped("Unable to deploy app@1.0.0 to staging", "serves nothing"),
			},
			{
				PreConfig: func() {
					if got := e.serving(t); got != "" {
						t.Fatalf("a failed first deployment left %q serving", got)
					}
				},
				Config: e.config("1.0.1", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionCreate),
				}},
				Check: e.checkServing("1.0.1"),
			},
		},
	})
}

func TestAccDeploymentResource_blockedAndRemoved(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok"})
	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			if _, err := os.Lstat(filepath.Join(e.app, "current")); !os.IsNotExist(err) {
				return fmt.Errorf("on_destroy = remove left current behind")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					if err := e.Backend(t).SetBlock(context.Background(), backend.Block{Name: "app", Version: "1.0.0", Reason: "corrupts invoices"}); err != nil {
						t.Fatal(err)
					}
				},
				Config:      e.config("1.0.0", `  on_destroy = "remove"`),
				ExpectError: wrapped("Unable to deploy app@1.0.0 to staging", "app@1.0.0 is blocked: corrupts invoices"),
			},
			{
				Config: e.config("1.0.0", "  on_destroy = \"remove\"\n  allow_blocked = true\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("allow_blocked"), knownvalue.Bool(true)),
				}},
				Check: e.checkServing("1.0.0"),
			},
			{ // disappears: current removed by hand, the next plan creates it again
				PreConfig: func() {
					if err := os.Remove(filepath.Join(e.app, "current")); err != nil {
						t.Fatal(err)
					}
				},
				Config: e.config("1.0.0", "  on_destroy = \"remove\"\n  allow_blocked = true\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						1: knownvalue.StringRegexp(regexp.MustCompile(`^reuse a release of app@1\.0\.0 with sha256 [0-9a-f]{64} when one is still on directory `)),
					})),
				}},
				Check: e.checkServing("1.0.0"),
			},
		},
	})
}

// A run-scoped (ephemeral) lock fences a deployment through the write-only
// lock_token_wo: its token is checked but never stored.
func TestAccDeploymentResource_runLockFencing(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok", "1.0.1": "ok"})
	const runLock = `
ephemeral "release_environment_lock" "run" {
  environment = "staging"
  holder      = "run-4711"
}
`
	withRunLock := func(version string) string {
		return e.config(version, "  lock_token_wo = ephemeral.release_environment_lock.run.token\n") + runLock
	}
	ctx := context.Background()
	var otherLock string
	deployedWithToken := func(version string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			be := e.Backend(t)
			evs, err := be.History(ctx, backend.HistoryQuery{Environment: "staging", Kinds: []string{backend.KindDeployed}, Limit: 1})
			if err != nil {
				return err
			}
			if len(evs) != 1 || evs[0].Version != version || evs[0].LockToken == 0 {
				return fmt.Errorf("last deployed event %+v, want %s fenced by the run lock's token", evs, version)
			}
			if cur, err := be.CurrentToken(ctx, "staging"); err != nil || cur != 0 {
				return fmt.Errorf("after the run the environment lock has token %d (%v), want released", cur, err)
			}
			return nil
		}
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: withRunLock("1.0.0"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("lock_token_wo"), knownvalue.Null()),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						0: knownvalue.StringExact("check that the run's lock token (lock_token_wo) is still the lock of staging before anything changes"),
					})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("lock_token_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("lock_token"), knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(e.checkServing("1.0.0"), deployedWithToken("1.0.0")),
			},
			{
				Config: withRunLock("1.0.1"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(e.checkServing("1.0.1"), deployedWithToken("1.0.1")),
			},
			{ // a token whose lock is gone is refused, and nothing changes
				PreConfig: func() {
					l, err := e.Backend(t).Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "other-pipeline"})
					if err != nil {
						t.Fatal(err)
					}
					otherLock = l.ID
				},
				Config:      e.config("1.0.0", "  lock_token_wo = 1\n"),
				ExpectError: wrapped("Unable to deploy app@1.0.0 to staging", "lock token 1 for staging is stale: the current lock has token"),
			},
			{ // while another pipeline holds the environment, the run cannot even lock it
				Config:      withRunLock("1.0.0"),
				ExpectError: wrapped("other-pipeline"),
			},
			{
				Config:      e.config("1.0.0", "  lock_token = 1\n  lock_token_wo = 1\n"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Attribute Combination.*lock_token`),
			},
			{ // the write-only token is not in the state: dropping it changes nothing
				PreConfig: func() {
					if err := e.Backend(t).Release(ctx, "staging", otherLock); err != nil {
						t.Fatal(err)
					}
				},
				Config: e.config("1.0.1", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: e.checkServing("1.0.1"),
			},
		},
	})
}

// A webhook that fails does not fail the deployment: Create reports it as a
// warning. Terraform hides warnings from the test framework, so Create is called
// directly with a plan and a configuration built from the model.
func TestDeploymentResource_notificationFailureIsAWarning(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok"})
	var posts int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		posts++
		http.Error(w, "chat service down", http.StatusBadGateway)
	}))
	defer hook.Close()
	data := &providerData{Store: e.Store(t), Backend: e.Backend(t), Actor: "tester",
		Webhooks: []webhookSettings{{URL: hook.URL, Events: []string{"deployed"}}}}
	if d := wireNotifications(data); d.HasError() {
		t.Fatal(d)
	}
	ctx := context.Background()
	r := &deploymentResource{resourceBase: resourceBase{data: data}}
	sch := deploymentSchema(ctx)
	m := deploymentResourceModel{
		ID: types.StringUnknown(), Environment: types.StringValue("staging"), Artifact: types.StringValue("app@1.0.0"),
		SHA256: types.StringValue(e.sums["1.0.0"]), LockToken: types.Int64Null(), LockTokenWO: types.Int64Null(),
		RollbackOnFailure: types.BoolValue(true), AllowBlocked: types.BoolValue(false), OnDestroy: types.StringValue("keep"),
		DeployedVersion: types.StringValue("1.0.0"), PreviousVersion: types.StringNull(), DeployedAt: types.StringUnknown(),
		ReleaseID: types.StringUnknown(), BackupID: types.StringNull(), PlannedSteps: types.ListUnknown(types.StringType), HostsLive: types.MapNull(types.StringType), Changes: types.ListNull(types.StringType),
		Directory: &deploymentDirectoryModel{Path: types.StringValue(e.app), KeepReleases: types.Int64Value(3), Shared: types.ListNull(types.StringType), MaxExtractedSize: types.StringNull(), MaxFileSize: types.StringNull()},
		Timeouts:  timeouts.Value{Object: typesObjectNull(ctx)},
	}
	plan := tfsdk.Plan{Schema: sch, Raw: tftypes.NewValue(sch.Type().TerraformType(ctx), nil)}
	config := tfsdk.Config{Schema: sch, Raw: tftypes.NewValue(sch.Type().TerraformType(ctx), nil)}
	if d := plan.Set(ctx, &m); d.HasError() {
		t.Fatal(d)
	}
	cfg := tfsdk.State{Schema: sch, Raw: config.Raw}
	if d := cfg.Set(ctx, &m); d.HasError() {
		t.Fatal(d)
	}
	config.Raw = cfg.Raw
	resp := fwresource.CreateResponse{State: tfsdk.State{Schema: sch, Raw: tftypes.NewValue(sch.Type().TerraformType(ctx), nil)}}
	r.Create(ctx, fwresource.CreateRequest{Plan: plan, Config: config}, &resp)

	if resp.Diagnostics.HasError() {
		t.Fatalf("a failing webhook failed the deployment: %v", resp.Diagnostics)
	}
	if e.serving(t) != "version 1.0.0" {
		t.Fatalf("serving %q", e.serving(t))
	}
	var warned bool
	for _, d := range resp.Diagnostics.Warnings() {
		if d.Summary() == "Unable to send a release notification" && strings.Contains(d.Detail(), "chat service down") {
			warned = true
		}
	}
	if posts != 1 || !warned {
		t.Fatalf("webhook posts %d, warnings %v; want one post and its failure as a warning", posts, resp.Diagnostics.Warnings())
	}
}

// A module chooses its target with dynamic blocks whose for_each is unknown while
// Terraform validates it: that must validate, and "no target at all" is refused at plan.
func TestAccDeploymentResource_dynamicTargetBlocks(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok"})
	dynamicConfig := e.ProviderBlock() + fmt.Sprintf(`
variable "app_path" {
  type = string
}

resource "release_deployment" "test" {
  environment = "staging"
  artifact    = "app@1.0.0"
  dynamic "directory" {
    for_each = var.app_path != "" ? [var.app_path] : []
    content {
      path = directory.value
    }
  }
  dynamic "scalingo" {
    for_each = var.app_path == "" ? ["histologe"] : []
    content {
      app = scalingo.value
    }
  }
  smoke_test {
    url           = "%s/health"
    body_contains = "ok"
  }
}
`, e.server.URL)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: e.ProviderBlock() + `
resource "release_deployment" "test" {
  environment = "staging"
  artifact    = "app@1.0.0"
}
`,
				PlanOnly:    true,
				ExpectError: wrapped("Invalid block combination", "Set exactly one of the directory, scalingo blocks: none is set."),
			},
			{
				Config:          dynamicConfig,
				ConfigVariables: config.Variables{"app_path": config.StringVariable(e.app)},
				Check:           e.checkServing("1.0.0"),
			},
		},
	})
}

// failingPlanCheck is a plan check that fails with its text.
type failingPlanCheck string

func (f failingPlanCheck) CheckPlan(_ context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = errors.New(string(f))
}

func TestAllPlanChecksReportsEveryFailure(t *testing.T) {
	var resp plancheck.CheckPlanResponse
	allPlanChecks{failingPlanCheck("first"), sideEffect(func() {}), failingPlanCheck("second")}.CheckPlan(context.Background(), plancheck.CheckPlanRequest{}, &resp)
	if resp.Error == nil || !strings.Contains(resp.Error.Error(), "first") || !strings.Contains(resp.Error.Error(), "second") {
		t.Fatalf("error = %v, want both failures", resp.Error)
	}
	resp = plancheck.CheckPlanResponse{}
	allPlanChecks{sideEffect(func() {})}.CheckPlan(context.Background(), plancheck.CheckPlanRequest{}, &resp)
	if resp.Error != nil {
		t.Fatalf("error = %v, want none", resp.Error)
	}
}
