package target

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/host"
)

// scriptTools are the commands extractScript needs besides a sha256 tool.
var scriptTools = []string{"sh", "df", "awk", "tar", "gzip", "find", "chmod", "rm"}

// toolDir makes a folder for PATH holding links to the named commands of this
// machine, and the given scripts.
func toolDir(t *testing.T, tools []string, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range tools {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s is needed for this test: %v", name, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestExtractScriptHashers runs the host's check-and-extract script with each
// sha256 tool a host may have: openssl, sha256sum, and a broken openssl that
// must not be believed.
func TestExtractScriptHashers(t *testing.T) {
	data := archivetest.TarGz(t, map[string]string{"index.html": "hello"})
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	const wrong = "0000000000000000000000000000000000000000000000000000000000000000"
	cases := []struct {
		name    string
		tools   []string
		scripts map[string]string
		want    string // the sum the host must report
		refused bool
	}{
		{name: "openssl first", tools: []string{"openssl"}, scripts: map[string]string{"sha256sum": "echo '" + wrong + "  x'"}, want: want},
		{name: "sha256sum without openssl", tools: []string{"sha256sum"}, want: want},
		{name: "openssl that fails", tools: []string{"sha256sum"}, scripts: map[string]string{"openssl": "echo 'dgst: unknown option -r' >&2; exit 1"}, want: want},
		{name: "openssl printing something else", tools: []string{"sha256sum"}, scripts: map[string]string{"openssl": "echo 'SHA256(stdin)= not-a-sum'"}, want: want},
		{name: "a wrong sum is refused", tools: []string{"sha256sum"}, scripts: map[string]string{"openssl": "echo '" + wrong + " *stdin'"}, want: wrong, refused: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			archive := filepath.Join(root, "archive.tar.gz")
			dir := filepath.Join(root, "release")
			if err := os.WriteFile(archive, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := toolDir(t, append(c.tools, scriptTools...), c.scripts)
			out, err := host.Local{}.Run(context.Background(), host.Command{Script: extractScript, Env: []string{
				"PATH=" + path, "ARCHIVE=" + archive, "DIR=" + dir, "WANT=" + want, "NEED_KIB=1",
			}})
			if !containsLine(out, "sha256 "+c.want) {
				t.Errorf("the host reported %q, want the sum %s", out, c.want)
			}
			got, readErr := os.ReadFile(filepath.Join(dir, "index.html"))
			if c.refused {
				var exit interface{ ExitCode() int }
				if !errors.As(err, &exit) || exit.ExitCode() != exitChecksum {
					t.Fatalf("a wrong sum gave %v, want exit status %d", err, exitChecksum)
				}
				if readErr == nil {
					t.Error("the archive was extracted although its sum is wrong")
				}
				return
			}
			if err != nil {
				t.Fatalf("script: %v (output %q)", err, out)
			}
			if string(got) != "hello" {
				t.Errorf("index.html = %q (%v), want hello", got, readErr)
			}
			if _, err := os.Stat(archive); !os.IsNotExist(err) {
				t.Errorf("the archive was not removed: %v", err)
			}
		})
	}
}

func containsLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
