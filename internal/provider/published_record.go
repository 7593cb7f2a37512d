package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// sha256Spelling keeps the sha256 as the configuration (and so the state) wrote it
// when it names the same bytes: a checksum is compared without regard to case,
// and a configured value is never rewritten, or Terraform would see a change.
func sha256Spelling(current types.String, stored string) types.String {
	if !current.IsNull() && !current.IsUnknown() && strings.EqualFold(current.ValueString(), stored) {
		return current
	}
	return types.StringValue(stored)
}

// publishedRecordChanged reports, on refresh, a store whose record of a published
// version no longer has the sha256 the state recorded at publication: the state
// keeps what was published, and the error says where to look. It returns true
// when it reported one.
func publishedRecordChanged(diags *diag.Diagnostics, id string, state types.String, stored, where string) bool {
	if state.IsNull() || state.IsUnknown() || state.ValueString() == "" || strings.EqualFold(state.ValueString(), stored) {
		return false
	}
	diags.AddError("Unable to read "+id,
		fmt.Sprintf("The store's record of %s changed from sha256 %s to %s. Published versions are immutable, so the record or the bytes were changed outside Terraform: "+
			"check %s and its metadata.json. The state keeps the sha256 that was published; nothing was deployed or promoted from the changed record.",
			id, strings.ToLower(state.ValueString()), stored, where))
	return true
}
