package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/check"
	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

// Defaults of every HTTP check block (release_deployment.smoke_test,
// release_blue_green_router.health_check), shown in the schema descriptions.
const (
	httpCheckDefaultMethod   = "GET"
	httpCheckDefaultStatus   = 200
	httpCheckDefaultAttempts = 10
	httpCheckDefaultInterval = "2s"
	httpCheckDefaultTimeout  = "5s"
)

// httpCheckModel is the model of every HTTP check block: the attributes that
// httpCheckBlock declares, which become one check.HTTPCheck.
type httpCheckModel struct {
	URL          types.String `tfsdk:"url"`
	Method       types.String `tfsdk:"method"`
	ExpectStatus types.Int64  `tfsdk:"expect_status"`
	BodyContains types.String `tfsdk:"body_contains"`
	Headers      types.Map    `tfsdk:"headers"`
	Attempts     types.Int64  `tfsdk:"attempts"`
	Interval     types.String `tfsdk:"interval"`
	Timeout      types.String `tfsdk:"timeout"`
	CAFile       types.String `tfsdk:"ca_file"`
	Insecure     types.Bool   `tfsdk:"insecure"`
	Host         types.String `tfsdk:"host"`
}

// httpCheckBlock is the schema of an HTTP check block: the same attributes,
// defaults and plan-time validation wherever a resource checks a URL. description
// says when the check runs; urlDescription what `url` names; extra adds the
// attributes of one resource (the router's `path`).
func httpCheckBlock(description, urlDescription string, extra map[string]schema.Attribute) schema.SingleNestedBlock {
	attrs := map[string]schema.Attribute{
		"url": schema.StringAttribute{
			MarkdownDescription: urlDescription + " It must be `http` or `https` with a host, checked at plan time.",
			Optional:            true,
			Validators:          []validator.String{validate.CheckURL()},
		},
		"method": schema.StringAttribute{
			MarkdownDescription: "HTTP method: `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS`, checked at plan time. Default `" + httpCheckDefaultMethod + "`.",
			Optional:            true,
			Computed:            true,
			Default:             stringdefault.StaticString(httpCheckDefaultMethod),
			Validators:          []validator.String{validate.HTTPMethod()},
		},
		"expect_status": schema.Int64Attribute{
			MarkdownDescription: fmt.Sprintf("Status a healthy answer has. Default `%d`.", httpCheckDefaultStatus),
			Optional:            true,
			Computed:            true,
			Default:             int64default.StaticInt64(httpCheckDefaultStatus),
			Validators:          []validator.Int64{int64validator.Between(100, 599)},
		},
		"body_contains": schema.StringAttribute{
			MarkdownDescription: "Text the body must contain.",
			Optional:            true,
		},
		"headers": schema.MapAttribute{
			MarkdownDescription: "Request headers. They are sensitive because they may carry tokens.",
			ElementType:         types.StringType,
			Optional:            true,
			Sensitive:           true,
		},
		"attempts": schema.Int64Attribute{
			MarkdownDescription: fmt.Sprintf("Requests made at most before the check fails. Default `%d`.", httpCheckDefaultAttempts),
			Optional:            true,
			Computed:            true,
			Default:             int64default.StaticInt64(httpCheckDefaultAttempts),
			Validators:          []validator.Int64{int64validator.AtLeast(1)},
		},
		"interval": schema.StringAttribute{
			MarkdownDescription: "Pause between attempts, a Go duration. Default `" + httpCheckDefaultInterval + "`.",
			Optional:            true,
			Computed:            true,
			Default:             stringdefault.StaticString(httpCheckDefaultInterval),
			Validators:          []validator.String{validate.Duration()},
		},
		"timeout": schema.StringAttribute{
			MarkdownDescription: "Time limit of each attempt, a Go duration. Default `" + httpCheckDefaultTimeout + "`.",
			Optional:            true,
			Computed:            true,
			Default:             stringdefault.StaticString(httpCheckDefaultTimeout),
			Validators:          []validator.String{validate.Duration()},
		},
		"ca_file": schema.StringAttribute{
			MarkdownDescription: "PEM file of CA certificates trusted in addition to the system's.",
			Optional:            true,
		},
		"insecure": schema.BoolAttribute{
			MarkdownDescription: "Skip TLS certificate verification. Default `false`.",
			Optional:            true,
			Computed:            true,
			Default:             booldefault.StaticBool(false),
		},
		"host": schema.StringAttribute{
			MarkdownDescription: "Host header (and TLS server name) to send, to test a virtual host through an address such as `127.0.0.1:8080`.",
			Optional:            true,
			Validators:          []validator.String{validate.HTTPHost()},
		},
	}
	for name, a := range extra {
		attrs[name] = a
	}
	return schema.SingleNestedBlock{MarkdownDescription: description, Attributes: attrs}
}

// perHostURL lets the block's url name each host of a fleet with {host}.
func perHostURL(b schema.SingleNestedBlock) schema.SingleNestedBlock {
	a, ok := b.Attributes["url"].(schema.StringAttribute)
	if !ok {
		panic("httpCheckBlock has no url string attribute")
	}
	a.Validators = []validator.String{validate.HostCheckURL()}
	b.Attributes["url"] = a
	return b
}

// httpCheck converts the block into the check it describes. When the URL is known
// here, the whole check is validated and a problem is reported on the block at;
// a caller that builds the URL later (the router's `path`) leaves it to check.Run.
func (m *httpCheckModel) httpCheck(ctx context.Context, at path.Path, diags *diag.Diagnostics) check.HTTPCheck {
	c := check.HTTPCheck{
		URL:          m.URL.ValueString(),
		Method:       m.Method.ValueString(),
		ExpectStatus: int(m.ExpectStatus.ValueInt64()),
		BodyContains: m.BodyContains.ValueString(),
		Attempts:     int(m.Attempts.ValueInt64()),
		Interval:     validate.ParseDuration(m.Interval.ValueString()),
		Timeout:      validate.ParseDuration(m.Timeout.ValueString()),
		CAFile:       m.CAFile.ValueString(),
		Insecure:     m.Insecure.ValueBool(),
		Host:         m.Host.ValueString(),
	}
	if !m.Headers.IsNull() && !m.Headers.IsUnknown() {
		diags.Append(m.Headers.ElementsAs(ctx, &c.Headers, false)...)
	}
	if c.URL != "" {
		// {host} is only accepted where the url validator lets it through (the
		// smoke test); the rest of the check is validated with a stand-in name.
		v := c
		v.URL = strings.ReplaceAll(c.URL, check.HostPlaceholder, "host.invalid")
		if err := v.Validate(); err != nil {
			diags.AddAttributeError(at, "Invalid "+at.String(), err.Error())
		}
	}
	return c
}
