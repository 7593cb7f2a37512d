package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
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

	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: artifactConfig(env, "1.7.4-staging", src, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("release_artifact.app", plancheck.ResourceActionCreate),
						// The reviewer sees which bytes will be published.
						plancheck.ExpectKnownValue("release_artifact.app", tfjsonpath.New("sha256"), knownvalue.StringExact(checksumOf(v1))),
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
			{
				Config: artifactConfig(env, "1.7.4-staging", src, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
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

	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      artifactConfig(env, "1.x.banana", src, ""),
				ExpectError: errorRe(`Invalid version.*"1\.x\.banana" is not a semantic version`),
			},
			{
				Config:      artifactConfig(env, "1.0.0", src, fmt.Sprintf("sha256 = %q", wrong)),
				ExpectError: errorRe(`Checksum mismatch.*Nothing will be published`),
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

	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
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

	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
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
