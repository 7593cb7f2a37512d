package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/nginxtest"
)

// The artifact_store { http { ... } } block publishes and promotes through a real
// nginx WebDAV server with basic authentication.
func TestAccHTTPArtifactStore(t *testing.T) {
	env := acctest.NewEnv(t)
	root := t.TempDir()
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	const password = "dav-Pa55-w0rd"
	if err := os.WriteFile(htpasswd, []byte("ci:{PLAIN}"+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dav := nginxtest.Start(t, nginxtest.Config{
		Modules: []string{"ngx_http_dav_ext_module.so"},
		Server: fmt.Sprintf(`location /releases/ {
  alias %s/;
  dav_methods PUT DELETE MKCOL COPY MOVE;
  dav_ext_methods PROPFIND OPTIONS;
  create_full_put_path on;
  dav_access user:rw;
  client_max_body_size 0;
  auth_basic "releases";
  auth_basic_user_file %s;
}`, root, htpasswd),
	})
	src := env.WriteFile(t, "dist/app.tar.gz", []byte("bytes published over WebDAV"))
	config := func(pw string) string {
		return fmt.Sprintf(`
provider "release" {
  artifact_store {
    http {
      url      = %q
      username = "ci"
      password = %q
    }
  }
  backend {
    directory {
      path = %q
    }
  }
}

resource "release_artifact" "app" {
  name     = "app"
  version  = "1.0.0-staging"
  source   = %q
  metadata = { git_commit = "abc123" }
}

resource "release_promotion" "rc" {
  name         = "app"
  from_version = release_artifact.app.version
  to_version   = "1.0.0-rc"
  sha256       = release_artifact.app.sha256
}
`, dav.URL("/releases"), pw, env.StateDir, src)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				// A wrong password: a clear 401, and the password is never printed.
				Config:      config("not-the-password"),
				ExpectError: errorRe(`401 Unauthorized: it refused the credentials of user "ci"; check the username and password`),
			},
			{
				Config: config(password),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_artifact.app", tfjsonpath.New("uri"), knownvalue.StringExact(dav.URL("/releases/app/1.0.0-staging/data"))),
					statecheck.ExpectKnownValue("release_promotion.rc", tfjsonpath.New("uri"), knownvalue.StringExact(dav.URL("/releases/app/1.0.0-rc/data"))),
					statecheck.ExpectKnownValue("release_promotion.rc", tfjsonpath.New("git_commit"), knownvalue.StringExact("abc123")),
				},
				Check: func(*terraform.State) error {
					// The directory store's layout, on the server's disk.
					for _, p := range []string{"app/1.0.0-staging/data", "app/1.0.0-rc/data", "app/1.0.0-rc/metadata.json"} {
						if _, err := os.Stat(filepath.Join(root, p)); err != nil {
							return err
						}
					}
					return nil
				},
			},
			{
				ResourceName:      "release_promotion.rc",
				ImportState:       true,
				ImportStateId:     "app@1.0.0-rc",
				ImportStateVerify: true,
			},
		},
	})
}
