package validate

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func run(v validator.String, value types.String) validator.StringResponse {
	var resp validator.StringResponse
	v.ValidateString(context.Background(), validator.StringRequest{Path: path.Root("x"), ConfigValue: value}, &resp)
	return resp
}

func TestStringRules(t *testing.T) {
	for _, c := range []struct {
		name    string
		rule    validator.String
		good    []string
		bad     []string
		summary string
		detail  string // part of the detail of the first bad value
	}{
		{"environment", EnvironmentName(), []string{"staging", "prod-eu.1", strings.Repeat("a", 128)}, []string{strings.Repeat("a", 129), "-x", "a b", ""}, "Invalid environment name", "1 to 128"},
		{"artifact id", ArtifactID(), []string{"app@1.2.3", "histologe@1.7.4-rc"}, []string{"app", "@1.0.0", "app@"}, "Invalid artifact", ""},
		{"artifact name", ArtifactName(), []string{"app", "my_app.v2"}, []string{"-app", "a/b"}, "Invalid artifact name", ""},
		{"semver", Semver(), []string{"1.2.3", "1.7.4-rc+build.1"}, []string{"v1.2.3", "01.2.3", "1.2"}, "Invalid version", ""},
		{"duration", Duration(), []string{"90s", "10m", "0s", "1h30m"}, []string{"soon", "-1s", "10"}, "Invalid duration", `"soon" is not a duration`},
		{"positive duration", PositiveDuration("Invalid ttl", "would never expire"), []string{"1s", "2m"}, []string{"0s", "soon", "-2s"}, "Invalid ttl", `"0s" would never expire`},
		{"sha256", SHA256(), []string{strings.Repeat("a", 64), strings.Repeat("F0", 32)}, []string{strings.Repeat("a", 63), strings.Repeat("g", 64)}, "Invalid sha256", "64 hexadecimal characters"},
		{"check url", CheckURL(), []string{"http://127.0.0.1:8080/health", "https://example.org"}, []string{"ftp://127.0.0.1/", "http:///health", "health"}, "Invalid check URL", "for example http://127.0.0.1:8080/health."},
		{"method", HTTPMethod(), []string{"GET", "HEAD", "POST"}, []string{"get", "G ET"}, "Invalid HTTP method", `method "get"`},
		{"url path", URLPath(), []string{"/health", "/"}, []string{"health"}, "Invalid path", "must start with /"},
		{"size", Size(), []string{"8GiB", "512MiB", "2GB"}, []string{"big"}, "Invalid size", ""},
		{"absolute path", AbsolutePath(), []string{"/srv/app", "/"}, []string{"srv/app"}, "Invalid directory path", "is relative"},
		{"target path", TargetPath(), []string{"/srv/app"}, []string{"srv/app", "/"}, "Invalid directory path", "is relative"},
		{"rfc3339", RFC3339(), []string{"2025-03-01T23:00:00+01:00"}, []string{"2025-03-01"}, "Invalid time", "RFC 3339"},
		{"ip or cidr", IPOrCIDR(), []string{"192.0.2.10", "2001:db8::1", "10.0.0.0/8"}, []string{"example.org", "10.0.0.0/33"}, "Invalid address", "IP address"},
		{"upstream", Upstream(), []string{"127.0.0.1:8081", "unix:/run/app.sock"}, []string{"127.0.0.1:1; evil", ""}, "Invalid upstream", ""},
		{"upstream name", UpstreamName(), []string{"histologe", "_app2"}, []string{"2app", "a-b"}, "Invalid upstream name", ""},
		{"http host", HTTPHost(), []string{"app.example.org", "app.example.org:8443", "[::1]:80"}, []string{"a b", "a/b", ""}, "Invalid host", "not a valid host name"},
		{"host name", HostName(), []string{"preview.example.org", "*.example.org"}, []string{"a b", "-x-"}, "Invalid host name", "not a host name"},
		{"not blank", NotBlank("Missing reason", "say why"), []string{"x"}, []string{"", "  "}, "Missing reason", "say why."},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, s := range c.good {
				if resp := run(c.rule, types.StringValue(s)); resp.Diagnostics.HasError() {
					t.Errorf("%q refused: %v", s, resp.Diagnostics)
				}
			}
			for i, s := range c.bad {
				resp := run(c.rule, types.StringValue(s))
				if !resp.Diagnostics.HasError() {
					t.Errorf("%q accepted", s)
					continue
				}
				d := resp.Diagnostics.Errors()[0]
				if d.Summary() != c.summary {
					t.Errorf("%q: summary %q, want %q", s, d.Summary(), c.summary)
				}
				if !strings.HasSuffix(d.Detail(), ".") {
					t.Errorf("%q: detail %q is not a sentence", s, d.Detail())
				}
				if i == 0 && !strings.Contains(d.Detail(), c.detail) {
					t.Errorf("%q: detail %q does not say %q", s, d.Detail(), c.detail)
				}
			}
			for _, v := range []types.String{types.StringNull(), types.StringUnknown()} {
				if resp := run(c.rule, v); resp.Diagnostics.HasError() {
					t.Errorf("%s refused: %v", v, resp.Diagnostics)
				}
			}
			if c.rule.Description(context.Background()) == "" {
				t.Error("no description")
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	if d := ParseDuration("90s"); d.Seconds() != 90 {
		t.Errorf("90s read as %s", d)
	}
	if d := ParseDuration(""); d != 0 {
		t.Errorf("empty read as %s", d)
	}
}
