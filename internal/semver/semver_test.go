package semver

import (
	"strings"
	"testing"
)

// versionCase is a call f(in, arg) of a function that derives a version from
// another; an empty want means that the call must fail.
type versionCase struct{ in, arg, want string }

// checkDerived runs f, called name in messages, on every case.
func checkDerived(t *testing.T, name string, f func(string, string) (string, error), cases []versionCase) {
	t.Helper()
	for _, c := range cases {
		got, err := f(c.in, c.arg)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%s(%q, %q) = %q, want an error", name, c.in, c.arg, got)
		case c.want != "" && (err != nil || got != c.want):
			t.Errorf("%s(%q, %q) = %q, %v; want %q", name, c.in, c.arg, got, err, c.want)
		}
	}
}

func TestBump(t *testing.T) {
	checkDerived(t, "Bump", Bump, []versionCase{
		{"1.7.3", "patch", "1.7.4"},
		{"1.7.3", "minor", "1.8.0"},
		{"1.7.3", "major", "2.0.0"},
		{"v1.7.3", "patch", "1.7.4"},
		{"1.7.4-rc", "patch", "1.7.4"},
		{"1.8.0-rc", "minor", "1.8.0"},
		{"1.7.4-rc", "minor", "1.8.0"},
		{"2.0.0-beta", "major", "2.0.0"},
		{"1.7.4-rc", "prerelease", "1.7.4-rc.1"},
		{"1.7.4-rc.1", "prerelease", "1.7.4-rc.2"},
		{"1.7.3", "prerelease", "1.7.4-0"},
		{"1.7.3+build.5", "patch", "1.7.4"},
		// Refused.
		{"1.x.banana", "patch", ""},
		{"1.7", "patch", ""},
		{"1.7.3", "build", ""},
		{"", "patch", ""},
	})
}

func TestChannel(t *testing.T) {
	checkDerived(t, "Channel", Channel, []versionCase{
		{"1.7.4", "rc", "1.7.4-rc"},
		{"1.7.4-staging", "rc", "1.7.4-rc"},
		{"1.7.4-rc", "", "1.7.4"},
		{"1.7.4", "", "1.7.4"},
		{"1.7.4+abc", "beta.2", "1.7.4-beta.2"},
		// Refused.
		{"1.7.4", "r c", ""},
		{"1.7.4", "rc+1", ""},
		{"1.7.4", "é", ""},
	})
}

func TestCompare(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"1.7.4-rc", "1.7.4", -1},
		{"1.7.4", "1.7.4", 0},
		{"1.7.10", "1.7.9", 1},
		{"1.7.4-rc.2", "1.7.4-rc.10", -1},
		{"1.7.4-alpha", "1.7.4-beta", -1},
		{"1.7.4+a", "1.7.4+b", 0},
	}
	for _, c := range cases {
		got, err := Compare(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
	}
	if _, err := Compare("1.7.4", "nope"); err == nil {
		t.Error("Compare with an invalid version should fail")
	}
}

func TestValidate(t *testing.T) {
	for _, ok := range []string{"1.0.0", "1.7.4-staging", "1.7.4-rc.1+sha.3f2a9c1"} {
		if err := Validate(ok); err != nil {
			t.Errorf("Validate(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"1.x.banana", "1.0", "1", "", "1.0.0.0", "latest"} {
		if err := Validate(bad); err == nil {
			t.Errorf("Validate(%q) should fail", bad)
		}
	}
}

func TestValidateCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":      `use "1.2.3"`,
		"01.2.3":      `use "1.2.3"`,
		"1.02.3":      `use "1.2.3"`,
		"1.2.3-rc.01": "leading zero",
	} {
		err := Validate(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%q) = %v, want %q", in, err, want)
		}
	}
}
