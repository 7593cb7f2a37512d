package host

import (
	"context"
	"errors"
	"io/fs"
)

// Folders lists the names of the folders in dir on h, sorted by name; files and
// symbolic links (to folders too) are left out. A dir that does not exist holds
// no folders: a store or a target that never held anything is empty, not
// broken.
func Folders(ctx context.Context, h Host, dir string) ([]string, error) {
	entries, err := h.ReadDir(ctx, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
