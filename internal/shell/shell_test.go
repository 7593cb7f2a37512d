package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunOutputExitAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		cmd      Command
		wantOut  string
		wantExit int // -1: no error
	}{
		{"output of both streams", Command{Script: "echo out; echo err >&2"}, "out\nerr", -1},
		{"working directory", Command{Script: "pwd", Dir: dir}, dir, -1},
		{"environment added", Command{Script: `echo "$RELEASE_X"`, Env: []string{"RELEASE_X=42"}}, "42", -1},
		{"exit status", Command{Script: "echo failing; exit 3"}, "failing", 3},
		{"syntax error", Command{Script: "if then"}, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Run(context.Background(), tc.cmd)
			if tc.wantExit < 0 {
				if err != nil || out != tc.wantOut {
					t.Fatalf("Run = %q, %v; want %q, nil", out, err, tc.wantOut)
				}
				return
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.wantExit {
				t.Fatalf("err = %v, want exit status %d", err, tc.wantExit)
			}
			if tc.wantOut != "" && out != tc.wantOut {
				t.Fatalf("out = %q, want %q", out, tc.wantOut)
			}
		})
	}
}

// backgroundScript starts a background sleep and a child shell running sleep,
// writes their pids to files in the working directory, then waits.
const backgroundScript = `sleep 300 & echo $! > bg.pid; sh -c 'sleep 300; echo never' & echo $! > child.pid; echo started; wait`

func TestRunKillsTheWholeGroup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		timeout time.Duration
		want    error
		message string
	}{
		{
			name:    "own timeout",
			ctx:     func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			timeout: 300 * time.Millisecond,
			want:    ErrTimedOut,
			message: "timed out after 300ms and was killed with every process it started",
		},
		{
			name: "context deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 300*time.Millisecond)
			},
			want:    context.DeadlineExceeded,
			message: "timed out after running ",
		},
		{
			name: "cancel",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(300*time.Millisecond, cancel)
				return ctx, cancel
			},
			want:    ErrCancelled,
			message: "was cancelled after ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := tc.ctx()
			defer cancel()
			started := time.Now()
			out, err := Run(ctx, Command{Script: backgroundScript, Dir: dir, Timeout: tc.timeout})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("err = %v, want %v saying %q", err, tc.want, tc.message)
			}
			var se *StoppedError
			if !errors.As(err, &se) {
				t.Fatalf("err = %T, want *StoppedError", err)
			}
			if out != "started" {
				t.Fatalf("out = %q, want the output written before the kill", out)
			}
			if d := time.Since(started); d > 5*time.Second {
				t.Fatalf("Run returned after %s", d)
			}
			for _, f := range []string{"bg.pid", "child.pid"} {
				waitGone(t, readPid(t, filepath.Join(dir, f)), f)
			}
		})
	}
}

func TestRunKillsLeftoversWhenTheScriptEnds(t *testing.T) {
	dir := t.TempDir()
	started := time.Now()
	out, err := Run(context.Background(), Command{Script: "sleep 300 & echo $! > bg.pid; echo done", Dir: dir})
	if err != nil || out != "done" {
		t.Fatalf("Run = %q, %v", out, err)
	}
	if d := time.Since(started); d > 5*time.Second {
		t.Fatalf("Run waited %s for a background process", d)
	}
	waitGone(t, readPid(t, filepath.Join(dir, "bg.pid")), "the background sleep")
}

func TestRunRefusesADoneContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := Run(ctx, Command{Script: "touch ran", Dir: dir}); !errors.Is(err, ErrCancelled) {
		t.Fatalf("err = %v, want ErrCancelled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Fatal("the command ran with a cancelled context")
	}
}

func TestRunCapsOutput(t *testing.T) {
	const lines = `i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done`
	for _, tc := range []struct {
		name      string
		script    string
		max       int
		wantLen   int // bytes, the "…" excluded
		wantCut   bool
		wantTail  string
		wantWhole string
	}{
		{"default cap keeps the tail", lines, 0, DefaultMaxOutput, true, "line2999", ""},
		{"custom cap", lines, 100, 100, true, "line2999", ""},
		{"short output kept whole", "echo a; echo b", 0, 0, false, "", "a\nb"},
		{"cut inside a UTF-8 sequence", `printf 'ééééé'`, 5, 4, true, "éé", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Run(context.Background(), Command{Script: tc.script, MaxOutput: tc.max})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantWhole != "" {
				if out != tc.wantWhole {
					t.Fatalf("out = %q, want %q", out, tc.wantWhole)
				}
				return
			}
			if !strings.HasPrefix(out, "…") != !tc.wantCut || !strings.HasSuffix(out, tc.wantTail) {
				t.Fatalf("out = %q…%q, want a cut tail ending in %q", out[:min(len(out), 20)], out[max(0, len(out)-20):], tc.wantTail)
			}
			body := strings.TrimPrefix(out, "…")
			if len(body) > tc.wantLen || len(body) < tc.wantLen-len("line2999\n") {
				t.Fatalf("kept %d bytes, want about %d", len(body), tc.wantLen)
			}
			if !strings.HasPrefix(body, "line") && !strings.HasPrefix(body, "é") {
				t.Fatalf("the kept output starts mid-line or mid-character: %q", body[:min(len(body), 10)])
			}
		})
	}
}

// TestRunChildrenDieWithTheProvider kills a process running Run with SIGKILL, as
// a CI runner's timeout or the OOM killer would kill the provider: the script and
// every process it started die too.
func TestRunChildrenDieWithTheProvider(t *testing.T) {
	if dir := os.Getenv("SHELL_TEST_PROVIDER_DIR"); dir != "" {
		fmt.Println("ready")
		_, err := Run(context.Background(), Command{Script: "echo $$ > sh.pid; " + backgroundScript, Dir: dir})
		fmt.Fprintln(os.Stderr, "Run returned:", err)
		os.Exit(3)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunChildrenDieWithTheProvider$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SHELL_TEST_PROVIDER_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("the provider process did not start: %q %v", line, err)
	}
	files := []string{"sh.pid", "bg.pid", "child.pid"}
	deadline := time.Now().Add(10 * time.Second)
	for _, f := range files {
		for {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil && strings.HasSuffix(string(b), "\n") {
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("the script did not write %s", f)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	for _, f := range files {
		waitGone(t, readPid(t, filepath.Join(dir, f)), f)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("%s holds %q", path, b)
	}
	return pid
}

// waitGone polls until pid has exited (a zombie waiting for its reaper counts
// as exited: it runs nothing).
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func running(pid int) bool {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// pid (comm) S ...: the state follows the last ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
			return s[i+2] != 'Z' && s[i+2] != 'X'
		}
		return true
	} else if !errors.Is(err, os.ErrNotExist) {
		return syscall.Kill(pid, 0) == nil
	} else if _, serr := os.Stat("/proc/self/stat"); serr == nil {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := NewTail(10)
	for i := 0; i < 100; i++ {
		_, _ = b.Write([]byte("0123456789\n"))
	}
	if got := b.String(); got != "…123456789" {
		t.Errorf("String = %q", got)
	}
	b = NewTail(10)
	_, _ = b.Write([]byte("short\n"))
	if got := b.String(); got != "short" {
		t.Errorf("String = %q", got)
	}
}
