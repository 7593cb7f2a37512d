package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/function"

	"github.com/releaseplan/terraform-provider-release/internal/semver"
)

var (
	_ function.Function = (*semverEditFunction)(nil)
	_ function.Function = (*semverCompareFunction)(nil)
)

// NewSemverBumpFunction returns provider::release::semver_bump.
func NewSemverBumpFunction() function.Function {
	return &semverEditFunction{
		name:    "semver_bump",
		summary: "Increment one part of a semantic version",
		description: "Returns `version` with `part` incremented: `major`, `minor` and `patch` reset the lower parts and drop any " +
			"pre-release (`semver_bump(\"1.7.3\", \"patch\")` is `\"1.7.4\"`; a pre-release is released: `semver_bump(\"1.7.4-rc\", \"patch\")` " +
			"is `\"1.7.4\"`); `prerelease` increments the pre-release number (`\"1.7.4-rc.1\"` → `\"1.7.4-rc.2\"`).",
		version: function.StringParameter{Name: "version", MarkdownDescription: "A semantic version, MAJOR.MINOR.PATCH[-pre][+build]."},
		arg:     function.StringParameter{Name: "part", MarkdownDescription: "One of `major`, `minor`, `patch`, `prerelease`."},
		edit:    semver.Bump,
	}
}

// NewSemverChannelFunction returns provider::release::semver_channel.
func NewSemverChannelFunction() function.Function {
	return &semverEditFunction{
		name:    "semver_channel",
		summary: "Put a semantic version on a release channel",
		description: "Returns `version` with its pre-release replaced by `channel`: `semver_channel(\"1.7.4\", \"rc\")` is `\"1.7.4-rc\"`, " +
			"`semver_channel(\"1.7.4-staging\", \"rc\")` is `\"1.7.4-rc\"`, and an empty channel strips it: `semver_channel(\"1.7.4-rc\", \"\")` is `\"1.7.4\"`.",
		version: function.StringParameter{Name: "version", MarkdownDescription: "A semantic version."},
		arg:     function.StringParameter{Name: "channel", MarkdownDescription: "The channel, e.g. `staging`, `rc`, `beta.1`; empty for the release itself."},
		edit:    semver.Channel,
	}
}

// NewSemverCompareFunction returns provider::release::semver_compare.
func NewSemverCompareFunction() function.Function { return &semverCompareFunction{} }

// semverEditFunction is a function of a version and one more argument, arg,
// that returns the version as edit changes it (semver_bump, semver_channel).
type semverEditFunction struct {
	name, summary, description string
	version, arg               function.StringParameter
	edit                       func(version, arg string) (string, error)
}

func (f *semverEditFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = f.name
}

func (f *semverEditFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary:             f.summary,
		MarkdownDescription: f.description,
		Parameters:          []function.Parameter{f.version, f.arg},
		Return:              function.StringReturn{},
	}
}

// Run reports each invalid argument as that argument's error.
func (f *semverEditFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var version, arg string
	resp.Error = function.ConcatFuncErrors(req.Arguments.Get(ctx, &version, &arg))
	if resp.Error != nil {
		return
	}
	if err := semver.Validate(version); err != nil {
		resp.Error = function.NewArgumentFuncError(0, "Invalid version: "+err.Error())
		return
	}
	out, err := f.edit(version, arg)
	if err != nil {
		resp.Error = function.NewArgumentFuncError(1, "Invalid "+f.arg.Name+": "+err.Error())
		return
	}
	resp.Error = resp.Result.Set(ctx, out)
}

type semverCompareFunction struct{}

func (f *semverCompareFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "semver_compare"
}

func (f *semverCompareFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Compare two semantic versions",
		MarkdownDescription: "Returns `-1`, `0` or `1` as `a` is lower than, equal to or greater than `b` in semantic-version precedence: " +
			"a pre-release is lower than its release (`semver_compare(\"1.7.4-rc\", \"1.7.4\")` is `-1`) and build metadata is ignored.",
		Parameters: []function.Parameter{
			function.StringParameter{Name: "a", MarkdownDescription: "A semantic version."},
			function.StringParameter{Name: "b", MarkdownDescription: "A semantic version."},
		},
		Return: function.Int64Return{},
	}
}

func (f *semverCompareFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var a, b string
	resp.Error = function.ConcatFuncErrors(req.Arguments.Get(ctx, &a, &b))
	if resp.Error != nil {
		return
	}
	for i, v := range []string{a, b} {
		if err := semver.Validate(v); err != nil {
			resp.Error = function.NewArgumentFuncError(int64(i), "Invalid version: "+err.Error())
			return
		}
	}
	out, _ := semver.Compare(a, b)
	resp.Error = resp.Result.Set(ctx, int64(out))
}
