package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
)

// TestAccSHA256Case: PowerShell's Get-FileHash prints sha256 in upper case. An
// artifact and a promotion configured with it publish once, keep the value as
// written, and plan nothing more.
func TestAccSHA256Case(t *testing.T) {
	env := acctest.NewEnv(t)
	body := []byte("release bytes")
	src := env.WriteFile(t, "app.tar.gz", body)
	sum := sha256.Sum256(body)
	upper := strings.ToUpper(hex.EncodeToString(sum[:]))
	cfg := env.ProviderBlock() + fmt.Sprintf(`
resource "release_artifact" "app" {
  name    = "shop"
  version = "1.0.0-staging"
  source  = %q
  sha256  = %q
}

resource "release_promotion" "rc" {
  name         = "shop"
  from_version = release_artifact.app.version
  to_version   = "1.0.0-rc"
  sha256       = %q
}
`, src, upper, upper)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_artifact.app", depAttr("sha256"), knownvalue.StringExact(upper)),
					statecheck.ExpectKnownValue("release_promotion.rc", depAttr("sha256"), knownvalue.StringExact(upper)),
				},
			},
			emptyPlanStep(cfg),
			{ // the store's record is rewritten with another sha256: refresh says so
				PreConfig: func() {
					matches, _ := filepath.Glob(filepath.Join(env.Dir, "*", "shop", "1.0.0-staging", "metadata.json"))
					if len(matches) == 0 {
						matches, _ = filepath.Glob(filepath.Join(env.Dir, "*", "*", "shop", "1.0.0-staging", "metadata.json"))
					}
					if len(matches) != 1 {
						t.Fatalf("metadata.json of shop@1.0.0-staging not found under %s", env.Dir)
					}
					raw, err := os.ReadFile(matches[0])
					if err != nil {
						t.Fatal(err)
					}
					var m map[string]any
					if err := json.Unmarshal(raw, &m); err != nil {
						t.Fatal(err)
					}
					m["sha256"] = strings.Repeat("ab", 32)
					raw, _ = json.Marshal(m)
					if err := os.WriteFile(matches[0], raw, 0o644); err != nil {
						t.Fatal(err)
					}
				},
				Config:      cfg,
				ExpectError: wrapped("The store's record of shop@1.0.0-staging changed from sha256 "+strings.ToLower(upper)+" to "+strings.Repeat("ab", 32), "metadata.json"),
			},
		},
	})
}

// TestAccArtifactCanonicalVersion: v1.2.3 and 01.2.3 would name 1.2.3 twice; they
// are refused at plan time with the canonical form.
func TestAccArtifactCanonicalVersion(t *testing.T) {
	env := acctest.NewEnv(t)
	src := env.WriteFile(t, "app.tar.gz", []byte("bytes"))
	cfg := func(version string) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "release_artifact" "app" {
  name    = "shop"
  version = %q
  source  = %q
}
`, version, src)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg("v1.2.3"), PlanOnly: true, ExpectError: wrapped(`"v1.2.3" is not written in canonical form: use "1.2.3"`)},
			{Config: cfg("01.2.3"), PlanOnly: true, ExpectError: wrapped(`"01.2.3" is not written in canonical form: use "1.2.3"`)},
		},
	})
}
