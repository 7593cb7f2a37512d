package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
	"github.com/releaseplan/terraform-provider-release/internal/notes"
)

var _ datasource.DataSource = (*releaseNotesDataSource)(nil)

// NewReleaseNotesDataSource returns the release_notes data source.
func NewReleaseNotesDataSource() datasource.DataSource { return &releaseNotesDataSource{} }

type releaseNotesDataSource struct{}

type releaseNotesDataSourceModel struct {
	Repository         types.String `tfsdk:"repository"`
	From               types.String `tfsdk:"from"`
	To                 types.String `tfsdk:"to"`
	Version            types.String `tfsdk:"version"`
	Date               types.String `tfsdk:"date"`
	CompareURLTemplate types.String `tfsdk:"compare_url_template"`
	FirstParent        types.Bool   `tfsdk:"first_parent"`
	FromCommit         types.String `tfsdk:"from_commit"`
	ToCommit           types.String `tfsdk:"to_commit"`
	CompareURL         types.String `tfsdk:"compare_url"`
	Markdown           types.String `tfsdk:"markdown"`
	Entries            types.List   `tfsdk:"entries"`
}

var releaseNoteEntryType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"section":      types.StringType,
	"type":         types.StringType,
	"scope":        types.StringType,
	"subject":      types.StringType,
	"hash":         types.StringType,
	"author":       types.StringType,
	"breaking":     types.BoolType,
	"pull_request": types.Int64Type,
}}

var releaseNotesDateRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func (d *releaseNotesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_notes"
}

func (d *releaseNotesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = releaseNotesSchema()
}

func releaseNotesSchema() schema.Schema {
	return schema.Schema{
		MarkdownDescription: "Release notes from a local git clone: the commits between two refs, grouped into " +
			"**Features** (`feat:`), **Bug fixes** (`fix:`) and **Changes** (everything else) by their conventional " +
			"commit prefix. A merged pull request (GitHub `Merge pull request #12 ...`, GitLab `See merge request !12`, " +
			"or a squash merge ending in `(#12)`) is one entry under its title, without the commits it brought in. " +
			"Breaking changes (`feat!:` or a `BREAKING CHANGE:` footer) are marked. Needs the `git` command; a shallow " +
			"clone must contain both refs (`git fetch --tags --unshallow`).",
		Attributes: map[string]schema.Attribute{
			"repository": schema.StringAttribute{
				MarkdownDescription: "Path of the git clone (a work tree or a bare repository); relative paths are relative to the directory Terraform runs in.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"from": schema.StringAttribute{
				MarkdownDescription: "Previous release: a tag, branch or commit. Commits reachable from it are left out. Omit it for a first release (the whole history of `to`). When `to` does not contain it (a newer release, another branch), a warning says that its own changes are not in the notes.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"to": schema.StringAttribute{
				MarkdownDescription: "The release: a tag, branch or commit.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"version": schema.StringAttribute{
				MarkdownDescription: "Version shown in the title. Default: `to`.",
				Optional:            true,
				Computed:            true,
			},
			"date": schema.StringAttribute{
				MarkdownDescription: "Date shown in the title, `YYYY-MM-DD`. Default: the date (UTC) the `to` commit was made.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.String{stringvalidator.RegexMatches(releaseNotesDateRe, "must be a date in the form YYYY-MM-DD")},
			},
			"compare_url_template": schema.StringAttribute{
				MarkdownDescription: "URL of the full changelog, with `{from}` and `{to}` placeholders, e.g. `https://github.com/acme/app/compare/{from}...{to}`. When set, the notes end with a `**Full Changelog**` link.",
				Optional:            true,
			},
			"first_parent": schema.BoolAttribute{
				MarkdownDescription: "Follow only the first parent of merge commits: list the merges and the commits made directly on the release branch, not the commits of merged branches. Default: `false` (merged pull requests are still told by their titles).",
				Optional:            true,
			},
			"from_commit": schema.StringAttribute{
				MarkdownDescription: "Full hash of the commit `from` names; empty when `from` is not set.",
				Computed:            true,
			},
			"to_commit": schema.StringAttribute{
				MarkdownDescription: "Full hash of the commit `to` names.",
				Computed:            true,
			},
			"compare_url": schema.StringAttribute{
				MarkdownDescription: "`compare_url_template` with its placeholders filled; empty without a template.",
				Computed:            true,
			},
			"markdown": schema.StringAttribute{
				MarkdownDescription: "The notes as markdown: `# <version> (<date>)`, then `## Features`, `## Bug fixes` and `## Changes` (empty sections left out), then the `**Full Changelog**` link.",
				Computed:            true,
			},
			"entries": schema.ListNestedAttribute{
				MarkdownDescription: "The entries of the notes, grouped by section (Features, Bug fixes, Changes), newest first within a section.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"section":      schema.StringAttribute{MarkdownDescription: "`Features`, `Bug fixes` or `Changes`.", Computed: true},
					"type":         schema.StringAttribute{MarkdownDescription: "Conventional commit type (`feat`, `fix`, `docs`, ...), lower-cased; empty for a message without a prefix.", Computed: true},
					"scope":        schema.StringAttribute{MarkdownDescription: "Conventional commit scope, e.g. `api` in `feat(api): ...`; empty when none.", Computed: true},
					"subject":      schema.StringAttribute{MarkdownDescription: "Description, without the prefix.", Computed: true},
					"hash":         schema.StringAttribute{MarkdownDescription: "Full hash of the commit, or of the merge commit for a pull request.", Computed: true},
					"author":       schema.StringAttribute{MarkdownDescription: "Author name of the commit.", Computed: true},
					"breaking":     schema.BoolAttribute{MarkdownDescription: "Whether the entry is a breaking change.", Computed: true},
					"pull_request": schema.Int64Attribute{MarkdownDescription: "Number of the merged pull (or merge) request; null when none.", Computed: true},
				}},
			},
		},
	}
}

func (d *releaseNotesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m releaseNotesDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	repo, from, to := m.Repository.ValueString(), m.From.ValueString(), m.To.ValueString()
	summary := "Unable to read release notes " + releaseNotesRange(from, to)

	toCommit, err := gitrepo.ResolveCommit(ctx, repo, to)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("to"), summary, gitRefErrorDetail(repo, to, err))
		return
	}
	m.ToCommit = types.StringValue(toCommit)
	m.FromCommit = types.StringValue("")
	if from != "" {
		fromCommit, err := gitrepo.ResolveCommit(ctx, repo, from)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("from"), summary, gitRefErrorDetail(repo, from, err))
			return
		}
		m.FromCommit = types.StringValue(fromCommit)
	}

	var opts []gitrepo.LogOption
	if m.FirstParent.ValueBool() {
		opts = append(opts, gitrepo.FirstParent())
	}
	commits, err := gitrepo.Log(ctx, repo, m.FromCommit.ValueString(), toCommit, opts...)
	if err != nil {
		resp.Diagnostics.AddError(summary, gitRefErrorDetail(repo, releaseNotesRange(from, to), err))
		return
	}
	entries := notes.FromCommits(commits)
	warnNotDescendant(ctx, repo, from, to, m.FromCommit.ValueString(), toCommit, &resp.Diagnostics)
	tflog.Debug(ctx, "Release notes read", map[string]any{"repository": repo, "from": from, "to": to, "commits": len(commits), "entries": len(entries)})

	if m.Version.IsNull() || m.Version.IsUnknown() {
		m.Version = types.StringValue(to)
	}
	var date time.Time
	if m.Date.IsNull() || m.Date.IsUnknown() {
		date, err = gitrepo.CommitDate(ctx, repo, toCommit)
		if err != nil {
			resp.Diagnostics.AddError(summary, gitRefErrorDetail(repo, to, err))
			return
		}
		m.Date = types.StringValue(date.UTC().Format(time.DateOnly))
	} else if date, err = time.Parse(time.DateOnly, m.Date.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("date"), summary, fmt.Sprintf("The date %q is not a valid YYYY-MM-DD date: %v.", m.Date.ValueString(), err))
		return
	}
	compare := notes.CompareURL(m.CompareURLTemplate.ValueString(), from, to)
	m.CompareURL = types.StringValue(compare)
	m.Markdown = types.StringValue(notes.Markdown(notes.Release{
		Version: m.Version.ValueString(), Date: date, Entries: entries, CompareURL: compare,
	}))

	list, diags := releaseNoteEntries(entries)
	resp.Diagnostics.Append(diags...)
	m.Entries = list
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// releaseNoteEntries is the entries attribute of the notes' entries.
func releaseNoteEntries(entries []notes.Entry) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	values := make([]attr.Value, 0, len(entries))
	for _, e := range entries {
		pr := types.Int64Null()
		if e.PullRequest > 0 {
			pr = types.Int64Value(int64(e.PullRequest))
		}
		obj, d := types.ObjectValue(releaseNoteEntryType.AttrTypes, map[string]attr.Value{
			"section": types.StringValue(e.Section), "type": types.StringValue(e.Type),
			"scope": types.StringValue(e.Scope), "subject": types.StringValue(e.Subject),
			"hash": types.StringValue(e.Hash), "author": types.StringValue(e.Author),
			"breaking": types.BoolValue(e.Breaking), "pull_request": pr,
		})
		diags.Append(d...)
		values = append(values, obj)
	}
	list, d := types.ListValue(releaseNoteEntryType, values)
	diags.Append(d...)
	return list, diags
}

func releaseNotesRange(from, to string) string {
	if from == "" {
		return "up to " + to
	}
	return from + ".." + to
}

// gitRefErrorDetail says what went wrong in the repository and what to do about it.
func gitRefErrorDetail(repo, ref string, err error) string {
	switch {
	case errors.Is(err, gitrepo.ErrGitNotFound):
		return "The git command is not installed on the machine running Terraform. Install git, then run Terraform again."
	case errors.Is(err, gitrepo.ErrNotRepository):
		return fmt.Sprintf("%s is not a git repository. Set repository to the path of a clone (relative paths start from the directory Terraform runs in).", repo)
	case errors.Is(err, gitrepo.ErrShallow):
		return fmt.Sprintf("%q is not in the clone at %s, which is shallow (only part of the history was fetched). Fetch the history (git fetch --tags --unshallow; in CI, a full-depth checkout), then run Terraform again.", ref, repo)
	case errors.Is(err, gitrepo.ErrUnknownCommit):
		return fmt.Sprintf("%q names no commit in the clone at %s. Check the tag or branch name, or fetch it (git fetch --tags), then run Terraform again.", ref, repo)
	default:
		return fmt.Sprintf("Reading the history of %s in %s failed: %v.", ref, repo, err)
	}
}

// warnNotDescendant warns when to does not contain from (from names a newer
// release, or another branch): the notes list only what to has that from lacks,
// so from's own changes are missing from them, which the reader should know.
func warnNotDescendant(ctx context.Context, repo, from, to, fromCommit, toCommit string, diags *diag.Diagnostics) {
	if fromCommit == "" || fromCommit == toCommit {
		return
	}
	if ok, err := gitrepo.IsAncestor(ctx, repo, fromCommit, toCommit); err != nil || ok {
		return
	}
	diags.AddAttributeWarning(path.Root("from"), "Release notes of "+releaseNotesRange(from, to)+" leave changes out",
		fmt.Sprintf("%s does not contain %s (%s is newer, or on another branch): the notes list only the commits of %s that %s lacks, "+
			"not the changes of %s. Check that from names the older release.", to, from, from, to, from, from))
}
