package provider

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

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
// With target set, it also refuses what a deployment target must not be: the root
// or a system directory.
type absolutePathValidator struct{ target bool }

func (absolutePathValidator) Description(context.Context) string {
	return "value must be an absolute path"
}

func (v absolutePathValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v absolutePathValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if !filepath.IsAbs(req.ConfigValue.ValueString()) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid directory path",
			fmt.Sprintf("%q is relative; use an absolute path such as /srv/histologe (for example with abspath()).", req.ConfigValue.ValueString()))
		return
	}
	if v.target {
		if err := target.ValidateDirectoryPath(req.ConfigValue.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(req.Path, "Invalid directory path", err.Error()+".")
		}
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
