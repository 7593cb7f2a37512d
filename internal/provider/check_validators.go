package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
	"github.com/releaseplan/terraform-provider-release/internal/check"
)

// checkURLValidator refuses, at plan time, a smoke test or health check URL that
// the check would refuse after the switch: not http(s), or without a host.
type checkURLValidator struct{}

func checkURL() validator.String { return checkURLValidator{} }

func (checkURLValidator) Description(context.Context) string {
	return "value must be an http:// or https:// URL with a host"
}

func (v checkURLValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (checkURLValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := check.ValidateURL(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid check URL", err.Error()+", for example http://127.0.0.1:8080/health.")
	}
}

// checkMethodValidator refuses a method the HTTP check does not send.
type checkMethodValidator struct{}

func checkMethod() validator.String { return checkMethodValidator{} }

func (checkMethodValidator) Description(context.Context) string {
	return "value must be an HTTP method in upper case, such as GET"
}

func (v checkMethodValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (checkMethodValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := check.ValidateMethod(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid HTTP method", err.Error()+".")
	}
}

// sizeValidator refuses a size the archive caps cannot read ("8GiB", "500MB").
type sizeValidator struct{}

func (sizeValidator) Description(context.Context) string {
	return `value must be a size such as "8GiB", "512MiB" or "2GB"`
}

func (v sizeValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (sizeValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := archive.ParseSize(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid size", err.Error()+".")
	}
}
