package router

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newSite(t testing.TB) *Directory {
	t.Helper()
	d := &Directory{Path: t.TempDir()}
	for _, c := range []Colour{Blue, Green} {
		if err := os.MkdirAll(filepath.Join(d.ColourDir(c), "public"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d.ColourDir(c), "public", "index.html"), []byte(string(c)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestDirectorySwitch(t *testing.T) {
	d := newSite(t)
	ctx := context.Background()
	if _, err := d.Read(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read before any switch = %v, want ErrNotFound", err)
	}
	var checked []Colour
	check := func(ctx context.Context, c Colour, target string) error {
		if target != d.ColourDir(c) {
			t.Errorf("check target = %q, want %q", target, d.ColourDir(c))
		}
		checked = append(checked, c)
		return nil
	}
	for _, to := range []Colour{Blue, Green, Green, Blue} {
		st, err := d.Switch(ctx, to, check)
		if err != nil {
			t.Fatal(err)
		}
		if st.Active != to || st.Live != string(to) || st.Preview != string(to.Other()) {
			t.Fatalf("Switch(%s) = %+v", to, st)
		}
		b, err := os.ReadFile(filepath.Join(d.LivePath(), "public", "index.html"))
		if err != nil || string(b) != string(to) {
			t.Fatalf("live serves %q, %v; want %s", b, err, to)
		}
	}
	// The second switch to green was already live: no check.
	if got := len(checked); got != 3 {
		t.Errorf("health checks run %d times (%v), want 3", got, checked)
	}
	entries, _ := os.ReadDir(d.Path)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary symlink left behind: %s", e.Name())
		}
	}
}

func TestDirectoryFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(d *Directory)
		check HealthCheck
		stage Stage
		want  string
	}{
		{"missing colour directory", func(d *Directory) { os.RemoveAll(d.ColourDir(Green)) }, nil, StageValidate, "green"},
		{"failing health check", nil, func(context.Context, Colour, string) error { return errors.New("answered 500") }, StageHealthCheck, "answered 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newSite(t)
			if _, err := d.Switch(context.Background(), Blue, nil); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(d)
			}
			_, err := d.Switch(context.Background(), Green, tt.check)
			wantFailedSwitchKeepsBlue(t, d, err, tt.stage, tt.want, "blue")
		})
	}
}

func TestDirectoryDriftAndRemove(t *testing.T) {
	d := newSite(t)
	ctx := context.Background()
	if _, err := d.Switch(ctx, Blue, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target     string
		wantActive Colour
	}{
		{"green", Green},
		{d.ColourDir(Green), Green},
		{"/srv/elsewhere", ""},
		{"blue/", Blue},
	}
	for _, tt := range tests {
		if err := os.Remove(d.LivePath()); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(tt.target, d.LivePath()); err != nil {
			t.Fatal(err)
		}
		st, err := d.Read(ctx)
		if err != nil || st.Active != tt.wantActive || st.Live != tt.target {
			t.Errorf("live -> %s: Read = %+v, %v; want active %q", tt.target, st, err, tt.wantActive)
		}
	}
	if err := d.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read after Remove = %v", err)
	}
	for _, c := range []Colour{Blue, Green} {
		if _, err := os.Stat(d.ColourDir(c)); err != nil {
			t.Errorf("Remove touched %s: %v", c, err)
		}
	}
}
