//go:build unix && !linux

package shell

import "syscall"

// setDeathSignal does nothing: Pdeathsig is Linux only; the watchdog kills the
// group when this process dies.
func setDeathSignal(*syscall.SysProcAttr) {}
