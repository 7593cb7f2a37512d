package validate

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// AllUnknown tells whether a known block has nothing known in it: every attribute
// is unknown or unset (or a nested block with nothing known), and at least one is unknown. That is how Terraform passes a
// dynamic single block whose for_each is not known yet (and a block whose only
// values come from unknown variables, which is decided at plan time just as well).
func AllUnknown(block types.Object) bool {
	if block.IsNull() {
		return false
	}
	unknown := false
	for _, a := range block.Attributes() {
		nested, isObject := a.(types.Object)
		switch {
		case a.IsUnknown(), isObject && AllUnknown(nested): // a dynamic block within
			unknown = true
		case !a.IsNull():
			return false
		}
	}
	return unknown
}

// ExactlyOneBlock requires exactly one of several optional single nested blocks.
// Unlike resourcevalidator.ExactlyOneOf, it waits while any of them is unknown, so
// that a module may choose its block with `dynamic` and a for_each that is only
// known at plan time (while Terraform validates a module, its variables are
// unknown). A block whose attributes are all unknown is such a block too.
func ExactlyOneBlock(blocks ...string) resource.ConfigValidator {
	return exactlyOneBlock{blocks: blocks}
}

type exactlyOneBlock struct{ blocks []string }

func (v exactlyOneBlock) Description(context.Context) string {
	return "exactly one of the " + strings.Join(v.blocks, ", ") + " blocks must be set"
}

func (v exactlyOneBlock) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v exactlyOneBlock) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var set []string
	for _, name := range v.blocks {
		var block types.Object
		resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(name), &block)...)
		if resp.Diagnostics.HasError() || block.IsUnknown() || AllUnknown(block) {
			return
		}
		if !block.IsNull() {
			set = append(set, name)
		}
	}
	if len(set) == 1 {
		return
	}
	detail := fmt.Sprintf("Set exactly one of the %s blocks", strings.Join(v.blocks, ", "))
	if len(set) == 0 {
		detail += ": none is set."
	} else {
		detail += ": " + strings.Join(set, " and ") + " are both set."
	}
	resp.Diagnostics.AddError("Invalid block combination", detail)
}

// RequiredInBlock makes attributes of an optional single nested block required when
// the block is present: Required inside such a block would make the block itself
// mandatory. This is the one way the provider says "required when the block is
// present". hint, when not empty, is added to the diagnostic (an example value).
func RequiredInBlock(block, attr, hint string) resource.ConfigValidator {
	return requiredInBlock{block: block, attr: attr, hint: hint}
}

type requiredInBlock struct{ block, attr, hint string }

func (v requiredInBlock) Description(context.Context) string {
	return fmt.Sprintf("%s.%s must be set when the %s block is present", v.block, v.attr, v.block)
}

func (v requiredInBlock) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v requiredInBlock) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	attrs, ok := presentBlock(ctx, req, v.block, resp)
	if !ok {
		return
	}
	if a, ok := attrs[v.attr]; ok && a.IsNull() {
		detail := fmt.Sprintf("The argument %q is required in the %s block.", v.attr, v.block)
		if v.hint != "" {
			detail += " " + sentence(v.hint)
		}
		resp.Diagnostics.AddAttributeError(path.Root(v.block).AtName(v.attr), "Missing required argument", detail)
	}
}

// presentBlock returns the attributes of the optional single block name when the
// configuration has it and it is known; rules about its attributes apply only then.
func presentBlock(ctx context.Context, req resource.ValidateConfigRequest, name string, resp *resource.ValidateConfigResponse) (map[string]attr.Value, bool) {
	var block types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(name), &block)...)
	if resp.Diagnostics.HasError() || block.IsNull() || block.IsUnknown() {
		return nil, false
	}
	return block.Attributes(), true
}

// ExactlyOneInBlock requires exactly one of attrs when the optional single block is
// present. It waits while any of them is unknown.
func ExactlyOneInBlock(block string, attrs ...string) resource.ConfigValidator {
	return exactlyOneInBlock{block: block, attrs: attrs}
}

type exactlyOneInBlock struct {
	block string
	attrs []string
}

func (v exactlyOneInBlock) Description(context.Context) string {
	return fmt.Sprintf("exactly one of %s must be set in the %s block", strings.Join(v.attrs, ", "), v.block)
}

func (v exactlyOneInBlock) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v exactlyOneInBlock) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	attrs, ok := presentBlock(ctx, req, v.block, resp)
	if !ok {
		return
	}
	var set []string
	for _, name := range v.attrs {
		a, ok := attrs[name]
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

// AttributeNeedsBlock refuses block.attr unless the block needs is present (a
// Scalingo backup needs the Scalingo target); instead names what to use otherwise.
func AttributeNeedsBlock(block, attr, needs, instead string) resource.ConfigValidator {
	return attributeNeedsBlock{block: block, attr: attr, needs: needs, instead: instead}
}

type attributeNeedsBlock struct{ block, attr, needs, instead string }

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
		fmt.Sprintf("%s.%s only works with the %s target block; use %s for other targets.", v.block, v.attr, v.needs, v.instead))
}
