package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/canary"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/router"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

// blueGreenCanaryModel is the canary block of release_blue_green_router.
type blueGreenCanaryModel struct {
	Colour   types.String               `tfsdk:"colour"`
	Weight   types.Int64                `tfsdk:"weight"`
	Sticky   types.String               `tfsdk:"sticky"`
	Steps    types.List                 `tfsdk:"steps"`
	Analysis *blueGreenCanaryAnalysisMd `tfsdk:"analysis"`
	Summary  types.String               `tfsdk:"summary"`
}

// canaryStepType is the object type of a step.
var canaryStepType = types.ObjectType{AttrTypes: map[string]attr.Type{"weight": types.Int64Type, "pause": types.StringType}}

type canaryStepModel struct {
	Weight types.Int64  `tfsdk:"weight"`
	Pause  types.String `tfsdk:"pause"`
}

type blueGreenCanaryAnalysisMd struct {
	AccessLog     types.String     `tfsdk:"access_log"`
	Window        types.String     `tfsdk:"window"`
	MinRequests   types.Int64      `tfsdk:"min_requests"`
	MaxErrorRate  types.Float64    `tfsdk:"max_error_rate"`
	MaxP99Latency types.String     `tfsdk:"max_p99_latency"`
	Prometheus    *canaryPromModel `tfsdk:"prometheus"`
}

type canaryPromModel struct {
	URL   types.String  `tfsdk:"url"`
	Query types.String  `tfsdk:"query"`
	Max   types.Float64 `tfsdk:"max"`
}

func canaryBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Send a share of the requests to the colour that is not `active` (nginx router only), in one step (`weight`) " +
			"or a whole rollout in one apply (`steps`), each step gated by `analysis` of nginx's access log. A failed analysis, or too few " +
			"requests to judge, puts the weight back to 0 and fails the apply with the figures; the state then says weight 0. " +
			"Removing the block, or `weight = 100` followed by `active` set to the canary colour, ends the canary.",
		Attributes: map[string]schema.Attribute{
			"colour": schema.StringAttribute{
				MarkdownDescription: "The colour that takes the canary's share: the one that is not `active`. Required in the block.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf(string(router.Blue), string(router.Green))},
			},
			"weight": schema.Int64Attribute{
				MarkdownDescription: "Percent of the requests sent to `colour` (0: none; 100: all, as if it were active). With `steps`, " +
					"the weight of the last step (computed). Read back from nginx: a weight changed by hand shows as drift.",
				Optional:   true,
				Computed:   true,
				Validators: []validator.Int64{int64validator.Between(0, 100), int64validator.ConflictsWith(path.MatchRelative().AtParent().AtName("steps"))},
			},
			"sticky": schema.StringAttribute{
				MarkdownDescription: "How a client keeps its colour: `none` (default; weighted round robin), `cookie` (nginx sets the cookie " +
					"`release_<upstream_name>` and routes by it; server blocks with `add_header` of their own must add " +
					"`add_header Set-Cookie $<upstream_name>_canary_cookie;`) or `client_ip`. Consistent hashing keeps a client on the canary " +
					"while its weight grows.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.OneOf(string(router.StickyNone), string(router.StickyCookie), string(router.StickyClientIP))},
			},
			"steps": schema.ListNestedAttribute{
				MarkdownDescription: "A whole rollout in one apply: each step sets its weight, runs for `pause` (default: `analysis.window`), " +
					"then must pass the analysis before the next. Steps at or below the weight nginx already has are skipped.",
				Optional: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"weight": schema.Int64Attribute{Required: true, MarkdownDescription: "Percent of the requests to `colour`.", Validators: []validator.Int64{int64validator.Between(1, 100)}},
					"pause":  schema.StringAttribute{Optional: true, MarkdownDescription: "How long the step runs before its analysis, e.g. `5m`.", Validators: []validator.String{validate.Duration()}},
				}},
				Validators: []validator.List{listvalidator.SizeAtLeast(1)},
			},
			"summary": schema.StringAttribute{
				MarkdownDescription: "What the apply does, shown in the plan: \"send 10% of requests to green (sticky by cookie), then check 5xx ≤ 1% and p99 ≤ 500ms over 2m on at least 50 requests\".",
				Computed:            true,
			},
		},
		Blocks: map[string]schema.Block{"analysis": canaryAnalysisBlock()},
	}
}

func canaryAnalysisBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Measure the canary colour on real traffic after each weight change, from nginx's access log (read on the router's " +
			"hosts, over SSH with an `ssh` block). Only requests whose `$upstream_addr` (its last address) is the colour's upstream count; the " +
			"active colour's figures are reported beside them. Formats: JSON (`log_format ... escape=json` with `upstream_addr`, `status`, " +
			"`request_time`) or combined followed by `rt=$request_time ua=\"$upstream_addr\"`. Upstreams given as host names are resolved " +
			"where Terraform runs to match the addresses nginx logs.",
		Attributes: map[string]schema.Attribute{
			"access_log": schema.StringAttribute{
				MarkdownDescription: "Absolute path of the access log, e.g. `/var/log/nginx/app.access.json` (unbuffered, or flushed more often than `window`). " +
					"Required unless `prometheus` is set; with it, `min_requests` and `max_error_rate` are required.",
				Optional: true, Validators: []validator.String{validate.AbsolutePath()},
			},
			"window": schema.StringAttribute{
				MarkdownDescription: "How much of the end of each step is analysed, e.g. `2m`.",
				Optional:            true, Validators: []validator.String{validate.PositiveDuration("Invalid window", "analyses nothing")},
			},
			"min_requests": schema.Int64Attribute{
				MarkdownDescription: "The fewest requests the canary colour must serve within the window; fewer fails the step.",
				Optional:            true, Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"max_error_rate": schema.Float64Attribute{
				MarkdownDescription: "The highest share of 5xx answers of the canary colour, e.g. `0.01` for 1%.",
				Optional:            true, Validators: []validator.Float64{float64validator.Between(0, 1)},
			},
			"max_p99_latency": schema.StringAttribute{
				MarkdownDescription: "The highest 99th percentile of `$request_time` of the canary colour, e.g. `500ms`. Unset: not checked.",
				Optional:            true, Validators: []validator.String{validate.PositiveDuration("Invalid latency", "no request could meet")},
			},
		},
		Blocks: map[string]schema.Block{"prometheus": schema.SingleNestedBlock{
			MarkdownDescription: "Also (or instead of the access log) judge each step on a PromQL query run at the end of its window: its value " +
				"(the highest of the series of a vector) must be at most `max`. No data, or NaN, fails the step.",
			Attributes: map[string]schema.Attribute{
				"url":   schema.StringAttribute{Optional: true, MarkdownDescription: "Base URL of the Prometheus server, e.g. `http://prometheus:9090`.", Validators: []validator.String{validate.CheckURL()}},
				"query": schema.StringAttribute{Optional: true, MarkdownDescription: "The PromQL query, e.g. the canary's 5xx ratio over the window."},
				"max":   schema.Float64Attribute{Optional: true, MarkdownDescription: "The highest value that passes."},
			},
		}},
	}
}

// validateCanary checks what relates the canary to the rest of the router.
func (m *blueGreenRouterResourceModel) validateCanary(diags *diag.Diagnostics) {
	c := m.Canary
	if c == nil {
		return
	}
	at := path.Root("canary")
	if m.Nginx == nil {
		diags.AddAttributeError(at, "Canary needs the nginx router", "A canary splits requests with nginx upstream weights: use an nginx block, not directory.")
	}
	if !c.Colour.IsUnknown() && !m.Active.IsUnknown() && c.Colour.ValueString() == m.Active.ValueString() {
		diags.AddAttributeError(at.AtName("colour"), "Canary colour is the active colour",
			fmt.Sprintf("canary.colour must be the colour that is not active (%s is active). To send everything to %s, set weight = 100, or make it active and remove the canary block.",
				m.Active.ValueString(), c.Colour.ValueString()))
	}
	if c.Colour.IsNull() {
		return // RequiredInBlock says so
	}
	if c.Weight.IsNull() && c.Steps.IsNull() {
		diags.AddAttributeError(at, "Missing canary weight", "Set canary.weight (percent of the requests to "+c.Colour.ValueString()+") or canary.steps (a whole rollout).")
	}
	if a := c.Analysis; a != nil {
		a.validate(at.AtName("analysis"), diags)
	}
	if !c.Steps.IsNull() && c.Analysis == nil {
		diags.AddAttributeWarning(at.AtName("steps"), "Steps without analysis", "Without an analysis block, the steps only pause: nothing checks the canary colour before the weight grows.")
	}
}

// routerCanary is the canary the router writes for the model.
func (m *blueGreenRouterResourceModel) routerCanary() router.Canary {
	if m.Canary == nil || m.Canary.Weight.IsNull() || m.Canary.Weight.IsUnknown() {
		return router.Canary{}
	}
	sticky, _ := router.ParseSticky(m.Canary.Sticky.ValueString())
	return router.Canary{Weight: int(m.Canary.Weight.ValueInt64()), Sticky: sticky}
}

// planCanary makes the canary's weight (with steps) and summary known at plan time.
func (m *blueGreenRouterResourceModel) planCanary() {
	c := m.Canary
	if c == nil {
		return
	}
	if !c.Steps.IsNull() {
		c.Weight = types.Int64Unknown()
		if steps, ok := c.stepModels(); ok && len(steps) > 0 && !steps[len(steps)-1].Weight.IsUnknown() {
			c.Weight = steps[len(steps)-1].Weight
		}
	}
	c.Summary = types.StringUnknown()
	if s, ok := m.canarySummary(); ok {
		c.Summary = types.StringValue(s)
	}
}

// canarySummary says what an apply does: "send 10% of requests to green
// (sticky by cookie), then check 5xx ≤ 1% ... ; then 50% ...".
func (m *blueGreenRouterResourceModel) canarySummary() (string, bool) {
	c := m.Canary
	steps, ok := c.steps()
	if !ok || c.Colour.IsUnknown() {
		return "", false
	}
	th, analysed := c.thresholds()
	describe := ""
	if analysed {
		describe = c.analysis().Describe()
	}
	sticky := ""
	switch router.Sticky(c.Sticky.ValueString()) {
	case router.StickyCookie:
		sticky = " (sticky by cookie)"
	case router.StickyClientIP:
		sticky = " (sticky by client address)"
	}
	parts := make([]string, len(steps))
	for i, s := range steps {
		p := fmt.Sprintf("%d%%", s.Weight)
		if i == 0 {
			p = fmt.Sprintf("send %d%% of requests to %s%s", s.Weight, c.Colour.ValueString(), sticky)
		}
		if s.Pause > 0 && (s.Pause > th.Window || !analysed && i < len(steps)-1) {
			p += " for " + canary.Duration(s.Pause)
		}
		if analysed && s.Weight > 0 {
			p += ", then check " + describe
		}
		parts[i] = p
	}
	return strings.Join(parts, "; then "), true
}

// steps are the canary's weights: its steps, or its one weight.
func (c *blueGreenCanaryModel) steps() ([]canary.Step, bool) {
	if c.Steps.IsNull() {
		if c.Weight.IsUnknown() || c.Weight.IsNull() {
			return nil, false
		}
		return []canary.Step{{Weight: int(c.Weight.ValueInt64())}}, true
	}
	steps, ok := c.stepModels()
	if !ok {
		return nil, false
	}
	out := make([]canary.Step, len(steps))
	for i, s := range steps {
		if s.Weight.IsUnknown() || s.Pause.IsUnknown() {
			return nil, false
		}
		out[i] = canary.Step{Weight: int(s.Weight.ValueInt64()), Pause: validate.ParseDuration(s.Pause.ValueString())}
	}
	return out, true
}

// stepModels decodes steps; ok is false while they are unknown.
func (c *blueGreenCanaryModel) stepModels() ([]canaryStepModel, bool) {
	if c.Steps.IsNull() || c.Steps.IsUnknown() {
		return nil, false
	}
	var out []canaryStepModel
	if d := c.Steps.ElementsAs(context.Background(), &out, false); d.HasError() {
		return nil, false
	}
	return out, true
}

// thresholds are the analysis block's; ok is false without one.
func (c *blueGreenCanaryModel) thresholds() (canary.Thresholds, bool) {
	a := c.Analysis
	if a == nil {
		return canary.Thresholds{}, false
	}
	return canary.Thresholds{
		Window:       validate.ParseDuration(a.Window.ValueString()),
		MinRequests:  a.MinRequests.ValueInt64(),
		MaxErrorRate: a.MaxErrorRate.ValueFloat64(),
		MaxP99:       validate.ParseDuration(a.MaxP99Latency.ValueString()),
	}, true
}

// canaryDuration is how long the canary's steps can take, added to the
// default timeout of an apply.
func (m *blueGreenRouterResourceModel) canaryDuration() time.Duration {
	if m.Canary == nil {
		return 0
	}
	steps, _ := m.Canary.steps()
	th, _ := m.Canary.thresholds()
	var d time.Duration
	for _, s := range steps {
		d += max(s.Pause, th.Window)
	}
	return d
}

// canaryChanged reports whether the canary of plan routes differently from state's.
func canaryChanged(state, plan *blueGreenRouterResourceModel) bool {
	return plan.routerCanary() != state.routerCanary() || plan.Canary != nil && plan.Canary.Weight.IsUnknown() ||
		(plan.Canary == nil) != (state.Canary == nil) && (plan.routerCanary().Active() || state.routerCanary().Active())
}

// route applies the plan to the router on hosts: a plain switch, or the
// canary's steps gated by its analysis. It returns what nginx routes
// afterwards; a failed analysis is a *canary.Failure.
func (m *blueGreenRouterResourceModel) route(ctx context.Context, hosts []host.Host, prior *blueGreenRouterResourceModel, colour router.Colour, hc router.HealthCheck) (router.State, error) {
	if m.Canary != nil && m.Canary.Summary.IsUnknown() {
		s, _ := m.canarySummary()
		m.Canary.Summary = types.StringValue(s)
	}
	if m.Canary == nil || m.Canary.Analysis == nil && m.Canary.Steps.IsNull() {
		return m.router(hosts).Switch(ctx, colour, hc)
	}
	steps, _ := m.Canary.steps()
	// Continue from the weight nginx has: steps at or below it are done.
	if prior != nil && prior.Active.Equal(m.Active) && prior.Canary != nil && prior.Canary.Colour.Equal(m.Canary.Colour) {
		done := int(prior.Canary.Weight.ValueInt64())
		for len(steps) > 1 && steps[0].Weight <= done && steps[len(steps)-1].Weight > done {
			steps = steps[1:]
		}
	}
	at := *m
	set := func(ctx context.Context, weight int) error {
		c := *m.Canary
		c.Weight = types.Int64Value(int64(weight))
		at.Canary = &c
		_, err := at.router(hosts).Switch(ctx, colour, hc)
		return err
	}
	ro := &canary.Rollout{Steps: steps, Set: set}
	if a := m.Canary.analysis(); a != nil {
		other := colour.Other()
		a.Hosts, a.Canary, a.Active = hosts, string(other), string(colour)
		a.CanaryUpstreams = logAddresses(ctx, m.colourUpstream(other).ValueString())
		a.ActiveUpstreams = logAddresses(ctx, m.colourUpstream(colour).ValueString())
		ro.Analysis = a
	}
	weight, _, err := ro.Run(ctx)
	m.Canary.Weight = types.Int64Value(int64(weight))
	if err != nil {
		return router.State{}, err
	}
	return m.router(hosts).Read(ctx)
}

// logAddresses are the forms of upstream that nginx writes in $upstream_addr:
// itself, and host:port with the host name resolved here.
func logAddresses(ctx context.Context, upstream string) []string {
	out := []string{upstream}
	h, port, err := net.SplitHostPort(upstream)
	if err != nil || net.ParseIP(h) != nil {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, _ := net.DefaultResolver.LookupHost(ctx, h)
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip, port))
	}
	return out
}

// canaryFailureDetail explains a failed canary analysis.
func canaryFailureDetail(m *blueGreenRouterResourceModel, f *canary.Failure) (summary, detail string) {
	summary = fmt.Sprintf("Canary analysis of %s failed at %d%%", f.Report.CanaryName, f.Weight)
	var b strings.Builder
	fmt.Fprintf(&b, "%v.\n", f)
	if f.Report.CanaryName != "" && f.Report.Over > 0 {
		fmt.Fprintf(&b, "\nFigures of step %d of %d: %s.\n", f.Step, f.Steps, f.Report.String())
	}
	if f.RollbackErr == nil {
		fmt.Fprintf(&b, "\nThe state says canary.weight = 0. Fix %s (its preview route still reaches it), then apply again to retry the canary; "+
			"or remove the canary block.", f.Report.CanaryName)
	}
	return summary, b.String()
}

// observeCanary copies the weights nginx really has into m (drift when changed by hand).
func (m *blueGreenRouterResourceModel) observeCanary(st router.State) {
	if m.Nginx == nil || !st.Active.Valid() {
		return
	}
	w := st.Canary.Weight
	if m.Canary == nil {
		if w == 0 {
			return
		}
		m.Canary = &blueGreenCanaryModel{Colour: types.StringValue(string(st.Active.Other())), Sticky: types.StringNull(), Steps: types.ListNull(canaryStepType),
			Summary: types.StringValue("found in nginx: " + st.Canary.Describe(st.Active))}
	}
	m.Canary.Weight = types.Int64Value(int64(w))
	if w > 0 && w < 100 && (st.Canary.Sticky != router.StickyNone || !m.Canary.Sticky.IsNull()) {
		m.Canary.Sticky = types.StringValue(string(st.Canary.Sticky))
	}
	if w > 0 {
		m.Canary.Colour = types.StringValue(string(st.Active.Other()))
	}
}

// errCanaryFailure reports whether err is a failed canary analysis.
func errCanaryFailure(err error) (*canary.Failure, bool) {
	var f *canary.Failure
	ok := errors.As(err, &f)
	return f, ok
}

// settle makes the values an apply computes known, for a state saved after a
// failed apply.
func (m *blueGreenRouterResourceModel) settle() {
	if m.SwitchedAt.IsUnknown() {
		m.SwitchedAt = types.StringValue(time.Now().UTC().Format(time.RFC3339))
	}
	if m.PreviousActive.IsUnknown() {
		m.PreviousActive = types.StringNull()
	}
	if m.Canary != nil && m.Canary.Weight.IsUnknown() {
		m.Canary.Weight = types.Int64Value(0)
	}
	if m.Canary != nil && m.Canary.Summary.IsUnknown() {
		m.Canary.Summary = types.StringNull()
	}
}

// validate checks which arguments the analysis block needs.
func (a *blueGreenCanaryAnalysisMd) validate(at path.Path, diags *diag.Diagnostics) {
	required := map[string]attr.Value{"window": a.Window}
	why := "window is always required"
	if !a.AccessLog.IsNull() || a.Prometheus == nil {
		required["access_log"], required["min_requests"], required["max_error_rate"] = a.AccessLog, a.MinRequests, a.MaxErrorRate
		why = "access_log, window, min_requests and max_error_rate are, unless a prometheus block replaces the access log"
	}
	if p := a.Prometheus; p != nil {
		required["prometheus.url"], required["prometheus.query"], required["prometheus.max"] = p.URL, p.Query, p.Max
	}
	for name, v := range required {
		if v.IsNull() {
			p := at
			for _, part := range strings.Split(name, ".") {
				p = p.AtName(part)
			}
			diags.AddAttributeError(p, "Missing required argument", fmt.Sprintf("The argument %q is required in the analysis block (%s).", name, why))
		}
	}
}

// analysis is the canary.Analysis of the block, without hosts and upstreams
// (nil without an analysis block).
func (c *blueGreenCanaryModel) analysis() *canary.Analysis {
	th, ok := c.thresholds()
	if !ok {
		return nil
	}
	a := &canary.Analysis{AccessLog: c.Analysis.AccessLog.ValueString(), Thresholds: th}
	if p := c.Analysis.Prometheus; p != nil {
		a.Prometheus = &canary.Prometheus{URL: p.URL.ValueString(), Query: p.Query.ValueString(), Max: p.Max.ValueFloat64()}
	}
	return a
}
