package provider

import (
	"fmt"
	"os"
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
	"github.com/releaseplan/terraform-provider-release/internal/maintenance"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
)

// words matches the words of s in Terraform's output, which may wrap lines
// between any two of them.
func words(s string) string {
	fields := strings.Fields(s)
	for i, f := range fields {
		fields[i] = regexp.QuoteMeta(f)
	}
	return strings.Join(fields, `\s+`)
}

// sshProviderBlock is env's provider block with an ssh block of defaults for
// the fleet f: user and known_hosts, and the client key unless withKey is false.
func sshProviderBlock(env *acctest.Env, f *sshtest.Fleet, knownHosts string, withKey bool) string {
	key := ""
	if withKey {
		key = fmt.Sprintf("    private_key = %q\n", f.ClientKeyPEM)
	}
	return env.ProviderBlockWith(fmt.Sprintf("  ssh {\n    user        = %q\n    known_hosts = %q\n%s  }\n", f.User, knownHosts, key))
}

// hclList is a list of strings in HCL.
func hclList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

const sshLBRoot = "/srv/release-acc-lb"

func sshRouterConfig(env *acctest.Env, f *sshtest.Fleet, knownHosts, active string) string {
	return sshProviderBlock(env, f, knownHosts, true) + fmt.Sprintf(`
resource "release_blue_green_router" "lb" {
  active = %q
  blue {
    upstream = "10.0.0.1:8081"
  }
  green {
    upstream = "10.0.0.1:8082"
  }
  nginx {
    config_file    = "%[2]s/app.conf"
    upstream_name  = "app"
    test_command   = "test ! -e %[2]s/broken"
    reload_command = "echo reload >> %[2]s/reloads"
    ssh {
      hosts = %[3]s
    }
  }
}
`, active, sshLBRoot, hclList(f.Addrs()))
}

// routesTo checks that every host's include file makes colour's upstream live
// and that nginx was reloaded there.
func routesTo(f *sshtest.Fleet, upstream string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for i := range f.Hosts {
			b, err := os.ReadFile(f.Local(i, sshLBRoot+"/app.conf"))
			if err != nil {
				return fmt.Errorf("host %d: %w", i, err)
			}
			if want := "upstream app {\n    server " + upstream + ";\n}"; !strings.Contains(string(b), want) {
				return fmt.Errorf("host %d's include file does not hold %q:\n%s", i, want, b)
			}
			if _, err := os.Stat(f.Local(i, sshLBRoot+"/reloads")); err != nil {
				return fmt.Errorf("host %d: nginx was never reloaded: %w", i, err)
			}
		}
		return nil
	}
}

func TestAccSSHBlueGreenRouter_twoHosts(t *testing.T) {
	env := acctest.NewEnv(t)
	f := sshtest.Start(t, 2, sshtest.Root(sshLBRoot))
	kh := f.KnownHosts()
	res := "release_blue_green_router.lb"
	broken := f.Local(1, sshLBRoot+"/broken")

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: sshRouterConfig(env, f, kh, "blue"),
				Check:  routesTo(f, "10.0.0.1:8081"),
			},
			{
				Config: sshRouterConfig(env, f, kh, "green"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("previous_active"), knownvalue.StringExact("blue")),
				}},
				Check: routesTo(f, "10.0.0.1:8082"),
			},
			{
				ResourceName:      res,
				ImportState:       true,
				ImportStateId:     "ssh://" + strings.Join(f.Addrs(), ",") + sshLBRoot + "/app.conf",
				ImportStateVerify: true,
				// An import cannot know the colour live before the last switch.
				ImportStateVerifyIgnore: []string{"previous_active"},
			},
			{
				// Host 2's nginx rejects the configuration: host 1 goes back to green.
				PreConfig:   func() { mustWriteFile(t, broken, "") },
				Config:      sshRouterConfig(env, f, kh, "blue"),
				ExpectError: regexp.MustCompile(`(?s)` + words("On host "+f.Addr(1)+":") + `.*test_command.*` + words(f.Addr(0)+": green (10.0.0.1:8082) (it had been changed and was put back)")),
			},
			{
				PreConfig: func() {
					if err := routesTo(f, "10.0.0.1:8082")(nil); err != nil {
						t.Fatalf("after the failure on host 2: %v", err)
					}
					if err := os.Remove(broken); err != nil {
						t.Fatal(err)
					}
				},
				Config: sshRouterConfig(env, f, kh, "blue"),
				Check:  routesTo(f, "10.0.0.1:8081"),
			},
			{
				// A host switched by hand shows as drift.
				PreConfig: func() {
					b, err := os.ReadFile(f.Local(1, sshLBRoot+"/app.conf"))
					if err != nil {
						t.Fatal(err)
					}
					mustWriteFile(t, f.Local(1, sshLBRoot+"/app.conf"), strings.Replace(string(b), "server 10.0.0.1:8081;", "server 10.0.0.1:8082;", 1))
				},
				Config:             sshRouterConfig(env, f, kh, "blue"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: sshRouterConfig(env, f, kh, "blue"),
				Check:  routesTo(f, "10.0.0.1:8081"),
			},
			{
				// A host down at plan time is an error naming it.
				PreConfig: func() {
					if err := f.Kill(1); err != nil {
						t.Fatal(err)
					}
				},
				Config:      sshRouterConfig(env, f, kh, "blue"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)` + words("cannot reach host "+f.Addr(1))),
			},
			{
				PreConfig: func() {
					if err := f.Restart(1); err != nil {
						t.Fatal(err)
					}
				},
				Config:   sshRouterConfig(env, f, kh, "blue"),
				PlanOnly: true,
			},
		},
	})
}

func mustWriteFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAccSSHBlueGreenRouter_unknownHostKeyRefused(t *testing.T) {
	env := acctest.NewEnv(t)
	f := sshtest.Start(t, 2, sshtest.Root(sshLBRoot))
	onlyFirst := f.KnownHostsLine(0) + "\n"

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      sshRouterConfig(env, f, onlyFirst, "blue"),
				ExpectError: regexp.MustCompile(`(?s)` + regexp.QuoteMeta(f.Addr(1)) + `.*` + regexp.QuoteMeta(f.Fingerprint(1))),
			},
			{
				PreConfig: func() {
					if _, err := os.Stat(f.Local(0, sshLBRoot+"/app.conf")); !os.IsNotExist(err) {
						t.Fatalf("host 1 was changed although host 2's key was refused (%v)", err)
					}
				},
				Config: sshRouterConfig(env, f, f.HashedKnownHosts(), "blue"),
				Check:  routesTo(f, "10.0.0.1:8081"),
			},
		},
	})
}

const sshSiteRoot = "/srv/release-acc-site"

// sshDirectoryResource is the provider's ssh defaults without a key and the
// resource typ "site" with attrs, whose directory block at path reaches every
// host of f with the client key given as keyAttr (private_key or
// private_key_wo) in its own ssh block.
func sshDirectoryResource(env *acctest.Env, f *sshtest.Fleet, typ, attrs, path, keyAttr string) string {
	return sshProviderBlock(env, f, f.KnownHosts(), false) + fmt.Sprintf(`
resource %q "site" {
  %s
  directory {
    path = %q
    ssh {
      hosts = %s
      %s = %q
    }
  }
}
`, typ, attrs, path, hclList(f.Addrs()), keyAttr, f.ClientKeyPEM)
}

// sshMaintenanceConfig logs in with a write-only key: refresh cannot use it,
// so the plan reads the hosts.
func sshMaintenanceConfig(env *acctest.Env, f *sshtest.Fleet, enabled bool) string {
	return sshDirectoryResource(env, f, "release_maintenance_mode", fmt.Sprintf("enabled = %t\n  message = \"Back soon\"", enabled),
		sshSiteRoot+"/app", "private_key_wo")
}

// maintenanceOn checks every host's maintenance.json (on) or its absence (off).
func maintenanceOn(f *sshtest.Fleet, on bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for i := range f.Hosts {
			p := f.Local(i, sshSiteRoot+"/app/"+maintenance.JSONFile)
			b, err := os.ReadFile(p)
			switch {
			case on && (err != nil || !strings.Contains(string(b), `"message": "Back soon"`)):
				return fmt.Errorf("host %d: maintenance.json = %s, %v", i, b, err)
			case !on && !os.IsNotExist(err):
				return fmt.Errorf("host %d: maintenance.json is still there (%v)", i, err)
			}
		}
		return nil
	}
}

// keyNotStored checks that the private key is nowhere in the state.
func keyNotStored(f *sshtest.Fleet) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, m := range s.Modules {
			for name, r := range m.Resources {
				for k, v := range r.Primary.Attributes {
					if strings.Contains(v, "PRIVATE KEY") {
						return fmt.Errorf("%s.%s holds the private key", name, k)
					}
				}
			}
		}
		return nil
	}
}

func TestAccSSHMaintenanceMode_directoryOnTwoHosts(t *testing.T) {
	env := acctest.NewEnv(t)
	f := sshtest.Start(t, 2, sshtest.Root(sshSiteRoot))
	for i := range f.Hosts {
		if err := os.MkdirAll(f.Local(i, sshSiteRoot+"/app"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	res := "release_maintenance_mode.site"

	accTest(t, resource.TestCase{
		CheckDestroy: func(s *terraform.State) error { return maintenanceOn(f, false)(s) },
		Steps: []resource.TestStep{
			{
				Config: sshMaintenanceConfig(env, f, true),
				Check:  resource.ComposeTestCheckFunc(maintenanceOn(f, true), keyNotStored(f)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("directory").AtMapKey("ssh").AtMapKey("private_key_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("id"), knownvalue.StringExact("directory:"+sshSiteRoot+"/app")),
				},
			},
			{
				// Maintenance turned off by hand on host 2: refresh cannot log in
				// (write-only key), the plan reads the hosts and converges them.
				PreConfig: func() {
					if err := os.Remove(f.Local(1, sshSiteRoot+"/app/"+maintenance.JSONFile)); err != nil {
						t.Fatal(err)
					}
				},
				Config: sshMaintenanceConfig(env, f, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
				}},
				Check: maintenanceOn(f, true),
			},
			{
				Config: sshMaintenanceConfig(env, f, false),
				Check:  maintenanceOn(f, false),
			},
		},
	})
}

func sshDirectoryRouterConfig(env *acctest.Env, f *sshtest.Fleet, active string) string {
	return sshDirectoryResource(env, f, "release_blue_green_router", fmt.Sprintf("active = %q", active), sshLBRoot+"/site", "private_key")
}

// linksTo checks every host's live symlink.
func linksTo(f *sshtest.Fleet, colour string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for i := range f.Hosts {
			if target, err := os.Readlink(f.Local(i, sshLBRoot+"/site/live")); err != nil || target != colour {
				return fmt.Errorf("host %d's live link = %q, %v; want %s", i, target, err, colour)
			}
		}
		return nil
	}
}

func TestAccSSHBlueGreenRouter_directoryTwoHosts(t *testing.T) {
	env := acctest.NewEnv(t)
	f := sshtest.Start(t, 2, sshtest.Root(sshLBRoot))
	for i := range f.Hosts {
		for _, c := range []string{"blue", "green"} {
			if err := os.MkdirAll(f.Local(i, sshLBRoot+"/site/"+c), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: sshDirectoryRouterConfig(env, f, "green"), Check: linksTo(f, "green")},
			{
				// Host 2 lost its blue folder: nothing switches to blue.
				PreConfig:   func() { _ = os.RemoveAll(f.Local(1, sshLBRoot+"/site/blue")) },
				Config:      sshDirectoryRouterConfig(env, f, "blue"),
				ExpectError: regexp.MustCompile(`(?s)` + words("On host "+f.Addr(1)+":")),
			},
			{
				PreConfig: func() {
					if err := linksTo(f, "green")(nil); err != nil {
						t.Fatal(err)
					}
					if err := os.MkdirAll(f.Local(1, sshLBRoot+"/site/blue"), 0o755); err != nil {
						t.Fatal(err)
					}
				},
				Config: sshDirectoryRouterConfig(env, f, "blue"),
				Check:  linksTo(f, "blue"),
			},
		},
	})
}

func TestAccSSHMaintenanceMode_nginxOnTwoHosts(t *testing.T) {
	env := acctest.NewEnv(t)
	f := sshtest.Start(t, 2, sshtest.Root(sshSiteRoot))
	config := func(enabled bool) string {
		return sshProviderBlock(env, f, f.KnownHosts(), true) + fmt.Sprintf(`
resource "release_maintenance_mode" "site" {
  enabled = %t
  nginx {
    config_file    = "%s/maintenance.conf"
    test_command   = "true"
    reload_command = "true"
    ssh {
      hosts = %s
    }
  }
}
`, enabled, sshSiteRoot, hclList(f.Addrs()))
	}
	blocking := func(want bool) resource.TestCheckFunc {
		return func(*terraform.State) error {
			for i := range f.Hosts {
				b, err := os.ReadFile(f.Local(i, sshSiteRoot+"/maintenance.conf"))
				if err != nil {
					return fmt.Errorf("host %d: %w", i, err)
				}
				if got := strings.Contains(string(b), "return 503;"); got != want {
					return fmt.Errorf("host %d's snippet answers 503: %t, want %t:\n%s", i, got, want, b)
				}
			}
			return nil
		}
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: config(true), Check: blocking(true)},
			{Config: config(false), Check: blocking(false)},
			{
				ResourceName:      "release_maintenance_mode.site",
				ImportState:       true,
				ImportStateId:     "nginx:ssh://" + strings.Join(f.Addrs(), ",") + sshSiteRoot + "/maintenance.conf",
				ImportStateVerify: true,
				// Not recorded in the snippet.
				ImportStateVerifyIgnore: []string{"nginx.reload_command", "nginx.test_command"},
			},
		},
	})
}
