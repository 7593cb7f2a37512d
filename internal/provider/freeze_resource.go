package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/freeze"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var (
	_ resource.ResourceWithConfigure      = (*freezeResource)(nil)
	_ resource.ResourceWithImportState    = (*freezeResource)(nil)
	_ resource.ResourceWithValidateConfig = (*freezeResource)(nil)
)

// NewFreezeResource returns the release_freeze resource.
func NewFreezeResource() resource.Resource {
	return &freezeResource{resourceBase{typeName: "_freeze"}}
}

type freezeResource struct {
	resourceBase
}

type freezeResourceModel struct {
	ID           types.String `tfsdk:"id"`
	Environments types.List   `tfsdk:"environments"`
	Reason       types.String `tfsdk:"reason"`
	Start        types.String `tfsdk:"start"`
	End          types.String `tfsdk:"end"`
	Cron         types.String `tfsdk:"cron"`
	Duration     types.String `tfsdk:"duration"`
	TimeZone     types.String `tfsdk:"time_zone"`
	CreatedBy    types.String `tfsdk:"created_by"`
}

func (r *freezeResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = freezeResourceSchema()
}

func freezeResourceSchema() schema.Schema {
	opt := func(desc string, v ...validator.String) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Optional: true, Validators: v}
	}
	return schema.Schema{
		MarkdownDescription: "A freeze window, stored in the backend so that every pipeline and runner sees it: while it is in force, " +
			"`release_deployment` and `release_promotion` into its environments are refused at plan time and again at apply time " +
			"(a window may start in between), with the reason and when it ends, unless they set `freeze_override`. " +
			"Either a one-off window (`start`, `end`) or a recurring one (`cron`, `duration`, `time_zone`). " +
			"The plan of a deployment into an environment that is not frozen warns when its next window starts within 7 days. " +
			"Destroying the resource lifts the freeze.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The freeze's id in the backend (`freeze-<random>`), named in every refusal; import with it.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"environments": schema.ListAttribute{
				MarkdownDescription: "The environments frozen, e.g. `[\"production\"]`.",
				Required:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(validate.EnvironmentName())},
			},
			"reason": schema.StringAttribute{
				MarkdownDescription: "Why releases must wait, e.g. `End-of-year freeze`; shown in every refusal.",
				Required:            true,
				Validators:          []validator.String{validate.NotBlank("Missing reason", "Say why the environments are frozen: the reason is shown in every refusal.")},
			},
			"start": opt("Start of a one-off window, RFC 3339 with its UTC offset, e.g. `2026-12-20T00:00:00+01:00` (included). With `end`.", rfc3339()),
			"end":   opt("End of a one-off window, RFC 3339, e.g. `2027-01-05T00:00:00+01:00` (excluded): releases are allowed again from then.", rfc3339()),
			"cron": opt("When each window of a recurring freeze starts: a standard 5-field cron expression (minute hour day-of-month month day-of-week), " +
				"e.g. `0 14 * * FRI` for every Friday at 14:00, in `time_zone`. With `duration`."),
			"duration": opt("How long each recurring window lasts (elapsed time), e.g. `62h` for Friday 14:00 to Monday 04:00 (05:00 when summer time begins that weekend).",
				validate.PositiveDuration("Invalid duration", "would freeze nothing")),
			"time_zone": opt("The IANA time zone of `cron`, e.g. `Europe/Paris`: windows start at the same wall-clock time in summer and winter. Default: `UTC`."),
			"created_by": schema.StringAttribute{
				MarkdownDescription: "Who created the freeze (the provider's `actor`).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func rfc3339() validator.String {
	return validate.String("value must be an RFC 3339 time with its UTC offset, e.g. 2026-12-20T00:00:00+01:00", "Invalid time", func(s string) error {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return fmt.Errorf("%q is not an RFC 3339 time such as 2026-12-20T00:00:00+01:00", s)
		}
		return nil
	})
}

// definition is the backend's freeze for m; ok is false while a value is unknown.
func (m *freezeResourceModel) definition(ctx context.Context) (f backend.Freeze, ok bool, diags diag.Diagnostics) {
	if !allKnown(m.Environments, m.Reason, m.Start, m.End, m.Cron, m.Duration, m.TimeZone) {
		return f, false, diags
	}
	for _, e := range m.Environments.Elements() {
		if e.IsUnknown() {
			return f, false, diags
		}
	}
	diags.Append(m.Environments.ElementsAs(ctx, &f.Environments, false)...)
	f.ID, f.Reason = m.ID.ValueString(), m.Reason.ValueString()
	f.Cron, f.Duration, f.TimeZone = m.Cron.ValueString(), m.Duration.ValueString(), m.TimeZone.ValueString()
	f.Start, _ = time.Parse(time.RFC3339, m.Start.ValueString())
	f.End, _ = time.Parse(time.RFC3339, m.End.ValueString())
	return f, !diags.HasError(), diags
}

// ValidateConfig refuses a window that cannot be computed: both kinds or
// neither, an end before the start, a bad cron expression or time zone.
func (r *freezeResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg freezeResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	f, ok, diags := cfg.definition(ctx)
	resp.Diagnostics.Append(diags...)
	if !ok || resp.Diagnostics.HasError() {
		return
	}
	if _, err := freeze.Compile(f); err != nil {
		resp.Diagnostics.AddError("Invalid freeze window", sentenceCase(err.Error())+".")
	}
}

func (r *freezeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan freezeResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	plan.ID = types.StringValue("freeze-" + hex.EncodeToString(id[:]))
	plan.CreatedBy = types.StringValue(r.data.Actor)
	r.store(ctx, &plan, &resp.State, &resp.Diagnostics)
}

func (r *freezeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan, state, ok := planAndState[freezeResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	plan.ID, plan.CreatedBy = state.ID, state.CreatedBy
	r.store(ctx, &plan, &resp.State, &resp.Diagnostics)
}

// store writes m's freeze to the backend and m to the state.
func (r *freezeResource) store(ctx context.Context, m *freezeResourceModel, st stateSetter, diags *diag.Diagnostics) {
	f, _, d := m.definition(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	f.CreatedBy = m.CreatedBy.ValueString()
	if _, err := freeze.Compile(f); err != nil {
		diags.AddError("Invalid freeze window", sentenceCase(err.Error())+". Nothing was stored.")
		return
	}
	if err := r.data.Backend.SetFreeze(ctx, f); err != nil {
		diags.AddError("Unable to store freeze "+f.ID,
			fmt.Sprintf("The backend refused it: %v. The freeze is not in force: deployments into %v are not held back by it. Check the backend, then apply again.", err, f.Environments))
		return
	}
	tflog.Info(ctx, "freeze stored", map[string]any{"id": f.ID, "environments": f.Environments, "reason": f.Reason})
	diags.Append(st.Set(ctx, m)...)
}

func (r *freezeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state freezeResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	f, err := r.data.Backend.GetFreeze(ctx, state.ID.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Unable to read freeze "+state.ID.ValueString(), err.Error())
		return
	}
	if f == nil {
		tflog.Warn(ctx, "the freeze is no longer in the backend; removing it from state", map[string]any{"id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	resp.Diagnostics.Append(setFreezeModel(ctx, &state, *f)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// setFreezeModel makes m say what the backend holds; times that name the same
// instant keep their configured spelling (offset).
func setFreezeModel(ctx context.Context, m *freezeResourceModel, f backend.Freeze) diag.Diagnostics {
	envs, diags := types.ListValueFrom(ctx, types.StringType, f.Environments)
	m.ID, m.Environments, m.Reason = types.StringValue(f.ID), envs, types.StringValue(f.Reason)
	m.Start, m.End = sameInstant(m.Start, f.Start), sameInstant(m.End, f.End)
	m.Cron, m.Duration, m.TimeZone = optString(f.Cron), optString(f.Duration), optString(f.TimeZone)
	m.CreatedBy = types.StringValue(f.CreatedBy)
	return diags
}

func sameInstant(cur types.String, t time.Time) types.String {
	if t.IsZero() {
		return types.StringNull()
	}
	if old, err := time.Parse(time.RFC3339, cur.ValueString()); err == nil && old.Equal(t) {
		return cur
	}
	return types.StringValue(t.UTC().Format(time.RFC3339))
}

func optString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func (r *freezeResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state freezeResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.data.Backend.RemoveFreeze(ctx, state.ID.ValueString()); err != nil {
		resp.Diagnostics.AddError("Unable to lift freeze "+state.ID.ValueString(),
			fmt.Sprintf("The backend refused to remove it: %v. The freeze is still in force; apply again once the backend is reachable.", err))
		return
	}
	tflog.Info(ctx, "freeze lifted", map[string]any{"id": state.ID.ValueString()})
}

func (r *freezeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	f, err := r.data.Backend.GetFreeze(ctx, req.ID)
	switch {
	case err != nil:
		resp.Diagnostics.AddError("Unable to import release_freeze", err.Error()+".")
		return
	case f == nil:
		resp.Diagnostics.AddError("Unable to import release_freeze",
			fmt.Sprintf("No freeze %q is stored in the backend. Import with the id of an existing freeze, e.g. freeze-3f2a9c1e0b7d.", req.ID))
		return
	}
	m := freezeResourceModel{Environments: types.ListNull(types.StringType)}
	resp.Diagnostics.Append(setFreezeModel(ctx, &m, *f)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
