package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// deploymentScalingoModel is release_deployment's scalingo { } target block.
type deploymentScalingoModel struct {
	App                types.String `tfsdk:"app"`
	SourceURLFromStore types.Bool   `tfsdk:"source_url_from_store"`
}

// deploymentScalingoBlock is the schema of release_deployment's scalingo block.
func deploymentScalingoBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Deploy to a Scalingo app: the verified bytes are uploaded as a source archive and deployed with " +
			"`git_ref` = version; the apply waits until the deployment ends (`timeouts`). A failed build leaves the previous " +
			"containers running. The live version is the `git_ref` of the app's last successful deployment, so a deploy made " +
			"by hand shows as drift. Rollback deploys the previous version's artifact again. Needs the provider's `scalingo` block.",
		Attributes: map[string]schema.Attribute{
			"app": schema.StringAttribute{
				MarkdownDescription: "Scalingo app name.",
				Optional:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"source_url_from_store": schema.BoolAttribute{
				MarkdownDescription: "Give Scalingo the artifact's own URL (an `http` artifact store reachable from Scalingo) instead of uploading the bytes. The bytes are still read and verified first. Default `false`.",
				Optional:            true, Computed: true, Default: booldefault.StaticBool(false),
			},
		},
	}
}

// scalingoDeploymentTarget builds the Scalingo target for artifact name; the key is
// "scalingo:<app>".
func (d *providerData) scalingoDeploymentTarget(ctx context.Context, m *deploymentScalingoModel, name string) (target.Target, string, diag.Diagnostics) {
	var diags diag.Diagnostics
	if m.App.IsUnknown() || m.App.IsNull() {
		return nil, "", diags
	}
	c, err := d.scalingoClient(ctx)
	if err != nil {
		diags.AddAttributeError(path.Root("scalingo"), "Unable to use the Scalingo target", err.Error()+".")
		return nil, "", diags
	}
	t := &target.Scalingo{
		Client: c, App: m.App.ValueString(), Name: name, Store: d.Store,
		SourceURLFromStore: m.SourceURLFromStore.ValueBool(),
		PollInterval:       scalingoPollInterval,
	}
	return t, "scalingo:" + t.App, diags
}

// scalingoBackup takes a manual backup of the app's database addon (id or provider
// name such as "postgresql") and waits until it is done; it returns the backup id.
func (d *providerData) scalingoBackup(ctx context.Context, app, addon string) (string, error) {
	c, err := d.scalingoClient(ctx)
	if err != nil {
		return "", err
	}
	tflog.Info(ctx, "taking a Scalingo database backup", map[string]any{"app": app, "addon": addon})
	b, err := c.BackupDatabase(ctx, app, addon, scalingoPollInterval)
	if err != nil {
		return "", err
	}
	tflog.Info(ctx, "Scalingo database backup done", map[string]any{"app": app, "backup": b.ID, "bytes": b.Size, "took": time.Since(b.CreatedAt).Round(time.Second).String()})
	return b.ID, nil
}
