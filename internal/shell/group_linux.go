package shell

import "syscall"

// setDeathSignal has the kernel kill the script's shell as soon as this process
// dies, before the watchdog even notices.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
