package maintenance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/releaseplan/terraform-provider-release/internal/host"
)

// orLocal returns h, or the local machine when h is nil.
func orLocal(h host.Host) host.Host {
	if h == nil {
		return host.Local{}
	}
	return h
}

// ErrNotOwned means a file the backend would read, write or delete exists and
// was not written by release_maintenance_mode: it is left alone. Errors wrapping
// it are *NotOwnedError.
var ErrNotOwned = errors.New("file not written by release_maintenance_mode")

// NotOwnedError names the file that was left alone.
type NotOwnedError struct{ Path string }

func (e *NotOwnedError) Error() string {
	return e.Path + " exists and was not written by release_maintenance_mode (it has none of its markers), so it was neither read, overwritten nor deleted. " +
		"If it is an old maintenance file, delete it; otherwise point the resource at another path"
}

// Is lets errors.Is find ErrNotOwned.
func (e *NotOwnedError) Is(target error) bool { return target == ErrNotOwned }

// managedBy is the marker field of maintenance.json.
const managedBy = "release_maintenance_mode"

// pageMarker is in every maintenance page, so the page can be recognised (a meta
// tag: html/template drops comments).
const pageMarker = `<meta name="generator" content="release_maintenance_mode">`

// managedHeader starts every nginx snippet.
const managedHeader = "# Managed by terraform-provider-release (release_maintenance_mode)"

// checkOwned refuses to touch path when it exists and ours says it is not one of
// the provider's files. A missing file is fine: it is created.
func checkOwned(ctx context.Context, h host.Host, path string, ours func([]byte) bool) error {
	raw, err := h.ReadFile(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if ours(raw) {
		return nil
	}
	return &NotOwnedError{Path: path}
}

// ownPage recognises a maintenance page (0.1.0 pages had no marker, but had this title).
func ownPage(raw []byte) bool {
	return bytes.Contains(raw, []byte(pageMarker)) || bytes.Contains(raw, []byte("<title>Maintenance</title>"))
}

// ownJSON recognises maintenance.json as the directory backend writes it: with
// its managed_by marker, or (files of 0.1, before the marker) with every field
// it wrote.
func ownJSON(raw []byte) bool {
	var f map[string]json.RawMessage
	if json.Unmarshal(raw, &f) != nil {
		return false
	}
	var by string
	if json.Unmarshal(f["managed_by"], &by) == nil && by == managedBy {
		return true
	}
	for _, k := range []string{"enabled", "banner", "message", "updated_at"} {
		if _, ok := f[k]; !ok {
			return false
		}
	}
	return true
}

// ownSnippet recognises an nginx snippet of release_maintenance_mode.
func ownSnippet(raw []byte) bool { return bytes.HasPrefix(raw, []byte(managedHeader)) }
