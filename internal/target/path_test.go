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
	} {
		err := ValidateDirectoryPath(p)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("ValidateDirectoryPath(%q) = %v, want %q", p, err, want)
		}
	}
}
