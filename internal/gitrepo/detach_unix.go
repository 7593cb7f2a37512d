//go:build unix

package gitrepo

import (
	"os/exec"
	"syscall"
)

// detach runs cmd in a session of its own, without a controlling terminal: ssh
// and credential helpers then cannot prompt for a passphrase or password on
// Terraform's terminal, and fail with their message instead.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
