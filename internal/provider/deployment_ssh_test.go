package provider

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
)

// sshAppRoot is the application folder on every host of the SSH fleet.
const sshAppRoot = "/srv/release-acc-app"

// sshDeployEnv is a fleet of real sshd hosts, each with its own loopback
// address and a web server there that serves the host's live release; a host's
// /health fails while the file `unhealthy` is in its root.
type sshDeployEnv struct {
	*acctest.Env
	fleet *sshtest.Fleet
	port  int
}

func newSSHDeployEnv(t *testing.T, n int, versions ...string) *sshDeployEnv {
	t.Helper()
	e := &sshDeployEnv{Env: acctest.NewEnv(t), fleet: sshtest.Start(t, n, sshtest.Root(sshAppRoot), sshtest.Loopbacks())}
	st := e.Store(t)
	for _, v := range versions {
		data := archivetest.TarGz(t, map[string]string{"health": "ok", "index.html": "version " + v})
		if _, err := st.Put(context.Background(), "app", v, bytes.NewReader(data), "", nil); err != nil {
			t.Fatal(err)
		}
	}
	e.port = e.serveHosts(t)
	return e
}

// serveHosts starts, on one port, a web server on every host's address that
// serves that host's current release.
func (e *sshDeployEnv) serveHosts(t *testing.T) int {
	t.Helper()
	return serveOnHosts(t, e.fleet, e.hostHandler)
}

// serveOnHosts starts, on one port, a web server on the address of every host
// of f (sshtest.Loopbacks), host i answering with handler(i), and returns the
// port: http://{host}:<port>/ then reaches each host's own server.
func serveOnHosts(t *testing.T, f *sshtest.Fleet, handler func(i int) http.Handler) int {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		first, err := net.Listen("tcp", net.JoinHostPort(hostOf(f.Addr(0)), "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		listeners := []net.Listener{first}
		for i := 1; i < len(f.Hosts); i++ {
			l, err := net.Listen("tcp", net.JoinHostPort(hostOf(f.Addr(i)), strconv.Itoa(port)))
			if err != nil {
				break
			}
			listeners = append(listeners, l)
		}
		if len(listeners) < len(f.Hosts) {
			for _, l := range listeners {
				l.Close()
			}
			continue
		}
		for i, l := range listeners {
			srv := &http.Server{Handler: handler(i), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(l) }()
			t.Cleanup(func() { srv.Close() })
		}
		return port
	}
	t.Fatal("no port free on every host address")
	return 0
}

func (e *sshDeployEnv) hostHandler(i int) http.Handler {
	files := http.FileServer(http.Dir(e.fleet.Local(i, sshAppRoot+"/app/current")))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(e.fleet.Local(i, sshAppRoot+"/unhealthy")); err == nil {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

// config deploys app@version to the first n hosts; knownHosts is the
// provider's known_hosts.
func (e *sshDeployEnv) config(version string, n int, knownHosts string) string {
	return sshProviderBlock(e.Env, e.fleet, knownHosts, true) + fmt.Sprintf(`
resource "release_deployment" "fleet" {
  environment = "production"
  artifact    = "app@%[1]s"
  directory {
    path          = "%[2]s/app"
    keep_releases = 3
    shared        = ["var"]
    ssh {
      hosts        = %[3]s
      max_parallel = 2
    }
  }
  hooks {
    before_switch      = ["echo \"$RELEASE_HOST $RELEASE_VERSION\" > var/prepared-by"]
    before_switch_once = ["echo \"$RELEASE_VERSION on $RELEASE_HOST\" >> %[2]s/migrations"]
    after_switch       = ["test ! -e %[2]s/after-switch-fails"]
  }
  backup {
    command = "echo \"database before $RELEASE_VERSION on $RELEASE_HOST\" > \"$RELEASE_BACKUP_FILE\""
  }
  smoke_test {
    url           = "http://{host}:%[4]d/health"
    body_contains = "ok"
    attempts      = 2
    interval      = "10ms"
  }
}
`, version, sshAppRoot, hclList(e.fleet.Addrs()[:n]), e.port)
}

// serves checks that each of the first n hosts serves version.
func (e *sshDeployEnv) serves(version string, n int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for i := 0; i < n; i++ {
			b, err := os.ReadFile(e.fleet.Local(i, sshAppRoot+"/app/current/index.html"))
			if err != nil || string(b) != "version "+version {
				return fmt.Errorf("host %s serves %q (%v), want version %s", e.fleet.Addr(i), b, err, version)
			}
		}
		return nil
	}
}

// hostsLiveAgree checks that hosts_live names each of the first n hosts with
// the release_id every one of them serves.
func (e *sshDeployEnv) hostsLiveAgree(n int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs := s.RootModule().Resources["release_deployment.fleet"]
		if rs == nil {
			return fmt.Errorf("no release_deployment.fleet in the state")
		}
		id := rs.Primary.Attributes["release_id"]
		if got := rs.Primary.Attributes["hosts_live.%"]; got != strconv.Itoa(n) {
			return fmt.Errorf("hosts_live has %s hosts, want %d", got, n)
		}
		for i := 0; i < n; i++ {
			if got := rs.Primary.Attributes["hosts_live."+e.fleet.Addr(i)]; got != id {
				return fmt.Errorf("hosts_live[%s] = %q, want the release_id %q", e.fleet.Addr(i), got, id)
			}
		}
		return nil
	}
}

// plannedStepsName checks that a step of planned_steps names the hosts as a
// list ("a, b and c").
func plannedStepsName(hosts ...string) plancheck.PlanCheck {
	list := hosts[0]
	if n := len(hosts); n > 1 {
		list = strings.Join(hosts[:n-1], ", ") + " and " + hosts[n-1]
	}
	return stepsPlanCheck{res: "release_deployment.fleet", want: list}
}

type stepsPlanCheck struct{ res, want string }

func (c stepsPlanCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != c.res {
			continue
		}
		after, _ := rc.Change.After.(map[string]any)
		steps, _ := after["planned_steps"].([]any)
		for _, s := range steps {
			if str, _ := s.(string); strings.Contains(str, c.want) {
				return
			}
		}
		resp.Error = fmt.Errorf("no planned step of %s names %q: %q", c.res, c.want, steps)
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", c.res)
}

func (e *sshDeployEnv) switchByHand(t *testing.T, i int, version string) {
	t.Helper()
	releases := e.fleet.Local(i, sshAppRoot+"/app/releases")
	entries, err := os.ReadDir(releases)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), version+"-") && en.IsDir() {
			link := e.fleet.Local(i, sshAppRoot+"/app/current")
			_ = os.Remove(link)
			if err := os.Symlink("releases/"+en.Name(), link); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("host %d has no release of %s", i, version)
}

func readLines(t *testing.T, p string) []string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestAccDeploymentResource_sshFleet is the life of a deployment to a fleet:
// deploy to two hosts, update, a smoke test failing on one host rolls every
// host back, a host switched by hand is drift the next apply converges, a host
// added gets the release, an unknown host key and a host down are refused at
// plan naming the host, going back to a version by configuration, import.
func TestAccDeploymentResource_sshFleet(t *testing.T) {
	e := newSSHDeployEnv(t, 3, "1.0.0", "1.1.0", "1.2.0")
	f := e.fleet
	kh := f.KnownHosts()
	res := "release_deployment.fleet"
	unhealthy := f.Local(1, sshAppRoot+"/unhealthy")

	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: e.config("1.0.0", 2, kh),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("hosts_live")),
					plannedStepsName(f.Addr(0), f.Addr(1)),
				}},
				Check: resource.ComposeTestCheckFunc(e.serves("1.0.0", 2), e.hostsLiveAgree(2), func(*terraform.State) error {
					if got := readLines(t, f.Local(0, sshAppRoot+"/migrations")); len(got) != 1 || got[0] != "1.0.0 on "+f.Addr(0) {
						return fmt.Errorf("before_switch_once ran as %q, want once on the first host", got)
					}
					if _, err := os.Stat(f.Local(1, sshAppRoot+"/migrations")); err == nil {
						return fmt.Errorf("before_switch_once ran on the second host")
					}
					for i := 0; i < 2; i++ {
						if got := readLines(t, f.Local(i, sshAppRoot+"/app/shared/var/prepared-by")); got[0] != f.Addr(i)+" 1.0.0" {
							return fmt.Errorf("before_switch on host %d wrote %q", i, got)
						}
					}
					return nil
				}),
			},
			{
				Config: e.config("1.1.0", 2, kh),
				Check: resource.ComposeTestCheckFunc(e.serves("1.1.0", 2), e.hostsLiveAgree(2),
					resource.TestCheckResourceAttr(res, "previous_version", "1.0.0"),
					resource.TestMatchResourceAttr(res, "backup_id", regexp.MustCompile(`^app-backup@1\.0\.0\+`)), // 1.0.0's data
					func(s *terraform.State) error {
						id := s.RootModule().Resources[res].Primary.Attributes["backup_id"]
						name, version, _ := strings.Cut(id, "@")
						rc, _, err := e.Store(t).Get(context.Background(), name, version)
						if err != nil {
							return err
						}
						defer rc.Close()
						var b bytes.Buffer
						_, _ = b.ReadFrom(rc)
						if want := "database before 1.1.0 on " + f.Addr(0) + "\n"; b.String() != want {
							return fmt.Errorf("the backup holds %q, want %q (taken on the first host)", b.String(), want)
						}
						return nil
					}),
			},
			{
				// The smoke test fails on the second host only: both go back to 1.1.0.
				PreConfig:   func() { mustWriteFile(t, unhealthy, "") },
				Config:      e.config("1.2.0", 2, kh),
				ExpectError: regexp.MustCompile(`(?s)smoke test failed on ` + regexp.QuoteMeta(f.Addr(1)) + `.*1\.1\.0`),
			},
			{
				PreConfig: func() {
					if err := e.serves("1.1.0", 2)(nil); err != nil {
						t.Fatalf("after the failed smoke test: %v", err)
					}
					if err := os.Remove(unhealthy); err != nil {
						t.Fatal(err)
					}
					// An operator switches the second host back by hand.
					e.switchByHand(t, 1, "1.0.0")
				},
				Config: e.config("1.1.0", 2, kh),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(e.serves("1.1.0", 2), e.hostsLiveAgree(2),
					resource.TestCheckResourceAttr(res, "status", "live")),
			},
			{
				// A host added to the fleet gets the release.
				Config: e.config("1.1.0", 3, kh),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plannedStepsName(f.Addrs()...),
				}},
				Check: resource.ComposeTestCheckFunc(e.serves("1.1.0", 3), e.hostsLiveAgree(3)),
			},
			{
				// A host whose key is not in known_hosts is refused, with its fingerprint.
				Config:      e.config("1.2.0", 3, f.KnownHostsLine(0)+"\n"+f.KnownHostsLine(1)+"\n"),
				ExpectError: regexp.MustCompile(`(?s)` + regexp.QuoteMeta(f.Addr(2)) + `.*` + regexp.QuoteMeta(f.Fingerprint(2))),
			},
			{
				// A host down at plan time is an error naming it.
				PreConfig:   func() { _ = f.Stop(2) },
				Config:      e.config("1.2.0", 3, kh),
				ExpectError: regexp.MustCompile(`(?s)Unable to reach the SSH hosts.*` + regexp.QuoteMeta(f.Addr(2))),
			},
			{
				// Back to the earlier version by configuration: every host again.
				PreConfig: func() {
					if err := f.Restart(2); err != nil {
						t.Fatal(err)
					}
					if err := e.serves("1.1.0", 3)(nil); err != nil {
						t.Fatalf("the refused plans changed a host: %v", err)
					}
				},
				Config: e.config("1.0.0", 3, kh),
				Check:  resource.ComposeTestCheckFunc(e.serves("1.0.0", 3), e.hostsLiveAgree(3)),
			},
			{
				ResourceName:            res,
				ImportState:             true,
				ImportStateId:           "production:ssh://" + strings.Join(f.Addrs(), ",") + sshAppRoot + "/app",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"smoke_test", "hooks", "backup", "timeouts", "planned_steps", "directory.keep_releases", "directory.shared", "directory.ssh.max_parallel", "backup_id", "previous_version"},
			},
		},
	})
}
