package provider

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/check"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/nginxconf"
	"github.com/releaseplan/terraform-provider-release/internal/router"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var (
	_ resource.ResourceWithConfigure        = (*blueGreenRouterResource)(nil)
	_ resource.ResourceWithImportState      = (*blueGreenRouterResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*blueGreenRouterResource)(nil)
	_ resource.ResourceWithConfigValidators = (*blueGreenRouterResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*blueGreenRouterResource)(nil)
)

// On-destroy behaviours.
const (
	onDestroyKeep   = "keep"
	onDestroyRemove = "remove"
)

// NewBlueGreenRouterResource returns the release_blue_green_router resource.
func NewBlueGreenRouterResource() resource.Resource {
	return &blueGreenRouterResource{resourceBase{typeName: "_blue_green_router"}}
}

type blueGreenRouterResource struct {
	resourceBase
}

type blueGreenRouterResourceModel struct {
	ID              types.String               `tfsdk:"id"`
	Active          types.String               `tfsdk:"active"`
	Environment     types.String               `tfsdk:"environment"`
	OnDestroy       types.String               `tfsdk:"on_destroy"`
	Blue            *blueGreenColourModel      `tfsdk:"blue"`
	Green           *blueGreenColourModel      `tfsdk:"green"`
	Nginx           *blueGreenNginxModel       `tfsdk:"nginx"`
	Directory       *blueGreenDirectoryModel   `tfsdk:"directory"`
	HealthCheck     *blueGreenHealthCheckModel `tfsdk:"health_check"`
	PreviousActive  types.String               `tfsdk:"previous_active"`
	SwitchedAt      types.String               `tfsdk:"switched_at"`
	PreviewUpstream types.String               `tfsdk:"preview_upstream"`
	Canary          *blueGreenCanaryModel      `tfsdk:"canary"`
	Timeouts        timeouts.Value             `tfsdk:"timeouts"`
}

// defaultSwitchTimeout bounds a switch: health check attempts, test and reload.
const defaultSwitchTimeout = 10 * time.Minute

type blueGreenColourModel struct {
	Upstream types.String `tfsdk:"upstream"`
}

type blueGreenNginxModel struct {
	ConfigFile        types.String `tfsdk:"config_file"`
	UpstreamName      types.String `tfsdk:"upstream_name"`
	ReloadCommand     types.String `tfsdk:"reload_command"`
	TestCommand       types.String `tfsdk:"test_command"`
	PreviewServerName types.String `tfsdk:"preview_server_name"`
	SSH               *sshModel    `tfsdk:"ssh"`
}

type blueGreenDirectoryModel struct {
	Path types.String `tfsdk:"path"`
	SSH  *sshModel    `tfsdk:"ssh"`
}

// blueGreenHealthCheckModel is the health_check block: an HTTP check block whose
// URL may instead be a path on the upstream of each colour.
type blueGreenHealthCheckModel struct {
	httpCheckModel
	Path types.String `tfsdk:"path"`
}

func (r *blueGreenRouterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = blueGreenRouterSchema()
	resp.Schema.Blocks["timeouts"] = timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true})
}

func colourBlock(colour string) schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "The " + colour + " environment.",
		Attributes: map[string]schema.Attribute{
			"upstream": schema.StringAttribute{
				MarkdownDescription: "Address nginx proxies to when " + colour + " is live: `host:port` or `unix:/path`. " +
					"Required with `nginx`; with `directory` it is only used by `health_check.path`.",
				Optional:   true,
				Validators: []validator.String{validate.Upstream()},
			},
		},
	}
}

func blueGreenRouterSchema() schema.Schema {
	return schema.Schema{
		MarkdownDescription: "Switches all traffic between two identical environments, blue and green, behind nginx " +
			"(an include file owned by the resource) or for a static site (a `live` symlink). " +
			"Deploy to the idle colour, test it on the preview route, then set `active` to it; " +
			"switching back is applying the previous value. The colour about to go live must pass " +
			"`health_check` first: a failure switches nothing. Switches are atomic (a temporary file or " +
			"symlink renamed into place) and a rejected nginx configuration is rolled back.\n\n" +
			"With `nginx`, the include file defines `upstream <upstream_name>` (the live colour), " +
			"`upstream <upstream_name>_preview` (the idle colour) and a `map` setting `$<upstream_name>_backend`. " +
			"Include it in nginx's `http {}` context. Server blocks `proxy_pass http://<upstream_name>;` to send " +
			"everything to the live colour, or `proxy_pass http://$<upstream_name>_backend;` so that requests with " +
			"the header `X-Release-Preview: 1` (or addressed to `preview_server_name`) reach the idle colour.\n\n" +
			"Destroying the resource leaves traffic where it is and the file in place by default " +
			"(`on_destroy = \"keep\"`): nginx server blocks still refer to the upstream.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The nginx `config_file`, or the `directory` path.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"active": schema.StringAttribute{
				MarkdownDescription: "The colour that receives all traffic: `blue` or `green`.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.OneOf(string(router.Blue), string(router.Green))},
			},
			"environment": schema.StringAttribute{
				MarkdownDescription: "When set, every switch is recorded in the release history of this environment " +
					"(`release_history` data source) as a `switched` event, and every failed switch as `failed`.",
				Optional:   true,
				Validators: []validator.String{validate.EnvironmentName()},
			},
			"on_destroy": schema.StringAttribute{
				MarkdownDescription: "What `terraform destroy` does: `keep` (default) leaves the include file or the " +
					"symlink and therefore traffic where it is; `remove` deletes it (and reloads nginx, which refuses " +
					"the change while server blocks still proxy to the upstream).",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(onDestroyKeep),
				Validators: []validator.String{stringvalidator.OneOf(onDestroyKeep, onDestroyRemove)},
			},
			"previous_active": schema.StringAttribute{
				MarkdownDescription: "The colour that was live before the last switch made by this resource " +
					"(null until `active` changes): set `active` to it to roll back.",
				Computed: true,
			},
			"switched_at": schema.StringAttribute{
				MarkdownDescription: "When the router was last written (RFC 3339).",
				Computed:            true,
			},
			"preview_upstream": schema.StringAttribute{
				MarkdownDescription: "Where preview traffic goes: the idle colour's upstream (nginx) or directory (directory router).",
				Computed:            true,
			},
		},
		Blocks: map[string]schema.Block{
			"blue":   colourBlock("blue"),
			"canary": canaryBlock(),
			"green":  colourBlock("green"),
			"nginx": schema.SingleNestedBlock{
				MarkdownDescription: "Route with nginx. Exactly one of `nginx` or `directory`.",
				Attributes: map[string]schema.Attribute{
					"config_file": schema.StringAttribute{
						MarkdownDescription: "The include file owned by the resource, e.g. `/etc/nginx/conf.d/histologe-upstream.conf`. " +
							"It is written to a temporary file in the same directory and renamed into place.",
						Optional:      true,
						PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
					},
					"upstream_name": schema.StringAttribute{
						MarkdownDescription: "Name of the upstream server blocks proxy to (letters, digits, underscores).",
						Optional:            true,
						PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
						Validators:          []validator.String{validate.UpstreamName()},
					},
					"reload_command": schema.StringAttribute{
						MarkdownDescription: "Shell command (`sh -c`) that reloads nginx. Default `" + nginxconf.DefaultReloadCommand + "`.",
						Optional:            true,
					},
					"test_command": schema.StringAttribute{
						MarkdownDescription: "Shell command (`sh -c`) that validates the configuration after the file is written " +
							"and before the reload; when it fails the previous file is restored. Default `" + nginxconf.DefaultTestCommand +
							"`, also when empty; `" + nginxconf.SkipTest + "` skips validation (discouraged: `nginx -s reload` alone does not report a rejected configuration).",
						Optional: true,
					},
					"preview_server_name": schema.StringAttribute{
						MarkdownDescription: "Requests whose Host is this name reach the idle colour when server blocks proxy to `$<upstream_name>_backend`.",
						Optional:            true,
						Validators:          []validator.String{validate.HostName()},
					},
				},
				Blocks: map[string]schema.Block{
					"ssh": sshBlock("the load balancers (an HA pair, say) whose include file is switched. The hosts are switched one after the other " +
						"(write, `test_command`, `reload_command` on each); when one fails, the hosts already switched are put back and the error lists what " +
						"each host routes to now. Refresh reads every host: hosts that disagree show as a change of `active` in the next plan"),
				},
			},
			"directory": schema.SingleNestedBlock{
				MarkdownDescription: "Route a static site: `<path>/live` becomes a symlink to `<path>/blue` or `<path>/green`, " +
					"switched by renaming a temporary symlink over it. Exactly one of `nginx` or `directory`.",
				Attributes: map[string]schema.Attribute{
					"path": schema.StringAttribute{
						MarkdownDescription: "Directory holding `blue/`, `green/` and the `live` symlink.",
						Optional:            true,
						PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
					},
				},
				Blocks: map[string]schema.Block{
					"ssh": sshBlock("the web servers whose `live` symlink is switched, one host after the other; when one fails, the hosts already " +
						"switched are put back. Refresh reads every host: hosts that disagree show as a change of `active` in the next plan"),
				},
			},
			"health_check": httpCheckBlock("HTTP check the colour about to go live must pass before the switch. It runs only when "+
				"the switch changes what is live. Set `url`, or `path` (appended to `http://<upstream>` of that colour).",
				"Full URL to check, e.g. the preview route `http://127.0.0.1/health` with `headers = { X-Release-Preview = \"1\" }`.",
				map[string]schema.Attribute{
					"path": schema.StringAttribute{
						MarkdownDescription: "Path such as `/health`, requested from the upstream of the colour about to go live (`http://<upstream><path>`).",
						Optional:            true,
						Validators:          []validator.String{validate.URLPath()},
					},
				}),
		},
	}
}

func (r *blueGreenRouterResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		validate.ExactlyOneBlock("nginx", "directory"),
		validate.RequiredInBlock("nginx", "config_file", "It is the include file the resource owns, e.g. /etc/nginx/conf.d/app-upstream.conf"),
		validate.RequiredInBlock("nginx", "upstream_name", "It is the upstream your server blocks proxy_pass to"),
		validate.RequiredInBlock("directory", "path", "It is the directory holding blue/, green/ and the live symlink"),
		validate.ExactlyOneInBlock("health_check", "url", "path"),
		validate.RequiredInBlock("canary", "colour", "It is the colour that takes the canary's share, the one that is not active"),
	}
}

// ValidateConfig checks what relates the colours to the other blocks: the nginx
// router needs both upstreams, and health_check.path a host:port upstream.
func (r *blueGreenRouterResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m blueGreenRouterResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.validateCanary(&resp.Diagnostics)
	colours := map[string]*blueGreenColourModel{"blue": m.Blue, "green": m.Green}
	for name, c := range colours {
		u := types.StringNull()
		if c != nil {
			u = c.Upstream
		}
		switch {
		case u.IsUnknown():
		case m.Nginx != nil && u.IsNull():
			resp.Diagnostics.AddAttributeError(path.Root(name).AtName("upstream"), "Missing router setting",
				fmt.Sprintf("The nginx router needs %s { upstream = \"host:port\" }: the address nginx proxies to when %s is live.", name, name))
		case m.HealthCheck != nil && !m.HealthCheck.Path.IsNull() && m.HealthCheck.URL.IsNull() &&
			(u.IsNull() || strings.HasPrefix(u.ValueString(), "unix:")):
			resp.Diagnostics.AddAttributeError(path.Root(name).AtName("upstream"), "Invalid health check",
				fmt.Sprintf("health_check.path needs a host:port upstream for %s to build http://<upstream>%s; set %s.upstream or use health_check.url.", name, m.HealthCheck.Path.ValueString(), name))
		}
	}
}

// ModifyPlan makes previous_active, preview_upstream and (when nothing switches)
// switched_at known at plan time, so the reviewer sees what an apply will route where.
func (r *blueGreenRouterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	plan, state, ok := planAndPrior[blueGreenRouterResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	plan.ID = plan.routerID()
	plan.PreviewUpstream = plan.plannedPreview()
	plan.planCanary()
	switch {
	case state == nil:
		plan.PreviousActive = types.StringNull()
		plan.SwitchedAt = types.StringUnknown()
	case routingChanged(state, &plan):
		plan.SwitchedAt = types.StringUnknown()
		plan.PreviousActive = state.PreviousActive
		if plan.Active.IsUnknown() {
			plan.PreviousActive = types.StringUnknown()
		} else if plan.Active.ValueString() != state.Active.ValueString() && router.Colour(state.Active.ValueString()).Valid() {
			plan.PreviousActive = state.Active
		}
	default:
		plan.SwitchedAt = state.SwitchedAt
		plan.PreviousActive = state.PreviousActive
	}
	r.planSSH(ctx, req.Config, &plan, state, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// planSSH checks the ssh block against the provider's defaults (a missing
// user, credential or known_hosts is an error at plan time) and applies the
// write-only key rule: when refresh could not read the hosts, it reads them
// here with the configuration's key, and a fleet that does not route as the
// state says plans a switch of every host.
func (r *blueGreenRouterResource) planSSH(ctx context.Context, cfg tfsdk.Config, plan, state *blueGreenRouterResourceModel, diags *diag.Diagnostics) {
	keyWO, mustRead, ok := r.data.checkPlannedSSH(ctx, cfg, plan, state, diags)
	if !ok || !mustRead || plan.SwitchedAt.IsUnknown() {
		return
	}
	rt, closeHosts, ok := r.open(ctx, plan, keyWO, diags)
	defer closeHosts()
	if !ok {
		return
	}
	st, err := rt.Read(ctx)
	switch {
	case errors.Is(err, router.ErrNotFound):
		st.Live = "nothing (no router configuration on any host)"
	case err != nil:
		diags.AddError("Unable to read "+plan.describe(), err.Error())
		return
	case st.Active != "" && string(st.Active) == state.Active.ValueString():
		return
	}
	plan.SwitchedAt = types.StringUnknown()
	diags.AddWarning("The hosts do not route as the state says",
		fmt.Sprintf("%s routes to %s, while the state says %s: the apply switches every host to %s.",
			plan.describe(), describeLive(st), state.Active.ValueString(), plan.Active.ValueString()))
}

// describeLive says what a router state routes to.
func describeLive(st router.State) string {
	if st.Active == "" {
		return st.Live
	}
	return fmt.Sprintf("%s (%s)", st.Active, st.Live)
}

func (m *blueGreenRouterResourceModel) routerID() types.String {
	switch {
	case m.Nginx != nil:
		return m.Nginx.ConfigFile
	case m.Directory != nil:
		return m.Directory.Path
	}
	return types.StringUnknown()
}

func (m *blueGreenRouterResourceModel) colourUpstream(c router.Colour) types.String {
	col := m.Blue
	if c == router.Green {
		col = m.Green
	}
	if col == nil {
		return types.StringNull()
	}
	return col.Upstream
}

// plannedPreview is the idle colour's upstream (nginx) or directory (directory router).
func (m *blueGreenRouterResourceModel) plannedPreview() types.String {
	if m.Active.IsUnknown() {
		return types.StringUnknown()
	}
	idle := router.Colour(m.Active.ValueString()).Other()
	switch {
	case m.Nginx != nil:
		return m.colourUpstream(idle)
	case m.Directory != nil:
		if m.Directory.Path.IsUnknown() {
			return types.StringUnknown()
		}
		return types.StringValue(filepath.Join(m.Directory.Path.ValueString(), string(idle)))
	}
	return types.StringUnknown()
}

// routingChanged reports whether applying plan over state rewrites the router.
func routingChanged(state, plan *blueGreenRouterResourceModel) bool {
	if !plan.Active.Equal(state.Active) || !plan.PreviewUpstream.Equal(state.PreviewUpstream) || canaryChanged(state, plan) {
		return true
	}
	// Other hosts (one added, say) need the router written too.
	planSSH, _ := plan.ssh()
	stateSSH, _ := state.ssh()
	if (planSSH == nil) != (stateSSH == nil) || planSSH != nil && !planSSH.Hosts.Equal(stateSSH.Hosts) {
		return true
	}
	if plan.Nginx != nil {
		if state.Nginx == nil || !plan.Nginx.PreviewServerName.Equal(state.Nginx.PreviewServerName) {
			return true
		}
		for _, c := range []router.Colour{router.Blue, router.Green} {
			if !plan.colourUpstream(c).Equal(state.colourUpstream(c)) {
				return true
			}
		}
	}
	return false
}

// ssh is the router's ssh block (nil without one) and its path.
func (m *blueGreenRouterResourceModel) ssh() (*sshModel, path.Path) {
	if m == nil {
		return nil, path.Empty()
	}
	if m.Directory != nil {
		return m.Directory.SSH, path.Root("directory").AtName("ssh")
	}
	if m.Nginx != nil {
		return m.Nginx.SSH, path.Root("nginx").AtName("ssh")
	}
	return nil, path.Empty()
}

// router is the router on hosts: this machine without hosts, else a
// router.Fleet that switches every host.
func (m *blueGreenRouterResourceModel) router(hosts []host.Host) router.Router {
	if len(hosts) == 0 {
		return m.routerOn(nil)
	}
	return &router.Fleet{Hosts: hosts, On: m.routerOn}
}

// open connects to the router's hosts (keyWO: the ssh block's write-only key
// from the configuration, null without one) and returns the router on them;
// done closes the connections. ok is false when diags got an error.
func (r *blueGreenRouterResource) open(ctx context.Context, m *blueGreenRouterResourceModel, keyWO types.String, diags *diag.Diagnostics) (rt router.Router, done func(), ok bool) {
	sm, at := m.ssh()
	hosts, done, ok := r.data.openSSH(ctx, sm, keyWO, at, diags)
	if !ok {
		return nil, done, false
	}
	return m.router(hosts), done, true
}

// routerOn is the router on one host (nil: this machine).
func (m *blueGreenRouterResourceModel) routerOn(h host.Host) router.Router {
	if m.Directory != nil {
		return &router.Directory{Path: m.Directory.Path.ValueString(), Host: h}
	}
	n := m.Nginx
	test := nginxconf.DefaultTestCommand
	if !n.TestCommand.IsNull() {
		test = n.TestCommand.ValueString()
	}
	return &router.Nginx{
		ConfigFile:        n.ConfigFile.ValueString(),
		UpstreamName:      n.UpstreamName.ValueString(),
		Blue:              m.colourUpstream(router.Blue).ValueString(),
		Green:             m.colourUpstream(router.Green).ValueString(),
		PreviewServerName: n.PreviewServerName.ValueString(),
		TestCommand:       test,
		ReloadCommand:     n.ReloadCommand.ValueString(),
		Host:              h,
		Canary:            m.routerCanary(),
	}
}

func (m *blueGreenRouterResourceModel) healthCheck(ctx context.Context, diags *diag.Diagnostics) router.HealthCheck {
	h := m.HealthCheck
	if h == nil {
		return nil
	}
	hc := h.httpCheck(ctx, path.Root("health_check"), diags)
	return func(ctx context.Context, colour router.Colour, _ string) error {
		c := hc
		if !h.URL.IsNull() {
			c.URL = h.URL.ValueString()
		} else {
			c.URL = "http://" + m.colourUpstream(colour).ValueString() + h.Path.ValueString()
		}
		// check logs each attempt; the colour goes with every line.
		return check.Run(logging.With(ctx, logging.From(ctx).With("colour", string(colour))), c, nil)
	}
}

// observe copies what the router reports on the machine into m.
func (m *blueGreenRouterResourceModel) observe(st router.State) {
	if st.Active != "" {
		m.Active = types.StringValue(string(st.Active))
	} else {
		// Pointed elsewhere by hand: show the raw target so the plan switches it back.
		m.Active = types.StringValue(st.Live)
	}
	if !st.SwitchedAt.IsZero() {
		m.SwitchedAt = types.StringValue(st.SwitchedAt.UTC().Format(time.RFC3339))
	}
	if m.Directory != nil {
		m.PreviewUpstream = types.StringValue("")
		if st.Active != "" {
			m.PreviewUpstream = types.StringValue(filepath.Join(m.Directory.Path.ValueString(), string(st.Active.Other())))
		}
		return
	}
	m.PreviewUpstream = types.StringValue(st.Preview)
	m.observeCanary(st)
	if st.Blue != "" {
		m.Blue = &blueGreenColourModel{Upstream: types.StringValue(st.Blue)}
	}
	if st.Green != "" {
		m.Green = &blueGreenColourModel{Upstream: types.StringValue(st.Green)}
	}
}

func (m *blueGreenRouterResourceModel) describe() string {
	on := ""
	if sm, _ := m.ssh(); sm != nil {
		var hosts []string
		_ = sm.Hosts.ElementsAs(context.Background(), &hosts, false)
		on = " on " + strings.Join(hosts, ", ")
	}
	if m.Nginx != nil {
		return fmt.Sprintf("nginx upstream %s (%s)%s", m.Nginx.UpstreamName.ValueString(), m.Nginx.ConfigFile.ValueString(), on)
	}
	return fmt.Sprintf("directory router %s%s", filepath.Join(m.Directory.Path.ValueString(), router.LiveLink), on)
}

func (r *blueGreenRouterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan blueGreenRouterResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultSwitchTimeout+plan.canaryDuration())
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.apply(ctx, &plan, nil, writeOnlySSHKey(ctx, &plan, req.Config, &resp.Diagnostics), &resp.State, &resp.Diagnostics)
}

func (r *blueGreenRouterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan, state, ok := planAndState[blueGreenRouterResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	if !plan.SwitchedAt.IsUnknown() {
		// Commands, health check or on_destroy only (ModifyPlan plans a new
		// switched_at for every change to routing): nothing to rewrite.
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultSwitchTimeout+plan.canaryDuration())
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.apply(ctx, &plan, &state, writeOnlySSHKey(ctx, &plan, req.Config, &resp.Diagnostics), &resp.State, &resp.Diagnostics)
}

// apply switches the router to plan.Active. On failure the saved state is what is
// really live (prior, refreshed from the machine), never the plan.
func (r *blueGreenRouterResource) apply(ctx context.Context, plan, prior *blueGreenRouterResourceModel, keyWO types.String, out stateSetter, diags *diag.Diagnostics) {
	ctx, done := historyOperation(ctx, diags)
	defer done()
	colour := router.Colour(plan.Active.ValueString())
	hc := plan.healthCheck(ctx, diags)
	if diags.HasError() {
		return
	}
	sm, at := plan.ssh()
	hosts, closeHosts, ok := r.data.openSSH(ctx, sm, keyWO, at, diags)
	defer closeHosts()
	if !ok {
		return
	}
	rt := plan.router(hosts)
	if prior != nil {
		if stale := r.staleRouter(ctx, rt, prior, colour); stale != "" {
			diags.AddError(fmt.Sprintf("Unable to switch %s to %s", plan.describe(), colour), stale)
			truth := *prior
			if live, rerr := rt.Read(ctx); rerr == nil {
				truth.observe(live)
			}
			diags.Append(out.Set(ctx, &truth)...)
			return
		}
	}
	tflog.Info(ctx, "Switching blue/green router", map[string]any{"colour": string(colour), "router": plan.describe()})
	st, err := plan.route(ctx, hosts, prior, colour, hc)
	if err != nil {
		summary, detail := fmt.Sprintf("Unable to switch %s to %s", plan.describe(), colour), switchFailureDetail(plan, colour, err)
		truth := prior
		if f, ok := errCanaryFailure(err); ok {
			summary, detail = canaryFailureDetail(plan, f)
			truth = plan // the switch was made; the weight went back to 0
		}
		diags.AddError(summary, detail)
		r.record(ctx, plan, backend.KindFailed, fmt.Sprintf("%s: %v", summary, err), diags)
		if truth != nil {
			if live, rerr := rt.Read(ctx); rerr == nil {
				truth.observe(live)
			}
			truth.settle()
			diags.Append(out.Set(ctx, truth)...)
		}
		return
	}
	plan.SwitchedAt = types.StringValue(st.SwitchedAt.UTC().Format(time.RFC3339))
	if plan.PreviousActive.IsUnknown() {
		plan.PreviousActive = types.StringNull()
	}
	tflog.Info(ctx, "Blue/green router switched", map[string]any{"colour": string(colour), "live": st.Live, "preview": plan.PreviewUpstream.ValueString()})
	detail := fmt.Sprintf("%s is live (%s) on %s", colour, st.Live, plan.describe())
	if prior != nil && prior.Active.ValueString() != string(colour) {
		detail = fmt.Sprintf("%s → %s (%s) on %s", prior.Active.ValueString(), colour, st.Live, plan.describe())
	}
	if c := plan.routerCanary(); c.Active() {
		detail += "; canary: " + c.Describe(colour)
	}
	r.record(ctx, plan, backend.KindSwitched, detail, diags)
	diags.Append(out.Set(ctx, plan)...)
}

func switchFailureDetail(plan *blueGreenRouterResourceModel, colour router.Colour, err error) string {
	var fe *router.FleetError
	if errors.As(err, &fe) {
		return fmt.Sprintf("On host %s: %s\n\n%s", fe.Host, switchFailureDetail(plan, colour, fe.Err), fe.Report())
	}
	var se *router.SwitchError
	if !errors.As(err, &se) {
		return err.Error()
	}
	var b strings.Builder
	switch se.Stage {
	case router.StageHealthCheck:
		fmt.Fprintf(&b, "The health check of %s failed: %v.\nNothing was switched", colour, se.Err)
	case router.StageValidate, router.StageWrite:
		fmt.Fprintf(&b, "%v.\nNothing was switched", se.Err)
	default:
		fmt.Fprintf(&b, "The %s `%s` failed: %v", se.Stage, se.Command, se.Err)
		if se.Output != "" {
			fmt.Fprintf(&b, "\n\n%s\n\n", se.Output)
		} else {
			b.WriteString(".\n")
		}
		switch {
		case se.RestoreErr != nil:
			fmt.Fprintf(&b, "Restoring the previous configuration failed too: %v. Check nginx by hand now", se.RestoreErr)
		case se.Restored:
			b.WriteString("The previous configuration was restored")
		}
	}
	if se.Left != "" {
		fmt.Fprintf(&b, "; traffic still goes to %s", se.Left)
	}
	b.WriteString(".\n")
	switch se.Stage {
	case router.StageHealthCheck:
		fmt.Fprintf(&b, "Fix %s so that its health check passes (try it on the preview route), then apply again.", colour)
	case router.StageTest, router.StageReload:
		b.WriteString("Fix the nginx configuration or the command, then apply again.")
	default:
		b.WriteString("Fix the problem above, then apply again.")
	}
	return b.String()
}

// record appends a history event when the resource names an environment.
func (r *blueGreenRouterResource) record(ctx context.Context, m *blueGreenRouterResourceModel, kind, detail string, diags *diag.Diagnostics) {
	if m.Environment.IsNull() || m.Environment.ValueString() == "" {
		return
	}
	r.data.recordEvent(ctx, backend.Event{Environment: m.Environment.ValueString(), Kind: kind, Detail: detail},
		"The router change itself is done", diags)
}

func (r *blueGreenRouterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state blueGreenRouterResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.Nginx == nil && state.Directory == nil {
		resp.Diagnostics.AddError("Unable to read blue/green router", "The state names neither an nginx nor a directory router. Remove it from the state (terraform state rm) and import it again.")
		return
	}
	if sm, at := state.ssh(); r.data.sshPlanMustRead(sm) {
		sshReadCredentialWarning(&resp.Diagnostics, at, state.describe())
		return
	}
	rt, closeHosts, ok := r.open(ctx, &state, types.StringNull(), &resp.Diagnostics)
	defer closeHosts()
	if !ok {
		return
	}
	st, err := rt.Read(ctx)
	if errors.Is(err, router.ErrNotFound) {
		tflog.Info(ctx, "Blue/green router is gone; removing it from the state", map[string]any{"router": state.describe()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to read "+state.describe(), err.Error()+"\nThe file is not one this provider wrote or cannot be parsed. Restore it, or remove it and apply again.")
		return
	}
	state.observe(st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *blueGreenRouterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state blueGreenRouterResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.OnDestroy.ValueString() != onDestroyRemove {
		tflog.Info(ctx, "Leaving the blue/green router in place (on_destroy = keep)", map[string]any{"router": state.describe(), "active": state.Active.ValueString()})
		return
	}
	tflog.Info(ctx, "Removing the blue/green router", map[string]any{"router": state.describe()})
	if sm, at := state.ssh(); r.data.sshPlanMustRead(sm) {
		resp.Diagnostics.AddAttributeError(at.AtName("private_key_wo"), "Unable to remove "+state.describe(),
			"The SSH key is write-only (private_key_wo) and a destroy has no configuration to read it from. Give a credential that is kept "+
				"(private_key, agent, or the provider's ssh block) and apply before destroying, or set on_destroy = \"keep\".")
		return
	}
	rt, closeHosts, ok := r.open(ctx, &state, types.StringNull(), &resp.Diagnostics)
	defer closeHosts()
	if !ok {
		return
	}
	if err := rt.Remove(ctx); err != nil {
		resp.Diagnostics.AddError("Unable to remove "+state.describe(), err.Error()+
			"\nTraffic still goes to "+state.Active.ValueString()+". Remove the server blocks that proxy to the upstream first, or set on_destroy = \"keep\".")
	}
}

// ImportState takes the nginx config_file, or the directory path of a directory
// router; on remote hosts, ssh://[user@]host1,host2:2222/path (the credentials
// and known_hosts come from the provider's ssh block).
func (r *blueGreenRouterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	sm, id, remote, err := parseSSHImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Unable to import blue/green router", err.Error()+".")
		return
	}
	h := host.Host(host.Local{})
	if remote {
		hosts, closeHosts, ok := r.data.openSSH(ctx, sm, types.StringNull(), path.Root("nginx").AtName("ssh"), &resp.Diagnostics)
		defer closeHosts()
		if !ok {
			resp.Diagnostics.AddError("Unable to import blue/green router", "Set user, known_hosts and a credential in the provider's ssh block to import from remote hosts.")
			return
		}
		h = hosts[0]
	}
	fi, err := h.Stat(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Unable to import blue/green router",
			fmt.Sprintf("%s: %v.\nImport with the nginx include file the router owns (e.g. /etc/nginx/conf.d/app-upstream.conf) or the directory holding the live symlink, "+
				"prefixed with ssh://[user@]host1,host2/ on remote hosts.", h.Name(), err))
		return
	}
	m := blueGreenRouterResourceModel{
		ID:        types.StringValue(id),
		OnDestroy: types.StringValue(onDestroyKeep),
		Timeouts:  timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType})},
	}
	if fi.IsDir() {
		m.Directory = &blueGreenDirectoryModel{Path: types.StringValue(id), SSH: sm}
	} else {
		meta, err := router.ReadMeta(ctx, h, id)
		if err != nil {
			resp.Diagnostics.AddError("Unable to import blue/green router", err.Error()+".\nOnly files written by release_blue_green_router can be imported.")
			return
		}
		m.Nginx = &blueGreenNginxModel{
			ConfigFile:        types.StringValue(id),
			UpstreamName:      types.StringValue(meta.UpstreamName),
			PreviewServerName: optionalString(meta.PreviewServerName, ""),
			TestCommand:       optionalString(meta.TestCommand, nginxconf.DefaultTestCommand),
			ReloadCommand:     optionalString(meta.ReloadCommand, nginxconf.DefaultReloadCommand),
			SSH:               sm,
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// optionalString is null when v is the default the schema applies to a null value.
func optionalString(v, def string) types.String {
	if v == def {
		return types.StringNull()
	}
	return types.StringValue(v)
}
