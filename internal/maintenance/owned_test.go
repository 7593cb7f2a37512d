package maintenance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestForeignFilesAreLeftAlone: a file the backend did not write (a copy of
// /etc/passwd at the configured path) is neither overwritten nor deleted.
func TestForeignFilesAreLeftAlone(t *testing.T) {
	foreign := []byte("root:x:0:0:root:/root:/bin/bash\n")
	dir := t.TempDir()
	for _, name := range []string{JSONFile, HTMLFile} {
		d := &Directory{Path: filepath.Join(dir, name+"-case")}
		if err := os.MkdirAll(d.Path, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d.Path, name)
		if err := os.WriteFile(p, foreign, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, on := range []bool{true, false} {
			if err := d.Apply(context.Background(), State{Enabled: on}); !errors.Is(err, ErrNotOwned) {
				t.Fatalf("%s, enabled %v: err = %v, want ErrNotOwned", name, on, err)
			}
			if got, _ := os.ReadFile(p); string(got) != string(foreign) {
				t.Fatalf("%s was changed", p)
			}
		}
	}
	conf := filepath.Join(dir, "passwd")
	if err := os.WriteFile(conf, foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	n := &Nginx{ConfigFile: conf, ReloadCommand: "true"}
	if err := n.Apply(context.Background(), State{Enabled: true}); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("nginx: err = %v, want ErrNotOwned", err)
	}
	if got, _ := os.ReadFile(conf); string(got) != string(foreign) {
		t.Fatal("the foreign nginx file was changed")
	}
	// The backend's own files are managed as before.
	d := &Directory{Path: t.TempDir()}
	for _, on := range []bool{true, true, false} {
		if err := d.Apply(context.Background(), State{Enabled: on, Message: "back soon"}); err != nil {
			t.Fatal(err)
		}
	}
}
