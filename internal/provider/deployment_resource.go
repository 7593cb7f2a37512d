package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
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

	"github.com/releaseplan/terraform-provider-release/internal/deploy"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
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
	deploymentDefaultCreateFor = 30 * time.Minute
)

// NewDeploymentResource is the release_deployment resource.
func NewDeploymentResource() resource.Resource {
	return &deploymentResource{resourceBase{typeName: "_deployment"}}
}

type deploymentResource struct {
	resourceBase
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
	AllowDowngrade    types.Bool   `tfsdk:"allow_downgrade"`
	OnDestroy         types.String `tfsdk:"on_destroy"`
	// FreezeOverride lets the deployment through a freeze window (see freeze_plan.go).
	FreezeOverride types.String `tfsdk:"freeze_override"`

	DeployedVersion types.String `tfsdk:"deployed_version"`
	PreviousVersion types.String `tfsdk:"previous_version"`
	DeployedAt      types.String `tfsdk:"deployed_at"`
	ReleaseID       types.String `tfsdk:"release_id"`
	BackupID        types.String `tfsdk:"backup_id"`
	PlannedSteps    types.List   `tfsdk:"planned_steps"`
	Status          types.String `tfsdk:"status"`
	HostsLive       types.Map    `tfsdk:"hosts_live"`
	Changes         types.List   `tfsdk:"changes"`

	// Target blocks: exactly one is set. A target adds its block here (and to
	// deploymentSchema, ConfigValidators and deploymentTarget).
	Directory *deploymentDirectoryModel `tfsdk:"directory"`
	Scalingo  *deploymentScalingoModel  `tfsdk:"scalingo"`

	Hooks     *deploymentHooksModel     `tfsdk:"hooks"`
	Backup    *deploymentBackupModel    `tfsdk:"backup"`
	SmokeTest *httpCheckModel           `tfsdk:"smoke_test"`
	Changelog *deploymentChangelogModel `tfsdk:"changelog"`
	Timeouts  timeouts.Value            `tfsdk:"timeouts"`
}

type deploymentChangelogModel struct {
	Repository types.String `tfsdk:"repository"`
}

type deploymentDirectoryModel struct {
	Path             types.String `tfsdk:"path"`
	KeepReleases     types.Int64  `tfsdk:"keep_releases"`
	Shared           types.List   `tfsdk:"shared"`
	MaxExtractedSize types.String `tfsdk:"max_extracted_size"`
	MaxFileSize      types.String `tfsdk:"max_file_size"`
	SSH              *sshModel    `tfsdk:"ssh"`
}

type deploymentHooksModel struct {
	BeforeSwitch     types.List `tfsdk:"before_switch"`
	BeforeSwitchOnce types.List `tfsdk:"before_switch_once"`
	AfterSwitch      types.List `tfsdk:"after_switch"`
}

type deploymentBackupModel struct {
	Command       types.String `tfsdk:"command"`
	ScalingoAddon types.String `tfsdk:"scalingo_addon"`
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
			"Applying an earlier version is the rollback: its release folder goes live again at once when it is still there. " +
			"A version lower than the live one that was never live in the environment is refused (`allow_downgrade`), and with a `changelog` block " +
			"the plan lists what the release changes (`changes`).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`<environment>:<target>`, e.g. `staging:/srv/histologe`; the import id.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"environment": schema.StringAttribute{
				MarkdownDescription: "Environment name (`staging`, `production`, ...): the scope of locks, blocks and history. Changing it replaces the resource.",
				Required:            true,
				Validators:          []validator.String{validate.EnvironmentName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"artifact": schema.StringAttribute{
				MarkdownDescription: "Artifact to deploy, `name@version` (for example `release_artifact.app.id`). It is fetched from the provider's artifact store.",
				Required:            true,
				Validators:          []validator.String{validate.ArtifactID()},
			},
			"sha256": schema.StringAttribute{
				MarkdownDescription: "Expected sha256 of the artifact's bytes, verified while they stream into the new release and before anything goes live. Defaults to the sha256 the store recorded at publication, shown in the plan.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.String{validate.SHA256()},
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
			"allow_downgrade": schema.BoolAttribute{
				MarkdownDescription: "Deploy a version lower (semantic-version precedence) than the live one even when it was never live in this environment. " +
					"Default `false`: such a deployment is refused at plan time and again at apply time, so that an old pipeline or a stale branch cannot overwrite a newer release. " +
					"Going back to a version that was live here before (the release history says so) is a rollback and is always allowed; its plan says \"roll back <environment> from <live> to <version> (live here until <time>)\".",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"on_destroy": schema.StringAttribute{
				MarkdownDescription: "What destroying the resource does: `keep` (default) leaves the live release serving; `remove` deletes `current` and every release folder (the `shared` folder stays).",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("keep"),
				Validators:          []validator.String{stringvalidator.OneOf("keep", "remove")},
			},
			"freeze_override":  freezeOverrideAttribute("deployment"),
			"deployed_version": computed("Version that is live on the target."),
			"previous_version": computed("Version that was live before this deployment; null when nothing was. Applying it again is the rollback."),
			"deployed_at":      computed("When the live release went live (RFC 3339, UTC)."),
			"release_id":       computed("Target's id of the live release: its folder name under `releases/` for a directory target."),
			"backup_id":        computed("Id of the backup taken before the switch, when a `backup` block is set: the artifact id `<name>-backup@<live version>+<timestamp>` of a `command` backup (named after the release whose data it holds, `0.0.0` when nothing was live), or the Scalingo backup id of a `scalingo_addon` backup."),
			"status": schema.StringAttribute{
				MarkdownDescription: "What the target serves, as the last refresh read it: `live` (a release whose deployment finished: after_switch hooks and smoke test passed), " +
					"`unverified` (a release went live but its after_switch hooks and smoke test never finished, e.g. the apply was killed), " +
					"`failed` (the live release failed its deployment and was not rolled back) or `drifted` (`current` is not one of the target's releases: it points outside `releases/`, or at a release folder that is gone; or the `ssh` hosts serve different releases). " +
					"Anything but `live` makes the next plan deploy again, which verifies the release and rolls back when it still fails.",
				Computed: true,
			},
			"hosts_live": schema.MapAttribute{
				MarkdownDescription: "With `directory.ssh`: the release each host serves, by host as written in `hosts` " +
					"(`{ \"web1.example.org\" = \"1.7.4-20260102T150405Z\" }`, `\"\"` for a host that serves nothing), as the last refresh read it. " +
					"Hosts that disagree (one switched by hand, a host added to `hosts`) make `status` `drifted`, and the next apply converges every host. Null without `ssh`.",
				ElementType: types.StringType,
				Computed:    true,
			},
			"changes": schema.ListAttribute{
				MarkdownDescription: "With a `changelog` block: what the deployment changes, one line per merged pull request or commit between the `git_commit` of the live release and the new one's " +
					"(both from the artifacts' metadata), grouped like `release_notes`: `\"Features: api: add CSV export (#42)\"`, `\"Bug fixes: keep the session (3f2a9c1)\"`; " +
					"entries of the live release that the new one does not contain (a rollback, or a commit that does not descend from the live one, which the plan also warns about) follow as `\"Removed: ...\"`. " +
					"Known at plan time when both artifacts are published and the repository can tell; after the apply, what the last deployment changed. " +
					"Null without `changelog`, when nothing verified was live, or when an artifact records no `git_commit`.",
				ElementType: types.StringType,
				Computed:    true,
			},
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
						MarkdownDescription: "Absolute path of the application folder, not `/` nor a system directory such as `/etc` or `/var`. Changing it replaces the resource.",
						Optional:            true,
						Validators:          []validator.String{validate.TargetPath()},
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
					"max_extracted_size": schema.StringAttribute{
						MarkdownDescription: "Largest total size of the files of one release, such as `8GiB` (the default) or `500MB`. A larger archive is refused while it streams, before anything goes live. Whatever the cap, the release must also fit in the free space of the target's filesystem, checked against the sizes the archive declares.",
						Optional:            true,
						Validators:          []validator.String{validate.Size()},
					},
					"max_file_size": schema.StringAttribute{
						MarkdownDescription: "Largest size of one file of a release, such as `4GiB` (the default).",
						Optional:            true,
						Validators:          []validator.String{validate.Size()},
					},
				},
				Blocks: map[string]schema.Block{
					"ssh": sshBlock("the servers that hold the releases: every host gets the same release under `path`, prepared on all of them before any switches"),
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
					"before_switch_once": schema.ListAttribute{
						MarkdownDescription: "Run on the first host only (database migrations), after `before_switch` passed on every host and before the switch; " +
							"a failure aborts the deployment like `before_switch`. Without `ssh` hosts it runs once, like `before_switch`.",
						ElementType: types.StringType,
						Optional:    true,
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
							"It runs in the live release folder (a temporary folder when the target has none). The file holds the live release's data and is stored in the artifact store as `<name>-backup@<live version>+<utc timestamp>` with its sha256 (`0.0.0` when nothing is live).",
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
			"smoke_test": perHostURL(httpCheckBlock("HTTP check run after the switch, and again on the previous release after a rollback.",
				"URL to request, e.g. `http://127.0.0.1:8080/health`. With `ssh` hosts, `{host}` in the URL stands for each host "+
					"(its name or address as written in `hosts`, without the SSH port) and the check runs on every host: `http://{host}:8080/health`; "+
					"without `{host}` it runs once.", nil)),
			"changelog": schema.SingleNestedBlock{
				MarkdownDescription: "List in `changes` what the release contains, from a local git clone: the commits between the live release's `git_commit` and the new one's, with the pull or merge requests they merged. " +
					"The clone needs the history between the two (a shallow clone is refused with a warning: fetch with `--unshallow`, or `fetch-depth: 0` on GitHub Actions).",
				Attributes: map[string]schema.Attribute{
					"repository": schema.StringAttribute{
						MarkdownDescription: "Path of the local git clone. Default: `.`.",
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
		validate.ExactlyOneBlock("directory", "scalingo"),
		validate.RequiredInBlock("directory", "path", "For example path = \"/srv/histologe\""),
		validate.RequiredInBlock("scalingo", "app", ""),
		validate.ExactlyOneInBlock("backup", "command", "scalingo_addon"),
		validate.AttributeNeedsBlock("backup", "scalingo_addon", "scalingo", "backup.command"),
		validate.RequiredInBlock("smoke_test", "url", "For example url = \"http://127.0.0.1:8080/health\""),
	}
}

// Values of the status attribute.
const (
	deploymentStatusLive       = "live"
	deploymentStatusUnverified = "unverified"
	deploymentStatusFailed     = "failed"
	deploymentStatusDrifted    = "drifted"
)

// isSound tells whether the state records a finished deployment (states written
// before the status attribute existed count as finished).
func (m *deploymentResourceModel) isSound() bool {
	s := m.Status.ValueString()
	return m.Status.IsNull() || m.Status.IsUnknown() || s == "" || s == deploymentStatusLive
}

// liveStatus is the status of the release the target reports as live.
func liveStatus(live *target.Release) string {
	switch {
	case live.ID == "":
		return deploymentStatusDrifted
	case live.Unverified:
		return deploymentStatusUnverified
	case live.Failed:
		return deploymentStatusFailed
	}
	return deploymentStatusLive
}

// statusSentence explains a status that is not live, for plans and messages.
func statusSentence(status string) string {
	switch status {
	case deploymentStatusUnverified:
		return "its after_switch hooks and smoke test never finished"
	case deploymentStatusFailed:
		return "its deployment failed"
	case deploymentStatusDrifted:
		return "current is not one of the target's releases, or the hosts serve different releases"
	}
	return "its deployment finished"
}

func deploymentID(environment, targetKey string) string { return environment + ":" + targetKey }

func (m *deploymentResourceModel) nameVersion() (string, string, bool) {
	if m.Artifact.IsUnknown() || m.Artifact.IsNull() {
		return "", "", false
	}
	name, version, err := store.ParseID(m.Artifact.ValueString())
	return name, version, err == nil
}

// targetPath is the target block, for diagnostics about the target.
func (m *deploymentResourceModel) targetPath() path.Path {
	if m.Scalingo != nil {
		return path.Root("scalingo")
	}
	return path.Root("directory")
}
