package target

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// TestDirectoryLimits: the caps set on the target (directory { max_extracted_size,
// max_file_size }) bound what a release may hold, and a release over them leaves
// nothing behind.
func TestDirectoryLimits(t *testing.T) {
	data, sum := tarGz(t, map[string]string{"a": strings.Repeat("x", 600), "b": strings.Repeat("y", 600)})
	for _, tc := range []struct {
		name   string
		limits archive.Limits
		err    string
	}{
		{"defaults", archive.Limits{}, ""},
		{"within the caps", archive.Limits{MaxBytes: 1200, MaxFileBytes: 600}, ""},
		{"total over max_extracted_size", archive.Limits{MaxBytes: 1000}, "over the 1000-byte cap"},
		{"one file over max_file_size", archive.Limits{MaxFileBytes: 599}, "file of 600 bytes is over the 599-byte cap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := newDir(t)
			live := deploy(t, d, "1.0.0")
			before := releaseDirs(t, d)
			d.Limits = tc.limits
			p, err := d.Prepare(ctx, Spec{Name: "app", Version: "2.0.0", SHA256: sum}, store.NewVerifyingReader(bytes.NewReader(data), sum, int64(len(data))))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, archive.ErrTooLarge) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Prepare = %+v, %v; want ErrTooLarge saying %q", p, err, tc.err)
			}
			if after := releaseDirs(t, d); !slices.Equal(before, after) {
				t.Fatalf("releases changed: before %v, after %v", before, after)
			}
			if cur, _ := d.Current(ctx); cur.ID != live.Release.ID {
				t.Fatalf("current moved to %s", cur.ID)
			}
		})
	}
}
