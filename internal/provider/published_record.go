package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/store"
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

// readPublished reads a published version on refresh as the store has it now
// (re-hashing its bytes with verify_on_read). When the store no longer has it,
// the resource is removed from the state. A read error, or a record whose sha256
// is no longer the one the state recorded (see publishedRecordChanged), is
// reported on resp's diagnostics. ok is false in all three cases: the refresh
// is over.
func (d *providerData) readPublished(ctx context.Context, name, version string, recorded types.String, resp *resource.ReadResponse) (obj store.Object, ok bool) {
	var err error
	if d.VerifyOnRead {
		obj, err = d.Store.Verify(ctx, name, version)
	} else {
		obj, err = d.Store.Stat(ctx, name, version)
	}
	if errors.Is(err, store.ErrNotFound) {
		tflog.Warn(ctx, "The published version is gone from the store; removing it from the state", map[string]any{"artifact": name + "@" + version})
		resp.State.RemoveResource(ctx)
		return obj, false
	}
	if err != nil {
		resp.Diagnostics.AddError("Unable to read "+name+"@"+version, err.Error())
		return obj, false
	}
	return obj, !publishedRecordChanged(&resp.Diagnostics, obj.ID(), recorded, obj.SHA256, obj.URI)
}
