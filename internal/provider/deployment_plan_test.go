package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// planned_steps are known at plan time exactly when every fact they come from is:
// a lock token that is unknown (a lock acquired in the same apply) is named, not
// quoted, so it does not make them unknown; an unknown hook, backup or smoke test
// setting does, so the final plan at apply cannot show other steps.
func TestPlannedStepsKnownOnlyFromKnownFacts(t *testing.T) {
	ctx := context.Background()
	tgt, err := target.NewDirectory(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := func() *deploymentResourceModel {
		return &deploymentResourceModel{
			Environment: types.StringValue("staging"), Artifact: types.StringValue("app@1.0.1"),
			SHA256: types.StringValue(strings.Repeat("a", 64)), LockToken: types.Int64Null(),
			RollbackOnFailure: types.BoolValue(true), AllowBlocked: types.BoolValue(false),
			PreviousVersion: types.StringNull(),
			Directory:       &deploymentDirectoryModel{Path: types.StringValue("/srv/app"), KeepReleases: types.Int64Value(5)},
		}
	}
	hooks := func(elems ...attr.Value) *deploymentHooksModel {
		return &deploymentHooksModel{BeforeSwitch: types.ListValueMust(types.StringType, elems), AfterSwitch: types.ListNull(types.StringType)}
	}
	for _, tc := range []struct {
		name   string
		change func(m *deploymentResourceModel)
		wo     types.Int64
		known  bool
		first  string
	}{
		{name: "all known", change: func(*deploymentResourceModel) {}, wo: types.Int64Null(), known: true, first: "refuse app@1.0.1 if it is blocked"},
		{
			name:   "lock token unknown",
			change: func(m *deploymentResourceModel) { m.LockToken = types.Int64Unknown() },
			wo:     types.Int64Null(), known: true,
			first: "check that lock_token is still the token of the lock of staging before anything changes",
		},
		{
			name: "run lock token unknown", change: func(*deploymentResourceModel) {}, wo: types.Int64Unknown(), known: true,
			first: "check that the run's lock token (lock_token_wo) is still the lock of staging before anything changes",
		},
		{name: "sha256 unknown", change: func(m *deploymentResourceModel) { m.SHA256 = types.StringUnknown() }, wo: types.Int64Null()},
		{name: "a hook unknown", change: func(m *deploymentResourceModel) { m.Hooks = hooks(types.StringValue("true"), types.StringUnknown()) }, wo: types.Int64Null()},
		{name: "hooks unknown", change: func(m *deploymentResourceModel) {
			m.Hooks = &deploymentHooksModel{BeforeSwitch: types.ListUnknown(types.StringType), AfterSwitch: types.ListNull(types.StringType)}
		}, wo: types.Int64Null()},
		{name: "backup command unknown", change: func(m *deploymentResourceModel) {
			m.Backup = &deploymentBackupModel{Command: types.StringUnknown(), ScalingoAddon: types.StringNull()}
		}, wo: types.Int64Null()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.change(m)
			steps, diags := plannedSteps(ctx, nil, m, nil, tc.wo, tgt)
			if diags.HasError() {
				t.Fatal(diags)
			}
			if steps.IsUnknown() == tc.known {
				t.Fatalf("planned_steps unknown = %v, want known = %v", steps.IsUnknown(), tc.known)
			}
			if tc.known {
				var got []string
				if d := steps.ElementsAs(ctx, &got, false); d.HasError() {
					t.Fatal(d)
				}
				if got[0] != tc.first {
					t.Fatalf("first step %q, want %q", got[0], tc.first)
				}
			}
		})
	}
}
