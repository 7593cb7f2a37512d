package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/releaseplan/terraform-provider-release/internal/semver"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// semverValidator refuses a string that is not a strict semantic version.
type semverValidator struct{}

func semverVersion() validator.String { return semverValidator{} }

func (semverValidator) Description(context.Context) string {
	return "value must be a semantic version MAJOR.MINOR.PATCH[-pre][+build]"
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
