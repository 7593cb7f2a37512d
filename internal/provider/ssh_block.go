package provider

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	providerschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

// The ssh block is the one way every type reaches remote hosts: its schema
// (sshBlock), its model (sshModel), the provider's defaults (sshDefaults, the
// provider's ssh block) and the helpers that turn them into connected hosts
// (sshConfigs, openSSH; host.DialAll connects).
//
// Write-only key rule (private_key_wo): the key is never in the plan nor the
// state, so an operation without configuration (Read, Delete, ImportState)
// cannot use it. Such an operation logs in with the first credential it has:
// the state's private_key, else the provider's ssh defaults (private_key or
// agent), else the block's agent. When it has none, Read keeps the prior state
// and warns (sshReadCredentialWarning) that refresh could not reach the hosts
// because the key is write-only; ModifyPlan, which has the configuration,
// reads the hosts instead (sshPlanMustRead), so a change made on the hosts still
// shows in the plan. Delete without a credential is an error that says how to
// give one.

// Defaults of the ssh block.
const (
	defaultSSHMaxParallel    = 10
	defaultSSHConnectTimeout = "30s"
)

// sshModel is a resource's ssh block.
type sshModel struct {
	Hosts types.List   `tfsdk:"hosts"`
	User  types.String `tfsdk:"user"`
	// PrivateKey and Passphrase are sensitive: stored in the state, never logged.
	PrivateKey types.String `tfsdk:"private_key"`
	// PrivateKeyWO is write-only: always null in plan and state; read it from the
	// configuration with sshWriteOnlyKey.
	PrivateKeyWO   types.String `tfsdk:"private_key_wo"`
	Passphrase     types.String `tfsdk:"passphrase"`
	Agent          types.Bool   `tfsdk:"agent"`
	KnownHosts     types.String `tfsdk:"known_hosts"`
	MaxParallel    types.Int64  `tfsdk:"max_parallel"`
	ConnectTimeout types.String `tfsdk:"connect_timeout"`
}

// sshDefaults is the provider's ssh block: defaults for every resource's ssh
// block, attribute by attribute. Values may be unknown while planning.
type sshDefaults struct {
	User           types.String `tfsdk:"user"`
	PrivateKey     types.String `tfsdk:"private_key"`
	Passphrase     types.String `tfsdk:"passphrase"`
	Agent          types.Bool   `tfsdk:"agent"`
	KnownHosts     types.String `tfsdk:"known_hosts"`
	ConnectTimeout types.String `tfsdk:"connect_timeout"`
}

const (
	sshUserDoc       = "Account to log in as on every host."
	sshKeyDoc        = "Private key (PEM or OpenSSH format) to log in with, e.g. `var.deploy_key`. Sensitive: never logged nor shown in plans."
	sshPassphraseDoc = "Passphrase of an encrypted `private_key`. Sensitive."
	sshAgentDoc      = "Also log in with the keys of the ssh-agent at `SSH_AUTH_SOCK`. Default `false`."
	sshKnownHostsDoc = "OpenSSH `known_hosts` lines (plain, hashed `|1|…` and `[host]:port` entries), e.g. `file(\"${path.module}/known_hosts\")`. " +
		"Every host's key must be there: an unknown or changed key is refused with the host and its SHA256 fingerprint. There is no trust on first use."
	sshTimeoutDoc = "How long connecting and logging in to a host may take, and how long a host may leave a keep-alive unanswered " +
		"before its connection counts as lost (a duration such as `30s`). Default `" + defaultSSHConnectTimeout + "`. Commands are not bounded by it."
)

// sshBlock is the ssh block of a resource; what says what it reaches, e.g.
// "the load balancers whose nginx include file the router switches".
func sshBlock(what string) schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Work on remote hosts over SSH instead of the machine Terraform runs on: " + what + ". " +
			"Host keys are always verified against `known_hosts`. Every attribute but `hosts` and `max_parallel` falls back to the provider's `ssh` block, attribute by attribute. " +
			"A log-in needs `user`, `known_hosts` and a credential (`private_key`, `private_key_wo` or `agent`), here or in the provider.",
		Validators: []validator.Object{sshHostsRequired{}},
		Attributes: map[string]schema.Attribute{
			"hosts": schema.ListAttribute{
				MarkdownDescription: "Hosts to work on, `host` or `host:port` (port 22 by default; `[::1]:2222` for an IPv6 address with a port). Required in the block; no duplicates.",
				ElementType:         types.StringType,
				Optional:            true,
				Validators:          []validator.List{sshHostsValidator{}},
			},
			"user":        schema.StringAttribute{MarkdownDescription: sshUserDoc, Optional: true},
			"private_key": schema.StringAttribute{MarkdownDescription: sshKeyDoc + " Stored in the state; use `private_key_wo` to keep it out.", Optional: true, Sensitive: true},
			"private_key_wo": schema.StringAttribute{
				MarkdownDescription: "Write-only `private_key` (e.g. from an ephemeral resource): used to log in, never saved in the plan or the state. Needs Terraform 1.11 or later. " +
					"Refresh has no configuration and so cannot use it: it logs in with `private_key`, the provider's `ssh` credentials or `agent` when there are any; " +
					"otherwise refresh keeps the recorded state with a warning, and the plan reads the hosts with this key instead.",
				Optional: true, Sensitive: true, WriteOnly: true,
			},
			"passphrase":  schema.StringAttribute{MarkdownDescription: sshPassphraseDoc, Optional: true, Sensitive: true},
			"agent":       schema.BoolAttribute{MarkdownDescription: sshAgentDoc, Optional: true},
			"known_hosts": schema.StringAttribute{MarkdownDescription: sshKnownHostsDoc + " Required here or in the provider's `ssh` block.", Optional: true},
			"max_parallel": schema.Int64Attribute{
				MarkdownDescription: "How many hosts are connected to (and worked on, where the resource works on hosts at once) at the same time. Default `" + strconv.Itoa(defaultSSHMaxParallel) + "`.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"connect_timeout": schema.StringAttribute{MarkdownDescription: sshTimeoutDoc, Optional: true, Validators: []validator.String{validate.Duration()}},
		},
	}
}

// providerSSHBlock is the provider's ssh block: defaults of every resource's.
func providerSSHBlock() providerschema.SingleNestedBlock {
	return providerschema.SingleNestedBlock{
		MarkdownDescription: "Defaults for every `ssh` block of the resources (the deployment's `directory`, the blue/green router, the maintenance mode): " +
			"a resource's own value wins, attribute by attribute. All optional.",
		Attributes: map[string]providerschema.Attribute{
			"user":            providerschema.StringAttribute{MarkdownDescription: sshUserDoc, Optional: true},
			"private_key":     providerschema.StringAttribute{MarkdownDescription: sshKeyDoc + " Provider settings are never stored in the state.", Optional: true, Sensitive: true},
			"passphrase":      providerschema.StringAttribute{MarkdownDescription: sshPassphraseDoc, Optional: true, Sensitive: true},
			"agent":           providerschema.BoolAttribute{MarkdownDescription: sshAgentDoc, Optional: true},
			"known_hosts":     providerschema.StringAttribute{MarkdownDescription: sshKnownHostsDoc, Optional: true},
			"connect_timeout": providerschema.StringAttribute{MarkdownDescription: sshTimeoutDoc, Optional: true, Validators: []validator.String{validate.Duration()}},
		},
	}
}

// sshHostsRequired requires hosts in a present ssh block.
type sshHostsRequired struct{}

func (sshHostsRequired) Description(context.Context) string {
	return "hosts is required in the ssh block"
}
func (v sshHostsRequired) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (sshHostsRequired) ValidateObject(_ context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if h, ok := req.ConfigValue.Attributes()["hosts"]; !ok || h.IsNull() {
		resp.Diagnostics.AddAttributeError(req.Path.AtName("hosts"), "Missing SSH hosts",
			`The ssh block needs hosts, the hosts to work on: hosts = ["web1.example.org", "web2.example.org:2222"].`)
	}
}

// sshHostsValidator checks hosts once known: not empty, no duplicates, each a
// valid host or host:port.
type sshHostsValidator struct{}

func (sshHostsValidator) Description(context.Context) string {
	return "a non-empty list of distinct host or host:port"
}
func (v sshHostsValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (sshHostsValidator) ValidateList(_ context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	elems := req.ConfigValue.Elements()
	if len(elems) == 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid SSH hosts", "hosts is empty: list at least one host or host:port.")
		return
	}
	seen := map[string]int{}
	for i, e := range elems {
		s, ok := e.(types.String)
		if !ok || s.IsUnknown() {
			continue
		}
		if s.IsNull() {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Invalid SSH host", "A host is null.")
			continue
		}
		if err := checkSSHHost(s.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Invalid SSH host", err.Error())
			continue
		}
		if j, dup := seen[s.ValueString()]; dup {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Duplicate SSH host",
				fmt.Sprintf("%q is listed twice (elements %d and %d): each host is worked on once.", s.ValueString(), j, i))
			continue
		}
		seen[s.ValueString()] = i
	}
}

// checkSSHHost accepts "host", "host:port", "[v6]:port" and a bare IPv6 address.
func checkSSHHost(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n/@,") {
		return fmt.Errorf("%q is not a host or host:port: no spaces, slashes, commas or user@ (set user instead)", s)
	}
	h := s
	if hp, port, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
		}
		h = hp
	} else if strings.Count(s, ":") == 1 {
		return fmt.Errorf("%q is not a host or host:port: %v", s, err)
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if h == "" {
		return fmt.Errorf("%q has no host name", s)
	}
	if strings.Contains(h, ":") && net.ParseIP(h) == nil {
		return fmt.Errorf("%q is neither a host name nor an IP address", s)
	}
	return nil
}

// sshOwner is a resource model whose ssh block, if any, sits in one of its
// blocks (directory or nginx): ssh returns that block and its path, nil and
// an empty path without one, or on a nil model (a prior state that is not
// there).
type sshOwner interface {
	ssh() (*sshModel, path.Path)
}

// writeOnlySSHKey reads private_key_wo of m's ssh block from the configuration
// (null without an ssh block).
func writeOnlySSHKey(ctx context.Context, m sshOwner, cfg tfsdk.Config, diags *diag.Diagnostics) types.String {
	sm, at := m.ssh()
	if sm == nil {
		return types.StringNull()
	}
	key, d := sshWriteOnlyKey(ctx, cfg, at)
	diags.Append(d...)
	return key
}

// sshWriteOnlyKey reads private_key_wo of the ssh block at block from the
// configuration (null when the block or the key is absent).
func sshWriteOnlyKey(ctx context.Context, cfg tfsdk.Config, block path.Path) (types.String, diag.Diagnostics) {
	var m *sshModel
	diags := cfg.GetAttribute(ctx, block, &m)
	if m == nil || diags.HasError() {
		return types.StringNull(), diags
	}
	return m.PrivateKeyWO, diags
}

// sshDefaultsFrom reads the provider's ssh block (nil: no defaults).
func sshDefaultsFrom(m *sshDefaults) sshDefaults {
	if m == nil {
		return sshDefaults{
			User: types.StringNull(), PrivateKey: types.StringNull(), Passphrase: types.StringNull(),
			Agent: types.BoolNull(), KnownHosts: types.StringNull(), ConnectTimeout: types.StringNull(),
		}
	}
	return *m
}

// sshSettings is a resource's ssh block merged with the provider's defaults.
type sshSettings struct {
	hosts                                      []string
	user, key, passphrase, knownHosts, timeout types.String
	agent                                      types.Bool
	unknownHosts                               bool
}

// pick is the block's value, else the provider's.
func pick(own, def types.String) types.String {
	if own.IsNull() {
		return def
	}
	return own
}

// merge combines m (and the write-only key keyWO) with d's defaults.
func (d *providerData) merge(m *sshModel, keyWO types.String) sshSettings {
	def := sshDefaultsFrom(nil)
	if d != nil {
		def = d.SSH
	}
	s := sshSettings{
		user: pick(m.User, def.User), passphrase: pick(m.Passphrase, def.Passphrase),
		knownHosts: pick(m.KnownHosts, def.KnownHosts), timeout: pick(m.ConnectTimeout, def.ConnectTimeout),
		key: pick(keyWO, pick(m.PrivateKey, def.PrivateKey)), agent: m.Agent,
	}
	if s.agent.IsNull() {
		s.agent = def.Agent
	}
	if m.Hosts.IsUnknown() {
		s.unknownHosts = true
	} else if !m.Hosts.IsNull() {
		for _, e := range m.Hosts.Elements() {
			v, _ := e.(types.String)
			if v.IsUnknown() {
				s.unknownHosts = true
				continue
			}
			s.hosts = append(s.hosts, v.ValueString())
		}
	}
	return s
}

// sshConfigs turns the ssh block m (at path at; keyWO its write-only key from
// the configuration, or null) into one host.SSHConfig per host, merged with the
// provider's defaults. It reports an error naming the attribute for a missing
// user, credential or known_hosts. While planning, when a value it needs is
// unknown, it returns no configs and no error: callers then skip what needs the
// hosts. m nil (no ssh block) is no configs: the local machine.
func (d *providerData) sshConfigs(ctx context.Context, m *sshModel, keyWO types.String, at path.Path) ([]host.SSHConfig, diag.Diagnostics) {
	var diags diag.Diagnostics
	if m == nil {
		return nil, diags
	}
	s := d.merge(m, keyWO)
	unknown := d == nil || s.unknownHosts || s.user.IsUnknown() || s.key.IsUnknown() || s.passphrase.IsUnknown() ||
		s.agent.IsUnknown() || s.knownHosts.IsUnknown() || s.timeout.IsUnknown()
	if !unknown && m.Hosts.IsNull() {
		diags.AddAttributeError(at.AtName("hosts"), "Missing SSH hosts", `The ssh block needs hosts: hosts = ["web1.example.org"].`)
	}
	if d == nil {
		return nil, diags // not configured yet: the provider's defaults are unknown
	}
	if !s.user.IsUnknown() && s.user.ValueString() == "" {
		diags.AddAttributeError(at.AtName("user"), "Missing SSH user",
			"Set the account to log in as: user in this ssh block or in the provider's ssh block.")
	}
	if !s.knownHosts.IsUnknown() && strings.TrimSpace(s.knownHosts.ValueString()) == "" {
		diags.AddAttributeError(at.AtName("known_hosts"), "Missing SSH known_hosts",
			"Host keys are always verified: set known_hosts (OpenSSH known_hosts lines, e.g. file(\"${path.module}/known_hosts\"), "+
				"as `ssh-keyscan -H web1.example.org` prints them once checked) in this ssh block or in the provider's ssh block.")
	}
	if !s.key.IsUnknown() && !s.agent.IsUnknown() && s.key.ValueString() == "" && !s.agent.ValueBool() {
		diags.AddAttributeError(at.AtName("private_key"), "Missing SSH credential",
			"Set private_key, private_key_wo or agent = true in this ssh block, or private_key or agent in the provider's ssh block.")
	}
	timeout := validate.ParseDuration(defaultSSHConnectTimeout)
	if v := s.timeout.ValueString(); !s.timeout.IsUnknown() && v != "" {
		t, err := time.ParseDuration(v)
		if err != nil || t <= 0 {
			diags.AddAttributeError(at.AtName("connect_timeout"), "Invalid SSH connect_timeout",
				fmt.Sprintf("%q is not a positive duration such as 30s.", v))
		}
		timeout = t
	}
	if unknown || diags.HasError() {
		return nil, diags
	}
	cfgs := make([]host.SSHConfig, 0, len(s.hosts))
	for _, h := range s.hosts {
		cfgs = append(cfgs, host.SSHConfig{
			Address: h, User: s.user.ValueString(), PrivateKey: []byte(s.key.ValueString()),
			Passphrase: []byte(s.passphrase.ValueString()), Agent: s.agent.ValueBool(),
			KnownHosts: s.knownHosts.ValueString(), Timeout: timeout,
		})
	}
	return cfgs, diags
}

// sshMaxParallel is the block's max_parallel, or its default.
func sshMaxParallel(m *sshModel) int {
	if m == nil || m.MaxParallel.IsNull() || m.MaxParallel.IsUnknown() || m.MaxParallel.ValueInt64() < 1 {
		return defaultSSHMaxParallel
	}
	return int(m.MaxParallel.ValueInt64())
}

// sshPlanMustRead applies the write-only key rule: it reports whether an
// operation without configuration (Read) has no credential for the ssh block m,
// so that Read kept the state and ModifyPlan must read the hosts itself.
func (d *providerData) sshPlanMustRead(m *sshModel) bool {
	if m == nil {
		return false
	}
	s := d.merge(m, types.StringNull())
	return s.key.ValueString() == "" && !s.agent.ValueBool()
}

// checkPlannedSSH checks m's ssh block against the provider's defaults (a
// missing user, credential or known_hosts is an error at plan time) and returns
// the block's write-only key from the configuration. ok is false without an ssh
// block or when the check failed (diags say why). mustRead applies the
// write-only key rule to prior, the state (nil for a new resource): refresh
// could not read its hosts, so the plan must read them with keyWO.
func (d *providerData) checkPlannedSSH(ctx context.Context, cfg tfsdk.Config, m, prior sshOwner, diags *diag.Diagnostics) (keyWO types.String, mustRead, ok bool) {
	sm, at := m.ssh()
	if sm == nil {
		return types.StringNull(), false, false
	}
	keyWO = writeOnlySSHKey(ctx, m, cfg, diags)
	_, ds := d.sshConfigs(ctx, sm, keyWO, at)
	diags.Append(ds...)
	if ds.HasError() {
		return keyWO, false, false
	}
	if prior != nil {
		priorSSH, _ := prior.ssh()
		mustRead = d.sshPlanMustRead(priorSSH)
	}
	return keyWO, mustRead, true
}

// sshReadCredentialWarning is the warning of a Read that kept the state
// because the ssh block's key is write-only (see sshPlanMustRead).
func sshReadCredentialWarning(diags *diag.Diagnostics, at path.Path, what string) {
	diags.AddAttributeWarning(at.AtName("private_key_wo"), "Refresh could not reach the SSH hosts",
		"The SSH key is write-only (private_key_wo), and a refresh has no configuration to read it from, so "+what+
			" was not read on the hosts and the recorded state was kept. The plan reads the hosts with the key instead. "+
			"To refresh too, also give a credential that is kept: private_key, agent, or the provider's ssh block.")
}

// openSSH connects to the hosts of the ssh block m (at path at; keyWO its
// write-only key, null without configuration): sshConfigs, then host.DialAll. m
// nil is no hosts and ok: the local machine. ok is false when diags got an
// error, or when a value is still unknown (planning; diags stays clean).
// done closes the hosts; it is never nil.
func (d *providerData) openSSH(ctx context.Context, m *sshModel, keyWO types.String, at path.Path, diags *diag.Diagnostics) (hosts []host.Host, done func(), ok bool) {
	done = func() {}
	if m == nil {
		return nil, done, true
	}
	cfgs, ds := d.sshConfigs(ctx, m, keyWO, at)
	diags.Append(ds...)
	if ds.HasError() || len(cfgs) == 0 {
		return nil, done, false
	}
	hosts, done, err := host.DialAll(ctx, cfgs, sshMaxParallel(m))
	if err != nil {
		diags.AddAttributeError(at.AtName("hosts"), "Unable to reach the SSH hosts", err.Error()+
			".\nNothing was changed on any host. Check that every host is up and reachable and that known_hosts holds its key, then try again.")
		return nil, done, false
	}
	tflog.Debug(ctx, "connected to the SSH hosts", map[string]any{"hosts": host.Names(hosts)})
	return hosts, done, true
}

// sshHostList is hosts as a list value for the ssh block of an imported state.
func sshHostList(hosts []string) types.List {
	elems := make([]attr.Value, len(hosts))
	for i, h := range hosts {
		elems[i] = types.StringValue(h)
	}
	return types.ListValueMust(types.StringType, elems)
}

// parseSSHImportID splits an import ID of a path on remote hosts,
// "ssh://[user@]host1[:port],host2[:port]/absolute/path", into its ssh block
// (hosts and user; the credentials and known_hosts come from the provider's ssh
// block) and the path. ok is false for an ID without the ssh:// prefix.
func parseSSHImportID(id string) (m *sshModel, p string, ok bool, err error) {
	rest, ok := strings.CutPrefix(id, "ssh://")
	if !ok {
		return nil, id, false, nil
	}
	i := strings.Index(rest, "/")
	if i <= 0 {
		return nil, "", true, fmt.Errorf("import ID %q has no hosts or no absolute path: use ssh://[user@]host1,host2:2222/absolute/path", id)
	}
	hostPart, p := rest[:i], rest[i:]
	m = &sshModel{
		User: types.StringNull(), PrivateKey: types.StringNull(), PrivateKeyWO: types.StringNull(), Passphrase: types.StringNull(),
		Agent: types.BoolNull(), KnownHosts: types.StringNull(), MaxParallel: types.Int64Null(), ConnectTimeout: types.StringNull(),
	}
	if u, hs, found := strings.Cut(hostPart, "@"); found {
		m.User, hostPart = types.StringValue(u), hs
	}
	hosts := strings.Split(hostPart, ",")
	for _, h := range hosts {
		if err := checkSSHHost(h); err != nil {
			return nil, "", true, fmt.Errorf("import ID %q: %w", id, err)
		}
	}
	m.Hosts = sshHostList(hosts)
	return m, p, true, nil
}
