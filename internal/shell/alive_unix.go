//go:build unix

package shell

import (
	"errors"
	"os"
	"syscall"
)

// ProcessAlive tells whether pid runs on this machine (this process included).
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
