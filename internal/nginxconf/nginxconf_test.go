package nginxconf_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/nginxconf"
)

// commands returns a test and a reload command that append their name to a log
// file, so a test sees which ran and in which order, and fail when asked.
// A failing command fails once only (the reload of the restored file succeeds).
func commands(t *testing.T, dir string) (logFile string, cmd func(name string, fail bool) string) {
	logFile = filepath.Join(dir, "commands.log")
	n := 0
	return logFile, func(name string, fail bool) string {
		s := "echo " + name + " >> " + logFile
		if fail {
			n++
			flag := filepath.Join(t.TempDir(), "failed-"+strconv.Itoa(n))
			s += "; if [ ! -e " + flag + " ]; then touch " + flag + "; echo '" + name + ": [emerg] broken' >&2; exit 1; fi"
		}
		return s
	}
}

func ran(t *testing.T, logFile string) string {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	s := strings.Fields(string(b))
	_ = os.Remove(logFile)
	return strings.Join(s, ",")
}

func TestApply(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "site.conf")
	logFile, cmd := commands(t, dir)
	ctx := context.Background()
	h := host.Local{}
	tests := []struct {
		name        string
		before      string // "" means no file
		change      nginxconf.Change
		wantStage   nginxconf.Stage
		wantRan     string
		wantContent string // "" means no file
		wantInError []string
	}{
		{"first write", "", nginxconf.Change{Content: []byte("v1"), TestCommand: cmd("test", false), ReloadCommand: cmd("reload", false)},
			"", "test,reload", "v1", nil},
		{"replace", "v1", nginxconf.Change{Content: []byte("v2"), TestCommand: cmd("test", false), ReloadCommand: cmd("reload", false)},
			"", "test,reload", "v2", nil},
		{"failed test restores without a reload", "v1", nginxconf.Change{Content: []byte("v2"), TestCommand: cmd("test", true), ReloadCommand: cmd("reload", false)},
			nginxconf.StageTest, "test", "v1", []string{"test_command", "[emerg] broken", "was put back"}},
		{"failed reload restores and reloads again", "v1", nginxconf.Change{Content: []byte("v2"), TestCommand: nginxconf.SkipTest, ReloadCommand: cmd("reload", true)},
			nginxconf.StageReload, "reload,reload", "v1", []string{"reload_command", "was put back"}},
		{"failed first write removes the new file", "", nginxconf.Change{Content: []byte("v1"), TestCommand: cmd("test", true), ReloadCommand: cmd("reload", false)},
			nginxconf.StageTest, "test", "", []string{"was removed again"}},
		{"remove", "v1", nginxconf.Change{Remove: true, TestCommand: cmd("test", false), ReloadCommand: cmd("reload", false)},
			"", "test,reload", "", nil},
		{"failed remove puts the file back", "v1", nginxconf.Change{Remove: true, TestCommand: cmd("test", true), ReloadCommand: cmd("reload", false)},
			nginxconf.StageTest, "test", "v1", []string{"was put back"}},
		{"removing a missing file does nothing", "", nginxconf.Change{Remove: true, TestCommand: cmd("test", false), ReloadCommand: cmd("reload", false)},
			"", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(file)
			if tt.before != "" {
				if err := os.WriteFile(file, []byte(tt.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tt.change.File = file
			_, err := nginxconf.Apply(ctx, h, tt.change)
			var ne *nginxconf.Error
			switch {
			case tt.wantStage == "" && err != nil:
				t.Fatalf("Apply: %v", err)
			case tt.wantStage != "" && (!errors.As(err, &ne) || ne.Stage != tt.wantStage || !ne.Restored):
				t.Fatalf("err = %v, want a restored failure at %s", err, tt.wantStage)
			}
			for _, want := range tt.wantInError {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if got := ran(t, logFile); got != tt.wantRan {
				t.Errorf("commands run: %q, want %q", got, tt.wantRan)
			}
			got, rerr := os.ReadFile(file)
			if tt.wantContent == "" && !errors.Is(rerr, fs.ErrNotExist) || tt.wantContent != "" && string(got) != tt.wantContent {
				t.Errorf("file = %q (%v), want %q", got, rerr, tt.wantContent)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) != 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

func TestCommandDefaults(t *testing.T) {
	if got := (nginxconf.Change{}).Test(); got != nginxconf.DefaultTestCommand {
		t.Errorf("an empty test command runs %q, want the default %q", got, nginxconf.DefaultTestCommand)
	}
	if got := (nginxconf.Change{TestCommand: nginxconf.SkipTest}).Test(); got != "" {
		t.Errorf("%q runs %q, want no test", nginxconf.SkipTest, got)
	}
	if got := (nginxconf.Change{}).Reload(); got != nginxconf.DefaultReloadCommand {
		t.Errorf("an empty reload command runs %q", got)
	}
}

func TestFailedRestoreIsReported(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "site.conf")
	if err := os.WriteFile(file, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := nginxconf.Apply(context.Background(), host.Local{}, nginxconf.Change{File: file, Content: []byte("v2"), TestCommand: nginxconf.SkipTest, ReloadCommand: "exit 1"})
	var ne *nginxconf.Error
	if !errors.As(err, &ne) || ne.Restored || ne.RestoreErr == nil || !strings.Contains(err.Error(), "was put back, but reloading the restored configuration (exit 1) failed too") {
		t.Fatalf("err = %v, want the failed reload of the restored file reported", err)
	}
}

// TestEmptyTestCommandRunsTheDefault puts a fake nginx first on PATH: an empty
// test_command must run `nginx -t -q` before the reload.
func TestEmptyTestCommandRunsTheDefault(t *testing.T) {
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	script := "#!/bin/sh\necho \"$*\" >> " + calls + "\n"
	if err := os.WriteFile(filepath.Join(bin, "nginx"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	file := filepath.Join(t.TempDir(), "site.conf")
	if _, err := nginxconf.Apply(context.Background(), host.Local{}, nginxconf.Change{File: file, Content: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(calls)
	if string(got) != "-t -q\n-s reload\n" {
		t.Fatalf("nginx was called with %q, want the default test then the default reload", got)
	}
}
