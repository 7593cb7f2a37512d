package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/deploy"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// worldChange is a plan check that changes the world after the plan was made and
// before it is applied, as another pipeline would.
type worldChange func(t *testing.T)

type worldChangeCheck struct {
	t *testing.T
	f worldChange
}

func (c worldChangeCheck) CheckPlan(context.Context, plancheck.CheckPlanRequest, *plancheck.CheckPlanResponse) {
	c.f(c.t)
}

// deployOutside deploys version with the deploy package, as another pipeline does.
func (e *deploymentEnv) deployOutside(t *testing.T, version string) {
	t.Helper()
	tgt, err := target.NewDirectory(e.app, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = deploy.Deploy(context.Background(), deploy.Request{
		Facts:  deploy.Facts{Environment: "staging", Name: "app", Version: version},
		Target: tgt, Store: e.Store(t), Backend: e.Backend(t), Actor: "other-pipeline",
	})
	if err != nil {
		t.Fatalf("deploying %s outside Terraform: %v", version, err)
	}
}

// goLiveUnverified puts version live the way a deployment killed during its
// smoke test leaves it: prepared, marked unverified, switched, never verified.
func (e *deploymentEnv) goLiveUnverified(t *testing.T, version string) {
	t.Helper()
	ctx := context.Background()
	tgt, err := target.NewDirectory(e.app, nil)
	if err != nil {
		t.Fatal(err)
	}
	prev, err := tgt.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := e.Store(t).Get(ctx, "app", version)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	p, err := tgt.Prepare(ctx, target.Spec{Name: "app", Version: version, SHA256: e.sums[version]}, rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.MarkUnverified(ctx, p.Release, prev); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Activate(ctx, p); err != nil {
		t.Fatal(err)
	}
}

// TestAccDeploymentResource_stalePlan: a plan made before another pipeline
// deployed is refused at apply with what changed, and changes nothing.
func TestAccDeploymentResource_stalePlan(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok", "1.0.1": "ok", "1.0.2": "ok"})
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			e.deployStep("1.0.0"),
			{
				Config: e.config("1.0.1", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("previous_version"), knownvalue.StringExact("1.0.0")),
					worldChangeCheck{t, func(t *testing.T) { e.deployOutside(t, "1.0.2") }},
				}},
				ExpectError: wrapped("staging changed since this plan was made: it planned to replace 1.0.0 on directory", "and 1.0.2 is live now", "deployed by other-pipeline", "Nothing was changed. Plan again and review."),
			},
			{ // nothing was changed by the refused apply; 1.0.1 would now go below 1.0.2
				Config:      e.config("1.0.1", ""),
				ExpectError: wrapped("app@1.0.1 is lower than 1.0.2, live in staging, and was never live there before"),
			},
			{ // the next plan replaces 1.0.2 when going down is intended
				Config: e.config("1.0.1", "  allow_downgrade = true\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("previous_version"), knownvalue.StringExact("1.0.2")),
				}},
				Check: e.checkServing("1.0.1"),
			},
		},
	})
}

// TestAccDeploymentResource_upperCaseSHA256: PowerShell prints sha256 in upper
// case; it is planned and kept as written and compared without regard to case.
func TestAccDeploymentResource_upperCaseSHA256(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok"})
	upper := strings.ToUpper(e.sums["1.0.0"])
	cfg := e.config("1.0.0", fmt.Sprintf("  sha256 = %q\n", upper))
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("sha256"), knownvalue.StringExact(upper)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("sha256"), knownvalue.StringExact(upper)),
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("status"), knownvalue.StringExact("live")),
				},
				Check: e.checkServing("1.0.0"),
			},
			emptyPlanStep(cfg),
		},
	})
}

// TestAccDeploymentResource_unverifiedRelease: a deployment killed after the
// switch leaves its release live but unverified; the next plan is not empty, and
// the next apply verifies it again and rolls back when it still fails.
func TestAccDeploymentResource_unverifiedRelease(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok", "1.0.1": "fail"})
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			e.deployStep("1.0.0"),
			{
				PreConfig: func() { e.goLiveUnverified(t, "1.0.1") },
				Config:    e.config("1.0.1", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("status"), knownvalue.StringExact("live")),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("previous_version"), knownvalue.StringExact("1.0.0")),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						1: knownvalue.StringRegexp(regexp.MustCompile(`^verify release 1\.0\.1-\d{8}T\d{6}Z on directory .* again: it is live but its after_switch hooks and smoke test never finished$`)),
					})),
				}},
				ExpectError: wrapped("Unable to deploy app@1.0.1 to staging", "The previous release 1.0.0 was restored and is serving."),
			},
			{ // rolled back: the state says 1.0.0 and it is live and verified
				Config:           e.config("1.0.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("status"), knownvalue.StringExact("live")),
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("deployed_version"), knownvalue.StringExact("1.0.0")),
				},
				Check: e.checkServing("1.0.0"),
			},
		},
	})
}

// TestAccDeploymentResource_currentOutsideReleases: current re-pointed outside
// releases/, or at a release folder that is gone, is drift the plan shows and the
// apply corrects.
func TestAccDeploymentResource_currentOutsideReleases(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok"})
	elsewhere := t.TempDir()
	liveFolder := func(t *testing.T) string {
		t.Helper()
		dest, err := os.Readlink(filepath.Join(e.app, "current"))
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Base(dest)
	}
	repoint := func(t *testing.T, dest string) {
		t.Helper()
		tmp := filepath.Join(e.app, "current.manual")
		if err := os.Symlink(dest, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(e.app, "current")); err != nil {
			t.Fatal(err)
		}
	}
	drifted := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(deploymentAddr, plancheck.ResourceActionUpdate),
		plancheck.ExpectKnownValue(deploymentAddr, depAttr("status"), knownvalue.StringExact("live")),
	}}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			e.deployStep("1.0.0"),
			{ // a copy of the live release outside releases/, same folder name
				PreConfig: func() {
					name := liveFolder(t)
					copyDir(t, filepath.Join(e.app, "releases", name), filepath.Join(elsewhere, name))
					if err := os.WriteFile(filepath.Join(elsewhere, name, "index.html"), []byte("version evil"), 0o644); err != nil {
						t.Fatal(err)
					}
					repoint(t, filepath.Join(elsewhere, name))
				},
				Config:           e.config("1.0.0", ""),
				ConfigPlanChecks: drifted,
				Check:            e.checkServing("1.0.0"),
			},
			emptyPlanStep(e.config("1.0.0", "")),
			{ // current dangling: its release folder was deleted
				PreConfig: func() {
					if err := os.RemoveAll(filepath.Join(e.app, "releases", liveFolder(t))); err != nil {
						t.Fatal(err)
					}
				},
				Config:           e.config("1.0.0", ""),
				ConfigPlanChecks: drifted,
				Check:            e.checkServing("1.0.0"),
			},
		},
	})
}

// TestAccDeploymentResource_destroyHonoursTheLock: on_destroy = "remove" under a
// lock that another pipeline has since taken deletes nothing.
func TestAccDeploymentResource_destroyHonoursTheLock(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok"})
	ctx := context.Background()
	be := e.Backend(t)
	l, err := be.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "job-1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config("1.0.0", fmt.Sprintf("  lock_token = %d\n  on_destroy = \"remove\"\n", l.Token))
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg, Check: e.checkServing("1.0.0")},
			{
				PreConfig: func() {
					if _, err := be.ForceRelease(ctx, "staging", "test", "taken over"); err != nil {
						t.Fatal(err)
					}
					if _, err := be.Acquire(ctx, backend.AcquireRequest{Environment: "staging", Holder: "job-2"}); err != nil {
						t.Fatal(err)
					}
				},
				Config:      cfg,
				Destroy:     true,
				ExpectError: wrapped(`on_destroy = "remove" was refused before anything was deleted`, "keeps serving"),
				Check:       e.checkServing("1.0.0"),
			},
			{ // the other pipeline is done: the destroy can go on with the current token
				PreConfig: func() {
					if _, err := be.ForceRelease(ctx, "staging", "test", "done"); err != nil {
						t.Fatal(err)
					}
				},
				Config: e.config("1.0.0", "  on_destroy = \"remove\"\n"),
				Check:  e.checkServing("1.0.0"),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if e.serving(t) != "" {
				return fmt.Errorf("on_destroy = remove left the site serving")
			}
			return nil
		},
	})
}

// copyDir copies a release folder (files and symlinks) for drift tests.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(out, 0o755)
		case info.Mode()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, out)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(out, b, info.Mode())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAccDeploymentResource_lockFromResource is the README's example: the lock is
// acquired by the same apply, so its token is unknown when the plan is made, and
// the final plan must match it; again when the lock is acquired anew.
func TestAccDeploymentResource_lockFromResource(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok", "1.0.1": "ok"})
	cfg := func(version string) string {
		return e.config(version, "  lock_token = release_environment_lock.staging.token\n") + `
resource "release_environment_lock" "staging" {
  environment = "staging"
  reason      = "release"
}
`
	}
	lockStep := plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
		0: knownvalue.StringExact("check that lock_token is still the token of the lock of staging before anything changes"),
	}))
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: cfg("1.0.0"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(deploymentAddr, depAttr("lock_token")),
					lockStep,
				}},
				Check: e.checkServing("1.0.0"),
			},
			emptyPlanStep(cfg("1.0.0")),
			{ // the lock is acquired anew (a new token) in the apply that deploys
				Config: cfg("1.0.1"),
				Taint:  []string{"release_environment_lock.staging"},
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("release_environment_lock.staging", plancheck.ResourceActionReplace),
					plancheck.ExpectUnknownValue(deploymentAddr, depAttr("lock_token")),
					lockStep,
				}},
				Check: e.checkServing("1.0.1"),
			},
			emptyPlanStep(cfg("1.0.1")),
		},
	})
}

// TestAccDeploymentResource_failedRunReleasesItsLock: Terraform does not close an
// ephemeral lock when the deployment that used it fails; the deployment releases
// it, so the re-run is not refused as locked by the failed run.
func TestAccDeploymentResource_failedRunReleasesItsLock(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok", "1.0.1": "fail"})
	ctx := context.Background()
	lock := `
ephemeral "release_environment_lock" "run" {
  environment = "staging"
  ttl         = "%s"
}
`
	cfg := func(version, ttl string) string {
		return e.config(version, "  lock_token_wo = ephemeral.release_environment_lock.run.token\n") + fmt.Sprintf(lock, ttl)
	}
	free := func() {
		if cur, err := e.Backend(t).CurrentToken(ctx, "staging"); err != nil || cur != 0 {
			t.Fatalf("after the failed run the environment lock has token %d (%v), want released", cur, err)
		}
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg("1.0.0", "0s"), ExpectError: wrapped(`Invalid ttl`, `a run lock must expire`)},
			{Config: cfg("1.0.0", "10m"), Check: e.checkServing("1.0.0")},
			{Config: cfg("1.0.1", "10m"), ExpectError: wrapped("Unable to deploy app@1.0.1 to staging", "The previous release 1.0.0 was restored")},
			{PreConfig: free, Config: cfg("1.0.1", "10m"), ExpectError: wrapped("Unable to deploy app@1.0.1 to staging", "The previous release 1.0.0 was restored")},
			{PreConfig: free, Config: cfg("1.0.0", "10m"), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
	})
}

// TestAccDeploymentResource_invalidAtPlanTime: what apply would refuse is refused
// by the plan, before anything is read or changed.
func TestAccDeploymentResource_invalidAtPlanTime(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok"})
	cfg := func(path, url, method string) string {
		return e.ProviderBlock() + fmt.Sprintf(`
resource "release_deployment" "test" {
  environment = "staging"
  artifact    = "app@1.0.0"
  directory { path = %q }
  smoke_test {
    url    = %q
    method = %q
  }
}
`, path, url, method)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg("/", e.server.URL, "GET"), PlanOnly: true, ExpectError: wrapped(`directory target path "/" is a system directory`)},
			{Config: cfg("/etc", e.server.URL, "GET"), PlanOnly: true, ExpectError: wrapped(`"/etc" is a system directory`)},
			{Config: cfg(e.app, "ftp://127.0.0.1/health", "GET"), PlanOnly: true, ExpectError: wrapped("Invalid check URL", "must use http or https")},
			{Config: cfg(e.app, "http:///health", "GET"), PlanOnly: true, ExpectError: wrapped("Invalid check URL", "has no host")},
			{Config: cfg(e.app, e.server.URL, "get"), PlanOnly: true, ExpectError: wrapped("Invalid HTTP method", `method "get" is not a valid HTTP method`)},
		},
	})
}

// TestAccMaintenanceModeLeavesForeignFiles: a maintenance.json the provider did
// not write is refused, not overwritten.
func TestAccMaintenanceModeLeavesForeignFiles(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := filepath.Join(env.Dir, "site")
	foreign := "root:x:0:0:root:/root:/bin/bash\n"
	p := env.WriteFile(t, filepath.Join("site", "maintenance.json"), []byte(foreign))
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config: env.ProviderBlock() + fmt.Sprintf(`
resource "release_maintenance_mode" "m" {
  enabled = true
  directory { path = %q }
}
`, dir),
			ExpectError: wrapped("exists and was not written by release_maintenance_mode"),
			Check: func(*terraform.State) error {
				if b, _ := os.ReadFile(p); string(b) != foreign {
					return fmt.Errorf("the foreign file was changed")
				}
				return nil
			},
		}},
	})
	if b, _ := os.ReadFile(p); string(b) != foreign {
		t.Fatal("the foreign file was changed")
	}
}

// TestAccDeploymentResource_extractionCaps: the caps are settable, checked at plan
// time for their form and while the archive streams for the release's size.
func TestAccDeploymentResource_extractionCaps(t *testing.T) {
	e := newDeploymentEnv(t, map[string]string{"1.0.0": "ok"})
	cfg := func(size string) string {
		return strings.Replace(e.config("1.0.0", ""), "keep_releases = 3", fmt.Sprintf("keep_releases = 3\n    max_extracted_size = %q", size), 1)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg("8 gigs"), PlanOnly: true, ExpectError: wrapped("Invalid size", `"8 gigs"`)},
			{Config: cfg("10B"), ExpectError: wrapped("Unable to deploy app@1.0.0 to staging", "over the 10-byte cap")},
			{Config: cfg("1MiB"), Check: e.checkServing("1.0.0")},
		},
	})
}
