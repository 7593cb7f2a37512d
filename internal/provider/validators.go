package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/semver"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// semverValidator refuses a string that is not a strict semantic version in its
// canonical spelling (1.2.3, not v1.2.3 or 01.2.3: one version has one name).
type semverValidator struct{}

func semverVersion() validator.String { return semverValidator{} }

func (semverValidator) Description(context.Context) string {
	return "value must be a semantic version MAJOR.MINOR.PATCH[-pre][+build] in canonical form (no leading v, no leading zeros)"
}

func (v semverValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (semverValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := semver.Validate(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid version", err.Error()+".")
	}
}

// durationValidator refuses a string that is not a Go duration ("90s", "10m", "4h").
type durationValidator struct{ min time.Duration }

func goDuration() validator.String { return durationValidator{} }

func (durationValidator) Description(context.Context) string {
	return `value must be a duration such as "90s", "10m" or "4h"`
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := time.ParseDuration(req.ConfigValue.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("%q is not a duration: use a number with a unit, such as \"90s\", \"10m\" or \"4h\".", req.ConfigValue.ValueString()))
		return
	}
	if d < v.min {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%s must not be negative.", req.ConfigValue.ValueString()))
	}
}

// parseDuration reads an already validated duration attribute; empty is zero.
func parseDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

// artifactNameValidator refuses names the artifact store cannot hold.
type artifactNameValidator struct{}

func artifactName() validator.String { return artifactNameValidator{} }

func (artifactNameValidator) Description(context.Context) string {
	return "value must be letters, digits, '.', '_' and '-', starting with a letter or digit"
}

func (v artifactNameValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (artifactNameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := store.ValidateName(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid artifact name", err.Error()+".")
	}
}

// sha256Validator refuses anything but 64 hexadecimal characters.
type sha256Validator struct{}

func sha256Hex() validator.String { return sha256Validator{} }

func (sha256Validator) Description(context.Context) string {
	return "value must be a sha256 checksum: 64 hexadecimal characters"
}

func (v sha256Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (sha256Validator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	ok := len(s) == 64
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			ok = false
		}
	}
	if !ok {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid sha256",
			fmt.Sprintf("%q is not a sha256 checksum: expected 64 hexadecimal characters, as filesha256() returns.", s))
	}
}

// allUnknown tells whether a known block has nothing known in it: every attribute is
// unknown or unset, and at least one is unknown. That is how Terraform passes a dynamic
// single block whose for_each is not known yet (and a block whose only values come
// from unknown variables, which is decided at plan time just as well).
func allUnknown(block types.Object) bool {
	if block.IsNull() {
		return false
	}
	unknown := false
	for _, a := range block.Attributes() {
		switch {
		case a.IsUnknown():
			unknown = true
		case !a.IsNull():
			return false
		}
	}
	return unknown
}

// exactlyOneBlock requires exactly one of several optional single nested blocks. Unlike
// resourcevalidator.ExactlyOneOf, it waits while any of them is unknown, so that a
// module may choose its block with `dynamic` and a for_each that is only known at
// plan time (while Terraform validates a module, its variables are unknown). A block
// whose attributes are all unknown is such a block, so it is judged at plan time too.
type exactlyOneBlock struct {
	blocks []string
}

func exactlyOneOfBlocks(blocks ...string) resource.ConfigValidator {
	return exactlyOneBlock{blocks: blocks}
}

func (v exactlyOneBlock) Description(context.Context) string {
	return "exactly one of the " + strings.Join(v.blocks, ", ") + " blocks must be set"
}

func (v exactlyOneBlock) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v exactlyOneBlock) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var set []string
	for _, name := range v.blocks {
		var block types.Object
		resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(name), &block)...)
		if resp.Diagnostics.HasError() || block.IsUnknown() || allUnknown(block) {
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
