// Package archivetest builds release archives for tests.
package archivetest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
)

// TarGz returns a release archive (archive.WriteTarGz) of files, a map from
// slash-separated path to content; parent folders are created as needed.
func TarGz(t testing.TB, files map[string]string) []byte {
	t.Helper()
	src := t.TempDir()
	for name, body := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := archive.WriteTarGz(&buf, src); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
