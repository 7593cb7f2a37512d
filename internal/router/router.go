// Package router switches traffic between two identical environments, blue and green.
//
// Two routers are provided: Nginx renders an nginx include file whose upstream points
// at the live colour (plus a preview upstream for the idle one) and reloads nginx;
// Directory points a `live` symlink at a `blue` or `green` directory, for static sites.
// Both switch atomically (temporary file or symlink renamed into place with rename(2)),
// run an optional health check on the colour about to go live before touching anything,
// and report what is really live when read back.
//
// Every file, link and command goes through a host.Host (host.Local when none is
// given); the nginx router writes, tests, reloads and restores through
// internal/nginxconf, the flow it shares with the maintenance page. Progress is
// logged with internal/logging.
//
// The package knows nothing of Terraform: it takes a context and plain structs.
package router

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
)

// Colour is one of the two environments.
type Colour string

// The two colours.
const (
	Blue  Colour = "blue"
	Green Colour = "green"
)

// Other returns the idle colour when c is live.
func (c Colour) Other() Colour {
	if c == Blue {
		return Green
	}
	return Blue
}

// Valid reports whether c is blue or green.
func (c Colour) Valid() bool { return c == Blue || c == Green }

// ParseColour accepts "blue" or "green".
func ParseColour(s string) (Colour, error) {
	c := Colour(s)
	if !c.Valid() {
		return "", fmt.Errorf("colour %q is neither %q nor %q", s, Blue, Green)
	}
	return c, nil
}

// ErrNotFound is returned by Read when the router has never switched: the include file
// or the live symlink does not exist. It is host.ErrNotFound, the "gone" of every
// domain package (target.ErrNotFound and maintenance.ErrNotFound are the same).
var ErrNotFound = host.ErrNotFound

// HealthCheck verifies the colour about to go live. target is the colour's upstream
// address for the nginx router and its directory for the directory router. A non-nil
// error aborts the switch before anything changes.
type HealthCheck func(ctx context.Context, colour Colour, target string) error

// State is what a router observes on the machine.
type State struct {
	// Active is the live colour, or "" when the live target matches neither colour
	// (someone pointed it elsewhere by hand).
	Active Colour
	// Live is the live target: the address of the main upstream, or the symlink target.
	Live string
	// Preview is the idle target (nginx: the preview upstream's address).
	Preview string
	// Blue and Green are the colours' targets as recorded by the last switch.
	Blue, Green string
	// SwitchedAt is when the last switch was written, when recorded.
	SwitchedAt time.Time
	// Canary is the share of requests the nginx router sends to the colour that
	// is not active (zero: none).
	Canary Canary
}

// Router is implemented by Nginx and Directory.
type Router interface {
	// Read reports what is live; ErrNotFound when the router was never switched.
	Read(ctx context.Context) (State, error)
	// Switch makes colour live. check (optional) runs first when the colour's target
	// is not already live. On failure the previous configuration is restored and the
	// returned *SwitchError says so.
	Switch(ctx context.Context, colour Colour, check HealthCheck) (State, error)
	// Remove deletes the router's file or symlink (and reloads nginx).
	Remove(ctx context.Context) error
}

// Stage names where a switch failed.
type Stage string

// Stages of a switch.
const (
	StageValidate    Stage = "validate"
	StageHealthCheck Stage = "health check"
	StageWrite       Stage = "write"
	StageTest        Stage = "test_command"
	StageReload      Stage = "reload_command"
)

// SwitchError describes a failed switch and what was left in place.
type SwitchError struct {
	Stage  Stage
	Colour Colour // the colour that was meant to go live
	// Command and Output are set for test/reload failures (Output is the tail).
	Command, Output string
	// Restored says the previous file (or its absence) was put back; RestoreErr is set
	// when putting it back failed too.
	Restored   bool
	RestoreErr error
	// Left describes what is serving now, e.g. "blue (127.0.0.1:8081)".
	Left string
	Err  error
}

func (e *SwitchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "switch to %s failed at %s", e.Colour, e.Stage)
	if e.Command != "" {
		fmt.Fprintf(&b, " (%s)", e.Command)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.Output != "" {
		fmt.Fprintf(&b, "\noutput:\n%s", e.Output)
	}
	switch {
	case e.RestoreErr != nil:
		fmt.Fprintf(&b, "\nrestoring the previous configuration failed too: %v", e.RestoreErr)
	case e.Restored:
		b.WriteString("\nthe previous configuration was restored")
	}
	if e.Left != "" {
		fmt.Fprintf(&b, "; traffic still goes to %s", e.Left)
	}
	return b.String()
}

func (e *SwitchError) Unwrap() error { return e.Err }
