package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var _ datasource.DataSourceWithConfigure = (*artifactDataSource)(nil)

// NewArtifactDataSource returns the release_artifact data source.
func NewArtifactDataSource() datasource.DataSource {
	return &artifactDataSource{dataSourceBase{typeName: "_artifact"}}
}

type artifactDataSource struct {
	dataSourceBase
}

type artifactDataSourceModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Version     types.String `tfsdk:"version"`
	Verify      types.Bool   `tfsdk:"verify"`
	SHA256      types.String `tfsdk:"sha256"`
	Size        types.Int64  `tfsdk:"size"`
	URI         types.String `tfsdk:"uri"`
	PublishedAt types.String `tfsdk:"published_at"`
	Metadata    types.Map    `tfsdk:"metadata"`
}

func (d *artifactDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up a published artifact: its sha256, size, location and metadata (for example the `git_commit` production runs).",
		Attributes: map[string]schema.Attribute{
			"id":           schema.StringAttribute{MarkdownDescription: "`name@version`.", Computed: true},
			"name":         schema.StringAttribute{MarkdownDescription: "Artifact name.", Required: true, Validators: []validator.String{validate.ArtifactName()}},
			"version":      schema.StringAttribute{MarkdownDescription: "Published version.", Required: true, Validators: []validator.String{validate.Semver()}},
			"verify":       schema.BoolAttribute{MarkdownDescription: "Re-hash the stored bytes and fail if they no longer match their sha256. Default: `false` (sizes are always checked).", Optional: true},
			"sha256":       schema.StringAttribute{MarkdownDescription: "sha256 of the published bytes.", Computed: true},
			"size":         schema.Int64Attribute{MarkdownDescription: "Size in bytes.", Computed: true},
			"uri":          schema.StringAttribute{MarkdownDescription: "Where the bytes are stored.", Computed: true},
			"published_at": schema.StringAttribute{MarkdownDescription: "When the version was published (RFC 3339).", Computed: true},
			"metadata":     schema.MapAttribute{MarkdownDescription: "Metadata published with the bytes.", Computed: true, ElementType: types.StringType},
		},
	}
}

func (d *artifactDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m artifactDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name, version := m.Name.ValueString(), m.Version.ValueString()
	var obj store.Object
	var err error
	if m.Verify.ValueBool() || d.data.VerifyOnRead {
		obj, err = d.data.Store.Verify(ctx, name, version)
	} else {
		obj, err = d.data.Store.Stat(ctx, name, version)
	}
	if errors.Is(err, store.ErrNotFound) {
		resp.Diagnostics.AddError("Unable to find "+name+"@"+version,
			"No artifact is published under that version. Publish it with a release_artifact resource or check the version.")
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to read "+name+"@"+version, err.Error())
		return
	}
	m.ID = types.StringValue(obj.ID())
	m.SHA256 = types.StringValue(obj.SHA256)
	m.Size = types.Int64Value(obj.Size)
	m.URI = types.StringValue(obj.URI)
	m.PublishedAt = types.StringValue(obj.PublishedAt.UTC().Format(time.RFC3339))
	meta, diags := types.MapValueFrom(ctx, types.StringType, nonNilMap(obj.Metadata))
	resp.Diagnostics.Append(diags...)
	m.Metadata = meta
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
