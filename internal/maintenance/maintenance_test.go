package maintenance_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/maintenance"
	"github.com/releaseplan/terraform-provider-release/internal/nginxtest"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	d := &maintenance.Directory{Path: dir}
	ctx := context.Background()
	until := time.Date(2025, 3, 1, 22, 0, 0, 0, time.UTC)
	on := maintenance.State{Enabled: true, Message: `Mise à jour <script>alert("x")</script>`, Reason: "migration & reindex", Until: until}

	if s, err := d.Read(ctx); err != nil || s.Enabled {
		t.Fatalf("fresh read = %+v %v, want existing and off", s, err)
	}
	if _, err := (&maintenance.Directory{Path: filepath.Join(dir, "missing")}).Read(ctx); !errors.Is(err, maintenance.ErrNotFound) || !errors.Is(err, target.ErrNotFound) {
		t.Fatalf("read of a missing folder = %v, want ErrNotFound (the same as target.ErrNotFound)", err)
	}
	if err := d.Apply(ctx, on); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, maintenance.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Mise à jour &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "migration &amp; reindex", "2025-03-01T22:00:00Z"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(string(page), "<script>") {
		t.Fatalf("the message was not escaped:\n%s", page)
	}
	var raw map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, maintenance.JSONFile))
	if err := json.Unmarshal(b, &raw); err != nil || raw["enabled"] != true || raw["until"] != "2025-03-01T22:00:00Z" {
		t.Fatalf("maintenance.json = %s (%v)", b, err)
	}
	got, err := d.Read(ctx)
	if err != nil || !got.Enabled || got.Message != on.Message || !got.Until.Equal(until) {
		t.Fatalf("read = %+v, %v", got, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}

	// Someone removes the file by hand: Read reports maintenance off (drift).
	os.Remove(filepath.Join(dir, maintenance.JSONFile))
	if got, _ := d.Read(ctx); got.Enabled {
		t.Fatal("a removed maintenance.json still reads as on")
	}

	if err := d.Apply(ctx, on); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, maintenance.State{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{maintenance.JSONFile, maintenance.HTMLFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists after disabling: %v", f, err)
		}
	}
	if err := (&maintenance.Directory{Path: filepath.Join(dir, "missing")}).Apply(ctx, on); err == nil {
		t.Fatal("a missing directory was accepted")
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"127.0.0.1", "127.0.0.1/32", false},
		{"10.1.2.3/16", "10.1.0.0/16", false},
		{"2001:db8::1", "2001:db8::1/128", false},
		{"::ffff:10.0.0.1", "10.0.0.1/32", false},
		{"not-an-ip", "", true},
		{"10.0.0.0/33", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := maintenance.ParsePrefixes([]string{tt.in})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && got[0].String() != tt.want {
				t.Fatalf("got %s, want %s", got[0], tt.want)
			}
		})
	}
}

// TestSnippetMatchesAllowedRanges checks the rendered $remote_addr regexes against
// netip's own containment for many addresses.
func TestSnippetMatchesAllowedRanges(t *testing.T) {
	ranges := []string{"10.0.16.0/20", "192.168.1.7", "172.16.0.0/12", "100.64.0.0/10", "203.0.113.128/25", "8.0.0.0/7"}
	n := &maintenance.Nginx{ConfigFile: "/etc/nginx/maintenance.conf"}
	snippet, err := n.RenderSnippet(maintenance.State{Enabled: true, AllowedIPs: ranges})
	if err != nil {
		t.Fatal(err)
	}
	ruleRe := regexp.MustCompile(`if \(\$remote_addr ~ "([^"]+)"\)`)
	var res []*regexp.Regexp
	for _, m := range ruleRe.FindAllStringSubmatch(snippet, -1) {
		res = append(res, regexp.MustCompile(m[1]))
	}
	if len(res) != len(ranges) {
		t.Fatalf("rules = %d, want %d:\n%s", len(res), len(ranges), snippet)
	}
	prefixes, _ := maintenance.ParsePrefixes(ranges)
	probes := []string{"10.0.15.255", "10.0.16.0", "10.0.31.255", "10.0.32.0", "192.168.1.7", "192.168.1.70", "172.15.255.255",
		"172.16.0.1", "172.31.255.255", "172.32.0.0", "100.63.255.255", "100.64.0.0", "100.127.255.255", "100.128.0.0",
		"203.0.113.127", "203.0.113.128", "203.0.113.255", "7.255.255.255", "8.1.2.3", "9.255.0.1", "10.0.0.0", "1.2.3.4"}
	for _, p := range probes {
		a := netip.MustParseAddr(p)
		want := false
		for _, pr := range prefixes {
			want = want || pr.Contains(a)
		}
		got := false
		for _, re := range res {
			got = got || re.MatchString(p) || re.MatchString("::ffff:"+p)
		}
		if got != want {
			t.Errorf("%s: allowed by the snippet = %v, by netip = %v", p, got, want)
		}
	}
	if _, err := n.RenderSnippet(maintenance.State{Enabled: true, AllowedIPs: []string{"2001:db8::/32"}}); err == nil {
		t.Error("an IPv6 range was accepted by the nginx backend")
	}
	if _, err := (&maintenance.Nginx{ConfigFile: "/etc/nginx/a b.conf"}).RenderSnippet(maintenance.State{Enabled: true}); err == nil {
		t.Error("a config_file path with a space was accepted")
	}
}

// getFrom performs a GET from the given loopback source address.
func getFrom(t *testing.T, source, url string) (int, http.Header, string) {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", url, source, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func waitStatus(t *testing.T, source, url string, want int) (http.Header, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, h, body := getFrom(t, source, url)
		if status == want {
			return h, body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s from %s = %d, want %d; body %q", url, source, status, want, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNginxMaintenance(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "maintenance.conf")
	n := &maintenance.Nginx{ConfigFile: conf}
	initial, _ := n.RenderSnippet(maintenance.State{})
	if err := os.WriteFile(conf, []byte(initial), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := nginxtest.Start(t, nginxtest.Config{Server: "include " + conf + ";\nlocation / { return 200 \"app\\n\"; }"})
	n.ReloadCommand, n.TestCommand = srv.ReloadCommand(), srv.TestCommand()
	ctx := context.Background()
	url := srv.URL("/page")

	waitStatus(t, "127.0.0.1", url, 200)
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	on := maintenance.State{Enabled: true, Message: "Mise à jour <en cours>", Until: until, AllowedIPs: []string{"127.0.0.1"}}
	if err := n.Apply(ctx, on); err != nil {
		t.Fatal(err)
	}
	h, body := waitStatus(t, "127.0.0.2", url, 503)
	if !strings.Contains(body, "Mise à jour &lt;en cours&gt;") {
		t.Errorf("503 body = %q", body)
	}
	if got := h.Get("Retry-After"); got != until.Format(http.TimeFormat) {
		t.Errorf("Retry-After = %q, want %q", got, until.Format(http.TimeFormat))
	}
	if status, _, body := getFrom(t, "127.0.0.1", url); status != 200 || body != "app\n" {
		t.Errorf("allowed address got %d %q, want the app", status, body)
	}
	if status, _, _ := getFrom(t, "127.0.0.2", srv.URL("/__release_maintenance.html")); status != 404 {
		t.Errorf("the page location is reachable directly: %d", status)
	}
	if got, err := n.Read(ctx); err != nil || !got.Enabled || got.Message != on.Message {
		t.Fatalf("read = %+v %v", got, err)
	}

	// A range allows the second address too.
	on.AllowedIPs = []string{"127.0.0.0/30"}
	if err := n.Apply(ctx, on); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "127.0.0.2", url, 200)
	if status, _, _ := getFrom(t, "127.0.0.5", url); status != 503 {
		t.Errorf("127.0.0.5 is outside 127.0.0.0/30 but got %d", status)
	}

	// A failing configuration test restores the previous snippet and changes nothing.
	before, _ := os.ReadFile(conf)
	broken := *n
	broken.TestCommand = "echo 'nginx: [emerg] unexpected end of file' >&2; exit 1"
	err := broken.Apply(ctx, maintenance.State{})
	if err == nil || !strings.Contains(err.Error(), "unexpected end of file") || !strings.Contains(err.Error(), "put back") {
		t.Fatalf("err = %v, want the test output and the restore", err)
	}
	if after, _ := os.ReadFile(conf); string(after) != string(before) {
		t.Fatalf("the snippet was not restored:\n%s", after)
	}
	// A failing reload restores as well.
	broken = *n
	broken.ReloadCommand = "exit 3"
	if err := broken.Apply(ctx, maintenance.State{}); err == nil || !strings.Contains(err.Error(), "put back") {
		t.Fatalf("err = %v, want a restore after a failed reload", err)
	}
	if after, _ := os.ReadFile(conf); string(after) != string(before) {
		t.Fatalf("the snippet was not restored after a failed reload")
	}
	waitStatus(t, "127.0.0.5", url, 503)

	// Banner mode keeps the site up.
	if err := n.Apply(ctx, maintenance.State{Enabled: true, Banner: true, Message: "Maintenance ce soir"}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "127.0.0.5", url, 200)
	if got, _ := n.Read(ctx); !got.Enabled || !got.Banner {
		t.Fatalf("read = %+v, want banner", got)
	}

	// Off, and the page file is gone.
	if err := n.Apply(ctx, maintenance.State{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "127.0.0.5", url, 200)
	if _, err := os.Stat(n.PagePath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("page left behind: %v", err)
	}

	// A hand edit that drops the 503 rule reads as off (drift).
	if err := n.Apply(ctx, on); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(conf)
	os.WriteFile(conf, []byte(strings.ReplaceAll(string(b), "if ($release_maintenance) { return 503; }", "")), 0o644)
	if got, _ := n.Read(ctx); got.Enabled {
		t.Fatalf("hand-edited snippet reads as %+v", got)
	}
}

func TestScalingoMaintenance(t *testing.T) {
	fake := scalingotest.NewServer(t, scalingotest.Options{})
	fake.CreateApp("histologe")
	fake.DeployByHand("histologe", "1.0.0", nil) // Scalingo restarts running apps only
	c, err := scalingo.New(context.Background(), fake.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := &maintenance.Scalingo{Client: c, App: "histologe", Restart: true, PollInterval: 5 * time.Millisecond}

	if err := m.Apply(ctx, maintenance.State{Enabled: true, Message: "Mise à jour en cours"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"MAINTENANCE_ENABLE": "1", "MAINTENANCE_BANNER_ENABLE": "0", "MAINTENANCE_BANNER_MESSAGE": "Mise à jour en cours"}
	env := fake.RunningEnv("histologe")
	for k, v := range want {
		if env[k] != v {
			t.Errorf("running %s = %q, want %q (restart = %d)", k, env[k], v, fake.Restarts("histologe"))
		}
	}
	if got, err := m.Read(ctx); err != nil || !got.Enabled || got.Banner || got.Message != "Mise à jour en cours" {
		t.Fatalf("read = %+v %v", got, err)
	}

	if err := m.Apply(ctx, maintenance.State{Enabled: true, Banner: true, Message: "Ce soir"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Read(ctx); !got.Enabled || !got.Banner {
		t.Fatalf("read = %+v, want banner", got)
	}

	// Hand change in the dashboard: drift.
	fake.SetVariable("histologe", "MAINTENANCE_BANNER_ENABLE", "0")
	if got, _ := m.Read(ctx); got.Enabled {
		t.Fatalf("read after a hand change = %+v", got)
	}

	// Custom names, no restart.
	custom := &maintenance.Scalingo{Client: c, App: "histologe", Names: maintenance.VariableNames{Enable: "APP_MAINTENANCE"}}
	restarts := fake.Restarts("histologe")
	if err := custom.Apply(ctx, maintenance.State{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if fake.Variables("histologe")["APP_MAINTENANCE"] != "1" || fake.Restarts("histologe") != restarts {
		t.Fatalf("custom variable = %v, restarts %d → %d", fake.Variables("histologe"), restarts, fake.Restarts("histologe"))
	}

	// A failed restart is reported.
	fake.FailNextRestart("histologe", "container web-1 failed to restart")
	err = m.Apply(ctx, maintenance.State{})
	if err == nil || !strings.Contains(err.Error(), "web-1 failed to restart") {
		t.Fatalf("err = %v", err)
	}
	if _, err := (&maintenance.Scalingo{Client: c, App: "nope"}).Read(ctx); !errors.Is(err, maintenance.ErrNotFound) {
		t.Fatalf("unknown app: err %v, want ErrNotFound", err)
	}
}

// TestSwitchesDescribeThemselves: callers learn what a Switch records and how a
// change takes effect from Capabilities, never from its type; every Switch says
// "gone" with ErrNotFound.
func TestSwitchesDescribeThemselves(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	fake := scalingotest.NewServer(t, scalingotest.Options{})
	c, err := scalingo.New(context.Background(), fake.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		s    maintenance.Switch
		want maintenance.Capabilities
	}{
		{&maintenance.Directory{Path: missing}, maintenance.Capabilities{Details: true}},
		{&maintenance.Nginx{ConfigFile: missing + "/m.conf"}, maintenance.Capabilities{Details: true}},
		{&maintenance.Scalingo{Client: c, App: "nope"}, maintenance.Capabilities{Staged: true}},
	}
	for _, tt := range tests {
		if got := tt.s.Capabilities(); got != tt.want {
			t.Errorf("%s: capabilities %+v, want %+v", tt.s.Describe(), got, tt.want)
		}
		if _, err := tt.s.Read(context.Background()); !errors.Is(err, maintenance.ErrNotFound) {
			t.Errorf("%s: Read = %v, want ErrNotFound", tt.s.Describe(), err)
		}
	}
}
