package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{in: "8GiB", want: 8 << 30},
		{in: "512MiB", want: 512 << 20},
		{in: "512 MiB", want: 512 << 20},
		{in: "2GB", want: 2e9},
		{in: "100MB", want: 100e6},
		{in: "3KB", want: 3000},
		{in: "1TiB", want: 1 << 40},
		{in: "2TB", want: 2e12},
		{in: "1024", want: 1024},
		{in: "10 B", want: 10},
		{in: "1.5KiB", want: 1536},
		{in: "1.5GiB", want: 3 << 29},
		{in: "8gib", want: 8 << 30},
		{in: " 4KiB ", want: 4096},
		{in: "", err: "is not a size: use a positive number"},
		{in: "GiB", err: "is not a size: use a positive number"},
		{in: "-1GiB", err: "is not a size: use a positive number"},
		{in: "0", err: "more than 0 bytes"},
		{in: "0GiB", err: "more than 0 bytes"},
		{in: "8 gigs", err: `"8 gigs" is not a size: the unit "gigs" is unknown`},
		{in: "8GiBs", err: "is unknown"},
		{in: "1e30TiB", err: "is unknown"},
		{in: "1.2.3GiB", err: "is not a size: use a positive number"},
		{in: ".5GiB", err: "is not a size: use a positive number"},
		{in: "1.5B", err: "not a whole number of bytes"},
		{in: "9000000TiB", err: "too large"},
	} {
		got, err := ParseSize(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseSize(%q) = %d, %v; want an error saying %q", tc.in, got, err, tc.err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 512: "512 B", 1024: "1 KiB", 1536: "1.5 KiB", 8 << 30: "8 GiB", 3 << 29: "1.5 GiB", 1<<20 + 1: "1 MiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestExtractChecksFreeSpace: the free space is checked against the sizes the
// archive declares, before the bytes are written.
func TestExtractChecksFreeSpace(t *testing.T) {
	src := t.TempDir()
	for name, size := range map[string]int{"a/small": 1000, "big": 1 << 20} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := WriteTarGz(&buf, src); err != nil {
		t.Fatal(err)
	}
	if free, err := freeBytes(t.TempDir()); err != nil || free <= 0 {
		t.Fatalf("the real filesystem: freeBytes = %d, %v", free, err)
	}
	for _, tc := range []struct {
		name string
		free func(string) (int64, error)
		err  []string // empty: the extraction succeeds
	}{
		{"fits", func(string) (int64, error) { return 10 << 20, nil }, nil},
		{"fits exactly", func(string) (int64, error) { return 1<<20 + 1000, nil }, nil},
		{"the big file does not fit", func(string) (int64, error) { return 1 << 20, nil }, []string{`entry "big"`, "needs at least 1 MiB", "had 1 MiB free"}},
		{"nothing fits", func(string) (int64, error) { return 10, nil }, []string{`entry "a/small"`, "1000 B", "10 B free"}},
		{"unknown free space is not checked", func(string) (int64, error) { return 0, errors.New("no statfs") }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := freeSpaceOverride
			freeSpaceOverride = tc.free
			defer func() { freeSpaceOverride = old }()
			dir := t.TempDir()
			st, err := ExtractTarGz(context.Background(), bytes.NewReader(buf.Bytes()), dir, Limits{})
			if len(tc.err) == 0 {
				if err != nil || st.Bytes != 1<<20+1000 {
					t.Fatalf("ExtractTarGz = %+v, %v", st, err)
				}
				return
			}
			if !errors.Is(err, ErrNoSpace) {
				t.Fatalf("err = %v, want ErrNoSpace", err)
			}
			for _, w := range tc.err {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, serr := os.Stat(filepath.Join(dir, "big")); serr == nil {
				t.Error("the file that does not fit was written")
			}
		})
	}
}
