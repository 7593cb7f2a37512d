package provider

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo/gitrepotest"
)

// chat is a Slack-compatible incoming webhook that records the texts it receives.
type chat struct {
	mu    sync.Mutex
	texts []string
}

func (c *chat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text string `json:"text"`
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &body); err != nil || body.Text == "" {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.texts = append(c.texts, body.Text)
	c.mu.Unlock()
}

func (c *chat) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.texts, "\n")
}

// storyWorld is the promote-the-same-bytes pipeline: one build, three
// environments (staging, recette, production) deployed into directories.
type storyWorld struct {
	*acctest.Env
	source        string
	gitDir        string
	base, feature string
	chatURL, down string
	stagingDir    string
	recetteDir    string
	productionDir string
}

func newStoryWorld(t *testing.T) (*storyWorld, *chat) {
	t.Helper()
	w := &storyWorld{Env: acctest.NewEnv(t)}
	repo := gitrepotest.New(t)
	w.gitDir = repo.Dir
	w.base = repo.Commit("feat: what production should descend from")
	w.feature = repo.Commit("feat: release 1.0.0")

	w.source = w.WriteFile(t, "dist/app.tar.gz", archivetest.TarGz(t, map[string]string{"health": "ok", "index.html": "app 1.0.0"}))
	w.stagingDir = filepath.Join(w.Dir, "srv", "staging")
	w.recetteDir = filepath.Join(w.Dir, "srv", "recette")
	w.productionDir = filepath.Join(w.Dir, "srv", "production")

	c := &chat{}
	ok := httptest.NewServer(c)
	t.Cleanup(ok.Close)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "chat is down", http.StatusInternalServerError)
	}))
	t.Cleanup(down.Close)
	w.chatURL, w.down = ok.URL+"/hooks/T0SECRET", down.URL+"/hooks/down"
	return w, c
}

// config renders the pipeline up to stage (1: staging, 2: rc + recette,
// 3: final promotion, 4: block, 5: production deploy with the block, 6: unblocked,
// 7: production deploy).
func (w *storyWorld) config(repo string, stage int) string {
	var b strings.Builder
	b.WriteString(w.ProviderBlockWith(fmt.Sprintf(`  actor = "ci@runner"
  notify {
    webhook {
      url    = %q
      events = ["deployed", "promoted", "blocked", "unblocked"]
    }
    webhook {
      url = %q
    }
  }
`, w.chatURL, w.down)))
	fmt.Fprintf(&b, `
resource "release_artifact" "app" {
  name     = "app"
  version  = "1.0.0-staging"
  source   = %q
  metadata = { git_commit = %q }
}
`, w.source, w.feature)
	b.WriteString(chainedDeploymentHCL("staging", "release_artifact.app", w.stagingDir))
	if stage >= 2 {
		fmt.Fprintf(&b, `
resource "release_promotion" "rc" {
  name                = "app"
  from_version        = release_artifact.app.version
  to_version          = provider::release::semver_channel("1.0.0", "rc")
  sha256              = release_artifact.app.sha256
  require_deployed_in = ["staging"]
  require_descendant_of {
    repository = %q
    commit     = %q
  }
  depends_on = [release_deployment.staging]
}
`, repo, w.base)
		b.WriteString(chainedDeploymentHCL("recette", "release_promotion.rc", w.recetteDir))
	}
	if stage >= 3 {
		b.WriteString(`
resource "release_promotion" "final" {
  name                = "app"
  from_version        = release_promotion.rc.to_version
  to_version          = "1.0.0"
  sha256              = release_promotion.rc.sha256
  require_deployed_in = ["recette"]
  depends_on          = [release_deployment.recette]
}
`)
	}
	if stage >= 4 && stage <= 5 {
		b.WriteString(`
resource "release_version_block" "final" {
  name    = "app"
  version = release_promotion.final.to_version
  reason  = "corrupts invoices"
}
`)
	}
	if stage == 5 || stage >= 7 {
		b.WriteString(chainedDeploymentHCL("production", "release_promotion.final", w.productionDir))
		b.WriteString(`
data "release_environment" "production" {
  environment = "production"
  depends_on  = [release_deployment.production]
}

data "release_history" "all" {
  name       = "app"
  depends_on = [release_deployment.production]
}
`)
	}
	return b.String()
}

func (w *storyWorld) serves(dir, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		b, err := os.ReadFile(filepath.Join(dir, "current", "index.html"))
		if err != nil || string(b) != want {
			return fmt.Errorf("%s serves %q (%v), want %q", dir, b, err, want)
		}
		return nil
	}
}

// TestAccPromotionStory is the promote-the-same-bytes pipeline end to end:
// publish 1.0.0-staging → deploy to staging → promote to 1.0.0-rc (guarded) →
// deploy to recette → promote to 1.0.0 → block 1.0.0 → a production deployment
// is refused → unblock → deployed; with the history, what runs where, and chat
// notifications along the way.
func TestAccPromotionStory(t *testing.T) {
	w, c := newStoryWorld(t)
	gitDir := w.gitDir

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: w.config(gitDir, 1),
				Check:  w.serves(w.stagingDir, "app 1.0.0"),
			},
			{
				Config: w.config(gitDir, 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("release_promotion.rc", plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue("release_promotion.rc", tfjsonpath.New("id"), knownvalue.StringExact("app@1.0.0-rc")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_promotion.rc", tfjsonpath.New("git_commit"), knownvalue.StringExact(w.feature)),
				},
				Check: w.serves(w.recetteDir, "app 1.0.0"),
			},
			{
				Config: w.config(gitDir, 3),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_promotion.final", tfjsonpath.New("id"), knownvalue.StringExact("app@1.0.0")),
				},
			},
			{
				Config: w.config(gitDir, 4),
			},
			{
				Config:      w.config(gitDir, 5),
				ExpectError: wrapped("Unable to deploy app@1.0.0 to production", "app@1.0.0 is blocked: corrupts invoices"),
				Check: func(*terraform.State) error {
					if _, err := os.Lstat(filepath.Join(w.productionDir, "current")); err == nil {
						return fmt.Errorf("a blocked version went live in production")
					}
					return nil
				},
			},
			{
				Config: w.config(gitDir, 6),
			},
			{
				Config: w.config(gitDir, 7),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.release_environment.production", tfjsonpath.New("version"), knownvalue.StringExact("1.0.0")),
					statecheck.ExpectKnownValue("data.release_environment.production", tfjsonpath.New("artifact"), knownvalue.StringExact("app@1.0.0")),
					statecheck.ExpectKnownValue("data.release_environment.production", tfjsonpath.New("git_commit"), knownvalue.StringExact(w.feature)),
					statecheck.ExpectKnownValue("data.release_environment.production", tfjsonpath.New("deployed_by"), knownvalue.StringExact("ci@runner")),
					statecheck.ExpectKnownValue("data.release_environment.production", tfjsonpath.New("healthy"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.release_environment.production", tfjsonpath.New("last_event").AtMapKey("kind"), knownvalue.StringExact("deployed")),
					// Newest first: the production deployment, then the history of the bytes.
					statecheck.ExpectKnownValue("data.release_history.all", tfjsonpath.New("events").AtSliceIndex(0).AtMapKey("environment"), knownvalue.StringExact("production")),
					statecheck.ExpectKnownValue("data.release_history.all", tfjsonpath.New("events").AtSliceIndex(0).AtMapKey("kind"), knownvalue.StringExact("deployed")),
				},
				Check: resource.ComposeTestCheckFunc(
					w.serves(w.productionDir, "app 1.0.0"),
					func(*terraform.State) error {
						kinds := historyKinds(t, w.Backend(t), "app", "1.0.0")
						if strings.Join(kinds, ",") != "promoted,blocked,unblocked,deployed" {
							return fmt.Errorf("history of app@1.0.0 = %v", kinds)
						}
						texts := c.all()
						for _, want := range []string{
							"app 1.0.0-staging deployed to staging by ci@runner",
							"app 1.0.0-rc promoted by ci@runner",
							"app 1.0.0 blocked by ci@runner",
							"app 1.0.0 unblocked",
							"app 1.0.0 deployed to production",
						} {
							if !strings.Contains(texts, want) {
								return fmt.Errorf("chat did not receive %q; it received:\n%s", want, texts)
							}
						}
						if strings.Contains(texts, "T0SECRET") {
							return fmt.Errorf("a message reveals the webhook secret")
						}
						return nil
					},
				),
			},
			{
				// What runs where is stable: nothing to do.
				Config:           w.config(gitDir, 7),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}
