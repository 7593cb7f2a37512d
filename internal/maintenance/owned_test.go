package maintenance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestForeignFilesAreNotRead: reading (a refresh, an import) a foreign file at
// the configured path is refused, naming the file, instead of adopting it.
func TestForeignFilesAreNotRead(t *testing.T) {
	foreign := []byte("root:x:0:0:root:/root:/bin/bash\n")
	d := &Directory{Path: t.TempDir()}
	if err := os.WriteFile(filepath.Join(d.Path, JSONFile), []byte(`{"enabled": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := d.Read(context.Background())
	var nerr *NotOwnedError
	if !errors.As(err, &nerr) || nerr.Path != filepath.Join(d.Path, JSONFile) || !errors.Is(err, ErrNotOwned) {
		t.Fatalf("directory Read: err = %v, want a NotOwnedError for maintenance.json", err)
	}
	conf := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(conf, foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	n := &Nginx{ConfigFile: conf}
	if _, err := n.Read(context.Background()); !errors.As(err, &nerr) || nerr.Path != conf {
		t.Fatalf("nginx Read: err = %v, want a NotOwnedError for %s", err, conf)
	}
	if got, _ := os.ReadFile(conf); string(got) != string(foreign) {
		t.Fatal("the foreign nginx file was changed")
	}
}

// TestOwnFilesCarryTheMarker: what the directory backend writes carries its
// marker and is read back; a maintenance.json written before the marker existed
// (every field of 0.1) is still recognised, so upgrades keep working.
func TestOwnFilesCarryTheMarker(t *testing.T) {
	d := &Directory{Path: t.TempDir()}
	if err := d.Apply(context.Background(), State{Enabled: true, Message: "back soon"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(d.Path, JSONFile))
	if err != nil || !strings.Contains(string(raw), `"managed_by": "release_maintenance_mode"`) {
		t.Fatalf("maintenance.json = %s (%v), want the managed_by marker", raw, err)
	}
	if page, _ := os.ReadFile(filepath.Join(d.Path, HTMLFile)); !strings.Contains(string(page), pageMarker) {
		t.Fatalf("maintenance.html has no marker:\n%s", page)
	}
	if s, err := d.Read(context.Background()); err != nil || !s.Enabled || s.Message != "back soon" {
		t.Fatalf("Read = %+v %v", s, err)
	}
	legacy := `{"enabled": true, "banner": false, "message": "old", "updated_at": "2026-01-01T00:00:00Z"}`
	if err := os.WriteFile(filepath.Join(d.Path, JSONFile), []byte(legacy), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := d.Read(context.Background()); err != nil || s.Message != "old" {
		t.Fatalf("Read of a 0.1 file = %+v, %v", s, err)
	}
	if err := d.Apply(context.Background(), State{}); err != nil {
		t.Fatalf("turning off over a 0.1 file: %v", err)
	}
	n := &Nginx{ConfigFile: filepath.Join(t.TempDir(), "maintenance.conf"), TestCommand: "-", ReloadCommand: "true"}
	if err := n.Apply(context.Background(), State{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if s, err := n.Read(context.Background()); err != nil || !s.Enabled {
		t.Fatalf("nginx Read = %+v %v", s, err)
	}
}
