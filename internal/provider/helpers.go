package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// stateSetter is the part of tfsdk.State that an apply needs to save what is really
// there (resp.State of Create and Update, or a test double).
type stateSetter interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}

// orPlaceholder returns s, or placeholder when s is empty: how messages name a
// value that is missing ("nothing", "an unknown actor").
func orPlaceholder(s, placeholder string) string {
	if s == "" {
		return placeholder
	}
	return s
}

// errMessage is err's message, empty without an error (see orPlaceholder).
func errMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
