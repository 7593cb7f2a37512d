package target

import (
	"strings"
	"testing"
)

func TestValidateDirectoryPath(t *testing.T) {
	for p, want := range map[string]string{
		"/srv/histologe":   "",
		"/var/www/app":     "",
		"/tmp/x/app":       "",
		"relative/app":     "must be absolute",
		"/":                "system directory",
		"/etc":             "system directory",
		"/usr/":            "system directory",
		"/var/lib/../../.": "system directory",
		"/tmp":             "system directory",
		"/tmp/":            "system directory",
		"/srv":             "system directory",
		"/usr/local":       "system directory",
		"/srv/app/../..":   "system directory",
		"/srv/app/..":      "system directory",
		"/tmp/x":           "",
		"/srv/app":         "",
		"/etc-app":         "",
		"":                 "must be absolute",
	} {
		err := ValidateDirectoryPath(p)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("ValidateDirectoryPath(%q) = %v, want %q", p, err, want)
		}
	}
}

func TestNewDirectoryValidatesItsPath(t *testing.T) {
	for _, p := range []string{"/", "/etc", "app", "/var/"} {
		if _, err := NewDirectory(p, nil); err == nil {
			t.Errorf("NewDirectory(%q) accepted", p)
		}
	}
	d, err := NewDirectory(t.TempDir()+"/app/", nil)
	if err != nil || strings.HasSuffix(d.Path, "/") {
		t.Fatalf("NewDirectory = %+v, %v", d, err)
	}
}
