package archive

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// ErrNoSpace means the release does not fit in the target filesystem.
var ErrNoSpace = errors.New("not enough free space")

// sizeUnits are the units ParseSize accepts, compared without regard to case:
// binary (KiB = 1024 bytes) and decimal (KB = 1000 bytes).
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
	"tb":  1e12,
}

// ParseSize reads a size such as "8GiB", "512 MiB", "1.5GiB", "100MB" or "4096"
// (bytes) and returns it in bytes. Units are B, KiB, MiB, GiB, TiB (powers of
// 1024) and KB, MB, GB, TB (powers of 1000), in any case. The size must be a
// whole number of bytes greater than zero.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	r, ok := new(big.Rat).SetString(num)
	if num == "" || strings.Count(num, ".") > 1 || strings.HasPrefix(num, ".") || strings.HasSuffix(num, ".") || !ok {
		return 0, fmt.Errorf("%q is not a size: use a positive number followed by a unit, such as \"8GiB\" or \"512MiB\"", s)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%q is not a size: the unit %q is unknown; use B, KiB, MiB, GiB or TiB (or KB, MB, GB, TB), such as \"8GiB\"", s, strings.TrimSpace(t[i:]))
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	switch {
	case r.Sign() <= 0:
		return 0, fmt.Errorf("%q is not a size: it must be more than 0 bytes", s)
	case !r.IsInt():
		return 0, fmt.Errorf("%q is not a size: it is not a whole number of bytes", s)
	case r.Num().Cmp(big.NewInt(math.MaxInt64)) > 0:
		return 0, fmt.Errorf("%q is not a size: it is too large", s)
	}
	return r.Num().Int64(), nil
}

// FormatSize writes n bytes for people: "8 GiB", "1.5 GiB", "300 MiB", "512 B".
func FormatSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), 0
	for math.Abs(v) >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + units[u]
}

// freeSpaceOverride replaces the filesystem's answer in tests.
var freeSpaceOverride func(dir string) (int64, error)

// freeBytes is the space available to unprivileged writers on dir's filesystem,
// or an error where the system does not say.
func freeBytes(dir string) (int64, error) {
	if freeSpaceOverride != nil {
		return freeSpaceOverride(dir)
	}
	return statfsFree(dir)
}
