//go:build linux || darwin || freebsd

package archive

import "syscall"

// statfsFree asks the kernel for the bytes available to unprivileged writers on
// dir's filesystem.
func statfsFree(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	// The field types differ between systems, hence the conversions.
	return int64(st.Bavail) * int64(st.Bsize), nil //nolint:unconvert,gosec
}
