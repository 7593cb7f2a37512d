package sshtest

import "syscall"

// procAttr asks the kernel to kill sshd if the test binary dies without running its
// cleanups. The connections' sshd processes are not covered, but they end with their
// client.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
