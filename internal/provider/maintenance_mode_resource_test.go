package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/maintenance"
	"github.com/releaseplan/terraform-provider-release/internal/nginxtest"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
)

func maintenanceDirectoryConfig(env *acctest.Env, dir, attrs string) string {
	return env.ProviderBlock() + fmt.Sprintf(`
resource "release_maintenance_mode" "prod" {
  %s
  directory {
    path = %q
  }
}
`, attrs, dir)
}

func fileMissing(p string) error {
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		return fmt.Errorf("%s still exists (%v)", p, err)
	}
	return nil
}

func TestAccMaintenanceModeResource_directory(t *testing.T) {
	env := acctest.NewEnv(t)
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, maintenance.JSONFile)
	on := `message = "Mise à jour <en cours>"
  reason  = "migration"
  until   = "2025-03-01T23:00:00+01:00"
  allowed_ips = ["127.0.0.1", "10.0.0.0/8"]`

	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			return fileMissing(jsonPath)
		},
		Steps: []resource.TestStep{
			{
				Config:      maintenanceDirectoryConfig(env, dir, `until = "tomorrow"`),
				ExpectError: regexp.MustCompile(`RFC 3339`),
			},
			{
				Config:      maintenanceDirectoryConfig(env, dir, `allowed_ips = ["10.0.0.300"]`),
				ExpectError: regexp.MustCompile(`IP address`),
			},
			{
				Config: maintenanceDirectoryConfig(env, dir, on),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("release_maintenance_mode.prod", plancheck.ResourceActionCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_maintenance_mode.prod", tfjsonpath.New("id"), knownvalue.StringExact("directory:"+dir)),
					statecheck.ExpectKnownValue("release_maintenance_mode.prod", tfjsonpath.New("enabled"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("release_maintenance_mode.prod", tfjsonpath.New("until"), knownvalue.StringExact("2025-03-01T23:00:00+01:00")),
				},
				Check: func(*terraform.State) error {
					b, err := os.ReadFile(filepath.Join(dir, maintenance.HTMLFile))
					if err != nil || !regexp.MustCompile(`Mise à jour &lt;en cours&gt;`).Match(b) {
						return fmt.Errorf("maintenance.html = %q (%v)", b, err)
					}
					return nil
				},
			},
			{
				ResourceName:      "release_maintenance_mode.prod",
				ImportState:       true,
				ImportStateId:     "directory:" + dir,
				ImportStateVerify: true,
				// The instant is the same; the import reads it back in UTC.
				ImportStateVerifyIgnore: []string{"until"},
			},
			emptyPlanStep(maintenanceDirectoryConfig(env, dir, on)),
			{
				// Someone ends maintenance by hand: the plan puts it back.
				PreConfig: func() { os.Remove(jsonPath) },
				Config:    maintenanceDirectoryConfig(env, dir, on),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("release_maintenance_mode.prod", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("release_maintenance_mode.prod", tfjsonpath.New("enabled"), knownvalue.Bool(true)),
				}},
				Check: func(*terraform.State) error {
					if _, err := os.Stat(jsonPath); err != nil {
						return fmt.Errorf("maintenance.json was not put back: %v", err)
					}
					return nil
				},
			},
			{
				Config: maintenanceDirectoryConfig(env, dir, `enabled = false
  message = "Mise à jour <en cours>"`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_maintenance_mode.prod", tfjsonpath.New("enabled"), knownvalue.Bool(false)),
				},
				Check: func(*terraform.State) error { return fileMissing(jsonPath) },
			},
			{
				Config: maintenanceDirectoryConfig(env, dir, `enabled = false
  message = "Mise à jour <en cours>"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccMaintenanceModeResource_nginx(t *testing.T) {
	env := acctest.NewEnv(t)
	conf := filepath.Join(t.TempDir(), "maintenance.conf")
	initial, _ := (&maintenance.Nginx{ConfigFile: conf}).RenderSnippet(maintenance.State{})
	if err := os.WriteFile(conf, []byte(initial), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := nginxtest.Start(t, nginxtest.Config{Server: "include " + conf + ";\nlocation / { return 200 \"app\\n\"; }"})
	config := func(attrs, test string) string {
		return env.ProviderBlock() + fmt.Sprintf(`
resource "release_maintenance_mode" "prod" {
  message     = "Mise à jour"
  allowed_ips = ["127.0.0.1"]
  %s
  nginx {
    config_file    = %q
    reload_command = %q
    test_command   = %q
  }
}
`, attrs, conf, srv.ReloadCommand(), test)
	}

	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			return srv.AwaitFrom("127.0.0.2", "/", nil, 200, "")
		},
		Steps: []resource.TestStep{
			{
				Config: config("", srv.TestCommand()),
				Check: func(*terraform.State) error {
					if err := srv.AwaitFrom("127.0.0.2", "/", nil, 503, ""); err != nil {
						return err
					}
					return srv.AwaitFrom("127.0.0.1", "/", nil, 200, "")
				},
			},
			{
				ResourceName:      "release_maintenance_mode.prod",
				ImportState:       true,
				ImportStateId:     "nginx:" + conf,
				ImportStateVerify: true,
				// nginx does not record how it is reloaded: an import takes the defaults.
				ImportStateVerifyIgnore: []string{"nginx.reload_command", "nginx.test_command"},
			},
			{
				// A configuration test that fails changes nothing and says so.
				Config:      config("enabled = false", "echo 'nginx: [emerg] broken' >&2; exit 1"),
				ExpectError: regexp.MustCompile(`(?s)nginx: \[emerg\] broken.*put back`),
			},
			{
				Config: config("enabled = false", srv.TestCommand()),
				Check: func(*terraform.State) error {
					return srv.AwaitFrom("127.0.0.2", "/", nil, 200, "")
				},
			},
			emptyPlanStep(config("enabled = false", srv.TestCommand())),
		},
	})
}

func TestAccMaintenanceModeResource_scalingo(t *testing.T) {
	fastScalingoPolling(t)
	env := acctest.NewEnv(t)
	fake := scalingotest.NewServer(t, scalingotest.Options{})
	fake.CreateApp("histologe")
	fake.DeployByHand("histologe", "1.0.0", nil) // a running app: Scalingo restarts no other
	config := func(attrs string) string {
		return scalingoProviderBlock(env, fake) + fmt.Sprintf(`
resource "release_maintenance_mode" "prod" {
  message = "Mise à jour en cours"
  %s
  scalingo {
    app = "histologe"
  }
}
`, attrs)
	}
	running := func(name, want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if got := fake.RunningEnv("histologe")[name]; got != want {
				return fmt.Errorf("running %s = %q, want %q (%d restarts)", name, got, want, fake.Restarts("histologe"))
			}
			return nil
		}
	}

	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			if got := fake.RunningEnv("histologe")["MAINTENANCE_ENABLE"]; got != "0" {
				return fmt.Errorf("maintenance still on after destroy: %q", got)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config(""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("release_maintenance_mode.prod", tfjsonpath.New("id"), knownvalue.StringExact("scalingo:histologe")),
				},
				Check: resource.ComposeTestCheckFunc(
					running("MAINTENANCE_ENABLE", "1"),
					running("MAINTENANCE_BANNER_ENABLE", "0"),
					running("MAINTENANCE_BANNER_MESSAGE", "Mise à jour en cours"),
				),
			},
			{
				ResourceName:      "release_maintenance_mode.prod",
				ImportState:       true,
				ImportStateId:     "scalingo:histologe",
				ImportStateVerify: true,
			},
			{
				// Changed by hand in the dashboard: the plan shows it back.
				PreConfig: func() { fake.SetVariable("histologe", "MAINTENANCE_ENABLE", "0") },
				Config:    config(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("release_maintenance_mode.prod", plancheck.ResourceActionUpdate),
				}},
				Check: running("MAINTENANCE_ENABLE", "1"),
			},
			{
				PreConfig:   func() { fake.FailNextRestart("histologe", "container web-1 failed to restart") },
				Config:      config("banner = true"),
				ExpectError: regexp.MustCompile(`web-1 failed to restart`),
			},
			{
				Config: config("banner = true"),
				Check: resource.ComposeTestCheckFunc(
					running("MAINTENANCE_ENABLE", "0"),
					running("MAINTENANCE_BANNER_ENABLE", "1"),
				),
			},
			{
				Config: config("enabled = false"),
				Check:  running("MAINTENANCE_BANNER_ENABLE", "0"),
			},
			emptyPlanStep(config("enabled = false")),
		},
	})
}

// TestAccMaintenanceModeResource_foreignFiles: pointed at files it did not write
// (here a copy of /etc/passwd), release_maintenance_mode neither adopts them on
// import nor overwrites them on create; the error names the file and what to do.
// Where no file exists, it creates its own.
func TestAccMaintenanceModeResource_foreignFiles(t *testing.T) {
	env := acctest.NewEnv(t)
	passwd := []byte("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, maintenance.JSONFile)
	conf := filepath.Join(t.TempDir(), "passwd")
	for _, p := range []string{jsonPath, conf} {
		if err := os.WriteFile(p, passwd, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nginxConfig := env.ProviderBlock() + fmt.Sprintf(`
resource "release_maintenance_mode" "prod" {
  nginx {
    config_file    = %q
    reload_command = "true"
    test_command   = "-"
  }
}
`, conf)
	untouched := func(*terraform.State) error {
		for _, p := range []string{jsonPath, conf} {
			if b, err := os.ReadFile(p); err != nil || string(b) != string(passwd) {
				return fmt.Errorf("%s was changed (%v)", p, err)
			}
		}
		return nil
	}
	refused := func(p string) *regexp.Regexp {
		return wrapped(p+" exists and was not written by release_maintenance_mode", "If it is an old maintenance file, delete it; otherwise point the resource at another path", "Nothing was changed")
	}
	fresh := filepath.Join(t.TempDir(), "site")
	if err := os.Mkdir(fresh, 0o755); err != nil {
		t.Fatal(err)
	}

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:        maintenanceDirectoryConfig(env, dir, ""),
				ResourceName:  "release_maintenance_mode.prod",
				ImportState:   true,
				ImportStateId: "directory:" + dir,
				ExpectError:   refused(jsonPath),
			},
			{
				Config:        nginxConfig,
				ResourceName:  "release_maintenance_mode.prod",
				ImportState:   true,
				ImportStateId: "nginx:" + conf,
				ExpectError:   refused(conf),
			},
			{Config: nginxConfig, ExpectError: refused(conf), Check: untouched},
			{Config: maintenanceDirectoryConfig(env, dir, ""), ExpectError: refused(jsonPath), Check: untouched},
			{
				PreConfig: func() {
					if err := untouched(nil); err != nil {
						t.Fatal(err)
					}
				},
				Config: maintenanceDirectoryConfig(env, fresh, ""),
				Check: func(*terraform.State) error {
					_, err := os.Stat(filepath.Join(fresh, maintenance.JSONFile))
					return err
				},
			},
		},
	})
	if err := untouched(nil); err != nil {
		t.Fatal(err)
	}
}

// TestAccMaintenanceModeResource_emptyValues: `allowed_ips = []` and
// `reason = ""` say "none" as leaving them out does: the apply converges and
// the next plan is empty, instead of an update planned on every run.
func TestAccMaintenanceModeResource_emptyValues(t *testing.T) {
	env := acctest.NewEnv(t)
	cfg := maintenanceDirectoryConfig(env, t.TempDir(), `enabled = true
  message     = "down"
  reason      = ""
  allowed_ips = []`)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg},
			emptyPlanStep(cfg),
		},
	})
}

// TestAccMaintenanceModeResource_nginxIPv6Range: an IPv6 range, which the nginx
// snippet cannot express, is refused at plan time, naming it.
func TestAccMaintenanceModeResource_nginxIPv6Range(t *testing.T) {
	env := acctest.NewEnv(t)
	accParallelTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config: env.ProviderBlock() + fmt.Sprintf(`
resource "release_maintenance_mode" "prod" {
  enabled     = true
  allowed_ips = ["127.0.0.1", "2001:db8::/32"]
  nginx {
    config_file    = %q
    reload_command = "true"
    test_command   = "-"
  }
}
`, filepath.Join(t.TempDir(), "maintenance.conf")),
			PlanOnly:    true,
			ExpectError: errorRe(`2001:db8::/32: the nginx backend accepts IPv6 addresses, not IPv6 ranges`),
		}},
	})
}
