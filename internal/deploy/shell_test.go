package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDeployKillsCommandsWithTheirChildren: a hook or backup command still
// running when the deployment's time limit passes or it is cancelled is killed
// with every process it started, and the error says which limit was reached.
func TestDeployKillsCommandsWithTheirChildren(t *testing.T) {
	for _, tc := range []struct {
		name     string
		set      func(req *Request, script string)
		cancel   bool // cancel the context instead of letting its deadline pass
		step     string
		wantErr  []string
		wantLive string
	}{
		{
			name:     "before_switch hook past the time limit",
			set:      func(req *Request, s string) { req.Hooks.BeforeSwitch = []string{s} },
			step:     "before_switch",
			wantErr:  []string{"time limit of the deployment (timeouts) was reached", "timed out after", "killed with every process it started", "The switch did not happen"},
			wantLive: "version 1.0.0",
		},
		{
			name:     "after_switch hook cancelled",
			set:      func(req *Request, s string) { req.Hooks.AfterSwitch = []string{s} },
			cancel:   true,
			step:     "after_switch",
			wantErr:  []string{"the deployment was cancelled", "was cancelled after", "The previous release 1.0.0 was restored"},
			wantLive: "version 1.0.0",
		},
		{
			name:     "backup command past the time limit",
			set:      func(req *Request, s string) { req.BackupCommand = s },
			step:     "backup",
			wantErr:  []string{"The backup command failed", "time limit of the deployment (timeouts) was reached"},
			wantLive: "version 1.0.0",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newUpgradeFixture(t)
			pidFile := filepath.Join(t.TempDir(), "child.pid")
			req := f.request("1.0.1")
			tc.set(&req, `sh -c 'sleep 300' & echo $! > `+pidFile+`; wait`)
			var (
				ctx    context.Context
				cancel context.CancelFunc
			)
			if tc.cancel {
				ctx, cancel = context.WithCancel(context.Background())
				time.AfterFunc(400*time.Millisecond, cancel)
			} else {
				ctx, cancel = context.WithTimeout(context.Background(), 400*time.Millisecond)
			}
			defer cancel()
			_, err := Deploy(ctx, req)
			var de *Error
			if !errors.As(err, &de) || de.Step != tc.step {
				t.Fatalf("err = %v, want a failure at %s", err, tc.step)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got := f.serving(); got != tc.wantLive {
				t.Errorf("serving %q, want %q", got, tc.wantLive)
			}
			raw, rerr := os.ReadFile(pidFile)
			if rerr != nil {
				t.Fatal(rerr)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
			deadline := time.Now().Add(5 * time.Second)
			for processRuns(pid) {
				if time.Now().After(deadline) {
					t.Fatalf("the command's child %d still runs", pid)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// processRuns tells whether pid runs (a zombie waiting for its reaper does not).
func processRuns(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat("/proc/self/stat"); serr == nil {
			return false
		}
		return syscall.Kill(pid, 0) == nil
	}
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}
