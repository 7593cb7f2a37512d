package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

var (
	_ resource.ResourceWithConfigure   = (*artifactResource)(nil)
	_ resource.ResourceWithImportState = (*artifactResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*artifactResource)(nil)
)

// NewArtifactResource returns the release_artifact resource.
func NewArtifactResource() resource.Resource {
	return &artifactResource{resourceBase{typeName: "_artifact"}}
}

type artifactResource struct {
	resourceBase
}

type artifactResourceModel struct {
	ID              types.String `tfsdk:"id"`
	Name            types.String `tfsdk:"name"`
	Version         types.String `tfsdk:"version"`
	Source          types.String `tfsdk:"source"`
	SHA256          types.String `tfsdk:"sha256"`
	Metadata        types.Map    `tfsdk:"metadata"`
	RetainOnDestroy types.Bool   `tfsdk:"retain_on_destroy"`
	Size            types.Int64  `tfsdk:"size"`
	URI             types.String `tfsdk:"uri"`
	PublishedAt     types.String `tfsdk:"published_at"`
}

func (r *artifactResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = artifactResourceSchema()
}

func artifactResourceSchema() schema.Schema {
	return schema.Schema{
		MarkdownDescription: "Publishes a build output once in the artifact store as `name@version`. Published versions are immutable: " +
			"publishing the same bytes again changes nothing, and different bytes under a published version are refused. " +
			"The sha256 is computed while the bytes are streamed in; a mismatch with `sha256` publishes nothing.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The artifact's identifier, `name@version`; pass it to `release_deployment.artifact`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Artifact name, usually the application's (`histologe`). Letters, digits, `.`, `_` and `-`. Changing it publishes a new artifact.",
				Required:            true,
				Validators:          []validator.String{validate.ArtifactName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"version": schema.StringAttribute{
				MarkdownDescription: "Semantic version to publish, e.g. `1.7.4-staging`. Changing it publishes a new artifact.",
				Required:            true,
				Validators:          []validator.String{validate.Semver()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"source": schema.StringAttribute{
				MarkdownDescription: "Local file to publish, e.g. `dist/histologe.tar.gz`. When `sha256` is set, the file is checked against it at plan time and again at apply: a file rebuilt after the plan was made is refused and nothing is published.",
				Required:            true,
			},
			"sha256": schema.StringAttribute{
				MarkdownDescription: "The sha256 this plan publishes: the build's own checksum (a variable, or `filesha256(\"dist/app.tar.gz\")`), upper or lower case. " +
					"Bytes with another checksum are refused and nothing is published. Set it to see the checksum in the plan: when it is not set, it is computed from the bytes published at apply. " +
					"When plan and apply run apart (`plan -out`), pass the checksum in a variable: `filesha256()` is evaluated again at apply, and Terraform reports a file rebuilt in between as an inconsistent final plan.",
				Optional:   true,
				Computed:   true,
				Validators: []validator.String{validate.SHA256()},
			},
			"metadata": schema.MapAttribute{
				MarkdownDescription: "Free-form metadata stored with the bytes, e.g. `{ git_commit = \"3f2a9c1\", built_by = \"ci\" }`. `git_commit` feeds the `require_descendant_of` guard of promotions. Immutable once published.",
				Optional:            true,
				ElementType:         types.StringType,
			},
			"retain_on_destroy": schema.BoolAttribute{
				MarkdownDescription: "Keep the published bytes when the resource is destroyed, as artifact repositories do. Default: `true`; `false` deletes them.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
			},
			"size": schema.Int64Attribute{
				MarkdownDescription: "Size of the published bytes.",
				Computed:            true,
			},
			"uri": schema.StringAttribute{
				MarkdownDescription: "Where the bytes are stored (`file://` or `https://`).",
				Computed:            true,
			},
			"published_at": schema.StringAttribute{
				MarkdownDescription: "When the version was first published (RFC 3339).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

// ModifyPlan computes the id and refuses at plan time what the store would refuse
// at apply. Terraform plans every resource again at apply and requires each value
// planned as known to come out the same, so the plan holds only values that come
// from the configuration or the state: a sha256 read from the source file now could
// differ from the file at apply (a rebuild between `plan -out` and `apply`), which
// Terraform would report as a provider bug. A configured sha256 is the checksum
// the plan publishes, and the source is checked against it at plan time and again
// at apply, so a file that changed in between is refused with what changed.
func (r *artifactResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	plan, state, ok := planAndPrior[artifactResourceModel](ctx, req, &resp.Diagnostics)
	if !ok {
		return
	}
	if !plan.Name.IsUnknown() && !plan.Version.IsUnknown() {
		plan.ID = types.StringValue(plan.Name.ValueString() + "@" + plan.Version.ValueString())
	}
	sum := ""
	if !plan.Source.IsUnknown() {
		if s, err := fileSHA256(plan.Source.ValueString()); err == nil {
			sum = s
		} else if !errors.Is(err, os.ErrNotExist) {
			resp.Diagnostics.AddAttributeError(path.Root("source"), "Unable to read the source file", err.Error())
			return
		}
	}
	var cfgSHA types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("sha256"), &cfgSHA)...)
	userSet := !cfgSHA.IsNull()
	samePublished := state != nil && plan.ID.Equal(state.ID)
	switch {
	case userSet && !cfgSHA.IsUnknown() && sum != "" && !strings.EqualFold(sum, cfgSHA.ValueString()):
		resp.Diagnostics.AddAttributeError(path.Root("sha256"), "Unable to publish "+plan.ID.ValueString(),
			sourceChanged(plan.Source.ValueString(), cfgSHA.ValueString(), sum))
		return
	case !userSet && samePublished:
		// What is published under this version is immutable: the state's sha256.
		plan.SHA256 = state.SHA256
	case !userSet:
		plan.SHA256 = types.StringUnknown()
	}

	if samePublished {
		if !plan.Metadata.IsUnknown() && !sameMetadataValue(ctx, plan.Metadata, state.Metadata) {
			resp.Diagnostics.AddAttributeError(path.Root("metadata"), "Published artifacts are immutable",
				fmt.Sprintf("%s is already published with other metadata. Publish a new version to change it.", state.ID.ValueString()))
			return
		}
		expected := sum
		if userSet && !cfgSHA.IsUnknown() {
			expected = cfgSHA.ValueString()
		}
		if expected != "" && !strings.EqualFold(expected, state.SHA256.ValueString()) {
			resp.Diagnostics.AddAttributeError(path.Root("source"), "Version already published with different content",
				fmt.Sprintf("%s is published with sha256 %s; the new bytes have sha256 %s. Published versions are immutable: bump the version (for example with provider::release::semver_bump) to publish them.",
					state.ID.ValueString(), state.SHA256.ValueString(), strings.ToLower(expected)))
			return
		}
		plan.Size, plan.URI, plan.PublishedAt = state.Size, state.URI, state.PublishedAt
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// sourceChanged says that the source file does not hold the bytes the plan
// publishes. At plan time the configured checksum is stale; at apply the file was
// rebuilt after the plan was made.
func sourceChanged(source, planned, now string) string {
	return fmt.Sprintf("%s changed since this plan's checksum was taken: the plan publishes sha256 %s, the file now has %s. Nothing was published. "+
		"Rebuild the file that was reviewed, or set sha256 to the new checksum, then plan again and review.", source, strings.ToLower(planned), now)
}

func (r *artifactResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.publishPlan(ctx, req.Plan, &resp.State, &resp.Diagnostics)
}

// publishPlan publishes the planned artifact and saves it as the state: what
// Create and Update both do.
func (r *artifactResource) publishPlan(ctx context.Context, plan tfsdk.Plan, state *tfsdk.State, diags *diag.Diagnostics) {
	var m artifactResourceModel
	diags.Append(plan.Get(ctx, &m)...)
	if diags.HasError() {
		return
	}
	diags.Append(r.publish(ctx, &m)...)
	if diags.HasError() {
		return
	}
	diags.Append(state.Set(ctx, &m)...)
}

func (r *artifactResource) publish(ctx context.Context, m *artifactResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	id := m.Name.ValueString() + "@" + m.Version.ValueString()
	summary := "Unable to publish " + id
	f, err := os.Open(m.Source.ValueString())
	if err != nil {
		diags.AddAttributeError(path.Root("source"), summary, fmt.Sprintf("The source file cannot be read: %v. Nothing was published.", err))
		return diags
	}
	defer f.Close()
	meta := map[string]string{}
	diags.Append(m.Metadata.ElementsAs(ctx, &meta, false)...)
	if diags.HasError() {
		return diags
	}
	tflog.Info(ctx, "publishing artifact", map[string]any{"artifact": id, "source": m.Source.ValueString()})
	start := time.Now()
	obj, err := r.data.Store.Put(ctx, m.Name.ValueString(), m.Version.ValueString(), f, m.SHA256.ValueString(), meta)
	switch {
	case errors.Is(err, store.ErrConflict):
		diags.AddAttributeError(path.Root("source"), summary,
			"Version already published with different content: "+err.Error()+". Nothing was changed.")
		return diags
	case errors.Is(err, store.ErrChecksumMismatch):
		now, herr := fileSHA256(m.Source.ValueString())
		if herr != nil {
			diags.AddAttributeError(path.Root("sha256"), summary, err.Error()+".")
			return diags
		}
		diags.AddAttributeError(path.Root("sha256"), summary, sourceChanged(m.Source.ValueString(), m.SHA256.ValueString(), now))
		return diags
	case err != nil:
		diags.AddError(summary, err.Error())
		return diags
	}
	if !obj.PublishedAt.IsZero() && len(meta) > 0 && !sameMetadata(obj.Metadata, meta) {
		diags.AddAttributeError(path.Root("metadata"), summary,
			fmt.Sprintf("%s is already published with the same bytes but other metadata. Published artifacts are immutable: publish a new version to change it.", id))
		return diags
	}
	tflog.Info(ctx, "artifact published", map[string]any{"artifact": id, "sha256": obj.SHA256, "bytes": obj.Size, "elapsed": time.Since(start).String()})
	setArtifactComputed(m, obj)
	return diags
}

// sameMetadataValue compares two metadata values of the schema: null and {}
// both hold no metadata.
func sameMetadataValue(ctx context.Context, a, b types.Map) bool {
	var am, bm map[string]string
	if a.ElementsAs(ctx, &am, false).HasError() || b.ElementsAs(ctx, &bm, false).HasError() {
		return a.Equal(b)
	}
	return sameMetadata(am, bm)
}

func sameMetadata(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func setArtifactComputed(m *artifactResourceModel, obj store.Object) {
	m.ID = types.StringValue(obj.ID())
	m.Name = types.StringValue(obj.Name)
	m.Version = types.StringValue(obj.Version)
	m.SHA256 = sha256Spelling(m.SHA256, obj.SHA256)
	m.Size = types.Int64Value(obj.Size)
	m.URI = types.StringValue(obj.URI)
	m.PublishedAt = types.StringValue(obj.PublishedAt.UTC().Format(time.RFC3339))
}

func (r *artifactResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state artifactResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	obj, ok := r.data.readPublished(ctx, state.Name.ValueString(), state.Version.ValueString(), state.SHA256, resp)
	if !ok {
		return
	}
	setArtifactComputed(&state, obj)
	// With no metadata published, the state keeps how the configuration says so
	// (null or {}), so that `metadata = {}` plans no change.
	if len(obj.Metadata) > 0 || len(state.Metadata.Elements()) > 0 {
		m, diags := types.MapValueFrom(ctx, types.StringType, obj.Metadata)
		resp.Diagnostics.Append(diags...)
		state.Metadata = m
	}
	if state.RetainOnDestroy.IsNull() {
		state.RetainOnDestroy = types.BoolValue(true)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update only runs when the source path or retain_on_destroy changed: ModifyPlan
// refuses new content under a published version, so publishing is a no-op here
// unless the bytes vanished from the store.
func (r *artifactResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.publishPlan(ctx, req.Plan, &resp.State, &resp.Diagnostics)
}

func (r *artifactResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state artifactResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.RetainOnDestroy.IsNull() || state.RetainOnDestroy.ValueBool() {
		tflog.Info(ctx, "keeping published artifact (retain_on_destroy)", map[string]any{"artifact": state.ID.ValueString()})
		return
	}
	if err := r.data.Store.Delete(ctx, state.Name.ValueString(), state.Version.ValueString()); err != nil {
		resp.Diagnostics.AddError("Unable to delete "+state.ID.ValueString(), err.Error())
	}
}

func (r *artifactResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name, version, err := store.ParseID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Unable to import release_artifact", err.Error()+". Import with the artifact id, e.g. histologe@1.7.4.")
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("version"), version)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("retain_on_destroy"), true)...)
}

// fileSHA256 hashes a local file in one streaming pass.
func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
