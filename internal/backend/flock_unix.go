//go:build !windows

package backend

import (
	"errors"
	"os"
	"syscall"
)

// lockExclusive and lockShared are the kinds of file lock flock takes.
const (
	lockExclusive = syscall.LOCK_EX
	lockShared    = syscall.LOCK_SH
)

// flock takes a lock of kind how on f, waiting for it; closing f releases it.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// funlock releases the lock flock took on f.
func funlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
