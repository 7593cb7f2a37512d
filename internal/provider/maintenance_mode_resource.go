package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/maintenance"
	"github.com/releaseplan/terraform-provider-release/internal/nginxconf"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var (
	_ resource.ResourceWithConfigure        = (*maintenanceModeResource)(nil)
	_ resource.ResourceWithImportState      = (*maintenanceModeResource)(nil)
	_ resource.ResourceWithConfigValidators = (*maintenanceModeResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*maintenanceModeResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*maintenanceModeResource)(nil)
)

// NewMaintenanceModeResource returns the release_maintenance_mode resource.
func NewMaintenanceModeResource() resource.Resource {
	return &maintenanceModeResource{resourceBase{typeName: "_maintenance_mode"}}
}

type maintenanceModeResource struct {
	resourceBase
}

type maintenanceModeResourceModel struct {
	ID          types.String          `tfsdk:"id"`
	Environment types.String          `tfsdk:"environment"`
	Enabled     types.Bool            `tfsdk:"enabled"`
	Banner      types.Bool            `tfsdk:"banner"`
	Message     types.String          `tfsdk:"message"`
	Reason      types.String          `tfsdk:"reason"`
	Until       types.String          `tfsdk:"until"`
	AllowedIPs  types.List            `tfsdk:"allowed_ips"`
	Directory   *maintenanceDirectory `tfsdk:"directory"`
	Nginx       *maintenanceNginx     `tfsdk:"nginx"`
	Scalingo    *maintenanceScalingo  `tfsdk:"scalingo"`
	Timeouts    timeouts.Value        `tfsdk:"timeouts"`
}

type maintenanceDirectory struct {
	Path types.String `tfsdk:"path"`
	SSH  *sshModel    `tfsdk:"ssh"`
}

type maintenanceNginx struct {
	ConfigFile    types.String `tfsdk:"config_file"`
	ReloadCommand types.String `tfsdk:"reload_command"`
	TestCommand   types.String `tfsdk:"test_command"`
	SSH           *sshModel    `tfsdk:"ssh"`
}

type maintenanceScalingo struct {
	App           types.String              `tfsdk:"app"`
	Restart       types.Bool                `tfsdk:"restart"`
	VariableNames *maintenanceVariableNames `tfsdk:"variable_names"`
}

type maintenanceVariableNames struct {
	Enable        types.String `tfsdk:"enable"`
	BannerEnable  types.String `tfsdk:"banner_enable"`
	BannerMessage types.String `tfsdk:"banner_message"`
}

const defaultMaintenanceTimeout = 10 * time.Minute

// sshMaintenanceDoc ends the description of the maintenance ssh blocks.
const sshMaintenanceDoc = "one host after the other; when one fails, the hosts already changed are put back and the error lists " +
	"the maintenance of each host. Refresh reads every host: hosts that disagree show as a change in the next plan"

// restartPendingKey marks, in private state, a Scalingo change whose restart failed.
const restartPendingKey = "restart_pending"

func restartPending(pending bool) []byte {
	if pending {
		return []byte(`true`)
	}
	return nil
}

func (r *maintenanceModeResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = maintenanceModeSchema(ctx)
}

func maintenanceModeSchema(ctx context.Context) schema.Schema {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	return schema.Schema{
		MarkdownDescription: "Turns an application's maintenance mode on or off where it is served: files in a " +
			"`directory` the application reads, an `nginx` snippet answering 503 to everyone but `allowed_ips`, or the " +
			"`MAINTENANCE_*` variables of a `scalingo` app (restarted so the change reaches the containers). " +
			"Refresh reads the real state, so a change made by hand shows in the next plan. Destroying the resource " +
			"turns maintenance off. Exactly one of `directory`, `nginx` or `scalingo` is required.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`directory:<path>`, `nginx:<config_file>` or `scalingo:<app>`; also the import ID.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"environment": schema.StringAttribute{
				MarkdownDescription: "Environment whose release history records every change of the mode as a `maintenance` event " +
					"(`release_history` data source, and the webhooks that subscribed to it). Without it, the events belong to no environment.",
				Optional:   true,
				Validators: []validator.String{validate.EnvironmentName()},
			},
			"enabled": schema.BoolAttribute{
				MarkdownDescription: "Whether maintenance is on. Default `true`: apply with `false` (or destroy) to end it.",
				Optional:            true, Computed: true, Default: booldefault.StaticBool(true),
			},
			"banner": schema.BoolAttribute{
				MarkdownDescription: "Show a banner only: the site stays up (`MAINTENANCE_BANNER_ENABLE` on Scalingo, `\"banner\": true` in `maintenance.json`; nginx lets every request through). Default `false`.",
				Optional:            true, Computed: true, Default: booldefault.StaticBool(false),
			},
			"message": schema.StringAttribute{
				MarkdownDescription: "Message shown to visitors (HTML-escaped on the generated pages; `MAINTENANCE_BANNER_MESSAGE` on Scalingo).",
				Optional:            true, Computed: true, Default: stringdefault.StaticString(""),
			},
			"reason": schema.StringAttribute{
				MarkdownDescription: "Why maintenance is on, for operators; written in `maintenance.json` and on the page (not stored on Scalingo).",
				Optional:            true,
			},
			"until": schema.StringAttribute{
				MarkdownDescription: "Expected end, RFC 3339 (`2025-03-01T23:00:00+01:00`): shown on the page and sent as nginx's `Retry-After`.",
				Optional:            true,
				Validators:          []validator.String{validate.RFC3339()},
			},
			"allowed_ips": schema.ListAttribute{
				MarkdownDescription: "Addresses or CIDR ranges that still reach the site while maintenance is on (nginx; written in `maintenance.json` for the application to honour). The nginx backend accepts IPv4 ranges and single IPv6 addresses.",
				ElementType:         types.StringType,
				Optional:            true,
				Validators:          []validator.List{listvalidator.ValueStringsAre(validate.IPOrCIDR())},
			},
		},
		Blocks: map[string]schema.Block{
			"directory": schema.SingleNestedBlock{
				MarkdownDescription: "Write `<path>/maintenance.json` and `<path>/maintenance.html` (atomically) while maintenance is on; remove them when it is off.",
				Attributes: map[string]schema.Attribute{
					"path": schema.StringAttribute{
						MarkdownDescription: "Absolute path of an existing folder the application or its web server reads.",
						Optional:            true, PlanModifiers: replace,
						Validators: []validator.String{validate.AbsolutePath()},
					},
				},
				Blocks: map[string]schema.Block{"ssh": sshBlock("the web servers whose folder gets the maintenance files, " + sshMaintenanceDoc)},
			},
			"nginx": schema.SingleNestedBlock{
				MarkdownDescription: "Own an nginx snippet, included in the site's `server {}` block, that answers 503 with `Retry-After` and the page `<config_file>.html` to everyone but `allowed_ips`. Each change is validated with `test_command` and applied with `reload_command`; on failure the previous snippet is put back.",
				Attributes: map[string]schema.Attribute{
					"config_file": schema.StringAttribute{
						MarkdownDescription: "Absolute path of the snippet owned by the resource (`include` it inside `server {}`).",
						Optional:            true, PlanModifiers: replace,
						Validators: []validator.String{validate.AbsolutePath()},
					},
					"reload_command": schema.StringAttribute{
						MarkdownDescription: "Shell command that reloads nginx. Default `" + nginxconf.DefaultReloadCommand + "`.",
						Optional:            true, Computed: true, Default: stringdefault.StaticString(nginxconf.DefaultReloadCommand),
					},
					"test_command": schema.StringAttribute{
						MarkdownDescription: "Shell command that validates the configuration before the reload. Default `" + nginxconf.DefaultTestCommand + "`, also when empty; `" + nginxconf.SkipTest + "` skips the test.",
						Optional:            true, Computed: true, Default: stringdefault.StaticString(nginxconf.DefaultTestCommand),
					},
				},
				Blocks: map[string]schema.Block{"ssh": sshBlock("the nginx hosts that get the snippet (each tested and reloaded), " + sshMaintenanceDoc)},
			},
			"scalingo": schema.SingleNestedBlock{
				MarkdownDescription: "Set the app's `MAINTENANCE_ENABLE`, `MAINTENANCE_BANNER_ENABLE` (`1`/`0`) and `MAINTENANCE_BANNER_MESSAGE` variables, then restart it and wait for the restart. Needs the provider's `scalingo` block.",
				Attributes: map[string]schema.Attribute{
					"app": schema.StringAttribute{
						MarkdownDescription: "Scalingo app name.",
						Optional:            true, PlanModifiers: replace,
					},
					"restart": schema.BoolAttribute{
						MarkdownDescription: "Restart the app after changing the variables (a variable change alone does not reach running containers). Default `true`.",
						Optional:            true, Computed: true, Default: booldefault.StaticBool(true),
					},
					"variable_names": schema.SingleNestedAttribute{
						MarkdownDescription: "Other variable names, for applications that read different ones.",
						Optional:            true,
						Attributes: map[string]schema.Attribute{
							"enable":         schema.StringAttribute{Optional: true, MarkdownDescription: "Default `" + maintenance.DefaultEnableVariable + "`."},
							"banner_enable":  schema.StringAttribute{Optional: true, MarkdownDescription: "Default `" + maintenance.DefaultBannerEnableVariable + "`."},
							"banner_message": schema.StringAttribute{Optional: true, MarkdownDescription: "Default `" + maintenance.DefaultBannerMessageVariable + "`."},
						},
					},
				},
			},
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *maintenanceModeResource) ConfigValidators(_ context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		validate.ExactlyOneBlock("directory", "nginx", "scalingo"),
		validate.RequiredInBlock("directory", "path", ""),
		validate.RequiredInBlock("nginx", "config_file", ""),
		validate.RequiredInBlock("scalingo", "app", ""),
	}
}

// ValidateConfig refuses, at plan time, allowed_ips that the nginx snippet
// cannot express (IPv6 ranges).
func (r *maintenanceModeResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var nginx *maintenanceNginx
	var list types.List
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("nginx"), &nginx)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("allowed_ips"), &list)...)
	var allowed []string
	if resp.Diagnostics.HasError() || nginx == nil || list.IsNull() || list.IsUnknown() || list.ElementsAs(ctx, &allowed, false).HasError() {
		return
	}
	if err := maintenance.NginxAllowed(allowed); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("allowed_ips"), "Address not supported by the nginx maintenance page",
			err.Error()+". List the IPv6 addresses one by one, or use a directory maintenance page that the application honours.")
	}
}

// ssh is the model's ssh block (nil without one) and its path.
func (m *maintenanceModeResourceModel) ssh() (*sshModel, path.Path) {
	switch {
	case m == nil:
	case m.Directory != nil:
		return m.Directory.SSH, path.Root("directory").AtName("ssh")
	case m.Nginx != nil:
		return m.Nginx.SSH, path.Root("nginx").AtName("ssh")
	}
	return nil, path.Empty()
}

// open connects to the hosts of the ssh block (keyWO: its write-only key from
// the configuration, null without one) and builds the backend on them; done
// closes the connections. ok is false when diags got an error.
func (r *maintenanceModeResource) open(ctx context.Context, m *maintenanceModeResourceModel, keyWO types.String, diags *diag.Diagnostics) (b maintenance.Switch, id string, done func(), ok bool) {
	sm, at := m.ssh()
	hosts, done, ok := r.data.openSSH(ctx, sm, keyWO, at, diags)
	if !ok {
		return nil, "", done, false
	}
	b, id, err := r.backend(ctx, m, hosts)
	if err != nil {
		diags.AddError("Unable to reach the maintenance mode", err.Error()+". Nothing was changed. Configure the provider's scalingo block (or SCALINGO_API_TOKEN), then try again.")
		return nil, "", done, false
	}
	return b, id, done, true
}

// backend builds the maintenance backend the model's block describes, on hosts
// (none: this machine; several: a maintenance.Fleet).
func (r *maintenanceModeResource) backend(ctx context.Context, m *maintenanceModeResourceModel, hosts []host.Host) (maintenance.Switch, string, error) {
	on := func(place func(h host.Host) maintenance.Switch) maintenance.Switch {
		if len(hosts) == 0 {
			return place(nil)
		}
		return &maintenance.Fleet{Hosts: hosts, On: place}
	}
	switch {
	case m.Directory != nil:
		p := m.Directory.Path.ValueString()
		return on(func(h host.Host) maintenance.Switch { return &maintenance.Directory{Path: p, Host: h} }), "directory:" + p, nil
	case m.Nginx != nil:
		p, reload, test := m.Nginx.ConfigFile.ValueString(), m.Nginx.ReloadCommand.ValueString(), m.Nginx.TestCommand.ValueString()
		return on(func(h host.Host) maintenance.Switch {
			return &maintenance.Nginx{ConfigFile: p, ReloadCommand: reload, TestCommand: test, Host: h}
		}), "nginx:" + p, nil
	case m.Scalingo != nil:
		c, err := r.data.scalingoClient(ctx)
		if err != nil {
			return nil, "", err
		}
		b := &maintenance.Scalingo{Client: c, App: m.Scalingo.App.ValueString(), Restart: m.Scalingo.Restart.IsNull() || m.Scalingo.Restart.ValueBool(),
			PollInterval: scalingoPollInterval}
		if n := m.Scalingo.VariableNames; n != nil {
			b.Names = maintenance.VariableNames{Enable: n.Enable.ValueString(), BannerEnable: n.BannerEnable.ValueString(), BannerMessage: n.BannerMessage.ValueString()}
		}
		return b, "scalingo:" + b.App, nil
	}
	return nil, "", fmt.Errorf("one of directory, nginx or scalingo is required")
}

func (m *maintenanceModeResourceModel) state(ctx context.Context, diags *diag.Diagnostics) maintenance.State {
	s := maintenance.State{Enabled: m.Enabled.ValueBool(), Banner: m.Banner.ValueBool(), Message: m.Message.ValueString(), Reason: m.Reason.ValueString()}
	if v := m.Until.ValueString(); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			diags.AddAttributeError(path.Root("until"), "Invalid until", err.Error())
		}
		s.Until = t
	}
	if !m.AllowedIPs.IsNull() && !m.AllowedIPs.IsUnknown() {
		diags.Append(m.AllowedIPs.ElementsAs(ctx, &s.AllowedIPs, false)...)
	}
	return s
}

// observe copies the real state into m. What a disabled backend cannot show (the
// message of a maintenance that is off, reason, until, allowed_ips on Scalingo)
// keeps the value m had, so only real differences show as drift.
func (m *maintenanceModeResourceModel) observe(b maintenance.Switch, s maintenance.State) {
	m.Enabled = types.BoolValue(s.Enabled)
	if !s.Enabled {
		if m.Banner.IsNull() {
			m.Banner = types.BoolValue(false)
		}
		if m.Message.IsNull() {
			m.Message = types.StringValue("")
		}
		return
	}
	m.Banner = types.BoolValue(s.Banner)
	m.Message = types.StringValue(s.Message)
	if !b.Capabilities().Details {
		return
	}
	if s.Reason != "" || !m.Reason.Equal(types.StringValue("")) {
		m.Reason = optionalString(s.Reason, "") // reason = "" stays "": both say none
	}
	if s.Until.IsZero() {
		m.Until = types.StringNull()
	} else if prev, err := time.Parse(time.RFC3339, m.Until.ValueString()); err != nil || !prev.Equal(s.Until) {
		m.Until = types.StringValue(s.Until.Format(time.RFC3339))
	}
	switch {
	case len(s.AllowedIPs) == 0 && !m.AllowedIPs.IsUnknown() && len(m.AllowedIPs.Elements()) == 0:
		// None allowed: keep how the configuration says so (null or []).
	case len(s.AllowedIPs) == 0:
		m.AllowedIPs = types.ListNull(types.StringType)
	default:
		m.AllowedIPs, _ = types.ListValueFrom(context.Background(), types.StringType, s.AllowedIPs)
	}
}

// observeDisagreement records a fleet whose hosts show different maintenance
// as a state no configuration asks for (maintenance on, with a message naming
// what each host shows), so the next plan shows a change and its apply sets
// every host alike.
func (m *maintenanceModeResourceModel) observeDisagreement(d *maintenance.DisagreementError) {
	m.Enabled = types.BoolValue(true)
	m.Banner = types.BoolValue(false)
	m.Message = types.StringValue("(hosts disagree: " + d.Summary() + ")")
}

func describeMaintenance(s maintenance.State) string {
	switch {
	case !s.Enabled:
		return "off"
	case s.Banner:
		return "banner"
	}
	return "on"
}

func (r *maintenanceModeResource) apply(ctx context.Context, m, prior *maintenanceModeResourceModel, keyWO types.String, timeout time.Duration, diags *diag.Diagnostics, verb string) bool {
	want := m.state(ctx, diags)
	if diags.HasError() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, id, closeHosts, ok := r.open(ctx, m, keyWO, diags)
	defer closeHosts()
	if !ok {
		return false
	}
	if prior != nil {
		if stale := r.staleMaintenance(ctx, b, prior, want); stale != "" {
			diags.AddError("Unable to "+verb+" maintenance mode on "+b.Describe(), stale)
			t := m.Timeouts
			*m = *prior
			m.Timeouts = t
			return false
		}
	}
	tflog.Info(ctx, "setting maintenance mode", map[string]any{"backend": b.Describe(), "mode": describeMaintenance(want)})
	ctx, done := historyOperation(ctx, diags)
	defer done()
	if err := b.Apply(ctx, want); err != nil {
		now, rerr := b.Read(context.WithoutCancel(ctx))
		where := "could not be read back (" + orPlaceholder(errMessage(rerr), "no error") + ")"
		var disagree *maintenance.DisagreementError
		switch {
		case rerr == nil:
			where = "is " + describeMaintenance(now)
		case errors.As(rerr, &disagree):
			where = "differs between hosts (" + disagree.Summary() + ")"
		}
		if errors.Is(err, maintenance.ErrNotOwned) {
			diags.AddError("Unable to "+verb+" maintenance mode on "+b.Describe(), err.Error()+". Nothing was changed.")
			if prior != nil { // nothing was written: the state stays what it was
				t := m.Timeouts
				*m = *prior
				m.Timeouts = t
			}
			return false
		}
		diags.AddError("Unable to "+verb+" maintenance mode on "+b.Describe(),
			fmt.Sprintf("Turning maintenance %s failed: %v. Maintenance there now %s. Fix the cause, then apply again.", describeMaintenance(want), err, where))
		switch {
		case b.Capabilities().Staged:
			// The variables may be set while the containers still run the old
			// ones: keep what was there so the next apply sets and restarts again.
			if prior != nil {
				t := m.Timeouts
				*m = *prior
				m.Timeouts = t
			}
		case rerr == nil:
			m.ID = types.StringValue(id)
			m.observe(b, now)
		case disagree != nil:
			m.ID = types.StringValue(id)
			m.observeDisagreement(disagree)
		}
		return false
	}
	m.ID = types.StringValue(id)
	if prior == nil || prior.mode() != describeMaintenance(want) {
		r.record(ctx, m, describeMaintenance(want), b.Describe(), diags)
	}
	return true
}

// mode is the maintenance mode the state records: on, banner or off.
func (m *maintenanceModeResourceModel) mode() string {
	return describeMaintenance(maintenance.State{Enabled: m.Enabled.ValueBool(), Banner: m.Banner.ValueBool()})
}

// record appends the maintenance event of a change of mode on where.
func (r *maintenanceModeResource) record(ctx context.Context, m *maintenanceModeResourceModel, mode, where string, diags *diag.Diagnostics) {
	detail := fmt.Sprintf("maintenance %s on %s", mode, where)
	if s := m.Message.ValueString(); s != "" && mode != "off" {
		detail += "; message: " + s
	}
	if s := m.Reason.ValueString(); s != "" && mode != "off" {
		detail += "; reason: " + s
	}
	r.data.recordEvent(ctx, backend.Event{Environment: m.Environment.ValueString(), Kind: backend.KindMaintenance, Detail: detail},
		"Maintenance is "+mode+" on "+where, diags)
}

func (r *maintenanceModeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m maintenanceModeResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Create(ctx, defaultMaintenanceTimeout)
	resp.Diagnostics.Append(d...)
	if r.apply(ctx, &m, nil, writeOnlySSHKey(ctx, &m, req.Config, &resp.Diagnostics), timeout, &resp.Diagnostics, "set") || !m.ID.IsNull() && !m.ID.IsUnknown() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	}
}

func (r *maintenanceModeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m, prior maintenanceModeResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Update(ctx, defaultMaintenanceTimeout)
	resp.Diagnostics.Append(d...)
	ok := r.apply(ctx, &m, &prior, writeOnlySSHKey(ctx, &m, req.Config, &resp.Diagnostics), timeout, &resp.Diagnostics, "change")
	if !ok && m.ID.IsUnknown() {
		m.ID = prior.ID
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, restartPendingKey, restartPending(!ok && m.Scalingo != nil))...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *maintenanceModeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m maintenanceModeResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.Nginx != nil {
		if m.Nginx.ReloadCommand.IsNull() {
			m.Nginx.ReloadCommand = types.StringValue(nginxconf.DefaultReloadCommand)
		}
		if m.Nginx.TestCommand.IsNull() {
			m.Nginx.TestCommand = types.StringValue(nginxconf.DefaultTestCommand)
		}
	}
	if m.Scalingo != nil && m.Scalingo.Restart.IsNull() {
		m.Scalingo.Restart = types.BoolValue(true)
	}
	if sm, at := m.ssh(); r.data.sshPlanMustRead(sm) {
		sshReadCredentialWarning(&resp.Diagnostics, at, "the maintenance mode")
		return
	}
	b, id, closeHosts, ok := r.open(ctx, &m, types.StringNull(), &resp.Diagnostics)
	defer closeHosts()
	if !ok {
		return
	}
	if pending, _ := req.Private.GetKey(ctx, restartPendingKey); len(pending) > 0 && m.Scalingo != nil {
		// The last change failed before the restart finished: the variables do not
		// tell what the containers run, so keep the state that forces a new apply.
		tflog.Info(ctx, "a maintenance change is pending a restart; keeping the recorded state", map[string]any{"backend": b.Describe()})
		return
	}
	s, err := b.Read(ctx)
	if errors.Is(err, maintenance.ErrNotFound) {
		tflog.Warn(ctx, "the maintenance target is gone; removing the resource from the state", map[string]any{"backend": b.Describe()})
		resp.State.RemoveResource(ctx)
		return
	}
	if errors.Is(err, maintenance.ErrNotOwned) {
		resp.Diagnostics.AddError("Unable to read maintenance mode on "+b.Describe(), err.Error()+". Nothing was changed.")
		return
	}
	var disagree *maintenance.DisagreementError
	if errors.As(err, &disagree) {
		m.ID = types.StringValue(id)
		m.observeDisagreement(disagree)
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to read maintenance mode on "+b.Describe(), err.Error()+". The state was left as it was. Check access to it, then refresh again.")
		return
	}
	m.ID = types.StringValue(id)
	m.observe(b, s)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *maintenanceModeResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m maintenanceModeResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Delete(ctx, defaultMaintenanceTimeout)
	resp.Diagnostics.Append(d...)
	if sm, at := m.ssh(); r.data.sshPlanMustRead(sm) {
		if m.mode() == "off" {
			// Nothing to turn off, and no key to check the hosts with.
			tflog.Info(ctx, "maintenance is off in the state and the SSH key is write-only: nothing to do on the hosts")
			return
		}
		resp.Diagnostics.AddAttributeError(at.AtName("private_key_wo"), "Unable to turn maintenance mode off",
			"The SSH key is write-only (private_key_wo) and a destroy has no configuration to read it from, so maintenance was left as it is. "+
				"Apply enabled = false first, or give a credential that is kept (private_key, agent, or the provider's ssh block).")
		return
	}
	b, _, closeHosts, ok := r.open(ctx, &m, types.StringNull(), &resp.Diagnostics)
	defer closeHosts()
	if !ok {
		return
	}
	if _, err := b.Read(ctx); errors.Is(err, maintenance.ErrNotFound) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := b.Apply(ctx, maintenance.State{}); err != nil {
		resp.Diagnostics.AddError("Unable to turn maintenance mode off on "+b.Describe(),
			fmt.Sprintf("%v. Maintenance may still be on: check %s, then destroy again.", err, b.Describe()))
		return
	}
	if m.mode() != "off" {
		ctx, done := historyOperation(ctx, &resp.Diagnostics)
		defer done()
		r.record(ctx, &m, "off", b.Describe(), &resp.Diagnostics)
	}
}

// ModifyPlan checks the ssh block against the provider's defaults (a missing
// user, credential or known_hosts is an error at plan time) and applies the
// write-only key rule: when refresh could not read the hosts, it reads them
// here with the configuration's key, and hosts that do not show what the state
// says plan an update (a new id) that sets every host.
func (r *maintenanceModeResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	plan, state, ok := planAndPrior[maintenanceModeResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	keyWO, mustRead, ok := r.data.checkPlannedSSH(ctx, req.Config, &plan, state, &resp.Diagnostics)
	if !ok || !mustRead {
		return
	}
	b, _, closeHosts, ok := r.open(ctx, &plan, keyWO, &resp.Diagnostics)
	defer closeHosts()
	if !ok {
		return
	}
	now, err := b.Read(ctx)
	var disagree *maintenance.DisagreementError
	switch {
	case errors.As(err, &disagree):
		now.Message = "(hosts disagree: " + disagree.Summary() + ")"
	case errors.Is(err, maintenance.ErrNotFound):
		now.Message = "(no maintenance place on any host)"
	case err != nil:
		resp.Diagnostics.AddError("Unable to read maintenance mode on "+b.Describe(), err.Error())
		return
	case describeMaintenance(now) == state.mode() && (!now.Enabled || now.Message == state.Message.ValueString()):
		return
	}
	plan.ID = types.StringUnknown()
	resp.Diagnostics.AddWarning("The hosts do not show the maintenance the state says",
		fmt.Sprintf("%s shows maintenance %s %s, while the state says %s: the apply sets every host.", b.Describe(), describeMaintenance(now), now.Message, state.mode()))
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *maintenanceModeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	kind, ref, ok := strings.Cut(req.ID, ":")
	if !ok || ref == "" {
		resp.Diagnostics.AddError("Unable to import maintenance mode",
			fmt.Sprintf("The import ID %q is not one of directory:<path>, nginx:<config_file> or scalingo:<app>.", req.ID))
		return
	}
	var p path.Path
	sm, ref, remote, err := parseSSHImportID(ref)
	if err != nil || remote && kind == "scalingo" {
		resp.Diagnostics.AddError("Unable to import maintenance mode",
			fmt.Sprintf("%v. On remote hosts, use directory:ssh://[user@]host1,host2/<path> or nginx:ssh://[user@]host1,host2/<config_file>.", orPlaceholder(errMessage(err), "scalingo apps are not on hosts")))
		return
	}
	switch kind {
	case "directory":
		p = path.Root("directory").AtName("path")
	case "nginx":
		p = path.Root("nginx").AtName("config_file")
	case "scalingo":
		p = path.Root("scalingo").AtName("app")
	default:
		resp.Diagnostics.AddError("Unable to import maintenance mode",
			fmt.Sprintf("Unknown kind %q in the import ID %q: use directory:<path>, nginx:<config_file> or scalingo:<app>.", kind, req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, p, ref)...)
	if remote {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, p.ParentPath().AtName("ssh"), sm)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), kind+":"+ref)...)
}
