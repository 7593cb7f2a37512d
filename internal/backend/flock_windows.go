//go:build windows

package backend

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockExclusive and lockShared are the kinds of file lock flock takes.
const (
	lockExclusive = windows.LOCKFILE_EXCLUSIVE_LOCK
	lockShared    = 0
)

// flock takes a lock of kind how on the whole of f, waiting for it; closing f
// releases it.
func flock(f *os.File, how int) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), uint32(how), 0, ^uint32(0), ^uint32(0), new(windows.Overlapped))
}

// funlock releases the lock flock took on f.
func funlock(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, ^uint32(0), ^uint32(0), new(windows.Overlapped))
}
