//go:build !(linux || darwin || freebsd)

package archive

import "errors"

// statfsFree does not know the free space on this system: extraction then
// relies on the write errors of a full disk.
func statfsFree(string) (int64, error) {
	return 0, errors.New("free space is not known on this system")
}
