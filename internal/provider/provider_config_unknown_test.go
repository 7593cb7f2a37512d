package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccProviderUnknownConfiguration: a provider setting that is known only
// after the apply (it comes from a resource not created yet) is refused at
// plan time with its name, instead of the plan being made against another
// backend (the default directory) or a misleading "missing" error.
func TestAccProviderUnknownConfiguration(t *testing.T) {
	dir := t.TempDir()
	block := func(provider string) string {
		return fmt.Sprintf(`
resource "terraform_data" "where" {
  input = "x"
}

provider "release" {
%s
}

resource "release_version_block" "bad" {
  name    = "app"
  version = "1.0.0"
  reason  = "test"
}
`, provider)
	}
	accParallelTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: block(fmt.Sprintf(`  backend {
    directory {
      path = "%s/${terraform_data.where.id}"
    }
  }`, dir)),
				ExpectError: errorRe(`backend.directory.path is not known until the apply`),
			},
			{
				Config: block(`  backend {
    postgres {
      dsn = "postgres://127.0.0.1/${terraform_data.where.id}"
    }
  }`),
				ExpectError: errorRe(`backend.postgres.dsn is not known until the apply`),
			},
			{
				Config: block(fmt.Sprintf(`  artifact_store {
    directory {
      path = "%s/${terraform_data.where.id}"
    }
  }
  backend {
    directory {
      path = "%s/state"
    }
  }`, dir, dir)),
				ExpectError: errorRe(`artifact_store.directory.path is not known until the apply`),
			},
		},
	})
}

// TestConfigureDefersOnUnknownValues: a Terraform that can defer changes is
// told to defer them while the provider's configuration is not known, and
// no error is reported.
func TestConfigureDefersOnUnknownValues(t *testing.T) {
	ctx := context.Background()
	p := New("test")()
	var sr provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(ctx).(tftypes.Object)
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
	}
	vals["actor"] = tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
	cfg := tfsdk.Config{Schema: sr.Schema, Raw: tftypes.NewValue(typ, vals)}

	for _, deferral := range []bool{true, false} {
		req := provider.ConfigureRequest{Config: cfg, ClientCapabilities: provider.ConfigureProviderClientCapabilities{DeferralAllowed: deferral}}
		var resp provider.ConfigureResponse
		p.Configure(ctx, req, &resp)
		if deferral {
			if resp.Diagnostics.HasError() || resp.Deferred == nil || resp.Deferred.Reason != provider.DeferredReasonProviderConfigUnknown {
				t.Fatalf("with deferral allowed: deferred = %+v, diagnostics = %v", resp.Deferred, resp.Diagnostics)
			}
		} else if !resp.Diagnostics.HasError() || resp.Deferred != nil {
			t.Fatalf("without deferral: deferred = %+v, diagnostics = %v, want an error", resp.Deferred, resp.Diagnostics)
		}
		if resp.ResourceData != nil || resp.DataSourceData != nil || resp.EphemeralResourceData != nil {
			t.Fatalf("deferral %v: the provider was configured from unknown values", deferral)
		}
	}
}
