// Package acctest holds what the acceptance tests of the provider share: provider
// factories, the pre-check that finds a Terraform (or OpenTofu) CLI and fails under
// CI when there is none, and test environments whose artifact store and backend live
// in fresh temporary directories.
package acctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// Factories serves p in-process to terraform-plugin-testing under the name "release".
func Factories(p func() provider.Provider) map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"release": providerserver.NewProtocol6WithError(p()),
	}
}

var cliOnce sync.Once

// PreCheck makes sure acceptance tests can run: TF_ACC is set (the Makefile sets it;
// under CI=true a missing TF_ACC fails instead of letting the tests skip), a Terraform
// or OpenTofu CLI is found, and the CLI configuration file exists.
func PreCheck(t testing.TB) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" && os.Getenv("CI") != "" {
		t.Fatal("TF_ACC is not set under CI: run the acceptance tests with `make test`")
	}
	cliOnce.Do(func() {
		if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p == "" {
			for _, name := range []string{"terraform", "tofu"} {
				if found, err := exec.LookPath(name); err == nil {
					os.Setenv("TF_ACC_TERRAFORM_PATH", found) //nolint:usetesting // for every test of the process
					if name == "tofu" && os.Getenv("TF_ACC_PROVIDER_HOST") == "" {
						os.Setenv("TF_ACC_PROVIDER_HOST", "registry.opentofu.org") //nolint:usetesting // for every test of the process
					}
					break
				}
			}
		}
		// A CLI configuration file that does not exist makes some CLIs print a warning
		// that breaks version detection: point at an empty one instead.
		if cfg := os.Getenv("TF_CLI_CONFIG_FILE"); cfg == "" || !fileExists(cfg) {
			f, err := os.CreateTemp(os.TempDir(), "release-acc-*.tfrc") //nolint:usetesting // shared by every test of the process
			if err == nil {
				f.Close()
				os.Setenv("TF_CLI_CONFIG_FILE", f.Name()) //nolint:usetesting // for every test of the process
			}
		}
	})
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Fatal("no Terraform or OpenTofu CLI found: install terraform >= 1.11, or run `make test`, which builds OpenTofu into .tools/bin")
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Env is one test's provider environment: a directory artifact store and a
// directory backend under a fresh temporary directory.
type Env struct {
	Dir          string
	ArtifactsDir string
	StateDir     string
}

// NewEnv creates a test environment under t.TempDir().
func NewEnv(t testing.TB) *Env {
	t.Helper()
	dir := t.TempDir()
	return &Env{Dir: dir, ArtifactsDir: filepath.Join(dir, "artifacts"), StateDir: filepath.Join(dir, "state")}
}

// ProviderBlock is a provider "release" block using the environment's directories.
func (e *Env) ProviderBlock() string { return e.ProviderBlockWith("") }

// ProviderBlockWith is ProviderBlock with extra, more of the provider's blocks
// (each line indented by two spaces and ending with a newline), after the backend.
func (e *Env) ProviderBlockWith(extra string) string {
	return fmt.Sprintf(`
provider "release" {
  artifact_store {
    directory {
      path = %q
    }
  }
  backend {
    directory {
      path = %q
    }
  }
%s}
`, e.ArtifactsDir, e.StateDir, extra)
}

// Store opens the environment's artifact store, to prepare or check it from Go.
func (e *Env) Store(t testing.TB) *store.Directory {
	t.Helper()
	s, err := store.NewDirectory(e.ArtifactsDir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Backend opens the environment's backend, to prepare or check it from Go.
func (e *Env) Backend(t testing.TB) backend.Backend {
	t.Helper()
	b, err := backend.NewDirectory(e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// NewBackend opens a directory backend in a fresh temporary directory, closed
// when the test ends, for tests that need a backend and nothing else.
func NewBackend(t testing.TB) backend.Backend {
	t.Helper()
	return NewEnv(t).Backend(t)
}

// WriteFile writes content to name inside the environment's directory and returns
// its path.
func (e *Env) WriteFile(t testing.TB, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ProviderBlock is NewEnv(t).ProviderBlock(), for tests that need nothing else.
func ProviderBlock(t testing.TB) string { return NewEnv(t).ProviderBlock() }
