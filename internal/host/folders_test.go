package host_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/host"
)

func TestFolders(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"b", "a", ".hidden"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "link-to-a")); err != nil {
		t.Fatal(err)
	}
	got, err := host.Folders(context.Background(), host.Local{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".hidden", "a", "b"}; !slices.Equal(got, want) {
		t.Errorf("Folders = %q, want %q (folders only, sorted; no file, no link)", got, want)
	}

	got, err = host.Folders(context.Background(), host.Local{}, filepath.Join(dir, "missing"))
	if err != nil || got != nil {
		t.Errorf("Folders of a missing folder = %q, %v; want none and no error", got, err)
	}
	if _, err := host.Folders(context.Background(), host.Local{}, filepath.Join(dir, "file")); err == nil {
		t.Error("Folders of a file: no error")
	}
}
