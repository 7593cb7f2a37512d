package nginxtest

import "syscall"

// procAttr puts nginx in its own process group (so a kill reaches its workers) and
// asks the kernel to stop it if the test binary dies without running its cleanups.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
