package archive

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
)

// ErrNoSpace means the release does not fit in the target filesystem.
var ErrNoSpace = errors.New("not enough free space")

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
}

// ParseSize reads a size such as "8GiB", "512MiB", "2GB" or "1024" (bytes).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, factor = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) || n*float64(factor) > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size: use a positive number with a unit such as \"8GiB\", \"512MiB\" or \"2GB\"", s)
	}
	return int64(n * float64(factor)), nil
}

// FormatSize prints a byte count for messages ("1.5 GiB").
func FormatSize(n int64) string {
	for _, u := range sizeUnits[:4] {
		if n >= u.factor {
			return strconv.FormatFloat(float64(n)/float64(u.factor), 'f', 1, 64) + " " + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}

// freeSpaceOverride replaces the filesystem's answer in tests.
var freeSpaceOverride func(dir string) (int64, error)

// freeBytes is the space available to unprivileged writers on dir's filesystem.
func freeBytes(dir string) (int64, error) {
	if freeSpaceOverride != nil {
		return freeSpaceOverride(dir)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
