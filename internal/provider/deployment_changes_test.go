package provider

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo/gitrepotest"
)

// changesWorld is a deployment environment whose versions were built from the
// commits of a real git repository:
//
//	0.9.0  c0     chore: initial import
//	1.0.0  c1     feat: sign in with a magic link (#7, squash-merged)
//	1.1.0  c2     Merge pull request #42 (feat: add export), then fix(login): keep the session
//	1.2.0  stale  feat: old experiment, on a branch that left main at c1
type changesWorld struct {
	*deploymentEnv
	repo                   *gitrepotest.Repo
	c0, c1, c2, fix, stale string
}

func newChangesWorld(t *testing.T) *changesWorld {
	t.Helper()
	w := &changesWorld{deploymentEnv: newDeploymentEnv(t, nil), repo: gitrepotest.New(t)}
	r := w.repo
	w.c0 = r.Commit("chore: initial import")
	w.c1 = r.Commit("feat: sign in with a magic link (#7)")
	r.Branch("export")
	r.Commit("wip")
	r.Commit("feat: add export")
	r.Checkout("main")
	r.Merge("export", "Merge pull request #42 from acme/export\n\nfeat: add export")
	w.fix = r.Commit("fix(login): keep the session")
	w.c2 = w.fix
	r.Checkout(w.c1)
	r.Branch("experiment")
	w.stale = r.Commit("feat: old experiment")
	r.Checkout("main")
	for version, commit := range map[string]string{"0.9.0": w.c0, "1.0.0": w.c1, "1.1.0": w.c2, "1.2.0": w.stale} {
		w.publish(t, version, commit)
	}
	return w
}

func (w *changesWorld) publish(t *testing.T, version, commit string) {
	t.Helper()
	data := archivetest.TarGz(t, map[string]string{"health": "ok", "index.html": "version " + version})
	obj, err := w.Store(t).Put(context.Background(), "app", version, bytes.NewReader(data), "", map[string]string{"git_commit": commit})
	if err != nil {
		t.Fatal(err)
	}
	w.sums[version] = obj.SHA256
}

func (w *changesWorld) config(version, extra string) string {
	return w.deploymentEnv.config(version, fmt.Sprintf("  changelog {\n    repository = %q\n  }\n%s", w.repo.Dir, extra))
}

func expectChanges(lines ...string) plancheck.PlanCheck {
	checks := make([]knownvalue.Check, len(lines))
	for i, l := range lines {
		checks[i] = knownvalue.StringExact(l)
	}
	return plancheck.ExpectKnownValue(deploymentAddr, depAttr("changes"), knownvalue.ListExact(checks))
}

// TestAccDeploymentResource_changesAndDowngrades: the plan lists what a
// release changes (known at plan time, from the artifacts' git_commit and a
// real clone), says what a release from a stale branch leaves out, shows a
// rollback as one, refuses a downgrade to a version never live here, and lets
// it through with allow_downgrade.
func TestAccDeploymentResource_changesAndDowngrades(t *testing.T) {
	w := newChangesWorld(t)
	export, session := "Features: add export (#42)", "Bug fixes: login: keep the session ("+w.fix[:7]+")"
	experiment := "Features: old experiment (" + w.stale[:7] + ")"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{ // nothing live: nothing to compare with
				Config: w.config("1.0.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("changes"), knownvalue.Null()),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("allow_downgrade"), knownvalue.Bool(false)),
				}},
				Check: w.checkServing("1.0.0"),
			},
			{ // what 1.1.0 brings, in the plan
				Config: w.config("1.1.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectChanges(export, session),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("changes"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(export), knownvalue.StringExact(session)})),
				},
				Check: w.checkServing("1.1.0"),
			},
			{ // the changes stay what the last deployment changed
				Config:           w.config("1.1.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{ // a stale branch: what it brings, and what it leaves out
				Config: w.config("1.2.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectChanges(experiment, "Removed: "+export, "Removed: "+session),
				}},
				Check: w.checkServing("1.2.0"),
			},
			{ // a rollback says it is one
				Config: w.config("1.1.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectChanges(export, session, "Removed: "+experiment),
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						1: knownvalue.StringRegexp(regexp.MustCompile(`^roll back staging from 1\.2\.0 to 1\.1\.0 \(live here until \d{4}-\d\d-\d\dT\d\d:\d\dZ\)$`)),
					})),
				}},
				Check: w.checkServing("1.1.0"),
			},
			{ // 0.9.0 was never live here: refused at plan time
				Config: w.config("0.9.0", ""),
				ExpectError: wrapped("Unable to deploy app@0.9.0 to staging",
					"app@0.9.0 is lower than 1.1.0, live in staging, and was never live there before, so it is no rollback",
					"set allow_downgrade = true", "The deployment will be refused."),
			},
			{ // nothing changed
				Config:           w.config("1.1.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            w.checkServing("1.1.0"),
			},
			{ // allow_downgrade lets it through, and the plan says so
				Config: w.config("0.9.0", "  allow_downgrade = true\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(deploymentAddr, depAttr("planned_steps"), knownvalue.ListPartial(map[int]knownvalue.Check{
						1: knownvalue.StringExact("downgrade staging from 1.1.0 to 0.9.0, which was never live here (allow_downgrade)"),
					})),
					expectChanges("Removed: "+export, "Removed: Features: sign in with a magic link (#7)", "Removed: "+session),
				}},
				Check: w.checkServing("0.9.0"),
			},
		},
	})
}

// TestAccDeploymentResource_changesOfAnArtifactPublishedInTheSameApply: the
// new artifact's git_commit is unknown until it is published, so changes is
// unknown in the plan and known after the apply.
func TestAccDeploymentResource_changesOfAnArtifactPublishedInTheSameApply(t *testing.T) {
	w := newChangesWorld(t)
	build := w.WriteFile(t, "build-1.3.0.tar.gz", archivetest.TarGz(t, map[string]string{"health": "ok", "index.html": "version 1.3.0"}))
	head := w.repo.Commit("feat: dark mode (#51)")
	published := fmt.Sprintf(`
resource "release_artifact" "next" {
  name     = "app"
  version  = "1.3.0"
  source   = %q
  metadata = { git_commit = %q }
}
`, build, head)
	cfg := func(artifact string) string {
		extra := ""
		if !strings.HasPrefix(artifact, `"`) {
			extra = published
		}
		return w.ProviderBlock() + extra + fmt.Sprintf(`
resource "release_deployment" "test" {
  environment = "staging"
  artifact    = %s
  directory {
    path = %q
  }
  changelog {
    repository = %q
  }
}
`, artifact, w.app, w.repo.Dir)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg(`"app@1.1.0"`), Check: w.checkServing("1.1.0")},
			{
				Config: cfg("release_artifact.next.id"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(deploymentAddr, depAttr("changes")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(deploymentAddr, depAttr("changes"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("Features: dark mode (#51)")})),
				},
				Check: w.checkServing("1.3.0"),
			},
		},
	})
}

// TestPlanChangesSaysWhatItCannotList: a release from a branch that left the
// live commit is warned about; a shallow clone or an artifact without
// git_commit leaves changes unknown or null with a warning that says why.
func TestPlanChangesSaysWhatItCannotList(t *testing.T) {
	ctx := context.Background()
	w := newChangesWorld(t)
	w.publish(t, "1.4.0", "")
	r := &deploymentResource{resourceBase{data: &providerData{Store: w.Store(t)}}}
	model := func(version, live, repo string) *deploymentResourceModel {
		return &deploymentResourceModel{
			Environment: types.StringValue("production"), Artifact: types.StringValue("app@" + version),
			PreviousVersion: types.StringValue(live), Changelog: &deploymentChangelogModel{Repository: types.StringValue(repo)},
		}
	}
	for _, tc := range []struct {
		name, version, live, repo string
		wantKnown, wantNull       bool
		warning                   string
	}{
		{name: "stale branch", version: "1.2.0", live: "1.1.0", repo: w.repo.Dir, wantKnown: true,
			warning: "Commit " + w.stale[:7] + " of 1.2.0 does not descend from commit " + w.c2[:7] + " of 1.1.0, which is live: the deployment leaves out 2 change(s) that are live now"},
		{name: "rollback: no warning", version: "1.0.0", live: "1.1.0", repo: w.repo.Dir, wantKnown: true},
		{name: "shallow clone", version: "1.1.0", live: "1.0.0", repo: w.repo.ShallowClone(1), warning: "fetch --unshallow"},
		{name: "no git_commit", version: "1.4.0", live: "1.1.0", repo: w.repo.Dir, wantKnown: true, wantNull: true, warning: "app@1.4.0 records no git_commit"},
		{name: "not published yet", version: "2.0.0", live: "1.1.0", repo: w.repo.Dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var diags diag.Diagnostics
			got := r.planChanges(ctx, model(tc.version, tc.live, tc.repo), &diags)
			if diags.HasError() || got.IsUnknown() == tc.wantKnown || got.IsNull() != tc.wantNull {
				t.Fatalf("changes = %v (unknown %v), diags %v; want known %v, null %v", got, got.IsUnknown(), diags, tc.wantKnown, tc.wantNull)
			}
			warned := ""
			for _, d := range diags.Warnings() {
				warned += d.Detail()
			}
			if (tc.warning == "") != (warned == "") || !strings.Contains(warned, tc.warning) {
				t.Fatalf("warnings %q, want one saying %q", warned, tc.warning)
			}
		})
	}
}
