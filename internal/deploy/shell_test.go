package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunShellKillsTheProcessGroup: a hook's children die with it on timeout,
// and the error says the time limit was reached.
func TestRunShellKillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := runShell(ctx, dir, `sh -c 'sleep 300' & echo $! > child.pid; wait`, nil)
	if err == nil || !strings.Contains(err.Error(), "time limit of the deployment (timeouts) was reached") {
		t.Fatalf("err = %v, want the time limit named", err)
	}
	raw, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the hook's child %d still runs after the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunShellCancelAndOutput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	if _, err := runShell(ctx, t.TempDir(), "sleep 300", nil); err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("err = %v, want cancelled", err)
	}
	out, err := runShell(context.Background(), t.TempDir(), `i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done; exit 3`, nil)
	if err == nil || !strings.HasSuffix(out, "line2999") || len(out) > 2100 || !strings.HasPrefix(out, "…") {
		t.Fatalf("out (%d bytes) %q…, err %v: want the capped tail and the failure", len(out), out[:min(len(out), 40)], err)
	}
}
