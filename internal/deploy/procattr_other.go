//go:build !unix

package deploy

import (
	"os"
	"syscall"
)

func processGroupAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
