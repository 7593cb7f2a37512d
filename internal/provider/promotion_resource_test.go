package provider

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
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
	"github.com/releaseplan/terraform-provider-release/internal/promote/promotetest"
)

const promotionAddr = "release_promotion.rc"

// promotionWorld is a provider environment with app@1.0.0-staging published from
// the commit "feature" of a git repository where "base" (what production runs)
// is an ancestor of feature and "side" is not.
type promotionWorld struct {
	*acctest.Env
	promotetest.History
	sum string
}

func newPromotionWorld(t *testing.T) *promotionWorld {
	t.Helper()
	w := &promotionWorld{Env: acctest.NewEnv(t), History: promotetest.New(t)}
	obj, err := w.Store(t).Put(context.Background(), "app", "1.0.0-staging", strings.NewReader("app 1.0.0 bytes"), "", map[string]string{"git_commit": w.Feature})
	if err != nil {
		t.Fatal(err)
	}
	w.sum = obj.SHA256
	return w
}

// config promotes app@1.0.0-staging to toVersion; extra goes inside the resource.
func (w *promotionWorld) config(toVersion, sha, extra string) string {
	return w.ProviderBlock() + fmt.Sprintf(`
resource "release_promotion" "rc" {
  name         = "app"
  from_version = "1.0.0-staging"
  to_version   = %q
  sha256       = %q
%s
}
`, toVersion, sha, extra)
}

func (w *promotionWorld) descendant(repo, commit string) string {
	return fmt.Sprintf("  require_descendant_of {\n    repository = %q\n    commit     = %q\n  }\n", repo, commit)
}

func (w *promotionWorld) deployed(t *testing.T, env, version string) {
	t.Helper()
	if err := w.Backend(t).Append(context.Background(), backend.Event{Time: time.Now().UTC(), Environment: env, Kind: backend.KindDeployed, Name: "app", Version: version, SHA256: w.sum, Actor: "deployer"}); err != nil {
		t.Fatal(err)
	}
}

func (w *promotionWorld) checkNotPublished(t *testing.T, version string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if _, err := w.Store(t).Stat(context.Background(), "app", version); err == nil {
			return fmt.Errorf("app@%s was published by a refused promotion", version)
		}
		return nil
	}
}

func TestAccPromotionResource_guards(t *testing.T) {
	w := newPromotionWorld(t)
	guards := `  require_deployed_in = ["staging"]` + "\n" + w.descendant(w.Repo.Dir, w.Base)
	wrong := strings.Repeat("0", 64)
	shallow := w.Repo.ShallowClone(1)

	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			// retain_on_destroy defaults to true: the promoted bytes stay published.
			_, err := w.Store(t).Verify(context.Background(), "app", "1.0.0-rc")
			return err
		},
		Steps: []resource.TestStep{
			{
				Config:      w.config("1.0.0-staging", w.sum, ""),
				ExpectError: wrapped("from_version and to_version are both 1.0.0-staging"),
			},
			{
				Config:      w.config("1.0.0-rc2", w.sum, "  require_descendant_of {\n    repository = \".\"\n  }\n"),
				ExpectError: wrapped("Missing required argument", `The argument "commit" is required in the require_descendant_of block`),
			},
			{
				// Refused at plan time: not the reviewed bytes.
				Config:      w.config("1.0.0-rc", wrong, guards),
				ExpectError: wrapped("Unable to promote app@1.0.0-staging to 1.0.0-rc", "The guard sha256 refused it: app@1.0.0-staging has sha256 "+w.sum+", the promotion expects "+wrong, "not the bytes that were reviewed"),
			},
			{
				// Every failing guard is reported at once, by name, with its reason.
				Config: w.config("1.0.0-rc", w.sum, `  require_deployed_in = ["staging"]`+"\n"+w.descendant(w.Repo.Dir, w.Side)),
				ExpectError: wrapped("Unable to promote app@1.0.0-staging to 1.0.0-rc",
					"the guard require_deployed_in refused it: app has never been deployed to staging",
					"the guard require_descendant_of refused it: "+w.Feature[:12]+" (git_commit of app@1.0.0-staging) does not descend from "+w.Side[:12],
					"Nothing was published"),
				Check: w.checkNotPublished(t, "1.0.0-rc"),
			},
			{
				// Another version runs in staging.
				PreConfig:   func() { w.deployed(t, "staging", "0.9.0") },
				Config:      w.config("1.0.0-rc", w.sum, guards),
				ExpectError: wrapped("the guard require_deployed_in refused it: staging runs app@0.9.0", "not 1.0.0-staging"),
			},
			{
				// A shallow clone cannot answer: the guard fails, it never passes by default.
				PreConfig:   func() { w.deployed(t, "staging", "1.0.0-staging") },
				Config:      w.config("1.0.0-rc", w.sum, `  require_deployed_in = ["staging"]`+"\n"+w.descendant(shallow, w.Base)),
				ExpectError: wrapped("the guard require_descendant_of refused it: the clone at", "is shallow", "git fetch --unshallow"),
			},
			{
				// A blocked version is refused at plan time, with the reason.
				PreConfig: func() {
					if err := w.Backend(t).SetBlock(context.Background(), backend.Block{Name: "app", Version: "1.0.0-staging", Reason: "corrupts invoices"}); err != nil {
						t.Fatal(err)
					}
				},
				Config:      w.config("1.0.0-rc", w.sum, guards),
				ExpectError: wrapped("The guard blocked versions refused it: app@1.0.0-staging is blocked: corrupts invoices"),
			},
			{
				PreConfig: func() {
					if err := w.Backend(t).RemoveBlock(context.Background(), "app", "1.0.0-staging"); err != nil {
						t.Fatal(err)
					}
				},
				Config: w.config("1.0.0-rc", w.sum, guards),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("id"), knownvalue.StringExact("app@1.0.0-rc")),
					// The commit that goes on is in the plan, from from_version's record.
					plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("git_commit"), knownvalue.StringExact(w.Feature)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("id"), knownvalue.StringExact("app@1.0.0-rc")),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("sha256"), knownvalue.StringExact(w.sum)),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("git_commit"), knownvalue.StringExact(w.Feature)),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("retain_on_destroy"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("promoted_at"), knownvalue.StringRegexp(releaseTimeRe)),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("uri"), knownvalue.StringRegexp(regexp.MustCompile(`^file:///.*/app/1\.0\.0-rc/data$`))),
				},
				Check: func(*terraform.State) error {
					obj, err := w.Store(t).Verify(context.Background(), "app", "1.0.0-rc")
					if err != nil {
						return err
					}
					if obj.SHA256 != w.sum || obj.Metadata["promoted_from"] != "1.0.0-staging" || obj.Metadata["git_commit"] != w.Feature {
						return fmt.Errorf("promoted object = %+v", obj)
					}
					events, err := w.Backend(t).History(context.Background(), backend.HistoryQuery{Name: "app", Kinds: []string{backend.KindPromoted}})
					if err != nil || len(events) != 1 || events[0].Version != "1.0.0-rc" || !strings.Contains(events[0].Detail, "promoted from 1.0.0-staging") {
						return fmt.Errorf("promoted events = %+v, %v", events, err)
					}
					return nil
				},
			},
			{
				ResourceName:            promotionAddr,
				ImportState:             true,
				ImportStateId:           "app@1.0.0-rc",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"require_deployed_in", "require_descendant_of"},
			},
			emptyPlanStep(w.config("1.0.0-rc", w.sum, guards)),
			{
				// Guards apply to the making of the promotion: changing them re-promotes nothing.
				Config: w.config("1.0.0-rc", w.sum, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
				}},
			},
			{
				// A version published directly is never overwritten.
				PreConfig: func() {
					if _, err := w.Store(t).Put(context.Background(), "app", "1.0.0", strings.NewReader("other bytes"), "", nil); err != nil {
						t.Fatal(err)
					}
				},
				Config:      w.config("1.0.0", w.sum, ""),
				ExpectError: wrapped("app@1.0.0 is already published (published directly", "Published versions are immutable"),
			},
			{
				Config:        w.config("1.0.0-rc", w.sum, ""),
				ResourceName:  promotionAddr,
				ImportState:   true,
				ImportStateId: "app@1.0.0",
				ExpectError:   wrapped("app@1.0.0 was published directly, not promoted", "Import it as a release_artifact instead"),
			},
		},
	})
}

// The promoted bytes vanish from the store: the next plan promotes them again.
func TestAccPromotionResource_disappears(t *testing.T) {
	w := newPromotionWorld(t)
	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			// retain_on_destroy = false deletes the promoted version.
			if _, err := w.Store(t).Stat(context.Background(), "app", "1.0.0-rc"); err == nil {
				return fmt.Errorf("app@1.0.0-rc survived a destroy with retain_on_destroy = false")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{Config: w.config("1.0.0-rc", w.sum, "  retain_on_destroy = false\n")},
			{
				PreConfig: func() {
					if err := w.Store(t).Delete(context.Background(), "app", "1.0.0-rc"); err != nil {
						t.Fatal(err)
					}
				},
				Config: w.config("1.0.0-rc", w.sum, "  retain_on_destroy = false\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionCreate),
				}},
			},
		},
	})
}

// TestAccPromotionResource_upperCaseSHA256: a promotion configured with an
// upper-case sha256 keeps it as written through create, refresh and an import
// (whose in-place update only restores the spelling: nothing is promoted again),
// and a store record rewritten with another sha256 is reported, not adopted.
func TestAccPromotionResource_upperCaseSHA256(t *testing.T) {
	w := newPromotionWorld(t)
	upper := strings.ToUpper(w.sum)
	cfg := w.config("1.0.0-rc", upper, "")
	sha := tfjsonpath.New("sha256")
	forged := strings.Repeat("cd", 32)
	var restore func()
	var promotedAt string

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:            cfg,
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue(promotionAddr, sha, knownvalue.StringExact(upper))},
				Check: func(s *terraform.State) error {
					promotedAt = s.RootModule().Resources[promotionAddr].Primary.Attributes["promoted_at"]
					return nil
				},
			},
			emptyPlanStep(cfg),
			forgetStep(w.ProviderBlock(), "release_promotion.rc"),
			importPersistStep(cfg, promotionAddr, "app@1.0.0-rc", func(states []*terraform.InstanceState) error {
				if len(states) != 1 || states[0].Attributes["sha256"] != w.sum || states[0].Attributes["from_version"] != "1.0.0-staging" {
					return fmt.Errorf("imported %v, want sha256 %s promoted from 1.0.0-staging", states, w.sum)
				}
				return nil
			}),
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, sha, knownvalue.StringExact(upper)),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("promoted_at"), knownvalue.StringFunc(func(v string) error {
						if v != promotedAt {
							return fmt.Errorf("promoted_at %s, want %s: the promotion was made again", v, promotedAt)
						}
						return nil
					})),
				},
			},
			emptyPlanStep(cfg),
			{
				PreConfig: func() { restore = rewriteStoreRecord(t, w.Env, "app", "1.0.0-rc", forged) },
				Config:    cfg,
				ExpectError: wrapped("Unable to read app@1.0.0-rc",
					"The store's record of app@1.0.0-rc changed from sha256 "+w.sum+" to "+forged,
					"check file://"+filepath.Join(w.ArtifactsDir, "app", "1.0.0-rc"), "metadata.json"),
			},
			{
				PreConfig:         func() { restore() },
				Config:            cfg,
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue(promotionAddr, sha, knownvalue.StringExact(upper))},
			},
		},
	})
}

// TestAccPromotionResource_canonicalVersions: v1.0.0-rc would be a second name of
// 1.0.0-rc; it is refused at plan time with the form to use.
func TestAccPromotionResource_canonicalVersions(t *testing.T) {
	w := newPromotionWorld(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:      w.config("v1.0.0-rc", w.sum, ""),
			PlanOnly:    true,
			ExpectError: wrapped("Invalid version", `"v1.0.0-rc" is not written in canonical form: use "1.0.0-rc"`),
			Check:       w.checkNotPublished(t, "1.0.0-rc"),
		}},
	})
}
