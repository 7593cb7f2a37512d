// Package provider is the Terraform layer of terraform-provider-release: schemas,
// models and CRUD functions that map Terraform values to the domain packages
// (store, backend, deploy, router, ...) and turn their errors into diagnostics.
package provider

import (
	"context"
	"os"
	"os/user"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/providervalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/history"
	"github.com/releaseplan/terraform-provider-release/internal/logging/tfhandler"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

var (
	_ provider.Provider                       = (*releaseProvider)(nil)
	_ provider.ProviderWithFunctions          = (*releaseProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*releaseProvider)(nil)
	_ provider.ProviderWithConfigValidators   = (*releaseProvider)(nil)
)

// Default locations of the embedded default, relative to the directory Terraform runs in.
const (
	DefaultArtifactsDir = ".release/artifacts"
	DefaultStateDir     = ".release/state"
)

// New returns the provider constructor for the given build version.
func New(version string) func() provider.Provider {
	// The domain packages log with internal/logging; send it to tflog, with each
	// record's own context, so messages reach the operation that caused them.
	tfhandler.InstallDefault()
	return func() provider.Provider { return &releaseProvider{version: version} }
}

type releaseProvider struct {
	version string
}

// scalingoSettings is the provider's scalingo block after environment fallbacks.
type scalingoSettings struct {
	APIToken string
	Region   string
	APIURL   string
	AuthURL  string
	DBAPIURL string
}

type webhookSettings struct {
	URL    string
	Events []string
}

type providerModel struct {
	Actor         types.String           `tfsdk:"actor"`
	VerifyOnRead  types.Bool             `tfsdk:"verify_on_read"`
	ArtifactStore *artifactStoreModel    `tfsdk:"artifact_store"`
	Backend       *backendModel          `tfsdk:"backend"`
	Scalingo      *scalingoProviderModel `tfsdk:"scalingo"`
	Notify        *notifyModel           `tfsdk:"notify"`
	SSH           *sshDefaults           `tfsdk:"ssh"`
}

type pathModel struct {
	Path types.String `tfsdk:"path"`
}

type artifactStoreModel struct {
	Directory *pathModel      `tfsdk:"directory"`
	HTTP      *httpStoreModel `tfsdk:"http"`
}

type httpStoreModel struct {
	URL      types.String `tfsdk:"url"`
	Username types.String `tfsdk:"username"`
	Password types.String `tfsdk:"password"`
	Headers  types.Map    `tfsdk:"headers"`
	CAFile   types.String `tfsdk:"ca_file"`
	Insecure types.Bool   `tfsdk:"insecure"`
}

type backendModel struct {
	Directory *pathModel     `tfsdk:"directory"`
	Postgres  *postgresModel `tfsdk:"postgres"`
}

type postgresModel struct {
	DSN    types.String `tfsdk:"dsn"`
	Schema types.String `tfsdk:"schema"`
}

type scalingoProviderModel struct {
	APIToken types.String `tfsdk:"api_token"`
	Region   types.String `tfsdk:"region"`
	APIURL   types.String `tfsdk:"api_url"`
	AuthURL  types.String `tfsdk:"auth_url"`
	DBAPIURL types.String `tfsdk:"db_api_url"`
}

type notifyModel struct {
	Webhooks []webhookModel `tfsdk:"webhook"`
}

type webhookModel struct {
	URL    types.String `tfsdk:"url"`
	Events types.List   `tfsdk:"events"`
}

func (p *releaseProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "release"
	resp.Version = p.version
}

func (p *releaseProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = providerSchema()
}

func pathBlock(what, def string) schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Keep " + what + " in a local directory (created with 0700 permissions on first use). Default: `" + def + "` in the directory Terraform runs in.",
		Attributes: map[string]schema.Attribute{
			"path": schema.StringAttribute{
				MarkdownDescription: "Directory path; relative paths are relative to the directory Terraform runs in.",
				Optional:            true,
			},
		},
	}
}

func providerSchema() schema.Schema {
	return schema.Schema{
		MarkdownDescription: "The `release` provider turns each environment's software release into a reviewable plan: " +
			"which version and sha256 go where, under which lock, with which backup and which traffic switch. " +
			"Every setting is optional: with no blocks, artifacts and coordination data live in `./.release/artifacts` " +
			"and `./.release/state` of the directory Terraform runs in. " +
			"Every setting must be known when Terraform plans (the plan reads the backend and the store): " +
			"a value that comes from a resource not created yet is refused at plan time, naming the setting.",
		Attributes: map[string]schema.Attribute{
			"actor": schema.StringAttribute{
				MarkdownDescription: "Who performs the changes, as written in the release history and used as the default lock holder. " +
					"Default: `RELEASE_ACTOR`, else the user and pipeline of the CI run detected from its documented variables " +
					"(GitHub Actions, GitLab CI, Jenkins, HCP Terraform; e.g. `octocat via GitHub Actions (acme/app: deploy)`), else `<user>@<host>`. " +
					"The CI run's URL (or id) is recorded in every history event as `run`, whoever the actor is.",
				Optional: true,
			},
			"verify_on_read": schema.BoolAttribute{
				MarkdownDescription: "Re-hash every stored artifact on refresh instead of only checking its size. Default: `false`.",
				Optional:            true,
			},
		},
		Blocks: map[string]schema.Block{
			"artifact_store": schema.SingleNestedBlock{
				MarkdownDescription: "Where release bytes live: exactly one of `directory` or `http`.",
				Blocks: map[string]schema.Block{
					"directory": pathBlock("artifacts", DefaultArtifactsDir),
					"http": schema.SingleNestedBlock{
						MarkdownDescription: "A WebDAV server (such as nginx with its dav modules) or an Artifactory generic repository. The layout is the directory store's, so the two are interchangeable.",
						Attributes: map[string]schema.Attribute{
							"url":      schema.StringAttribute{MarkdownDescription: "Base URL of the repository, e.g. `https://dav.example.org/releases`.", Optional: true},
							"username": schema.StringAttribute{MarkdownDescription: "Basic-auth user name.", Optional: true},
							"password": schema.StringAttribute{MarkdownDescription: "Basic-auth password or API key.", Optional: true, Sensitive: true},
							"headers":  schema.MapAttribute{MarkdownDescription: "Extra request headers (e.g. `X-JFrog-Art-Api`).", Optional: true, Sensitive: true, ElementType: types.StringType},
							"ca_file":  schema.StringAttribute{MarkdownDescription: "PEM file of extra certificate authorities to trust.", Optional: true},
							"insecure": schema.BoolAttribute{MarkdownDescription: "Skip TLS certificate verification. Default: `false`; never use it in production.", Optional: true},
						},
					},
				},
			},
			"backend": schema.SingleNestedBlock{
				MarkdownDescription: "Where locks, fencing tokens, blocked versions and release history live: exactly one of `directory` or `postgres`.",
				Blocks: map[string]schema.Block{
					"directory": pathBlock("locks, tokens and history", DefaultStateDir),
					"postgres": schema.SingleNestedBlock{
						MarkdownDescription: "A PostgreSQL database shared by every runner: the way to outgrow one machine. Tables are created on first use.",
						Attributes: map[string]schema.Attribute{
							"dsn":    schema.StringAttribute{MarkdownDescription: "Connection string (`postgres://user:pass@host/db` or `key=value` form). Default: `RELEASE_POSTGRES_DSN`.", Optional: true, Sensitive: true},
							"schema": schema.StringAttribute{MarkdownDescription: "Schema holding the tables. Default: `release`.", Optional: true},
						},
					},
				},
			},
			"scalingo": schema.SingleNestedBlock{
				MarkdownDescription: "Scalingo API access, needed only for `scalingo` targets.",
				Attributes: map[string]schema.Attribute{
					"api_token":  schema.StringAttribute{MarkdownDescription: "Scalingo API token. Default: `SCALINGO_API_TOKEN`.", Optional: true, Sensitive: true},
					"region":     schema.StringAttribute{MarkdownDescription: "Region, e.g. `osc-fr1` or `osc-secnum-fr1`. Default: `SCALINGO_REGION`, else `osc-fr1`.", Optional: true},
					"api_url":    schema.StringAttribute{MarkdownDescription: "API endpoint override. Default: `SCALINGO_API_URL`, else the region's.", Optional: true},
					"auth_url":   schema.StringAttribute{MarkdownDescription: "Authentication endpoint override. Default: `SCALINGO_AUTH_URL`, else `https://auth.scalingo.com`.", Optional: true},
					"db_api_url": schema.StringAttribute{MarkdownDescription: "Database API endpoint override. Default: `SCALINGO_DB_API_URL`, else the region's.", Optional: true},
				},
			},
			"ssh": providerSSHBlock(),
			"notify": schema.SingleNestedBlock{
				MarkdownDescription: "Notifications of release history events. A failed notification is a warning, never a failed release.",
				Blocks: map[string]schema.Block{
					"webhook": schema.ListNestedBlock{
						MarkdownDescription: "A Slack- or Mattermost-compatible incoming webhook (`{\"text\": ...}`).",
						NestedObject: schema.NestedBlockObject{
							Attributes: map[string]schema.Attribute{
								"url":    schema.StringAttribute{MarkdownDescription: "Webhook URL.", Required: true, Sensitive: true},
								"events": schema.ListAttribute{MarkdownDescription: "Event kinds to post. Default: `deployed`, `rolled_back`, `failed`, `promoted`.", Optional: true, ElementType: types.StringType},
							},
						},
					},
				},
			},
		},
	}
}

func (p *releaseProvider) ConfigValidators(_ context.Context) []provider.ConfigValidator {
	return []provider.ConfigValidator{
		providervalidator.Conflicting(path.MatchRoot("artifact_store").AtName("directory"), path.MatchRoot("artifact_store").AtName("http")),
		providervalidator.Conflicting(path.MatchRoot("backend").AtName("directory"), path.MatchRoot("backend").AtName("postgres")),
	}
}

func (p *releaseProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	if unknownConfiguration(req, resp) {
		return
	}
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	run := history.DetectRun(os.Getenv)
	data := &providerData{
		Actor:           firstNonEmpty(cfg.Actor.ValueString(), os.Getenv("RELEASE_ACTOR"), run.Actor(), defaultActor()),
		Run:             run.Ref(),
		VerifyOnRead:    cfg.VerifyOnRead.ValueBool(),
		ProviderVersion: p.version,
		SSH:             sshDefaultsFrom(cfg.SSH),
	}

	st, diags := openStore(ctx, cfg.ArtifactStore)
	resp.Diagnostics.Append(diags...)
	be, diags := openBackend(ctx, cfg.Backend)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	data.Store, data.Backend = st, be

	s := cfg.Scalingo
	if s == nil {
		s = &scalingoProviderModel{}
	}
	data.Scalingo = scalingoSettings{
		APIToken: firstNonEmpty(s.APIToken.ValueString(), os.Getenv("SCALINGO_API_TOKEN")),
		Region:   firstNonEmpty(s.Region.ValueString(), os.Getenv("SCALINGO_REGION"), "osc-fr1"),
		APIURL:   firstNonEmpty(s.APIURL.ValueString(), os.Getenv("SCALINGO_API_URL")),
		AuthURL:  firstNonEmpty(s.AuthURL.ValueString(), os.Getenv("SCALINGO_AUTH_URL")),
		DBAPIURL: firstNonEmpty(s.DBAPIURL.ValueString(), os.Getenv("SCALINGO_DB_API_URL")),
	}
	if cfg.Notify != nil {
		for _, w := range cfg.Notify.Webhooks {
			var events []string
			resp.Diagnostics.Append(w.Events.ElementsAs(ctx, &events, false)...)
			data.Webhooks = append(data.Webhooks, webhookSettings{URL: w.URL.ValueString(), Events: events})
		}
	}
	resp.Diagnostics.Append(wireNotifications(data)...)
	// Outermost, so that the webhooks announce the run too.
	data.Backend = withRun(data.Backend, data.Run)

	tflog.Debug(ctx, "release provider configured", map[string]any{"actor": data.Actor, "run": data.Run})
	resp.DataSourceData = data
	resp.ResourceData = data
	resp.EphemeralResourceData = data
}

func openStore(ctx context.Context, m *artifactStoreModel) (store.Store, diag.Diagnostics) {
	var diags diag.Diagnostics
	if m != nil && m.Directory != nil && m.HTTP != nil {
		diags.AddAttributeError(path.Root("artifact_store"), "Invalid artifact_store block",
			"Set exactly one of directory or http in artifact_store.")
		return nil, diags
	}
	if m != nil && m.HTTP != nil {
		return openHTTPStore(ctx, m.HTTP)
	}
	dir := DefaultArtifactsDir
	if m != nil && m.Directory != nil && m.Directory.Path.ValueString() != "" {
		dir = m.Directory.Path.ValueString()
	}
	st, err := store.NewDirectory(dir)
	if err != nil {
		diags.AddAttributeError(path.Root("artifact_store"), "Unable to open the artifact store", err.Error())
		return nil, diags
	}
	return st, diags
}

func openBackend(ctx context.Context, m *backendModel) (backend.Backend, diag.Diagnostics) {
	var diags diag.Diagnostics
	if m != nil && m.Directory != nil && m.Postgres != nil {
		diags.AddAttributeError(path.Root("backend"), "Invalid backend block",
			"Set exactly one of directory or postgres in backend.")
		return nil, diags
	}
	if m != nil && m.Postgres != nil {
		dsn := firstNonEmpty(m.Postgres.DSN.ValueString(), os.Getenv("RELEASE_POSTGRES_DSN"))
		if dsn == "" {
			diags.AddAttributeError(path.Root("backend").AtName("postgres").AtName("dsn"), "Missing PostgreSQL DSN",
				"Set backend.postgres.dsn or the RELEASE_POSTGRES_DSN environment variable.")
			return nil, diags
		}
		b, err := backend.NewPostgres(ctx, backend.PostgresConfig{DSN: dsn, Schema: m.Postgres.Schema.ValueString()})
		if err != nil {
			diags.AddAttributeError(path.Root("backend").AtName("postgres"), "Unable to open the PostgreSQL backend", err.Error())
			return nil, diags
		}
		return b, diags
	}
	dir := DefaultStateDir
	if m != nil && m.Directory != nil && m.Directory.Path.ValueString() != "" {
		dir = m.Directory.Path.ValueString()
	}
	b, err := backend.NewDirectory(dir)
	if err != nil {
		diags.AddAttributeError(path.Root("backend"), "Unable to open the backend", err.Error())
		return nil, diags
	}
	return b, diags
}

func (p *releaseProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewArtifactResource,
		NewEnvironmentLockResource,
		NewEnvironmentLockForceReleaseResource,
		NewDeploymentResource,
		NewBlueGreenRouterResource,
		NewMaintenanceModeResource,
		NewPromotionResource,
		NewVersionBlockResource,
		NewGitTagResource,
		NewGitBranchResource,
		NewFreezeResource,
	}
}

func (p *releaseProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewArtifactDataSource,
		NewReleaseNotesDataSource,
		NewEnvironmentDataSource,
		NewHistoryDataSource,
	}
}

func (p *releaseProvider) EphemeralResources(_ context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{
		NewEnvironmentLockEphemeralResource,
	}
}

func (p *releaseProvider) Functions(_ context.Context) []func() function.Function {
	return []func() function.Function{
		NewSemverBumpFunction,
		NewSemverChannelFunction,
		NewSemverCompareFunction,
	}
}

func defaultActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return name + "@" + host
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
