package router

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// LiveLink is the name of the symlink the directory router switches.
const LiveLink = "live"

// Directory routes a static site by pointing <Path>/live at <Path>/blue or
// <Path>/green (a relative symlink). A web server serves <Path>/live; the idle colour
// stays reachable at its own directory for previews.
type Directory struct {
	Path string
	// Host is where Path is (nil: host.Local, this machine).
	Host host.Host
}

var _ Router = (*Directory)(nil)

// ColourDir returns the directory of a colour.
func (d *Directory) ColourDir(c Colour) string { return filepath.Join(d.Path, string(c)) }

// LivePath returns <Path>/live.
func (d *Directory) LivePath() string { return filepath.Join(d.Path, LiveLink) }

func (d *Directory) host() host.Host {
	if d.Host == nil {
		return host.Local{}
	}
	return d.Host
}

// Read reports where the live symlink points; ErrNotFound when it does not exist.
func (d *Directory) Read(ctx context.Context) (State, error) {
	target, err := d.host().Readlink(ctx, d.LivePath())
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("%s: %w", d.LivePath(), ErrNotFound)
	}
	if err != nil {
		return State{}, err
	}
	st := State{Live: target, Blue: string(Blue), Green: string(Green)}
	if fi, err := d.host().Lstat(ctx, d.LivePath()); err == nil {
		st.SwitchedAt = fi.ModTime()
	}
	switch filepath.Clean(target) {
	case string(Blue), d.ColourDir(Blue):
		st.Active = Blue
	case string(Green), d.ColourDir(Green):
		st.Active = Green
	}
	if st.Active != "" {
		st.Preview = string(st.Active.Other())
	}
	return st, nil
}

// Switch points live at the colour's directory with a temporary symlink renamed over
// it. The colour's directory must exist; check (optional) runs first when the colour
// is not already live.
func (d *Directory) Switch(ctx context.Context, colour Colour, check HealthCheck) (State, error) {
	if !colour.Valid() {
		return State{}, &SwitchError{Stage: StageValidate, Colour: colour, Err: fmt.Errorf("unknown colour %q", colour)}
	}
	prev, err := d.Read(ctx)
	left := "nothing (no live symlink yet)"
	if err == nil {
		target := prev.Live
		if !filepath.IsAbs(target) {
			target = filepath.Join(d.Path, target)
		}
		left = describe(prev.Active, target)
	} else if !errors.Is(err, ErrNotFound) {
		return State{}, &SwitchError{Stage: StageValidate, Colour: colour, Err: err}
	}
	dir := d.ColourDir(colour)
	if fi, err := d.host().Stat(ctx, dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return State{}, &SwitchError{Stage: StageValidate, Colour: colour, Err: fmt.Errorf("%s: %w", dir, err), Left: left}
	}
	logging.Info(ctx, "Switching blue/green directory router", "colour", string(colour), "path", d.LivePath(), logging.Host, d.host().Name())
	if check != nil && prev.Active != colour {
		logging.Info(ctx, "Health-checking the colour about to go live", "colour", string(colour), "directory", dir)
		if err := check(ctx, colour, dir); err != nil {
			return State{}, &SwitchError{Stage: StageHealthCheck, Colour: colour, Err: err, Left: left}
		}
	}
	if err := d.host().Symlink(ctx, string(colour), d.LivePath()); err != nil {
		return State{}, &SwitchError{Stage: StageWrite, Colour: colour, Err: err, Left: left}
	}
	logging.Info(ctx, "Live symlink switched", "colour", string(colour), "path", d.LivePath(), logging.Host, d.host().Name())
	return d.Read(ctx)
}

// Remove deletes the live symlink; the colour directories stay.
func (d *Directory) Remove(ctx context.Context) error {
	err := d.host().Remove(ctx, d.LivePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
