package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/notify"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var _ datasource.DataSourceWithConfigure = (*historyDataSource)(nil)

// historyDefaultLimit bounds the events read when limit is not set, so that the
// state of a long-lived configuration does not grow without end.
const historyDefaultLimit = 100

// NewHistoryDataSource returns the release_history data source.
func NewHistoryDataSource() datasource.DataSource {
	return &historyDataSource{dataSourceBase{typeName: "_history"}}
}

type historyDataSource struct {
	dataSourceBase
}

type historyDataSourceModel struct {
	Environment types.String `tfsdk:"environment"`
	Name        types.String `tfsdk:"name"`
	Kinds       types.List   `tfsdk:"kinds"`
	Limit       types.Int64  `tfsdk:"limit"`
	Events      types.List   `tfsdk:"events"`
}

// eventAttrTypes is the object type of one history event in data sources.
var eventAttrTypes = map[string]attr.Type{
	"time":        types.StringType,
	"environment": types.StringType,
	"kind":        types.StringType,
	"name":        types.StringType,
	"version":     types.StringType,
	"sha256":      types.StringType,
	"git_commit":  types.StringType,
	"actor":       types.StringType,
	"lock_token":  types.Int64Type,
	"detail":      types.StringType,
	"run":         types.StringType,
}

func eventAttributes() map[string]schema.Attribute {
	s := func(d string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: d, Computed: true}
	}
	return map[string]schema.Attribute{
		"time":        s("When the event happened (RFC 3339, UTC)."),
		"environment": s("The environment, empty for events of no environment (promotions, blocks)."),
		"kind":        s("`deployed`, `failed`, `rolled_back`, `promoted`, `blocked`, `unblocked`, `lock_acquired`, `lock_released`, `lock_taken_over`, `lock_force_released`, `maintenance`, `switched` or `freeze_overridden` (a change let through a `release_freeze` window by `freeze_override`)."),
		"name":        s("The artifact name."),
		"version":     s("The version concerned; for `rolled_back`, the version restored (empty: nothing was live before)."),
		"sha256":      s("The sha256 of the version's bytes, when known."),
		"git_commit":  s("The version's `git_commit` metadata, when known."),
		"actor":       s("Who did it: the provider's `actor`; when it is not set, the CI user and pipeline detected (GitHub Actions, GitLab CI, Jenkins, HCP Terraform), else `<user>@<host>`."),
		"lock_token":  schema.Int64Attribute{MarkdownDescription: "The fencing token the change was made under; 0 when none.", Computed: true},
		"detail":      s("What happened, in a sentence."),
		"run":         s("The CI run that made the change: its URL (GitHub Actions, GitLab CI, Jenkins), else the system and run id (`HCP Terraform run run-…`); empty outside CI."),
	}
}

func eventValue(ev backend.Event) (types.Object, error) {
	v, diags := types.ObjectValue(eventAttrTypes, map[string]attr.Value{
		"time":        types.StringValue(ev.Time.UTC().Format(time.RFC3339)),
		"environment": types.StringValue(ev.Environment),
		"kind":        types.StringValue(ev.Kind),
		"name":        types.StringValue(ev.Name),
		"version":     types.StringValue(ev.Version),
		"sha256":      types.StringValue(ev.SHA256),
		"git_commit":  types.StringValue(ev.GitCommit),
		"actor":       types.StringValue(ev.Actor),
		"lock_token":  types.Int64Value(ev.LockToken),
		"detail":      types.StringValue(ev.Detail),
		"run":         types.StringValue(ev.Run),
	})
	if diags.HasError() {
		return v, fmt.Errorf("converting a history event: %v", diags)
	}
	return v, nil
}

func (d *historyDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads the release history from the backend: deployments, failures, rollbacks, promotions, blocks and locks, newest first. " +
			"Every filter is optional.",
		Attributes: map[string]schema.Attribute{
			"environment": schema.StringAttribute{
				MarkdownDescription: "Only the events of this environment. Default: every environment, and the events of none (promotions, blocks).",
				Optional:            true,
				Validators:          []validator.String{validate.EnvironmentName()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Only the events of this artifact.",
				Optional:            true,
				Validators:          []validator.String{validate.ArtifactName()},
			},
			"kinds": schema.ListAttribute{
				MarkdownDescription: "Only events of these kinds, e.g. `[\"deployed\", \"rolled_back\"]`.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.ValueStringsAre(stringvalidator.OneOf(notify.Kinds...))},
			},
			"limit": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("At most this many events, the newest. Default: %d; 0 reads them all.", historyDefaultLimit),
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
			},
			"events": schema.ListNestedAttribute{
				MarkdownDescription: "The events, newest first.",
				Computed:            true,
				NestedObject:        schema.NestedAttributeObject{Attributes: eventAttributes()},
			},
		},
	}
}

func (d *historyDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m historyDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit := historyDefaultLimit
	if !m.Limit.IsNull() {
		limit = int(m.Limit.ValueInt64())
	}
	q := backend.HistoryQuery{Environment: m.Environment.ValueString(), Name: m.Name.ValueString(), Limit: limit}
	resp.Diagnostics.Append(m.Kinds.ElementsAs(ctx, &q.Kinds, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	events, err := d.data.Backend.History(ctx, q)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read the release history", err.Error())
		return
	}
	values := make([]attr.Value, 0, len(events))
	for _, ev := range events {
		v, err := eventValue(ev)
		if err != nil {
			resp.Diagnostics.AddError("Unable to read the release history", err.Error())
			return
		}
		values = append(values, v)
	}
	list, diags := types.ListValue(types.ObjectType{AttrTypes: eventAttrTypes}, values)
	resp.Diagnostics.Append(diags...)
	m.Events = list
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
