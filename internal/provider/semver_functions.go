package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/function"

	"github.com/releaseplan/terraform-provider-release/internal/semver"
)

var (
	_ function.Function = (*semverBumpFunction)(nil)
	_ function.Function = (*semverChannelFunction)(nil)
	_ function.Function = (*semverCompareFunction)(nil)
)

// NewSemverBumpFunction returns provider::release::semver_bump.
func NewSemverBumpFunction() function.Function { return &semverBumpFunction{} }

// NewSemverChannelFunction returns provider::release::semver_channel.
func NewSemverChannelFunction() function.Function { return &semverChannelFunction{} }

// NewSemverCompareFunction returns provider::release::semver_compare.
func NewSemverCompareFunction() function.Function { return &semverCompareFunction{} }

type semverBumpFunction struct{}

func (f *semverBumpFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "semver_bump"
}

func (f *semverBumpFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Increment one part of a semantic version",
		MarkdownDescription: "Returns `version` with `part` incremented: `major`, `minor` and `patch` reset the lower parts and drop any " +
			"pre-release (`semver_bump(\"1.7.3\", \"patch\")` is `\"1.7.4\"`; a pre-release is released: `semver_bump(\"1.7.4-rc\", \"patch\")` " +
			"is `\"1.7.4\"`); `prerelease` increments the pre-release number (`\"1.7.4-rc.1\"` → `\"1.7.4-rc.2\"`).",
		Parameters: []function.Parameter{
			function.StringParameter{Name: "version", MarkdownDescription: "A semantic version, MAJOR.MINOR.PATCH[-pre][+build]."},
			function.StringParameter{Name: "part", MarkdownDescription: "One of `major`, `minor`, `patch`, `prerelease`."},
		},
		Return: function.StringReturn{},
	}
}

func (f *semverBumpFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	runVersionEdit(ctx, req, resp, "part", semver.Bump)
}

type semverChannelFunction struct{}

func (f *semverChannelFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "semver_channel"
}

func (f *semverChannelFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Put a semantic version on a release channel",
		MarkdownDescription: "Returns `version` with its pre-release replaced by `channel`: `semver_channel(\"1.7.4\", \"rc\")` is `\"1.7.4-rc\"`, " +
			"`semver_channel(\"1.7.4-staging\", \"rc\")` is `\"1.7.4-rc\"`, and an empty channel strips it: `semver_channel(\"1.7.4-rc\", \"\")` is `\"1.7.4\"`.",
		Parameters: []function.Parameter{
			function.StringParameter{Name: "version", MarkdownDescription: "A semantic version."},
			function.StringParameter{Name: "channel", MarkdownDescription: "The channel, e.g. `staging`, `rc`, `beta.1`; empty for the release itself."},
		},
		Return: function.StringReturn{},
	}
}

func (f *semverChannelFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	runVersionEdit(ctx, req, resp, "channel", semver.Channel)
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

// runVersionEdit runs a function of a version and one more argument, named
// what, that returns the version as edit changes it; each invalid argument is
// reported as that argument's error.
func runVersionEdit(ctx context.Context, req function.RunRequest, resp *function.RunResponse, what string, edit func(version, arg string) (string, error)) {
	var version, arg string
	resp.Error = function.ConcatFuncErrors(req.Arguments.Get(ctx, &version, &arg))
	if resp.Error != nil {
		return
	}
	if err := semver.Validate(version); err != nil {
		resp.Error = function.NewArgumentFuncError(0, "Invalid version: "+err.Error())
		return
	}
	out, err := edit(version, arg)
	if err != nil {
		resp.Error = function.NewArgumentFuncError(1, "Invalid "+what+": "+err.Error())
		return
	}
	resp.Error = resp.Result.Set(ctx, out)
}
