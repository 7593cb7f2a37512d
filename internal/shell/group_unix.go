//go:build unix

package shell

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// group is a process group led by a watchdog: `sh -c 'read _; kill -KILL 0'`
// reads a pipe whose only writer is this process, so when this process closes
// it or dies (SIGKILL included), the watchdog kills its whole group, the
// script's leftovers with it. The watchdog also keeps the group id alive, so
// killing -pgid never reaches another process that reused the id.
type group struct {
	watchdog *exec.Cmd
	pipe     *os.File // write end
	pgid     int
}

func newGroup() (*group, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	wd := exec.Command("/bin/sh", "-c", "read _; kill -KILL 0")
	wd.Stdin = r
	wd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := wd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	r.Close()
	return &group{watchdog: wd, pipe: w, pgid: wd.Process.Pid}, nil
}

// attr puts the script into the group.
func (g *group) attr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pgid: g.pgid}
	setDeathSignal(a)
	return a
}

// kill kills every process of the group, the watchdog included.
func (g *group) kill() { _ = syscall.Kill(-g.pgid, syscall.SIGKILL) }

// release closes the watchdog's pipe (it then kills what is left of the group,
// itself included) and reaps it.
func (g *group) release() {
	_ = g.pipe.Close()
	done := make(chan struct{})
	go func() { _ = g.watchdog.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitGrace):
		_ = g.watchdog.Process.Kill()
	}
}
