// Package semver computes release versions: bumps, channels ("1.7.4-rc") and
// precedence, on top of hashicorp/go-version with strict semantic-version parsing.
package semver

import (
	"fmt"
	"strconv"
	"strings"

	goversion "github.com/hashicorp/go-version"
)

// Parse reads a strict semantic version (MAJOR.MINOR.PATCH[-pre][+build]); a
// leading "v" is accepted, for reading versions such as git tags. Configured
// versions go through Validate, which accepts the canonical spelling only.
func Parse(s string) (*goversion.Version, error) {
	v, err := goversion.NewSemver(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.7.4 or 1.7.4-rc)", s)
	}
	if n := strings.Count(strings.SplitN(strings.SplitN(strings.TrimPrefix(s, "v"), "-", 2)[0], "+", 2)[0], "."); n != 2 {
		return nil, fmt.Errorf("%q is not a semantic version: it needs exactly MAJOR.MINOR.PATCH", s)
	}
	return v, nil
}

// Validate reports whether s is a strict semantic version in its one canonical
// spelling. "v1.2.3" and "01.2.3" mean 1.2.3, and accepting them would let one
// version be published twice under two names with different bytes.
func Validate(s string) error {
	v, err := Parse(s)
	if err != nil {
		return err
	}
	canonical := v.String()
	if pre := v.Prerelease(); pre != "" {
		for _, id := range strings.Split(pre, ".") {
			if len(id) > 1 && id[0] == '0' && isDigits(id) {
				return fmt.Errorf("%q is not a semantic version: the pre-release identifier %q has a leading zero", s, id)
			}
		}
	}
	if canonical != s {
		return fmt.Errorf("%q is not written in canonical form: use %q", s, canonical)
	}
	return nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Bump increments part ("major", "minor", "patch" or "prerelease") of version.
// major, minor and patch drop any pre-release and build; bumping the patch of a
// pre-release ("1.7.4-rc") releases it ("1.7.4"), as semantic versioning orders them.
// prerelease increments the last numeric identifier of the pre-release
// ("1.7.4-rc.1" → "1.7.4-rc.2", "1.7.4-rc" → "1.7.4-rc.1", "1.7.4" → "1.7.5-0").
func Bump(version, part string) (string, error) {
	v, err := Parse(version)
	if err != nil {
		return "", err
	}
	seg := v.Segments()
	major, minor, patch := seg[0], seg[1], seg[2]
	pre := v.Prerelease()
	switch part {
	case "major":
		if pre != "" && minor == 0 && patch == 0 {
			return fmt.Sprintf("%d.0.0", major), nil
		}
		return fmt.Sprintf("%d.0.0", major+1), nil
	case "minor":
		if pre != "" && patch == 0 {
			return fmt.Sprintf("%d.%d.0", major, minor), nil
		}
		return fmt.Sprintf("%d.%d.0", major, minor+1), nil
	case "patch":
		if pre != "" {
			return fmt.Sprintf("%d.%d.%d", major, minor, patch), nil
		}
		return fmt.Sprintf("%d.%d.%d", major, minor, patch+1), nil
	case "prerelease":
		if pre == "" {
			return fmt.Sprintf("%d.%d.%d-0", major, minor, patch+1), nil
		}
		ids := strings.Split(pre, ".")
		last := ids[len(ids)-1]
		if n, err := strconv.ParseUint(last, 10, 64); err == nil {
			ids[len(ids)-1] = strconv.FormatUint(n+1, 10)
		} else {
			ids = append(ids, "1")
		}
		return fmt.Sprintf("%d.%d.%d-%s", major, minor, patch, strings.Join(ids, ".")), nil
	default:
		return "", fmt.Errorf("invalid part %q: use major, minor, patch or prerelease", part)
	}
}

// Channel returns version on a release channel: ("1.7.4", "rc") → "1.7.4-rc",
// ("1.7.4-staging", "rc") → "1.7.4-rc", ("1.7.4-rc", "") → "1.7.4". Build metadata
// is dropped.
func Channel(version, channel string) (string, error) {
	v, err := Parse(version)
	if err != nil {
		return "", err
	}
	if channel != "" {
		if _, err := goversion.NewSemver("0.0.0-" + channel); err != nil || strings.ContainsAny(channel, "+") {
			return "", fmt.Errorf("invalid channel %q: use dot-separated letters, digits and hyphens (e.g. rc, staging, beta.1)", channel)
		}
	}
	seg := v.Segments()
	out := fmt.Sprintf("%d.%d.%d", seg[0], seg[1], seg[2])
	if channel != "" {
		out += "-" + channel
	}
	return out, nil
}

// Compare returns -1, 0 or 1 as a is lower than, equal to or greater than b in
// semantic-version precedence (a pre-release is lower than its release; build
// metadata is ignored).
func Compare(a, b string) (int, error) {
	va, err := Parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := Parse(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}
