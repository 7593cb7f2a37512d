package provider

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
)

// writeOnlyKeyConfig deploys app@version to every host with the fleet's key
// given only as private_key_wo: the provider's ssh block has the user and
// known_hosts, no key.
func (e *sshDeployEnv) writeOnlyKeyConfig(version string) string {
	f := e.fleet
	return sshProviderBlock(e.Env, f, f.KnownHosts(), false) + fmt.Sprintf(`
resource "release_deployment" "fleet" {
  environment = "production"
  artifact    = "app@%[1]s"
  on_destroy  = "keep"
  directory {
    path = "%[2]s/app"
    ssh {
      hosts          = %[3]s
      private_key_wo = %[4]q
    }
  }
  smoke_test {
    url           = "http://{host}:%[5]d/health"
    body_contains = "ok"
    attempts      = 2
    interval      = "10ms"
  }
}
`, version, sshAppRoot, hclList(f.Addrs()), f.ClientKeyPEM, e.port)
}

// keyBody is the base64 body of a PEM private key: what any copy of it holds,
// however it was escaped.
func keyBody(pem []byte) []string {
	var out []string
	for _, line := range strings.Split(string(pem), "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

// keyNotInStateFiles checks that no file Terraform wrote under dir (state,
// backups, plans) holds a line of the private key.
func keyNotInStateFiles(t *testing.T, dir string, key []byte) resource.TestCheckFunc {
	return func(*terraform.State) error {
		lines := keyBody(key)
		seen := 0
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.Contains(d.Name(), "tfstate") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			seen++
			for _, l := range lines {
				if bytes.Contains(b, []byte(l)) {
					return fmt.Errorf("%s holds the private key", p)
				}
			}
			return nil
		})
		if err == nil && seen == 0 {
			err = fmt.Errorf("no state file under %s", dir)
		}
		return err
	}
}

// TestAccDeploymentResource_sshWriteOnlyKey deploys to two hosts with a key
// that is write-only: it is in no state file and no attribute, and the next
// plan is empty; a host switched by hand is drift that the plan finds (the
// refresh cannot log in without the key, the plan reads the hosts with the
// configuration's key); destroying with on_destroy = "keep" leaves every host
// serving.
func TestAccDeploymentResource_sshWriteOnlyKey(t *testing.T) {
	e := newSSHDeployEnv(t, 2, "1.0.0", "1.1.0")
	f := e.fleet
	res := "release_deployment.fleet"
	// terraform-plugin-testing makes its working folders here: the state
	// files are read as Terraform wrote them.
	work := t.TempDir()
	t.Setenv("TF_ACC_TEMP_DIR", work)
	noKey := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(res, tfjsonpath.New("directory").AtMapKey("ssh").AtMapKey("private_key_wo"), knownvalue.Null()),
		statecheck.ExpectKnownValue(res, tfjsonpath.New("directory").AtMapKey("ssh").AtMapKey("private_key"), knownvalue.Null()),
	}

	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			// on_destroy = "keep": the release keeps serving on every host.
			return e.serves("1.1.0", 2)(nil)
		},
		Steps: []resource.TestStep{
			{
				Config: e.writeOnlyKeyConfig("1.0.0"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate),
					plannedStepsName(f.Addrs()...),
				}},
				Check: resource.ComposeTestCheckFunc(e.serves("1.0.0", 2), e.hostsLiveAgree(2),
					keyNotStored(f), keyNotInStateFiles(t, work, f.ClientKeyPEM)),
				ConfigStateChecks: noKey,
			},
			{
				// The plan after the apply is empty: refresh could not log in, the
				// plan read the hosts and found what the state says.
				Config: e.writeOnlyKeyConfig("1.0.0"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				Config: e.writeOnlyKeyConfig("1.1.0"),
				Check: resource.ComposeTestCheckFunc(e.serves("1.1.0", 2), e.hostsLiveAgree(2),
					resource.TestCheckResourceAttr(res, "previous_version", "1.0.0"),
					keyNotStored(f), keyNotInStateFiles(t, work, f.ClientKeyPEM)),
				ConfigStateChecks: noKey,
			},
			{
				PreConfig: func() { e.switchByHand(t, 1, "1.0.0") },
				Config:    e.writeOnlyKeyConfig("1.1.0"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(e.serves("1.1.0", 2), e.hostsLiveAgree(2),
					resource.TestCheckResourceAttr(res, "status", "live"),
					keyNotStored(f), keyNotInStateFiles(t, work, f.ClientKeyPEM)),
			},
		},
	})
}

// bigArtifact publishes app@version whose archive holds size random bytes
// (incompressible: the archive is as large), so that its upload takes a
// while, and returns the archive's size.
func (e *sshDeployEnv) bigArtifact(t *testing.T, version string, size int) int64 {
	t.Helper()
	blob := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{byte(size), 7})
	_, _ = rng.Read(blob)
	data := archivetest.TarGz(t, map[string]string{"health": "ok", "index.html": "version " + version, "blob.bin": string(blob)})
	if _, err := e.Store(t).Put(context.Background(), "app", version, bytes.NewReader(data), "", nil); err != nil {
		t.Fatal(err)
	}
	return int64(len(data))
}

// killMidUpload kills host i's sshd once the archive being uploaded into its
// releases/ folder (a temporary file of the upload's folder, renamed to
// archive.tar.gz once complete) holds at least atLeast bytes, polling until stop
// is closed. It reports the size the upload had reached when the host was
// killed (0: never, -1: the archive was complete).
func (e *sshDeployEnv) killMidUpload(t *testing.T, i int, atLeast int64, stop <-chan struct{}) *atomic.Int64 {
	t.Helper()
	var killedAt atomic.Int64
	releases := e.fleet.Local(i, sshAppRoot+"/app/releases")
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			entries, _ := os.ReadDir(releases)
			for _, en := range entries {
				if !strings.HasPrefix(en.Name(), ".tmp-") || !en.IsDir() {
					continue
				}
				up := filepath.Join(releases, en.Name())
				if _, err := os.Stat(filepath.Join(up, "archive.tar.gz")); err == nil {
					killedAt.Store(-1)
					return
				}
				files, _ := os.ReadDir(up)
				for _, fe := range files {
					st, err := fe.Info()
					if err != nil || !strings.Contains(fe.Name(), "archive.tar.gz") || !st.Mode().IsRegular() || st.Size() < atLeast {
						continue
					}
					// Recorded before the kill: the apply fails as soon as the
					// connection drops, possibly before Kill has returned.
					killedAt.Store(st.Size())
					if err := e.fleet.Kill(i); err != nil {
						t.Errorf("killing host %d: %v", i, err)
					}
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return &killedAt
}

// TestAccDeploymentResource_sshKilledMidUpload kills one host's sshd (with
// every connection it serves) while a large release is being uploaded to it:
// the apply fails with an error naming that host, every host still serves the
// previous release, and the next apply (sshd back) converges every host to
// the new release.
func TestAccDeploymentResource_sshKilledMidUpload(t *testing.T) {
	e := newSSHDeployEnv(t, 2, "1.0.0")
	f := e.fleet
	archiveSize := e.bigArtifact(t, "2.0.0", 64<<20)
	kh := f.KnownHosts()
	res := "release_deployment.fleet"
	stop := make(chan struct{})
	var killedAt *atomic.Int64
	defer close(stop)

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: e.config("1.0.0", 2, kh),
				Check:  resource.ComposeTestCheckFunc(e.serves("1.0.0", 2), e.hostsLiveAgree(2)),
			},
			{
				PreConfig: func() { killedAt = e.killMidUpload(t, 1, 4<<20, stop) },
				Config:    e.config("2.0.0", 2, kh),
				// Terraform wraps the message: words are separated by any space.
				ExpectError: regexp.MustCompile(`(?s)upload\s+app@2\.0\.0\s+failed\s+on\s+` + regexp.QuoteMeta(f.Addr(1)) +
					`:.*connection\s+was\s+lost.*no\s+host\s+was\s+switched.*still\s+serves\s+release\s+1\.0\.0`),
			},
			{
				PreConfig: func() {
					n := killedAt.Load()
					if n <= 0 || n >= archiveSize {
						t.Fatalf("host 1 was not killed during the upload (%d of the archive's %d bytes uploaded; -1: complete)", n, archiveSize)
					}
					t.Logf("host 1 was killed with %d of the archive's %d bytes uploaded", n, archiveSize)
					if err := e.serves("1.0.0", 2)(nil); err != nil {
						t.Fatalf("after the host died mid-upload: %v", err)
					}
					for i := range f.Hosts {
						if entries := releaseFolders(t, e, i); len(entries) != 1 || !strings.HasPrefix(entries[0], "1.0.0-") {
							t.Fatalf("host %d holds the release folders %q after the failed upload, want only 1.0.0's", i, entries)
						}
					}
					// The host that stayed up holds no trace of the upload.
					entries, err := os.ReadDir(f.Local(0, sshAppRoot+"/app/releases"))
					if err != nil {
						t.Fatal(err)
					}
					for _, en := range entries {
						if strings.HasPrefix(en.Name(), ".tmp-") {
							t.Fatalf("host 0 still holds the upload folder %s", en.Name())
						}
					}
					if err := f.Restart(1); err != nil {
						t.Fatal(err)
					}
				},
				Config: e.config("2.0.0", 2, kh),
				Check: resource.ComposeTestCheckFunc(e.serves("2.0.0", 2), e.hostsLiveAgree(2),
					resource.TestCheckResourceAttr(res, "previous_version", "1.0.0"),
					resource.TestCheckResourceAttr(res, "status", "live")),
			},
		},
	})
}

// releaseFolders lists the release folders of host i (no hidden entries:
// metadata and uploads in progress).
func releaseFolders(t *testing.T, e *sshDeployEnv, i int) []string {
	t.Helper()
	entries, err := os.ReadDir(e.fleet.Local(i, sshAppRoot+"/app/releases"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		if !strings.HasPrefix(en.Name(), ".") {
			out = append(out, en.Name())
		}
	}
	return out
}
