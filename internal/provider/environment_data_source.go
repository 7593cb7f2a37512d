package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/history"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var _ datasource.DataSourceWithConfigure = (*environmentDataSource)(nil)

// NewEnvironmentDataSource returns the release_environment data source.
func NewEnvironmentDataSource() datasource.DataSource {
	return &environmentDataSource{dataSourceBase{typeName: "_environment"}}
}

type environmentDataSource struct {
	dataSourceBase
}

type environmentDataSourceModel struct {
	Environment types.String `tfsdk:"environment"`
	Name        types.String `tfsdk:"name"`
	Version     types.String `tfsdk:"version"`
	Artifact    types.String `tfsdk:"artifact"`
	SHA256      types.String `tfsdk:"sha256"`
	GitCommit   types.String `tfsdk:"git_commit"`
	DeployedAt  types.String `tfsdk:"deployed_at"`
	DeployedBy  types.String `tfsdk:"deployed_by"`
	Healthy     types.Bool   `tfsdk:"healthy"`
	LockHolder  types.String `tfsdk:"lock_holder"`
	LockToken   types.Int64  `tfsdk:"lock_token"`
	LastEvent   types.Object `tfsdk:"last_event"`
}

func (d *environmentDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	s := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "What runs in an environment, since when and who put it there, from the release history in the backend. " +
			"The newest deployment event decides: after `deployed` its version runs; after `rolled_back` the restored version runs (nothing when nothing was live before); " +
			"a `failed` deployment does not change what runs (a failure after the switch is followed by `rolled_back`, unless `rollback_on_failure = false`), but the environment is then not `healthy`. " +
			"When nothing was ever deployed the string attributes are empty. " +
			"Use it to feed `require_descendant_of.commit` of a promotion with production's commit, or a rollback with the version that runs.",
		Attributes: map[string]schema.Attribute{
			"environment": schema.StringAttribute{
				MarkdownDescription: "The environment, e.g. `production`.",
				Required:            true,
				Validators:          []validator.String{validate.EnvironmentName()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Only consider this artifact, for environments that run several. When not set, the artifact of the newest deployment.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.String{validate.ArtifactName()},
			},
			"version":     s("The version that runs; empty when nothing runs."),
			"artifact":    s("The artifact that runs, `name@version`; empty when nothing runs."),
			"sha256":      s("The sha256 of the bytes that run."),
			"git_commit":  s("The `git_commit` metadata of the release that runs, when it was published with one."),
			"deployed_at": s("When that release went live, deployed or restored by a rollback (RFC 3339)."),
			"deployed_by": s("Who deployed or restored it."),
			"healthy": schema.BoolAttribute{
				MarkdownDescription: "Whether the newest deployment event is a successful deployment (`false` after a failure or a rollback, and when nothing was deployed).",
				Computed:            true,
			},
			"lock_holder": s("Who holds the environment's lock now; empty when it is free."),
			"lock_token": schema.Int64Attribute{
				MarkdownDescription: "The fencing token of the environment's live lock; 0 when it is free.",
				Computed:            true,
			},
			"last_event": schema.SingleNestedAttribute{
				MarkdownDescription: "The environment's newest history event of any kind (null when there is none).",
				Computed:            true,
				Attributes:          eventAttributes(),
			},
		},
	}
}

func (d *environmentDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m environmentDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	env := m.Environment.ValueString()
	summary := "Unable to read what runs in " + env
	live, err := history.Current(ctx, d.data.Backend, env, m.Name.ValueString())
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	m.Name = types.StringValue(firstNonEmpty(m.Name.ValueString(), live.Name))
	m.Version = types.StringValue(live.Version)
	m.Artifact = types.StringValue("")
	if live.Running() {
		m.Artifact = types.StringValue(live.Name + "@" + live.Version)
	}
	m.SHA256 = types.StringValue(live.SHA256)
	m.GitCommit = types.StringValue(live.GitCommit)
	m.DeployedAt = types.StringValue("")
	if !live.Since.IsZero() {
		m.DeployedAt = types.StringValue(live.Since.UTC().Format(time.RFC3339))
	}
	m.DeployedBy = types.StringValue(live.By)
	m.Healthy = types.BoolValue(live.Healthy())

	lock, err := d.data.Backend.Inspect(ctx, env)
	if err != nil {
		resp.Diagnostics.AddError(summary, "Reading the environment's lock: "+err.Error())
		return
	}
	m.LockHolder, m.LockToken = types.StringValue(""), types.Int64Value(0)
	if lock != nil && !lock.Expired(time.Now()) {
		m.LockHolder, m.LockToken = types.StringValue(lock.Holder), types.Int64Value(lock.Token)
	}

	m.LastEvent = types.ObjectNull(eventAttrTypes)
	if live.LastEvent != nil {
		v, err := eventValue(*live.LastEvent)
		if err != nil {
			resp.Diagnostics.AddError(summary, err.Error())
			return
		}
		m.LastEvent = v
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
