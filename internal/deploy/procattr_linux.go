package deploy

import "syscall"

// processGroupAttr puts a command in its own process group, and has the kernel
// kill it when the provider dies (SIGKILL of the provider included).
func processGroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the command and every process it started.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }
