package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// testSSHModel is an ssh block with hosts and nothing else set.
func testSSHModel(hosts ...string) *sshModel {
	return &sshModel{
		Hosts: sshHostList(hosts), User: types.StringNull(), PrivateKey: types.StringNull(), PrivateKeyWO: types.StringNull(),
		Passphrase: types.StringNull(), Agent: types.BoolNull(), KnownHosts: types.StringNull(),
		MaxParallel: types.Int64Null(), ConnectTimeout: types.StringNull(),
	}
}

var sshAt = path.Root("nginx").AtName("ssh")

func diagSummaries(diags diag.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		s := d.Summary()
		if p, ok := d.(diag.DiagnosticWithPath); ok {
			s += " @ " + p.Path().String()
		}
		out = append(out, s)
	}
	return out
}

func TestSSHConfigsMergeProviderDefaultsAttributeByAttribute(t *testing.T) {
	d := &providerData{SSH: sshDefaultsFrom(nil)}
	d.SSH.User = types.StringValue("deploy")
	d.SSH.PrivateKey = types.StringValue("PROVIDER KEY")
	d.SSH.Passphrase = types.StringValue("provider passphrase")
	d.SSH.KnownHosts = types.StringValue("provider known_hosts")
	d.SSH.ConnectTimeout = types.StringValue("5s")
	d.SSH.Agent = types.BoolValue(true)

	m := testSSHModel("web1.example.org", "web2.example.org:2222")
	m.User = types.StringValue("www")
	cfgs, diags := d.sshConfigs(context.Background(), m, types.StringNull(), sshAt)
	if diags.HasError() || len(cfgs) != 2 {
		t.Fatalf("sshConfigs = %+v, %v", cfgs, diags)
	}
	c := cfgs[1]
	if c.Address != "web2.example.org:2222" || c.User != "www" || string(c.PrivateKey) != "PROVIDER KEY" ||
		string(c.Passphrase) != "provider passphrase" || c.KnownHosts != "provider known_hosts" || c.Timeout != 5*time.Second || !c.Agent {
		t.Errorf("merged config = %+v; want the block's user and the provider's other values", c)
	}

	// The block's own values win, and the write-only key wins over private_key.
	m.PrivateKey = types.StringValue("BLOCK KEY")
	m.KnownHosts = types.StringValue("block known_hosts")
	m.Agent = types.BoolValue(false)
	m.ConnectTimeout = types.StringValue("1m")
	cfgs, _ = d.sshConfigs(context.Background(), m, types.StringNull(), sshAt)
	if c := cfgs[0]; string(c.PrivateKey) != "BLOCK KEY" || c.KnownHosts != "block known_hosts" || c.Agent || c.Timeout != time.Minute {
		t.Errorf("config with the block's values = %+v", c)
	}
	cfgs, _ = d.sshConfigs(context.Background(), m, types.StringValue("WRITE-ONLY KEY"), sshAt)
	if string(cfgs[0].PrivateKey) != "WRITE-ONLY KEY" {
		t.Errorf("private_key_wo was not used: %q", cfgs[0].PrivateKey)
	}

	// Without any connect_timeout: 30s.
	d.SSH.ConnectTimeout = types.StringNull()
	m.ConnectTimeout = types.StringNull()
	cfgs, _ = d.sshConfigs(context.Background(), m, types.StringNull(), sshAt)
	if cfgs[0].Timeout != 30*time.Second {
		t.Errorf("default timeout = %s, want 30s", cfgs[0].Timeout)
	}
	if n := sshMaxParallel(m); n != 10 {
		t.Errorf("default max_parallel = %d, want 10", n)
	}
}

func TestSSHConfigsSayWhatIsMissing(t *testing.T) {
	d := &providerData{SSH: sshDefaultsFrom(nil)}
	_, diags := d.sshConfigs(context.Background(), testSSHModel("web1"), types.StringNull(), sshAt)
	got := strings.Join(diagSummaries(diags), "\n")
	for _, want := range []string{
		"Missing SSH user @ nginx.ssh.user",
		"Missing SSH known_hosts @ nginx.ssh.known_hosts",
		"Missing SSH credential @ nginx.ssh.private_key",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics do not hold %q:\n%s", want, got)
		}
	}
	for _, dg := range diags {
		if strings.Contains(dg.Summary(), "known_hosts") && !strings.Contains(dg.Detail(), "provider's ssh block") {
			t.Errorf("the known_hosts error does not say where to set it: %s", dg.Detail())
		}
	}

	// known_hosts and user in the provider, agent as the credential: complete.
	d.SSH.KnownHosts = types.StringValue("kh")
	d.SSH.User = types.StringValue("deploy")
	m := testSSHModel("web1")
	m.Agent = types.BoolValue(true)
	if cfgs, diags := d.sshConfigs(context.Background(), m, types.StringNull(), sshAt); diags.HasError() || len(cfgs) != 1 || !cfgs[0].Agent {
		t.Errorf("with the agent: %+v, %v", cfgs, diags)
	}
	m.Agent = types.BoolNull()
	if _, diags := d.sshConfigs(context.Background(), m, types.StringValue("KEY"), sshAt); diags.HasError() {
		t.Errorf("with a write-only key: %v", diags)
	}
	m.ConnectTimeout = types.StringValue("soon")
	if _, diags := d.sshConfigs(context.Background(), m, types.StringValue("KEY"), sshAt); !strings.Contains(strings.Join(diagSummaries(diags), ""), "connect_timeout") {
		t.Errorf("a bad connect_timeout passed: %v", diags)
	}
}

func TestSSHConfigsWaitForUnknownValues(t *testing.T) {
	d := &providerData{SSH: sshDefaultsFrom(nil)}
	d.SSH.KnownHosts = types.StringUnknown() // e.g. from a resource not created yet
	m := testSSHModel("web1")
	m.User = types.StringValue("deploy")
	m.PrivateKey = types.StringValue("KEY")
	cfgs, diags := d.sshConfigs(context.Background(), m, types.StringNull(), sshAt)
	if cfgs != nil || diags.HasError() {
		t.Errorf("with an unknown known_hosts: %+v, %v; want nothing yet", cfgs, diags)
	}
	m.Hosts = types.ListUnknown(types.StringType)
	d.SSH.KnownHosts = types.StringValue("kh")
	if cfgs, diags := d.sshConfigs(context.Background(), m, types.StringNull(), sshAt); cfgs != nil || diags.HasError() {
		t.Errorf("with unknown hosts: %+v, %v", cfgs, diags)
	}
	var unconfigured *providerData
	if cfgs, diags := unconfigured.sshConfigs(context.Background(), testSSHModel("web1"), types.StringNull(), sshAt); cfgs != nil || diags.HasError() {
		t.Errorf("before the provider is configured: %+v, %v", cfgs, diags)
	}
	if cfgs, diags := d.sshConfigs(context.Background(), nil, types.StringNull(), sshAt); cfgs != nil || diags.HasError() {
		t.Errorf("without an ssh block: %+v, %v", cfgs, diags)
	}
}

func TestSSHPlanMustReadOnlyWithoutAKeptCredential(t *testing.T) {
	d := &providerData{SSH: sshDefaultsFrom(nil)}
	m := testSSHModel("web1")
	if !d.sshPlanMustRead(m) {
		t.Error("a block whose only key is write-only must be read at plan time")
	}
	m.PrivateKey = types.StringValue("KEY")
	if d.sshPlanMustRead(m) {
		t.Error("a block with private_key can be refreshed")
	}
	m.PrivateKey = types.StringNull()
	d.SSH.Agent = types.BoolValue(true)
	if d.sshPlanMustRead(m) {
		t.Error("the provider's agent can refresh")
	}
	if d.sshPlanMustRead(nil) {
		t.Error("no ssh block: nothing to read at plan time")
	}
}

func TestSSHHostsValidator(t *testing.T) {
	for _, tt := range []struct {
		hosts []string
		want  string // summary of the error, "" for none
	}{
		{[]string{"web1.example.org", "web2.example.org:2222", "10.0.0.1", "[::1]:2222", "::1"}, ""},
		{[]string{}, "Invalid SSH hosts"},
		{[]string{"web1", "web1"}, "Duplicate SSH host"},
		{[]string{"web1:port"}, "Invalid SSH host"},
		{[]string{"web1:0"}, "Invalid SSH host"},
		{[]string{"deploy@web1"}, "Invalid SSH host"},
		{[]string{"web 1"}, "Invalid SSH host"},
		{[]string{":22"}, "Invalid SSH host"},
		{[]string{""}, "Invalid SSH host"},
	} {
		elems := make([]attr.Value, len(tt.hosts))
		for i, h := range tt.hosts {
			elems[i] = types.StringValue(h)
		}
		req := validator.ListRequest{Path: sshAt.AtName("hosts"), ConfigValue: types.ListValueMust(types.StringType, elems)}
		var resp validator.ListResponse
		sshHostsValidator{}.ValidateList(context.Background(), req, &resp)
		got := ""
		if resp.Diagnostics.HasError() {
			got = resp.Diagnostics.Errors()[0].Summary()
		}
		if got != tt.want {
			t.Errorf("hosts %q: error %q, want %q (%v)", tt.hosts, got, tt.want, resp.Diagnostics)
		}
	}
}

func TestParseSSHImportID(t *testing.T) {
	m, p, remote, err := parseSSHImportID("ssh://deploy@lb1.example.org,lb2.example.org:2222/etc/nginx/conf.d/app.conf")
	if err != nil || !remote || p != "/etc/nginx/conf.d/app.conf" || m.User.ValueString() != "deploy" {
		t.Fatalf("parseSSHImportID = %+v, %q, %v, %v", m, p, remote, err)
	}
	var hosts []string
	m.Hosts.ElementsAs(context.Background(), &hosts, false)
	if strings.Join(hosts, " ") != "lb1.example.org lb2.example.org:2222" {
		t.Errorf("hosts = %q", hosts)
	}
	if _, p, remote, err := parseSSHImportID("/etc/nginx/app.conf"); remote || err != nil || p != "/etc/nginx/app.conf" {
		t.Errorf("a local path: %q, %v, %v", p, remote, err)
	}
	for _, bad := range []string{"ssh://lb1", "ssh:///etc/x", "ssh://lb1:x/etc/x"} {
		if _, _, _, err := parseSSHImportID(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
