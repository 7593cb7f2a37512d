package maintenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotOwned means a file the backend would write or delete exists and was not
// written by release_maintenance_mode: it is left alone.
var ErrNotOwned = errors.New("file not written by release_maintenance_mode")

// pageMarker is in every maintenance page, so the page can be recognised.
const pageMarker = "<!-- release_maintenance_mode -->"

// managedHeader starts every nginx snippet.
const managedHeader = "# Managed by terraform-provider-release (release_maintenance_mode)"

// checkOwned refuses to touch path when it exists and ours says it is not one of
// the provider's files. A missing file is fine: it is created.
func checkOwned(path string, ours func([]byte) bool) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if ours(raw) {
		return nil
	}
	return fmt.Errorf("%w: %s exists and was not written by release_maintenance_mode, so it is neither overwritten nor deleted. Move it away, or point the resource at another path", ErrNotOwned, path)
}

// ownPage recognises a maintenance page (0.1.0 pages had no marker, but had this title).
func ownPage(raw []byte) bool {
	return bytes.Contains(raw, []byte(pageMarker)) || bytes.Contains(raw, []byte("<title>Maintenance</title>"))
}

// ownJSON recognises maintenance.json as the directory backend writes it.
func ownJSON(raw []byte) bool {
	var f map[string]json.RawMessage
	if json.Unmarshal(raw, &f) != nil {
		return false
	}
	_, enabled := f["enabled"]
	_, updated := f["updated_at"]
	return enabled && updated
}

// ownSnippet recognises an nginx snippet of release_maintenance_mode.
func ownSnippet(raw []byte) bool { return bytes.HasPrefix(raw, []byte(managedHeader)) }
