package provider

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
)

// TestAccDeploymentResource_adoptsExistingLayout: a site that a Capistrano-style
// script deployed (releases/<timestamp>, current pointing at it, shared/storage)
// is taken over by the first apply: the new release goes live, the old one is
// previous_version and stays on disk, the shared files are kept and linked,
// and the next plan is empty.
func TestAccDeploymentResource_adoptsExistingLayout(t *testing.T) {
	env := acctest.NewEnv(t)
	site := filepath.Join(env.Dir, "site")
	old := filepath.Join(site, "releases", "20240101120000")
	for _, d := range []string{old, filepath.Join(site, "shared", "storage")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(old, "index.html"), "old script release")
	write(filepath.Join(site, "shared", "storage", "upload.txt"), "user upload")
	if err := os.Symlink(old, filepath.Join(site, "current")); err != nil {
		t.Fatal(err)
	}
	data := archivetest.TarGz(t, map[string]string{"index.html": "version 2.0.0"})
	if _, err := env.Store(t).Put(context.Background(), "app", "2.0.0", bytes.NewReader(data), "", nil); err != nil {
		t.Fatal(err)
	}
	cfg := env.ProviderBlock() + fmt.Sprintf(`
resource "release_deployment" "site" {
  environment = "production"
  artifact    = "app@2.0.0"
  directory {
    path   = %q
    shared = ["storage"]
  }
}
`, site)
	const addr = "release_deployment.site"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: resource.ComposeTestCheckFunc(
					checkSiteServes(site, "version 2.0.0"),
					checkFileContains(filepath.Join(site, "current", "storage", "upload.txt"), "user upload"),
					checkFileContains(filepath.Join(old, "index.html"), "old script release"),
					resource.TestCheckResourceAttr(addr, "previous_version", "20240101120000"),
					resource.TestCheckResourceAttr(addr, "deployed_version", "2.0.0"),
					func(*terraform.State) error {
						if fi, err := os.Lstat(filepath.Join(site, "current", "storage")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
							return fmt.Errorf("current/storage is not a link to shared/storage (%v)", err)
						}
						return nil
					},
				),
			},
			emptyPlanStep(cfg),
		},
	})
}
