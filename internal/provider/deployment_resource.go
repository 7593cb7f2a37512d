package provider

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/check"
	"github.com/releaseplan/terraform-provider-release/internal/deploy"
	"github.com/releaseplan/terraform-provider-release/internal/notify"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

var (
	_ resource.ResourceWithConfigure        = (*deploymentResource)(nil)
	_ resource.ResourceWithImportState      = (*deploymentResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*deploymentResource)(nil)
	_ resource.ResourceWithConfigValidators = (*deploymentResource)(nil)
)

// Defaults of release_deployment, shown in the schema descriptions.
const (
	deploymentDefaultKeep      = deploy.DefaultKeepReleases
	deploymentDefaultAttempts  = 10
	deploymentDefaultInterval  = "2s"
	deploymentDefaultTimeout   = "5s"
	deploymentDefaultCreateFor = 30 * time.Minute
)

var environmentNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// NewDeploymentResource is the release_deployment resource.
func NewDeploymentResource() resource.Resource { return &deploymentResource{} }

type deploymentResource struct {
	data *providerData
}

type deploymentResourceModel struct {
	ID          types.String `tfsdk:"id"`
	Environment types.String `tfsdk:"environment"`
	Artifact    types.String `tfsdk:"artifact"`
	SHA256      types.String `tfsdk:"sha256"`
	LockToken   types.Int64  `tfsdk:"lock_token"`
	// LockTokenWO is write-only: always null in plan and state; read from the config.
	LockTokenWO       types.Int64  `tfsdk:"lock_token_wo"`
	RollbackOnFailure types.Bool   `tfsdk:"rollback_on_failure"`
	AllowBlocked      types.Bool   `tfsdk:"allow_blocked"`
	OnDestroy         types.String `tfsdk:"on_destroy"`

	DeployedVersion types.String `tfsdk:"deployed_version"`
	PreviousVersion types.String `tfsdk:"previous_version"`
	DeployedAt      types.String `tfsdk:"deployed_at"`
	ReleaseID       types.String `tfsdk:"release_id"`
	BackupID        types.String `tfsdk:"backup_id"`
	PlannedSteps    types.List   `tfsdk:"planned_steps"`

	// Target blocks: exactly one is set. A target adds its block here (and to
	// deploymentSchema, ConfigValidators and deploymentTarget).
	Directory *deploymentDirectoryModel `tfsdk:"directory"`
	Scalingo  *deploymentScalingoModel  `tfsdk:"scalingo"`

	Hooks     *deploymentHooksModel     `tfsdk:"hooks"`
	Backup    *deploymentBackupModel    `tfsdk:"backup"`
	SmokeTest *deploymentSmokeTestModel `tfsdk:"smoke_test"`
	Timeouts  timeouts.Value            `tfsdk:"timeouts"`
}

type deploymentDirectoryModel struct {
	Path         types.String `tfsdk:"path"`
	KeepReleases types.Int64  `tfsdk:"keep_releases"`
	Shared       types.List   `tfsdk:"shared"`
}

type deploymentHooksModel struct {
	BeforeSwitch types.List `tfsdk:"before_switch"`
	AfterSwitch  types.List `tfsdk:"after_switch"`
}

type deploymentBackupModel struct {
	Command       types.String `tfsdk:"command"`
	ScalingoAddon types.String `tfsdk:"scalingo_addon"`
}

type deploymentSmokeTestModel struct {
	URL          types.String `tfsdk:"url"`
	Method       types.String `tfsdk:"method"`
	ExpectStatus types.Int64  `tfsdk:"expect_status"`
	BodyContains types.String `tfsdk:"body_contains"`
	Headers      types.Map    `tfsdk:"headers"`
	Attempts     types.Int64  `tfsdk:"attempts"`
	Interval     types.String `tfsdk:"interval"`
	Timeout      types.String `tfsdk:"timeout"`
	CAFile       types.String `tfsdk:"ca_file"`
	Insecure     types.Bool   `tfsdk:"insecure"`
	Host         types.String `tfsdk:"host"`
}

func (r *deploymentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deployment"
}

func (r *deploymentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = deploymentSchema(ctx)
}

func deploymentSchema(ctx context.Context) schema.Schema {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	return schema.Schema{
		MarkdownDescription: "Deploys one artifact to one environment's target: fences the lock token, refuses blocked versions, " +
			"streams the artifact from the store into a new release while verifying its sha256, runs the backup and `before_switch` hooks, " +
			"switches atomically, runs `after_switch` hooks and the smoke test, and switches back to the previous release when the smoke test fails.\n\n" +
			"The plan shows the version that goes live, the version it replaces (`previous_version`), the sha256 and every step (`planned_steps`). " +
			"The state always tells what is really live: a failed apply keeps the previous version, and a manual change of `current` shows as a change in the next plan. " +
			"Applying an earlier version is the rollback: its release folder goes live again at once when it is still there.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`<environment>:<target>`, e.g. `staging:/srv/histologe`; the import id.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"environment": schema.StringAttribute{
				MarkdownDescription: "Environment name (`staging`, `production`, ...): the scope of locks, blocks and history. Changing it replaces the resource.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.RegexMatches(environmentNameRe, "must be letters, digits, '.', '_' and '-', starting with a letter or digit")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"artifact": schema.StringAttribute{
				MarkdownDescription: "Artifact to deploy, `name@version` (for example `release_artifact.app.id`). It is fetched from the provider's artifact store.",
				Optional:            true,
				Validators:          []validator.String{artifactIDValidator{}},
			},
			"sha256": schema.StringAttribute{
				MarkdownDescription: "Expected sha256 of the artifact's bytes, verified while they stream into the new release and before anything goes live. Defaults to the sha256 the store recorded at publication, shown in the plan.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.String{sha256Hex()},
			},
			"lock_token": schema.Int64Attribute{
				MarkdownDescription: "Fencing token of the environment's lock (`release_environment_lock.<name>.token`). When set, the deployment is refused unless it is still the environment's current token, checked before anything changes and again just before the switch.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"lock_token_wo": schema.Int64Attribute{
				MarkdownDescription: "Write-only `lock_token`, for the token of a run-scoped lock (`ephemeral.release_environment_lock.<name>.token`), which is " +
					"ephemeral and so cannot be stored: it is checked like `lock_token` and never saved in the plan or the state. Needs Terraform 1.11 or later. Conflicts with `lock_token`.",
				Optional:  true,
				WriteOnly: true,
				Validators: []validator.Int64{
					int64validator.AtLeast(1),
					int64validator.ConflictsWith(path.MatchRoot("lock_token")),
				},
			},
			"rollback_on_failure": schema.BoolAttribute{
				MarkdownDescription: "Switch back to the previous release when an `after_switch` hook or the smoke test fails, then smoke-test it. Default `true`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
			},
			"allow_blocked": schema.BoolAttribute{
				MarkdownDescription: "Deploy the version even if a `release_version_block` marks it as known-bad. Default `false`: blocked versions are refused with the block's reason.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"on_destroy": schema.StringAttribute{
				MarkdownDescription: "What destroying the resource does: `keep` (default) leaves the live release serving; `remove` deletes `current` and every release folder (the `shared` folder stays).",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("keep"),
				Validators:          []validator.String{stringvalidator.OneOf("keep", "remove")},
			},
			"deployed_version": computed("Version that is live on the target."),
			"previous_version": computed("Version that was live before this deployment; null when nothing was. Applying it again is the rollback."),
			"deployed_at":      computed("When the live release went live (RFC 3339, UTC)."),
			"release_id":       computed("Target's id of the live release: its folder name under `releases/` for a directory target."),
			"backup_id":        computed("Id of the backup taken before the switch, when a `backup` block is set: the artifact id `<name>-backup@<version>+<timestamp>` of a `command` backup, or the Scalingo backup id of a `scalingo_addon` backup."),
			"planned_steps": schema.ListAttribute{
				MarkdownDescription: "The steps the apply performs, in order, as the plan shows them to the reviewer.",
				ElementType:         types.StringType,
				Computed:            true,
			},
		},
		Blocks: map[string]schema.Block{
			"directory": schema.SingleNestedBlock{
				MarkdownDescription: "Deploy to a server directory: `<path>/releases/<version>-<utc timestamp>/` per release and `<path>/current`, a symlink to the live release replaced with rename(2).",
				Attributes: map[string]schema.Attribute{
					"path": schema.StringAttribute{
						MarkdownDescription: "Absolute path of the application folder. Changing it replaces the resource.",
						Optional:            true,
						Validators:          []validator.String{absolutePathValidator{}},
						PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
					},
					"keep_releases": schema.Int64Attribute{
						MarkdownDescription: fmt.Sprintf("How many releases to keep after a successful deployment (default %d). The live and previous releases, and releases that failed, are never deleted.", deploymentDefaultKeep),
						Optional:            true,
						Computed:            true,
						Default:             int64default.StaticInt64(deploymentDefaultKeep),
						Validators:          []validator.Int64{int64validator.AtLeast(1)},
					},
					"shared": schema.ListAttribute{
						MarkdownDescription: "Paths inside the release (`storage`, `.env`) replaced by symlinks to `<path>/shared/<path>`, so they survive releases. A missing shared path is seeded from the first release that has it, else created as an empty folder.",
						ElementType:         types.StringType,
						Optional:            true,
					},
				},
			},
			"scalingo": deploymentScalingoBlock(),
			"hooks": schema.SingleNestedBlock{
				MarkdownDescription: "Shell commands (`sh -c`) run in the new release folder with `RELEASE_VERSION`, `RELEASE_PATH`, `RELEASE_PREVIOUS_VERSION`, `RELEASE_NAME` and `RELEASE_ENVIRONMENT` set.",
				Attributes: map[string]schema.Attribute{
					"before_switch": schema.ListAttribute{
						MarkdownDescription: "Run before the switch (migrations); the first failure aborts the deployment and the previous release keeps serving.",
						ElementType:         types.StringType,
						Optional:            true,
					},
					"after_switch": schema.ListAttribute{
						MarkdownDescription: "Run once the new release is live (cache warm-up); a failure counts as a failed deployment and triggers the rollback.",
						ElementType:         types.StringType,
						Optional:            true,
					},
				},
			},
			"backup": schema.SingleNestedBlock{
				MarkdownDescription: "Take a backup once the new release is verified and before the switch; a failed backup stops the deployment before anything changes. " +
					"Set exactly one of `command` and `scalingo_addon`. The backup's id is `backup_id`.",
				Attributes: map[string]schema.Attribute{
					"command": schema.StringAttribute{
						MarkdownDescription: "Shell command (`sh -c`) that writes the backup to `$RELEASE_BACKUP_FILE`, e.g. `pg_dump -Fc app > \"$RELEASE_BACKUP_FILE\"`. " +
							"It runs in the live release folder (a temporary folder when the target has none). The file is stored in the artifact store as `<name>-backup@<version>+<utc timestamp>` with its sha256.",
						Optional:   true,
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"scalingo_addon": schema.StringAttribute{
						MarkdownDescription: "With the `scalingo` target: take a manual backup of this database addon of the app through Scalingo's database API and wait until it is `done`. " +
							"The addon id, or its provider name (`postgresql`, `mysql`, ...) when the app has one addon of that provider. `backup_id` is the Scalingo backup id.",
						Optional:   true,
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
					},
				},
			},
			"smoke_test": schema.SingleNestedBlock{
				MarkdownDescription: "HTTP check run after the switch, and again on the previous release after a rollback.",
				Attributes: map[string]schema.Attribute{
					"url": schema.StringAttribute{
						MarkdownDescription: "URL to request, e.g. `http://127.0.0.1:8080/health`.",
						Optional:            true,
					},
					"method": schema.StringAttribute{
						MarkdownDescription: "HTTP method. Default `GET`.",
						Optional:            true,
						Computed:            true,
						Default:             stringdefault.StaticString("GET"),
					},
					"expect_status": schema.Int64Attribute{
						MarkdownDescription: "Status a healthy answer has. Default `200`.",
						Optional:            true,
						Computed:            true,
						Default:             int64default.StaticInt64(200),
						Validators:          []validator.Int64{int64validator.Between(100, 599)},
					},
					"body_contains": schema.StringAttribute{
						MarkdownDescription: "Text the body must contain.",
						Optional:            true,
					},
					"headers": schema.MapAttribute{
						MarkdownDescription: "Request headers. Sensitive: they may carry tokens.",
						ElementType:         types.StringType,
						Optional:            true,
						Sensitive:           true,
					},
					"attempts": schema.Int64Attribute{
						MarkdownDescription: fmt.Sprintf("Requests made at most before the test fails. Default `%d`.", deploymentDefaultAttempts),
						Optional:            true,
						Computed:            true,
						Default:             int64default.StaticInt64(deploymentDefaultAttempts),
						Validators:          []validator.Int64{int64validator.AtLeast(1)},
					},
					"interval": schema.StringAttribute{
						MarkdownDescription: "Pause between attempts, a Go duration. Default `" + deploymentDefaultInterval + "`.",
						Optional:            true,
						Computed:            true,
						Default:             stringdefault.StaticString(deploymentDefaultInterval),
						Validators:          []validator.String{goDuration()},
					},
					"timeout": schema.StringAttribute{
						MarkdownDescription: "Time limit of each attempt, a Go duration. Default `" + deploymentDefaultTimeout + "`.",
						Optional:            true,
						Computed:            true,
						Default:             stringdefault.StaticString(deploymentDefaultTimeout),
						Validators:          []validator.String{goDuration()},
					},
					"ca_file": schema.StringAttribute{
						MarkdownDescription: "PEM file of CA certificates trusted in addition to the system's.",
						Optional:            true,
					},
					"insecure": schema.BoolAttribute{
						MarkdownDescription: "Skip TLS certificate verification. Default `false`.",
						Optional:            true,
						Computed:            true,
						Default:             booldefault.StaticBool(false),
					},
					"host": schema.StringAttribute{
						MarkdownDescription: "Host header (and TLS server name) to send, to test a virtual host through an address such as `127.0.0.1:8080`.",
						Optional:            true,
					},
				},
			},
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true}),
		},
	}
}

func (r *deploymentResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		exactlyOneOfBlocks("directory", "scalingo"),
		blockAttributeRequired{block: "directory", attr: "path"},
		blockAttributeRequired{block: "scalingo", attr: "app"},
		blockExactlyOneOf{block: "backup", attrs: []string{"command", "scalingo_addon"}},
		attributeNeedsBlock{block: "backup", attr: "scalingo_addon", needs: "scalingo"},
		blockAttributeRequired{block: "smoke_test", attr: "url"},
	}
}

func (r *deploymentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// deploymentTarget builds the target the model names, and its key in the resource
// id: the directory path, or "scalingo:<app>".
func deploymentTarget(ctx context.Context, data *providerData, m *deploymentResourceModel) (target.Target, string, diag.Diagnostics) {
	var diags diag.Diagnostics
	switch {
	case m.Scalingo != nil:
		if data == nil {
			diags.AddError("Unconfigured provider", "The release provider was not configured.")
			return nil, "", diags
		}
		name, _, _ := m.nameVersion()
		return data.scalingoDeploymentTarget(ctx, m.Scalingo, name)
	case m.Directory != nil:
		if m.Directory.Path.IsUnknown() || m.Directory.Path.IsNull() {
			return nil, "", diags
		}
		var shared []string
		if !m.Directory.Shared.IsUnknown() {
			diags.Append(m.Directory.Shared.ElementsAs(ctx, &shared, false)...)
		}
		t, err := target.NewDirectory(m.Directory.Path.ValueString(), shared)
		if err != nil {
			diags.AddAttributeError(path.Root("directory"), "Invalid directory target", err.Error())
			return nil, "", diags
		}
		return t, t.Path, diags
	}
	diags.AddError("Missing deployment target", "Set a directory or a scalingo block: it says where the release is deployed.")
	return nil, "", diags
}

func deploymentID(environment, targetKey string) string { return environment + ":" + targetKey }

func (m *deploymentResourceModel) nameVersion() (string, string, bool) {
	if m.Artifact.IsUnknown() || m.Artifact.IsNull() {
		return "", "", false
	}
	name, version, err := store.ParseID(m.Artifact.ValueString())
	return name, version, err == nil
}

// ModifyPlan makes the plan the approval: it shows the live version that will be
// replaced, the version and sha256 that go live, whether the release folder is
// reused, and every step; it refuses at plan time what apply would refuse.
func (r *deploymentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan deploymentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *deploymentResourceModel
	if !req.State.Raw.IsNull() {
		state = &deploymentResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	tgt, key, diags := deploymentTarget(ctx, r.data, &plan)
	resp.Diagnostics.Append(diags...)
	if tgt == nil || resp.Diagnostics.HasError() {
		return
	}
	if !plan.Environment.IsUnknown() {
		plan.ID = types.StringValue(deploymentID(plan.Environment.ValueString(), key))
	}
	name, version, known := plan.nameVersion()
	var wo types.Int64
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("lock_token_wo"), &wo)...)

	var cfgSHA types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("sha256"), &cfgSHA)...)
	if cfgSHA.IsNull() && known {
		obj, err := r.data.Store.Stat(ctx, name, version)
		switch {
		case err == nil:
			plan.SHA256 = types.StringValue(obj.SHA256)
		case errors.Is(err, store.ErrNotFound) && state != nil && plan.Artifact.Equal(state.Artifact):
			// Deleted from the store since: what is deployed does not change.
			plan.SHA256 = state.SHA256
		case errors.Is(err, store.ErrNotFound):
			// Published by this same apply (or missing: apply says so).
			plan.SHA256 = types.StringUnknown()
		default:
			resp.Diagnostics.AddAttributeError(path.Root("artifact"), "Unable to read the artifact store", err.Error())
			return
		}
	} else if !cfgSHA.IsNull() && !cfgSHA.IsUnknown() {
		plan.SHA256 = types.StringValue(strings.ToLower(cfgSHA.ValueString()))
	}

	changing := state == nil || !known || plan.SHA256.IsUnknown() ||
		!plan.Artifact.Equal(state.Artifact) || !plan.SHA256.Equal(state.SHA256) || !plan.ID.Equal(state.ID)
	if !changing {
		// Only settings change: nothing is deployed, the computed values stay.
		plan.DeployedVersion, plan.PreviousVersion, plan.DeployedAt = state.DeployedVersion, state.PreviousVersion, state.DeployedAt
		plan.ReleaseID, plan.BackupID, plan.PlannedSteps = state.ReleaseID, state.BackupID, state.PlannedSteps
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}

	live, err := tgt.Current(ctx)
	if err != nil {
		resp.Diagnostics.AddAttributeError(plan.targetPath(), "Unable to read the deployment target", fmt.Sprintf("%s: %v. Fix the target, then plan again.", tgt.Describe(), err))
		return
	}
	plan.DeployedAt, plan.ReleaseID = types.StringUnknown(), types.StringUnknown()
	plan.PreviousVersion = types.StringNull()
	if live != nil {
		plan.PreviousVersion = types.StringValue(live.Version)
	}
	plan.BackupID = types.StringNull()
	if plan.Backup != nil {
		plan.BackupID = types.StringUnknown()
	}
	plan.DeployedVersion = types.StringUnknown()
	if known {
		plan.DeployedVersion = types.StringValue(version)
		resp.Diagnostics.Append(r.planRefusals(ctx, &plan, wo, name, version)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	steps := types.ListUnknown(types.StringType)
	if known && !plan.SHA256.IsUnknown() && !plan.Environment.IsUnknown() {
		var reuse *target.Prepared
		if p, err := tgt.Find(ctx, target.Spec{Name: name, Version: version, SHA256: plan.SHA256.ValueString()}); err == nil {
			reuse = p
		}
		s, d := types.ListValueFrom(ctx, types.StringType, plannedSteps(ctx, &plan, wo, tgt, live, reuse))
		resp.Diagnostics.Append(d...)
		steps = s
	}
	plan.PlannedSteps = steps
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// planRefusals reports at plan time a blocked version and a stale lock token.
func (r *deploymentResource) planRefusals(ctx context.Context, plan *deploymentResourceModel, wo types.Int64, name, version string) diag.Diagnostics {
	var diags diag.Diagnostics
	if plan.Environment.IsUnknown() {
		return diags
	}
	env := plan.Environment.ValueString()
	summary := "Unable to deploy " + name + "@" + version + " to " + env
	if b, err := r.data.Backend.GetBlock(ctx, name, version); err != nil {
		diags.AddWarning("Unable to check version blocks", err.Error())
	} else if b != nil {
		if !plan.AllowBlocked.ValueBool() {
			diags.AddAttributeError(path.Root("artifact"), summary,
				fmt.Sprintf("%s@%s is blocked: %s. Deploy another version, remove the release_version_block, or set allow_blocked = true to override it.", name, version, b.Reason))
		} else {
			diags.AddWarning("Deploying a blocked version", fmt.Sprintf("%s@%s is blocked (%s); allow_blocked = true overrides the block.", name, version, b.Reason))
		}
	}
	for attr, token := range map[string]types.Int64{"lock_token": plan.LockToken, "lock_token_wo": wo} {
		if token.IsNull() || token.IsUnknown() {
			continue
		}
		if err := backend.CheckToken(ctx, r.data.Backend, env, token.ValueInt64()); err != nil {
			diags.AddAttributeError(path.Root(attr), summary,
				fmt.Sprintf("The deployment would be refused: %v. Acquire the environment lock again and plan with its new token.", err))
		}
	}
	return diags
}

func plannedSteps(ctx context.Context, m *deploymentResourceModel, wo types.Int64, tgt target.Target, live *target.Release, reuse *target.Prepared) []string {
	name, version, _ := m.nameVersion()
	id := name + "@" + version
	var steps []string
	switch {
	case m.LockToken.IsUnknown():
		// The lock is acquired in the same apply: its token is only known then.
		steps = append(steps, fmt.Sprintf("check that the token of the lock acquired by this apply is still the lock of %s", m.Environment.ValueString()))
	case !m.LockToken.IsNull():
		steps = append(steps, fmt.Sprintf("check that lock token %d is still the lock of %s", m.LockToken.ValueInt64(), m.Environment.ValueString()))
	case !wo.IsNull():
		// A run lock is acquired again by the apply: its token is only known then.
		steps = append(steps, fmt.Sprintf("check that the run's lock token (lock_token_wo) is still the lock of %s", m.Environment.ValueString()))
	}
	if m.AllowBlocked.ValueBool() {
		steps = append(steps, "deploy "+id+" even if it is blocked (allow_blocked)")
	} else {
		steps = append(steps, "refuse "+id+" if it is blocked")
	}
	switch {
	case reuse != nil:
		steps = append(steps, fmt.Sprintf("reuse release %s on %s (same sha256 %s, nothing downloaded)", reuse.Release.ID, tgt.Describe(), m.SHA256.ValueString()))
	case m.Scalingo != nil:
		steps = append(steps, fmt.Sprintf("read %s from the artifact store, verifying sha256 %s before anything goes to %s", id, m.SHA256.ValueString(), tgt.Describe()))
	default:
		steps = append(steps, fmt.Sprintf("stream %s into a new release on %s, verifying sha256 %s before anything goes live", id, tgt.Describe(), m.SHA256.ValueString()))
	}
	if b := m.Backup; b != nil {
		if !b.ScalingoAddon.IsNull() {
			steps = append(steps, fmt.Sprintf("take a manual backup of the %s addon of %s through Scalingo's database API and wait until it is done; a failure stops here", b.ScalingoAddon.ValueString(), tgt.Describe()))
		} else {
			steps = append(steps, fmt.Sprintf("run the backup command and store its file as %s%s@%s+<timestamp>", name, deploy.BackupSuffix, version))
		}
	}
	if m.Hooks != nil {
		if n := len(m.Hooks.BeforeSwitch.Elements()); n > 0 {
			steps = append(steps, fmt.Sprintf("run %d before_switch hook(s) in the new release; a failure stops here", n))
		}
	}
	from := "nothing"
	if live != nil {
		from = live.Version + " (" + live.ID + ")"
	}
	if m.Scalingo != nil {
		src := "upload the verified bytes as a source archive"
		if m.Scalingo.SourceURLFromStore.ValueBool() {
			src = "pass the artifact store's URL of " + id
		}
		steps = append(steps, fmt.Sprintf("%s, deploy git_ref %s to %s (live now: %s) and wait for success; a failed build keeps the previous containers running", src, version, tgt.Describe(), from))
	} else {
		steps = append(steps, fmt.Sprintf("switch %s from %s to %s atomically", tgt.Describe(), from, version))
	}
	if m.Hooks != nil {
		if n := len(m.Hooks.AfterSwitch.Elements()); n > 0 {
			steps = append(steps, fmt.Sprintf("run %d after_switch hook(s)", n))
		}
	}
	if st := m.SmokeTest; st != nil {
		steps = append(steps, fmt.Sprintf("smoke test %s %s expecting %d (%d attempts)", st.Method.ValueString(), st.URL.ValueString(), st.ExpectStatus.ValueInt64(), st.Attempts.ValueInt64()))
	}
	if m.RollbackOnFailure.ValueBool() {
		switch {
		case live != nil && m.Scalingo != nil:
			steps = append(steps, "on failure after a successful build, deploy "+live.Version+"'s artifact again and smoke-test it")
		case live != nil:
			steps = append(steps, "on failure, switch back to "+live.Version+" and smoke-test it")
		default:
			steps = append(steps, "on failure, stop serving the failed release (nothing was live before)")
		}
	} else {
		steps = append(steps, "on failure, leave "+version+" live (rollback_on_failure = false)")
	}
	if m.Directory != nil {
		steps = append(steps, fmt.Sprintf("keep the %d newest releases, the previous one and failed ones", m.Directory.KeepReleases.ValueInt64()))
	}
	_ = ctx
	return steps
}

func (r *deploymentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	// A webhook that cannot be reached is a warning, never a failed deployment.
	ctx = notify.Collect(ctx)
	defer notificationWarnings(ctx, &resp.Diagnostics)
	var plan deploymentResourceModel
	var wo types.Int64
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("lock_token_wo"), &wo)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, deploymentDefaultCreateFor)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.apply(ctx, &plan, nil, wo, &resp.State, &resp.Diagnostics)
}

func (r *deploymentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	ctx = notify.Collect(ctx)
	defer notificationWarnings(ctx, &resp.Diagnostics)
	var plan, state deploymentResourceModel
	var wo types.Int64
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("lock_token_wo"), &wo)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, deploymentDefaultCreateFor)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if plan.Artifact.Equal(state.Artifact) && plan.SHA256.Equal(state.SHA256) && !plan.DeployedAt.IsUnknown() {
		// Settings only (hooks, smoke test, lock token...): nothing to deploy.
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	r.apply(ctx, &plan, &state, wo, &resp.State, &resp.Diagnostics)
}

// deploymentState is the part of tfsdk.State apply needs.
type deploymentState interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}

// apply runs the deployment and saves what is really live: on success the plan
// with its computed values; on failure, the live release over the prior state (or
// nothing after a failed first deployment that left nothing live). wo is the
// write-only lock token from the configuration (null when not set).
func (r *deploymentResource) apply(ctx context.Context, plan, prior *deploymentResourceModel, wo types.Int64, st deploymentState, diags *diag.Diagnostics) {
	if r.data == nil {
		diags.AddError("Unconfigured provider", "The release provider was not configured.")
		return
	}
	plan.LockTokenWO = types.Int64Null() // write-only: never saved
	name, version, ok := plan.nameVersion()
	env := plan.Environment.ValueString()
	summary := fmt.Sprintf("Unable to deploy %s to %s", plan.Artifact.ValueString(), env)
	if !ok {
		diags.AddAttributeError(path.Root("artifact"), summary, "artifact must be name@version.")
		return
	}
	tgt, key, d := deploymentTarget(ctx, r.data, plan)
	diags.Append(d...)
	if tgt == nil || diags.HasError() {
		return
	}
	req, d := plan.deployRequest(ctx, name, version)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	req.Target, req.Store, req.Backend, req.Actor = tgt, r.data.Store, r.data.Backend, r.data.Actor
	if !wo.IsNull() && !wo.IsUnknown() {
		req.LockToken = wo.ValueInt64()
	}
	if b := plan.Backup; b != nil && !b.ScalingoAddon.IsNull() && plan.Scalingo != nil {
		app, addon := plan.Scalingo.App.ValueString(), b.ScalingoAddon.ValueString()
		req.BackupName = fmt.Sprintf("the Scalingo backup of the %s addon of %s", addon, app)
		req.Backup = func(ctx context.Context) (string, error) { return r.data.scalingoBackup(ctx, app, addon) }
	}

	// The plan was approved against what was live then; refuse if it moved since.
	live, err := tgt.Current(ctx)
	if err != nil {
		diags.AddError(summary, fmt.Sprintf("Could not read what %s serves: %v. Nothing was changed.", tgt.Describe(), err))
		return
	}
	if !plan.PreviousVersion.IsUnknown() {
		liveVersion := ""
		if live != nil {
			liveVersion = live.Version
		}
		if liveVersion != plan.PreviousVersion.ValueString() {
			diags.AddError(summary, fmt.Sprintf("The plan replaces %s, but %s now serves %s: someone deployed since the plan. Nothing was changed. Plan again and review the new plan.",
				orNothing(plan.PreviousVersion.ValueString()), tgt.Describe(), orNothing(liveVersion)))
			if prior != nil {
				r.saveLive(ctx, prior, live, st, diags)
			}
			return
		}
	}

	req.Log = func(msg string, fields map[string]any) {
		f := map[string]any{"environment": env, "artifact": name + "@" + version}
		for k, v := range fields {
			f[k] = v
		}
		tflog.Info(ctx, msg, f)
	}
	res, err := deploy.Deploy(ctx, req)
	for _, w := range res.Warnings {
		diags.AddWarning("Deployment of "+name+"@"+version+" to "+env+" finished with a warning", w)
	}
	if err != nil {
		diags.AddError(summary, err.Error())
		if res.Live != nil && res.Release != nil && res.Live.ID == res.Release.ID {
			// rollback_on_failure = false: the failed release is what serves.
			r.saveSuccess(ctx, plan, wo, key, tgt, res, st, diags)
			return
		}
		if prior != nil {
			r.saveLive(ctx, prior, res.Live, st, diags)
		}
		return
	}
	r.saveSuccess(ctx, plan, wo, key, tgt, res, st, diags)
}

func orNothing(v string) string {
	if v == "" {
		return "nothing"
	}
	return v
}

func (r *deploymentResource) saveSuccess(ctx context.Context, plan *deploymentResourceModel, wo types.Int64, key string, tgt target.Target, res deploy.Result, st deploymentState, diags *diag.Diagnostics) {
	m := *plan
	m.ID = types.StringValue(deploymentID(m.Environment.ValueString(), key))
	live := res.Live
	if cur, err := tgt.Current(ctx); err == nil && cur != nil && cur.ID == live.ID {
		live = cur // its activation time as the target records it, like Read
	}
	m.DeployedVersion = types.StringValue(live.Version)
	m.SHA256 = types.StringValue(live.SHA256)
	m.ReleaseID = types.StringValue(live.ID)
	m.DeployedAt = types.StringValue(activatedAt(live))
	m.PreviousVersion = types.StringNull()
	if res.Previous != nil {
		m.PreviousVersion = types.StringValue(res.Previous.Version)
	}
	m.BackupID = types.StringNull()
	if res.BackupID != "" {
		m.BackupID = types.StringValue(res.BackupID)
	}
	if m.PlannedSteps.IsUnknown() {
		steps, d := types.ListValueFrom(ctx, types.StringType, plannedSteps(ctx, &m, wo, tgt, res.Previous, nil))
		diags.Append(d...)
		m.PlannedSteps = steps
	}
	diags.Append(st.Set(ctx, &m)...)
}

// saveLive keeps the prior state but makes it say what is live now.
func (r *deploymentResource) saveLive(ctx context.Context, prior *deploymentResourceModel, live *target.Release, st deploymentState, diags *diag.Diagnostics) {
	m := *prior
	if live != nil {
		applyLive(&m, live)
	}
	diags.Append(st.Set(ctx, &m)...)
}

// applyLive makes m describe the live release; the artifact keeps its name when
// the release does not record one (a folder made by hand).
func applyLive(m *deploymentResourceModel, live *target.Release) {
	name := live.Name
	if name == "" {
		name, _, _ = m.nameVersion()
	}
	if !m.ReleaseID.Equal(types.StringValue(live.ID)) || m.DeployedAt.IsNull() || m.DeployedAt.IsUnknown() {
		m.DeployedAt = types.StringValue(activatedAt(live))
	}
	m.Artifact = types.StringValue(name + "@" + live.Version)
	m.DeployedVersion = types.StringValue(live.Version)
	m.ReleaseID = types.StringValue(live.ID)
	if live.SHA256 != "" {
		m.SHA256 = types.StringValue(live.SHA256)
	}
}

func activatedAt(rel *target.Release) string {
	t := rel.ActivatedAt
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(time.RFC3339)
}

func (m *deploymentResourceModel) deployRequest(ctx context.Context, name, version string) (deploy.Request, diag.Diagnostics) {
	var diags diag.Diagnostics
	req := deploy.Request{
		Environment:       m.Environment.ValueString(),
		Name:              name,
		Version:           version,
		SHA256:            m.SHA256.ValueString(),
		LockToken:         m.LockToken.ValueInt64(),
		AllowBlocked:      m.AllowBlocked.ValueBool(),
		RollbackOnFailure: m.RollbackOnFailure.ValueBool(),
	}
	if m.SHA256.IsUnknown() {
		req.SHA256 = ""
	}
	if m.Directory != nil {
		req.KeepReleases = int(m.Directory.KeepReleases.ValueInt64())
	}
	if m.Hooks != nil {
		diags.Append(stringList(ctx, m.Hooks.BeforeSwitch, &req.Hooks.BeforeSwitch)...)
		diags.Append(stringList(ctx, m.Hooks.AfterSwitch, &req.Hooks.AfterSwitch)...)
	}
	if m.Backup != nil {
		req.BackupCommand = m.Backup.Command.ValueString()
	}
	if s := m.SmokeTest; s != nil {
		c := check.HTTPCheck{
			URL:          s.URL.ValueString(),
			Method:       s.Method.ValueString(),
			ExpectStatus: int(s.ExpectStatus.ValueInt64()),
			BodyContains: s.BodyContains.ValueString(),
			Attempts:     int(s.Attempts.ValueInt64()),
			Interval:     parseDuration(s.Interval.ValueString()),
			Timeout:      parseDuration(s.Timeout.ValueString()),
			CAFile:       s.CAFile.ValueString(),
			Insecure:     s.Insecure.ValueBool(),
			Host:         s.Host.ValueString(),
		}
		if !s.Headers.IsNull() && !s.Headers.IsUnknown() {
			diags.Append(s.Headers.ElementsAs(ctx, &c.Headers, false)...)
		}
		if err := c.Validate(); err != nil {
			diags.AddAttributeError(path.Root("smoke_test"), "Invalid smoke_test", err.Error())
		}
		req.SmokeTest = &c
	}
	return req, diags
}

func stringList(ctx context.Context, l types.List, out *[]string) diag.Diagnostics {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	return l.ElementsAs(ctx, out, false)
}

// Read reports what the target really serves; it never downloads an artifact.
func (r *deploymentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state deploymentResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tgt, _, diags := deploymentTarget(ctx, r.data, &state)
	resp.Diagnostics.Append(diags...)
	if tgt == nil || resp.Diagnostics.HasError() {
		return
	}
	live, err := tgt.Current(ctx)
	if errors.Is(err, target.ErrNotFound) {
		tflog.Info(ctx, "the target is gone; removing the deployment from the state", map[string]any{"target": tgt.Describe(), "error": err.Error()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to read deployment "+state.ID.ValueString(), fmt.Sprintf("%s: %v", tgt.Describe(), err))
		return
	}
	if live == nil {
		tflog.Info(ctx, "nothing is live on the target any more; removing the deployment from the state", map[string]any{"target": tgt.Describe()})
		resp.State.RemoveResource(ctx)
		return
	}
	if state.ReleaseID.ValueString() != "" && state.ReleaseID.ValueString() != live.ID {
		tflog.Info(ctx, "the live release changed outside Terraform", map[string]any{"state": state.ReleaseID.ValueString(), "live": live.ID})
	}
	if live.Name == "" && state.Artifact.IsNull() {
		resp.Diagnostics.AddError("Unable to read deployment "+state.ID.ValueString(),
			fmt.Sprintf("The live release %s of %s records no artifact name (it was not deployed by this provider).", live.ID, tgt.Describe()))
		return
	}
	applyLive(&state, live)
	if state.PlannedSteps.IsNull() || state.PlannedSteps.IsUnknown() {
		state.PlannedSteps = types.ListValueMust(types.StringType, []attr.Value{})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *deploymentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state deploymentResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.OnDestroy.ValueString() != "remove" {
		tflog.Info(ctx, "on_destroy = keep: the live release keeps serving", map[string]any{"id": state.ID.ValueString()})
		return
	}
	if state.Scalingo != nil {
		resp.Diagnostics.AddWarning("The Scalingo app keeps running",
			fmt.Sprintf("on_destroy = \"remove\" does not delete Scalingo app %s nor its deployments: the resource only leaves the state. Delete or scale down the app with Scalingo's tools if it must stop.", state.Scalingo.App.ValueString()))
		return
	}
	tgt, _, diags := deploymentTarget(ctx, r.data, &state)
	resp.Diagnostics.Append(diags...)
	if tgt == nil || resp.Diagnostics.HasError() {
		return
	}
	if err := tgt.Remove(ctx); err != nil {
		resp.Diagnostics.AddError("Unable to remove deployment "+state.ID.ValueString(),
			fmt.Sprintf("Removing the releases of %s failed: %v. Some release folders may remain; remove them by hand or destroy again.", tgt.Describe(), err))
	}
}

// ImportState takes `<environment>:<absolute path>` for a directory target and
// `<environment>:scalingo:<app>` (optionally `:<artifact name>`) for a Scalingo app;
// Read then fills in the live release.
func (r *deploymentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	const summary = "Unable to import release_deployment"
	env, rest, ok := strings.Cut(req.ID, ":")
	if !ok || !environmentNameRe.MatchString(env) {
		resp.Diagnostics.AddError(summary, fmt.Sprintf("The import id %q must be <environment>:<absolute path> for a directory target (e.g. staging:/srv/histologe) "+
			"or <environment>:scalingo:<app> for a Scalingo app (e.g. staging:scalingo:histologe-staging).", req.ID))
		return
	}
	m := deploymentResourceModel{
		Environment:       types.StringValue(env),
		Artifact:          types.StringNull(),
		SHA256:            types.StringNull(),
		LockToken:         types.Int64Null(),
		LockTokenWO:       types.Int64Null(),
		RollbackOnFailure: types.BoolValue(true),
		AllowBlocked:      types.BoolValue(false),
		OnDestroy:         types.StringValue("keep"),
		DeployedVersion:   types.StringNull(),
		PreviousVersion:   types.StringNull(),
		DeployedAt:        types.StringNull(),
		ReleaseID:         types.StringNull(),
		BackupID:          types.StringNull(),
		PlannedSteps:      types.ListValueMust(types.StringType, []attr.Value{}),
		Timeouts:          timeouts.Value{Object: typesObjectNull(ctx)},
	}
	name := ""
	if app, isScalingo := strings.CutPrefix(rest, "scalingo:"); isScalingo {
		app, name, _ = strings.Cut(app, ":")
		if app == "" || (name != "" && store.ValidateName(name) != nil) {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("The import id %q must be <environment>:scalingo:<app>, or <environment>:scalingo:<app>:<artifact name> when the release history does not know which artifact the app runs.", req.ID))
			return
		}
		m.ID = types.StringValue(deploymentID(env, "scalingo:"+app))
		m.Scalingo = &deploymentScalingoModel{App: types.StringValue(app), SourceURLFromStore: types.BoolValue(false)}
	} else {
		if !filepath.IsAbs(rest) {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("The import id %q must be <environment>:<absolute path of the directory target>, e.g. staging:/srv/histologe, "+
				"or <environment>:scalingo:<app> for a Scalingo app.", req.ID))
			return
		}
		p := filepath.Clean(rest)
		m.ID = types.StringValue(deploymentID(env, p))
		m.Directory = &deploymentDirectoryModel{
			Path:         types.StringValue(p),
			KeepReleases: types.Int64Value(deploymentDefaultKeep),
			Shared:       types.ListNull(types.StringType),
		}
	}
	tgt, _, diags := deploymentTarget(ctx, r.data, &m)
	resp.Diagnostics.Append(diags...)
	if tgt == nil || resp.Diagnostics.HasError() {
		return
	}
	live, err := tgt.Current(ctx)
	if err != nil || live == nil {
		resp.Diagnostics.AddError(summary,
			fmt.Sprintf("Nothing is live on %s (%v): there is no deployment to import.", tgt.Describe(), errOrNothing(err)))
		return
	}
	var deployed []backend.Event
	if r.data != nil {
		deployed, _ = r.data.Backend.History(ctx, backend.HistoryQuery{Environment: env, Kinds: []string{backend.KindDeployed}, Limit: 20})
	}
	if m.Scalingo != nil && name == "" {
		// A Scalingo deployment records only its git_ref: the history of the
		// environment tells which artifact that version was.
		for _, ev := range deployed {
			if ev.Version == live.Version && ev.Name != "" {
				name = ev.Name
				break
			}
		}
		if name == "" {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("%s runs %s, but the release history of %s has no deployment of that version, so the artifact name is unknown. "+
				"Import with %s:scalingo:%s:<artifact name>.", tgt.Describe(), live.Version, env, env, m.Scalingo.App.ValueString()))
			return
		}
	}
	if m.Scalingo != nil {
		m.Artifact = types.StringValue(name + "@" + live.Version)
		// Read the live release again under the artifact's name: sha256 and git commit.
		if tgt, _, diags = deploymentTarget(ctx, r.data, &m); diags.HasError() {
			resp.Diagnostics.Append(diags...)
			return
		}
		if live, err = tgt.Current(ctx); err != nil || live == nil {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("Could not read what %s serves: %v.", tgt.Describe(), errOrNothing(err)))
			return
		}
	}
	if live.Name == "" {
		resp.Diagnostics.AddError(summary,
			fmt.Sprintf("The live release %s of %s records no artifact name: it was not deployed by this provider. Deploy it with release_deployment instead.", live.ID, tgt.Describe()))
		return
	}
	applyLive(&m, live)
	// The version that was live before, from the history, when the backend knows it.
	var same []backend.Event
	for _, ev := range deployed {
		if ev.Name == live.Name {
			same = append(same, ev)
		}
	}
	if len(same) >= 2 && same[0].Version == live.Version {
		m.PreviousVersion = types.StringValue(same[1].Version)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func errOrNothing(err error) string {
	if err == nil {
		return "no current release"
	}
	return err.Error()
}

func typesObjectNull(context.Context) types.Object {
	return types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType})
}

// artifactIDValidator accepts name@version as the artifact store does.
type artifactIDValidator struct{}

func (artifactIDValidator) Description(context.Context) string {
	return "value must be an artifact id, name@version"
}

func (v artifactIDValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (artifactIDValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, _, err := store.ParseID(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid artifact", err.Error()+".")
	}
}

// absolutePathValidator refuses relative paths: a target must not depend on the
// directory Terraform happens to run in.
type absolutePathValidator struct{}

func (absolutePathValidator) Description(context.Context) string {
	return "value must be an absolute path"
}

func (v absolutePathValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (absolutePathValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if !filepath.IsAbs(req.ConfigValue.ValueString()) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid directory path",
			fmt.Sprintf("%q is relative; use an absolute path such as /srv/histologe (for example with abspath()).", req.ConfigValue.ValueString()))
	}
}

// targetPath is the target block, for diagnostics about the target.
func (m *deploymentResourceModel) targetPath() path.Path {
	if m.Scalingo != nil {
		return path.Root("scalingo")
	}
	return path.Root("directory")
}

// blockExactlyOneOf requires exactly one of attrs when the optional single block is
// present.
type blockExactlyOneOf struct {
	block string
	attrs []string
}

func (v blockExactlyOneOf) Description(context.Context) string {
	return fmt.Sprintf("exactly one of %s must be set in the %s block", strings.Join(v.attrs, ", "), v.block)
}

func (v blockExactlyOneOf) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v blockExactlyOneOf) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var block types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(v.block), &block)...)
	if resp.Diagnostics.HasError() || block.IsNull() || block.IsUnknown() {
		return
	}
	var set []string
	for _, name := range v.attrs {
		a, ok := block.Attributes()[name]
		if ok && a.IsUnknown() {
			return // decided once the value is known (for example in a module, at plan time)
		}
		if ok && !a.IsNull() {
			set = append(set, name)
		}
	}
	if len(set) != 1 {
		resp.Diagnostics.AddAttributeError(path.Root(v.block), "Invalid "+v.block+" block",
			fmt.Sprintf("Set exactly one of %s in the %s block (found %d).", strings.Join(v.attrs, ", "), v.block, len(set)))
	}
}

// attributeNeedsBlock refuses block.attr unless the block needs is present (a
// Scalingo backup needs the Scalingo target).
type attributeNeedsBlock struct{ block, attr, needs string }

func (v attributeNeedsBlock) Description(context.Context) string {
	return fmt.Sprintf("%s.%s needs the %s block", v.block, v.attr, v.needs)
}

func (v attributeNeedsBlock) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v attributeNeedsBlock) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var attr types.String
	var needs types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(v.block).AtName(v.attr), &attr)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(v.needs), &needs)...)
	if resp.Diagnostics.HasError() || attr.IsNull() || attr.IsUnknown() || !needs.IsNull() {
		return
	}
	resp.Diagnostics.AddAttributeError(path.Root(v.block).AtName(v.attr), "Invalid "+v.block+" block",
		fmt.Sprintf("%s.%s only works with the %s target block; use %s.command for other targets.", v.block, v.attr, v.needs, v.block))
}

// blockAttributeRequired makes an attribute of an optional single block required
// when the block is present (Required inside a single nested block would make the
// block itself mandatory).
type blockAttributeRequired struct{ block, attr string }

func (v blockAttributeRequired) Description(context.Context) string {
	return fmt.Sprintf("%s.%s must be set when the %s block is present", v.block, v.attr, v.block)
}

func (v blockAttributeRequired) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v blockAttributeRequired) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var block types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(v.block), &block)...)
	if resp.Diagnostics.HasError() || block.IsNull() || block.IsUnknown() {
		return
	}
	if a, ok := block.Attributes()[v.attr]; ok && a.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root(v.block).AtName(v.attr), "Missing required argument",
			fmt.Sprintf("The argument %q is required in the %s block.", v.attr, v.block))
	}
}
