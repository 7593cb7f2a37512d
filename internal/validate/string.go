// Package validate holds the plan-time rules of the provider's configuration: one
// rule per kind of value (environment names, artifact ids, durations, sha256
// checksums, semantic versions, check URLs, ...) and the rules that relate blocks
// and their attributes. Every string rule is built by String from a function of the
// domain package that owns the value (backend.ValidateEnvironment, store.ParseID,
// check.ValidateURL, ...), so the plan refuses exactly what the apply would refuse.
package validate

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/check"
	"github.com/releaseplan/terraform-provider-release/internal/router"
	"github.com/releaseplan/terraform-provider-release/internal/semver"
	"github.com/releaseplan/terraform-provider-release/internal/store"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// stringRule is a validator.String made of a description, the summary of its
// diagnostic and the check of one value.
type stringRule struct {
	description string
	summary     string
	check       func(string) error
}

// String returns a validator of string attributes. Null and unknown values pass
// (unknown ones are judged once known); for a known value check's error, if any,
// becomes an attribute error titled summary whose detail is the error's message,
// ended with a period. description says what a valid value is, for the docs.
func String(description, summary string, check func(string) error) validator.String {
	return stringRule{description: description, summary: summary, check: check}
}

func (r stringRule) Description(context.Context) string { return r.description }

func (r stringRule) MarkdownDescription(ctx context.Context) string { return r.Description(ctx) }

func (r stringRule) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := r.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, r.summary, sentence(err.Error()))
	}
}

// sentence ends msg with a period unless it already ends a sentence.
func sentence(msg string) string {
	if strings.HasSuffix(msg, ".") || strings.HasSuffix(msg, "?") || strings.HasSuffix(msg, "\n") {
		return msg
	}
	return msg + "."
}

// EnvironmentName accepts the environment names the backends can hold (see
// backend.ValidateEnvironment): 1 to 128 letters, digits, '-', '_' or '.',
// starting with a letter or digit. Every attribute naming an environment uses it.
func EnvironmentName() validator.String {
	return String("value must be 1 to 128 letters, digits, '-', '_' or '.', starting with a letter or digit",
		"Invalid environment name", backend.ValidateEnvironment)
}

// ArtifactID accepts an artifact id, name@version, as the artifact store does.
func ArtifactID() validator.String {
	return String("value must be an artifact id, name@version", "Invalid artifact", func(s string) error {
		_, _, err := store.ParseID(s)
		return err
	})
}

// ArtifactName accepts the names the artifact store can hold.
func ArtifactName() validator.String {
	return String("value must be letters, digits, '.', '_' and '-', starting with a letter or digit",
		"Invalid artifact name", store.ValidateName)
}

// Semver accepts a strict semantic version in its canonical spelling (1.2.3, not
// v1.2.3 or 01.2.3: one version has one name).
func Semver() validator.String {
	return String("value must be a semantic version MAJOR.MINOR.PATCH[-pre][+build] in canonical form (no leading v, no leading zeros)",
		"Invalid version", semver.Validate)
}

// Duration accepts a Go duration that is not negative ("90s", "10m", "4h").
func Duration() validator.String {
	return String(`value must be a duration such as "90s", "10m" or "4h"`, "Invalid duration", checkDuration)
}

func checkDuration(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf(`%q is not a duration: use a number with a unit, such as "90s", "10m" or "4h"`, s)
	}
	if d < 0 {
		return fmt.Errorf("%s must not be negative", s)
	}
	return nil
}

// PositiveDuration accepts a duration above zero. why explains, after the value,
// what a zero duration would do, for example "would never expire".
func PositiveDuration(summary, why string) validator.String {
	return String("value must be a duration above 0s", summary, func(s string) error {
		if err := checkDuration(s); err != nil {
			return err
		}
		if d, _ := time.ParseDuration(s); d == 0 {
			return fmt.Errorf("%q %s", s, why)
		}
		return nil
	})
}

// ParseDuration reads a duration that Duration accepted; empty is zero.
func ParseDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

// SHA256 accepts 64 hexadecimal characters, in either case.
func SHA256() validator.String {
	return String("value must be a sha256 checksum: 64 hexadecimal characters", "Invalid sha256", func(s string) error {
		ok := len(s) == 64
		for _, c := range s {
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				ok = false
			}
		}
		if !ok {
			return fmt.Errorf("%q is not a sha256 checksum: expected 64 hexadecimal characters, as filesha256() returns", s)
		}
		return nil
	})
}

// CheckURL accepts what an HTTP check can request: an http:// or https:// URL with
// a host.
func CheckURL() validator.String {
	return String("value must be an http:// or https:// URL with a host", "Invalid check URL", func(s string) error {
		if err := check.ValidateURL(s); err != nil {
			return fmt.Errorf("%w, for example http://127.0.0.1:8080/health", err)
		}
		return nil
	})
}

// HostCheckURL is CheckURL for a URL that may name each host of a fleet with
// {host} (a smoke test run on every host).
func HostCheckURL() validator.String {
	return String("value must be an http:// or https:// URL with a host, or {host}", "Invalid check URL", func(s string) error {
		if err := check.ValidateHostURL(s); err != nil {
			return fmt.Errorf("%w, for example http://{host}:8080/health or http://127.0.0.1:8080/health", err)
		}
		return nil
	})
}

// HTTPMethod accepts the methods an HTTP check sends, in upper case.
func HTTPMethod() validator.String {
	return String("value must be an HTTP method in upper case, such as GET", "Invalid HTTP method", check.ValidateMethod)
}

// URLPath accepts the path of a URL: it starts with a slash.
func URLPath() validator.String {
	return String("value must start with /", "Invalid path", func(s string) error {
		if !strings.HasPrefix(s, "/") {
			return fmt.Errorf("%q must start with /, such as /health", s)
		}
		return nil
	})
}

// Size accepts a size the archive caps can read ("8GiB", "500MB").
func Size() validator.String {
	return String(`value must be a size such as "8GiB", "512MiB" or "2GB"`, "Invalid size", func(s string) error {
		_, err := archive.ParseSize(s)
		return err
	})
}

// AbsolutePath accepts an absolute path: nothing may depend on the directory
// Terraform happens to run in.
func AbsolutePath() validator.String {
	return String("value must be an absolute path", "Invalid directory path", checkAbsolute)
}

// TargetPath accepts an absolute path that a deployment may own: not the root nor
// a system directory (see target.ValidateDirectoryPath).
func TargetPath() validator.String {
	return String("value must be an absolute path", "Invalid directory path", func(s string) error {
		if err := checkAbsolute(s); err != nil {
			return err
		}
		return target.ValidateDirectoryPath(s)
	})
}

func checkAbsolute(s string) error {
	if !filepath.IsAbs(s) {
		return fmt.Errorf("%q is relative; use an absolute path such as /srv/histologe (for example with abspath())", s)
	}
	return nil
}

// RFC3339 accepts a time such as 2025-03-01T23:00:00+01:00.
func RFC3339() validator.String {
	const desc = "must be an RFC 3339 time such as 2025-03-01T23:00:00+01:00"
	return String(desc, "Invalid time", func(s string) error {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return fmt.Errorf("%q %s", s, desc)
		}
		return nil
	})
}

// IPOrCIDR accepts an IP address or a CIDR range.
func IPOrCIDR() validator.String {
	const desc = "must be an IP address (192.0.2.10, 2001:db8::1) or a CIDR range (10.0.0.0/8)"
	return String(desc, "Invalid address", func(s string) error {
		var err error
		if strings.Contains(s, "/") {
			_, err = netip.ParsePrefix(s)
		} else {
			_, err = netip.ParseAddr(s)
		}
		if err != nil {
			return fmt.Errorf("%q %s", s, desc)
		}
		return nil
	})
}

// Upstream accepts an nginx upstream address that cannot break or inject into the
// nginx file: host:port or unix:/path.
func Upstream() validator.String {
	return String("value must be host:port or unix:/path, without spaces, quotes or ;{}#$", "Invalid upstream", router.ValidUpstream)
}

// UpstreamName accepts a name nginx can use for an upstream and a variable.
func UpstreamName() validator.String {
	return String("value must start with a letter or underscore and contain only letters, digits and underscores",
		"Invalid upstream name", router.ValidUpstreamName)
}

// NotBlank refuses a value made of white space only; detail says what to write.
func NotBlank(summary, detail string) validator.String {
	return String("value must not be blank", summary, func(s string) error {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("%s", detail)
		}
		return nil
	})
}

var hostNameRe = regexp.MustCompile(`^[A-Za-z0-9*]([A-Za-z0-9.*-]*[A-Za-z0-9])?$`)

// HostName accepts a host name as nginx's server_name takes it (wildcards allowed).
func HostName() validator.String {
	return String("value must be a host name: letters, digits, dots and dashes", "Invalid host name", func(s string) error {
		if !hostNameRe.MatchString(s) {
			return fmt.Errorf("%q is not a host name: use letters, digits, dots and dashes", s)
		}
		return nil
	})
}

// HTTPHost accepts what an HTTP check may send as its Host header: a host name or
// address, with an optional port, without spaces or slashes (as check.HTTPCheck).
func HTTPHost() validator.String {
	return String("value must be a host, optionally with a port, without spaces or slashes", "Invalid host", func(s string) error {
		if s == "" || strings.ContainsAny(s, " /\r\n\t") {
			return fmt.Errorf("host %q is not a valid host name: use a name such as app.example.org or app.example.org:8443", s)
		}
		return nil
	})
}
