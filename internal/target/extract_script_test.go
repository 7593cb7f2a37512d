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

// scriptTools are the commands extractScript needs besides a sha256 tool and
// zstd.
var scriptTools = []string{"sh", "df", "awk", "tar", "gzip", "find", "chmod", "rm"}

// toolDir makes a folder for PATH holding links to the named commands of this
// machine, and the given scripts.
func toolDir(t *testing.T, tools []string, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range tools {
		if _, ok := scripts[name]; ok {
			continue // the script stands in for it (never write through a link to the real one)
		}
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

// realTool is the absolute path of a command of this machine, for stand-ins
// that call it.
func realTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed for this test (scripts/test-deps.sh installs it): %v", name, err)
	}
	return p
}

// TestExtractScriptDecompressors runs the host's check-and-extract script with
// each way a host may decompress: GNU tar with a zstd that reads gzip (the
// fast way), without zstd, with a zstd that cannot read gzip, with a tar that
// is not GNU tar, and with a zstd that fails half-way (the script fails).
func TestExtractScriptDecompressors(t *testing.T) {
	data := archivetest.TarGz(t, map[string]string{"index.html": "hello", "assets/app.js": "console.log(1)"})
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	zstd, tar, head := realTool(t, "zstd"), realTool(t, "tar"), realTool(t, "head")
	cases := []struct {
		name    string
		zstd    string // the zstd on PATH: "" none, else a script body; $LOG logs its arguments
		tar     string // a stand-in for tar, or "" for the real one
		unzUsed bool   // zstd decompressed the archive
		fails   bool
	}{
		{name: "zstd", zstd: `echo "$*" >>"$LOG"; exec ` + zstd + ` "$@"`, unzUsed: true},
		{name: "no zstd"},
		{name: "zstd without gzip support", zstd: `echo "$*" >>"$LOG"; echo "zstd: unknown format" >&2; exit 1`},
		{name: "tar that is not GNU tar", zstd: `echo "$*" >>"$LOG"; exec ` + zstd + ` "$@"`,
			tar: `case $1 in --version) echo "bsdtar 3.7.2 - libarchive 3.7.2"; exit 0 ;; esac; exec ` + tar + ` "$@"`},
		{name: "zstd failing half-way", zstd: `echo "$*" >>"$LOG"; case $1 in -dcq) exec ` + zstd + ` "$@" ;; esac; ` + zstd + ` -dc | ` + head + ` -c 700; exit 1`,
			unzUsed: true, fails: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			archive, dir, log := filepath.Join(root, "archive.tar.gz"), filepath.Join(root, "release"), filepath.Join(root, "zstd.log")
			if err := os.WriteFile(archive, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			scripts := map[string]string{}
			if c.zstd != "" {
				scripts["zstd"] = c.zstd
			}
			if c.tar != "" {
				scripts["tar"] = c.tar
			}
			path := toolDir(t, append([]string{"sha256sum"}, scriptTools...), scripts)
			out, err := host.Local{}.Run(context.Background(), host.Command{Script: extractScript, Env: []string{
				"PATH=" + path, "ARCHIVE=" + archive, "DIR=" + dir, "WANT=" + want, "NEED_KIB=1", "LOG=" + log,
			}})
			calls, _ := os.ReadFile(log)
			if used := strings.Contains(string(calls), "-d\n") || strings.HasSuffix(string(calls), "-d"); used != c.unzUsed {
				t.Errorf("zstd decompressed the archive: %v, want %v (its calls: %q)", used, c.unzUsed, calls)
			}
			if c.fails {
				if err == nil {
					t.Fatalf("the script succeeded although zstd failed half-way (output %q)", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("script: %v (output %q)", err, out)
			}
			for name, body := range map[string]string{"index.html": "hello", "assets/app.js": "console.log(1)"} {
				if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != body {
					t.Errorf("%s = %q (%v), want %q", name, got, err, body)
				}
			}
		})
	}
}
