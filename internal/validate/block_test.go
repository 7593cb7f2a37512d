package validate

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// testSchema has two optional single blocks, a and b, each with attributes x and y.
var testSchema = schema.Schema{Blocks: map[string]schema.Block{
	"a": schema.SingleNestedBlock{Attributes: map[string]schema.Attribute{
		"x": schema.StringAttribute{Optional: true}, "y": schema.StringAttribute{Optional: true},
	}},
	"b": schema.SingleNestedBlock{Attributes: map[string]schema.Attribute{
		"x": schema.StringAttribute{Optional: true}, "y": schema.StringAttribute{Optional: true},
	}},
}}

var blockType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{"x": tftypes.String, "y": tftypes.String}}

// block is a present block with x and y (nil: null, "?": unknown).
func block(x, y any) tftypes.Value {
	v := func(s any) tftypes.Value {
		switch s {
		case nil:
			return tftypes.NewValue(tftypes.String, nil)
		case "?":
			return tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
		}
		return tftypes.NewValue(tftypes.String, s)
	}
	return tftypes.NewValue(blockType, map[string]tftypes.Value{"x": v(x), "y": v(y)})
}

var absent = tftypes.NewValue(blockType, nil)

func validateConfig(t *testing.T, v resource.ConfigValidator, a, b tftypes.Value) []string {
	t.Helper()
	raw := tftypes.NewValue(tftypes.Object{AttributeTypes: map[string]tftypes.Type{"a": blockType, "b": blockType}},
		map[string]tftypes.Value{"a": a, "b": b})
	var resp resource.ValidateConfigResponse
	v.ValidateResource(context.Background(), resource.ValidateConfigRequest{Config: tfsdk.Config{Schema: testSchema, Raw: raw}}, &resp)
	var out []string
	for _, d := range resp.Diagnostics.Errors() {
		out = append(out, d.Summary()+": "+d.Detail())
	}
	return out
}

func TestConfigValidators(t *testing.T) {
	for _, c := range []struct {
		name string
		v    resource.ConfigValidator
		a, b tftypes.Value
		want string // part of the one error; empty: no error
	}{
		{"one block set", ExactlyOneBlock("a", "b"), block("1", nil), absent, ""},
		{"no block set", ExactlyOneBlock("a", "b"), absent, absent, "none is set"},
		{"both blocks set", ExactlyOneBlock("a", "b"), block("1", nil), block("2", nil), "a and b are both set"},
		{"dynamic block not known yet", ExactlyOneBlock("a", "b"), block("?", nil), block("2", nil), ""},
		{"required attribute set", RequiredInBlock("a", "x", ""), block("1", nil), absent, ""},
		{"required attribute missing", RequiredInBlock("a", "x", "For example x = 1"), block(nil, "2"), absent, `The argument "x" is required in the a block. For example x = 1.`},
		{"required attribute of an absent block", RequiredInBlock("a", "x", ""), absent, absent, ""},
		{"required attribute unknown", RequiredInBlock("a", "x", ""), block("?", nil), absent, ""},
		{"exactly one in block", ExactlyOneInBlock("a", "x", "y"), block("1", nil), absent, ""},
		{"both in block", ExactlyOneInBlock("a", "x", "y"), block("1", "2"), absent, "found 2"},
		{"none in block", ExactlyOneInBlock("a", "x", "y"), block(nil, nil), absent, "found 0"},
		{"one in block unknown", ExactlyOneInBlock("a", "x", "y"), block("?", "2"), absent, ""},
		{"attribute with its block", AttributeNeedsBlock("a", "x", "b", "a.y"), block("1", nil), block(nil, nil), ""},
		{"attribute without its block", AttributeNeedsBlock("a", "x", "b", "a.y"), block("1", nil), absent, "a.x only works with the b target block; use a.y"},
	} {
		t.Run(c.name, func(t *testing.T) {
			errs := validateConfig(t, c.v, c.a, c.b)
			switch {
			case c.want == "" && len(errs) > 0:
				t.Errorf("refused: %v", errs)
			case c.want != "" && (len(errs) != 1 || !strings.Contains(errs[0], c.want)):
				t.Errorf("errors %v, want one saying %q", errs, c.want)
			}
		})
	}
}
