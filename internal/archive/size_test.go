package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"8GiB": 8 << 30, "512MiB": 512 << 20, "2GB": 2e9, "1024": 1024, "1.5KiB": 1536, "10 B": 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "-1GiB", "0", "8 gigs", "1e30TiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

// TestExtractRefusesWhatDoesNotFit: the free space is checked against the sizes
// the archive declares, before the bytes are written.
func TestExtractRefusesWhatDoesNotFit(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "big"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTarGz(&buf, src); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	free, err := freeBytes(dir)
	if err != nil || free <= 0 {
		t.Fatalf("freeBytes = %d, %v", free, err)
	}
	oldFree := freeSpaceOverride
	freeSpaceOverride = func(string) (int64, error) { return 1000, nil }
	defer func() { freeSpaceOverride = oldFree }()
	if _, err := ExtractTarGz(context.Background(), bytes.NewReader(buf.Bytes()), dir, Limits{}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("err = %v, want ErrNoSpace", err)
	}
}
