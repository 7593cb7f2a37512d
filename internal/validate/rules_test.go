package validate

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestSemverValidatorCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3":               "",
		"1.7.4-rc.1+sha.3f2a": "",
		"v1.2.3":              `use "1.2.3"`,
		"01.2.3":              `use "1.2.3"`,
		"1.2.03-rc":           `use "1.2.3-rc"`,
		"1.2":                 "exactly MAJOR.MINOR.PATCH",
	} {
		resp := &validator.StringResponse{}
		Semver().ValidateString(context.Background(), validator.StringRequest{Path: path.Root("version"), ConfigValue: types.StringValue(in)}, resp)
		got := ""
		for _, d := range resp.Diagnostics.Errors() {
			got += d.Detail()
		}
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%q: diagnostics %q, want %q", in, got, want)
		}
	}
}

func TestSHA256ValidatorAcceptsEitherCase(t *testing.T) {
	lower := strings.Repeat("3c92", 16)
	for in, ok := range map[string]bool{lower: true, strings.ToUpper(lower): true, lower[:63]: false, lower[:63] + "g": false} {
		resp := &validator.StringResponse{}
		SHA256().ValidateString(context.Background(), validator.StringRequest{Path: path.Root("sha256"), ConfigValue: types.StringValue(in)}, resp)
		if resp.Diagnostics.HasError() == ok {
			t.Errorf("%q: errors %v, want ok=%v", in, resp.Diagnostics, ok)
		}
	}
}
