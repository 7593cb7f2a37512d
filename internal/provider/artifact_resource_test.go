package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
)

func checksumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func artifactConfig(env *acctest.Env, version, source, extra string) string {
	return env.ProviderBlock() + fmt.Sprintf(`
resource "release_artifact" "app" {
  name     = "histologe"
  version  = %q
  source   = %q
  metadata = { git_commit = "3f2a9c1" }
  %s
}
`, version, source, extra)
}

func TestAccArtifactResource_lifecycle(t *testing.T) {
	env := acctest.NewEnv(t)
	v1 := []byte("release 1.7.4 bytes")
	v2 := []byte("release 1.7.5 bytes")
	src := env.WriteFile(t, "dist/app.tar.gz", v1)

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: artifactConfig(env, "1.7.4-staging", src, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("release_artifact.app", plancheck.ResourceActionCreate),
						// Without a configured sha256, the checksum is the published bytes':
						// a value read from the file now could change before apply.
						plancheck.ExpectUnknownValue("release_artifact.app", tfjsonpath.New("sha256")),
						plancheck.ExpectKnownValue("release_artifact.app", tfjsonpath.New("id"), knownvalue.StringExact("histologe@1.7.4-staging")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_artifact.app", tfjsonpath.New("id"), knownvalue.StringExact("histologe@1.7.4-staging")),
					statecheck.ExpectKnownValue("release_artifact.app", tfjsonpath.New("sha256"), knownvalue.StringExact(checksumOf(v1))),
					statecheck.ExpectKnownValue("release_artifact.app", tfjsonpath.New("size"), knownvalue.Int64Exact(int64(len(v1)))),
					statecheck.ExpectKnownValue("release_artifact.app", tfjsonpath.New("uri"), knownvalue.StringRegexp(regexp.MustCompile(`^file:///.*/histologe/1\.7\.4-staging/data$`))),
					statecheck.ExpectKnownValue("release_artifact.app", tfjsonpath.New("metadata").AtMapKey("git_commit"), knownvalue.StringExact("3f2a9c1")),
				},
			},
			{
				ResourceName:            "release_artifact.app",
				ImportState:             true,
				ImportStateId:           "histologe@1.7.4-staging",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"source"},
			},
			emptyPlanStep(artifactConfig(env, "1.7.4-staging", src, "")),
			{
				// New bytes under the published version: refused at plan time, nothing changes.
				PreConfig:   func() { env.WriteFile(t, "dist/app.tar.gz", v2) },
				Config:      artifactConfig(env, "1.7.4-staging", src, ""),
				ExpectError: errorRe(`Version already published with different content.*bump the version`),
			},
			{
				// A new version is a new artifact: replace, and the old bytes stay published.
				Config: artifactConfig(env, "1.7.5-staging", src, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("release_artifact.app", plancheck.ResourceActionDestroyBeforeCreate),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_artifact.app", tfjsonpath.New("sha256"), knownvalue.StringExact(checksumOf(v2))),
				},
				Check: func(*terraform.State) error {
					obj, err := env.Store(t).Stat(context.Background(), "histologe", "1.7.4-staging")
					if err != nil {
						return fmt.Errorf("retained version: %w", err)
					}
					if obj.SHA256 != checksumOf(v1) {
						return fmt.Errorf("retained version has sha256 %s", obj.SHA256)
					}
					return nil
				},
			},
		},
	})
}

func TestAccArtifactResource_errors(t *testing.T) {
	env := acctest.NewEnv(t)
	src := env.WriteFile(t, "app.tar.gz", []byte("bytes"))
	wrong := checksumOf([]byte("other bytes"))

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      artifactConfig(env, "1.x.banana", src, ""),
				ExpectError: errorRe(`Invalid version.*"1\.x\.banana" is not a semantic version`),
			},
			{
				Config:      artifactConfig(env, "1.0.0", src, fmt.Sprintf("sha256 = %q", wrong)),
				ExpectError: wrapped("Unable to publish histologe@1.0.0", src+" changed since this plan's checksum was taken: the plan publishes sha256 "+wrong, "Nothing was published"),
			},
			{
				Config:      artifactConfig(env, "1.0.0", env.Dir+"/missing.tar.gz", ""),
				ExpectError: errorRe(`Unable to publish histologe@1\.0\.0.*source file cannot be read.*Nothing was published`),
			},
			{
				Config:      artifactConfig(env, "1.0.0", src, `sha256 = "abc"`),
				ExpectError: errorRe(`Invalid sha256`),
			},
		},
	})
	if _, err := env.Store(t).List(context.Background(), "histologe"); err != nil {
		t.Fatal(err)
	}
	if objs, _ := env.Store(t).List(context.Background(), "histologe"); len(objs) != 0 {
		t.Fatalf("failed publications left %d artifacts behind", len(objs))
	}
}

func TestAccArtifactResource_retainOnDestroyFalseAndDisappears(t *testing.T) {
	env := acctest.NewEnv(t)
	src := env.WriteFile(t, "app.tar.gz", []byte("bytes"))
	cfg := artifactConfig(env, "2.0.0", src, "retain_on_destroy = false")

	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			objs, err := env.Store(t).List(context.Background(), "histologe")
			if err != nil || len(objs) != 0 {
				return fmt.Errorf("retain_on_destroy = false left %d artifacts (%v)", len(objs), err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				// Bytes removed behind Terraform's back: the next plan publishes them again.
				PreConfig: func() {
					if err := env.Store(t).Delete(context.Background(), "histologe", "2.0.0"); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("release_artifact.app", plancheck.ResourceActionCreate)},
				},
			},
		},
	})
}

func TestAccArtifactDataSource(t *testing.T) {
	env := acctest.NewEnv(t)
	content := []byte("production bytes")
	src := env.WriteFile(t, "app.tar.gz", content)
	published := artifactConfig(env, "1.7.4", src, "")

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: published + `
data "release_artifact" "prod" {
  name    = release_artifact.app.name
  version = release_artifact.app.version
  verify  = true
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.release_artifact.prod", tfjsonpath.New("sha256"), knownvalue.StringExact(checksumOf(content))),
					statecheck.ExpectKnownValue("data.release_artifact.prod", tfjsonpath.New("metadata").AtMapKey("git_commit"), knownvalue.StringExact("3f2a9c1")),
					statecheck.ExpectKnownValue("data.release_artifact.prod", tfjsonpath.New("id"), knownvalue.StringExact("histologe@1.7.4")),
				},
			},
			{
				Config: published + `
data "release_artifact" "missing" {
  name    = "histologe"
  version = "9.9.9"
}
`,
				ExpectError: errorRe(`Unable to find histologe@9\.9\.9`),
			},
		},
	})
}

// rewriteStoreRecord rewrites the sha256 in the store's metadata.json of
// name@version, as someone editing the store by hand would, and returns a
// function that puts the original record back.
func rewriteStoreRecord(t *testing.T, env *acctest.Env, name, version, sha string) (restore func()) {
	t.Helper()
	p := filepath.Join(env.ArtifactsDir, name, version, "metadata.json")
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(orig, &m); err != nil {
		t.Fatal(err)
	}
	m["sha256"] = sha
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.WriteFile(p, orig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAccArtifactResource_upperCaseSHA256: PowerShell's Get-FileHash prints upper
// case. The configured value is kept as written through create, refresh and an
// import; a store record rewritten with another sha256 is reported on refresh,
// never adopted.
func TestAccArtifactResource_upperCaseSHA256(t *testing.T) {
	env := acctest.NewEnv(t)
	body := []byte("release 1.7.4 bytes")
	src := env.WriteFile(t, "dist/app.tar.gz", body)
	upper := strings.ToUpper(checksumOf(body))
	cfg := artifactConfig(env, "1.7.4", src, fmt.Sprintf("sha256 = %q", upper))
	sha := tfjsonpath.New("sha256")
	forged := strings.Repeat("ab", 32)
	var restore func()

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("release_artifact.app", sha, knownvalue.StringExact(upper)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue("release_artifact.app", sha, knownvalue.StringExact(upper))},
				Check: func(*terraform.State) error {
					obj, err := env.Store(t).Stat(context.Background(), "histologe", "1.7.4")
					if err != nil || obj.SHA256 != checksumOf(body) {
						return fmt.Errorf("the store records %q (%v), want the lower-case checksum", obj.SHA256, err)
					}
					return nil
				},
			},
			emptyPlanStep(cfg),
			// Terraform forgets the artifact (it stays published), to import it again.
			forgetStep(env.ProviderBlock(), "release_artifact.app"),
			// An import reads the store's record, in lower case.
			importPersistStep(cfg, "release_artifact.app", "histologe@1.7.4", func(states []*terraform.InstanceState) error {
				if len(states) != 1 || states[0].Attributes["sha256"] != checksumOf(body) {
					return fmt.Errorf("imported %v, want sha256 %s", states, checksumOf(body))
				}
				return nil
			}),
			{
				// The configured spelling comes back in place: nothing is published again.
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("release_artifact.app", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue("release_artifact.app", sha, knownvalue.StringExact(upper))},
			},
			emptyPlanStep(cfg),
			{
				PreConfig: func() { restore = rewriteStoreRecord(t, env, "histologe", "1.7.4", forged) },
				Config:    cfg,
				ExpectError: wrapped("Unable to read histologe@1.7.4",
					"The store's record of histologe@1.7.4 changed from sha256 "+checksumOf(body)+" to "+forged,
					"check file://"+filepath.Join(env.ArtifactsDir, "histologe", "1.7.4"), "metadata.json",
					"The state keeps the sha256 that was published"),
			},
			{
				// The state kept what was published: with the record put back, nothing to do.
				PreConfig:         func() { restore() },
				Config:            cfg,
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue("release_artifact.app", sha, knownvalue.StringExact(upper))},
			},
		},
	})
}

// TestAccArtifactResource_sourceChangedAfterPlan: the source is rebuilt between
// `plan -out` and `apply` of that plan. A configured sha256 (what the plan
// shows) is refused at apply with what changed and nothing is published; without
// one, the plan promised no checksum, so Terraform finds nothing inconsistent and
// the bytes at apply are published.
func TestAccArtifactResource_sourceChangedAfterPlan(t *testing.T) {
	env := acctest.NewEnv(t)
	reviewed := []byte("the reviewed build")
	rebuilt := []byte("a rebuild after the plan")
	src := env.WriteFile(t, "dist/app.tar.gz", reviewed)
	rebuild := func(b []byte) worldChangeCheck {
		return worldChangeCheck{t, func(t *testing.T) { env.WriteFile(t, "dist/app.tar.gz", b) }}
	}
	sha := tfjsonpath.New("sha256")

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: artifactConfig(env, "1.7.4", src, fmt.Sprintf("sha256 = %q", checksumOf(reviewed))),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("release_artifact.app", sha, knownvalue.StringExact(checksumOf(reviewed))),
					rebuild(rebuilt),
				}},
				ExpectError: wrapped("Unable to publish histologe@1.7.4",
					src+" changed since this plan's checksum was taken: the plan publishes sha256 "+checksumOf(reviewed)+", the file now has "+checksumOf(rebuilt),
					"Nothing was published", "plan again and review"),
			},
			{
				PreConfig: func() {
					if objs, err := env.Store(t).List(context.Background(), "histologe"); err != nil || len(objs) != 0 {
						t.Fatalf("the refused apply published %d versions (%v)", len(objs), err)
					}
					env.WriteFile(t, "dist/app.tar.gz", reviewed)
				},
				Config: artifactConfig(env, "1.7.4", src, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue("release_artifact.app", sha),
					rebuild(rebuilt),
				}},
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue("release_artifact.app", sha, knownvalue.StringExact(checksumOf(rebuilt)))},
			},
			emptyPlanStep(artifactConfig(env, "1.7.4", src, "")),
		},
	})
}

// TestAccArtifactResource_emptyMetadata: `metadata = {}` says "no metadata" as
// leaving it out does: the artifact publishes, refreshes and plans no change,
// and after an import (the store holds no metadata) the next apply only writes
// the configuration's spelling to the state.
func TestAccArtifactResource_emptyMetadata(t *testing.T) {
	env := acctest.NewEnv(t)
	src := env.WriteFile(t, "dist/app.tar.gz", []byte("release 1.7.4 bytes"))
	cfg := strings.Replace(artifactConfig(env, "1.7.4", src, ""), `metadata = { git_commit = "3f2a9c1" }`, "metadata = {}", 1)
	meta := tfjsonpath.New("metadata")
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:            cfg,
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue("release_artifact.app", meta, knownvalue.MapExact(map[string]knownvalue.Check{}))},
			},
			emptyPlanStep(cfg),
			forgetStep(env.ProviderBlock(), "release_artifact.app"),
			importPersistStep(cfg, "release_artifact.app", "histologe@1.7.4", nil),
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("release_artifact.app", plancheck.ResourceActionUpdate),
				}},
			},
			emptyPlanStep(cfg),
		},
	})
}
