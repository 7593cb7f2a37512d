// Package maintenance turns an application's maintenance mode on and off in the
// place that serves it: a directory the application reads (maintenance.json and a
// rendered maintenance.html), an nginx snippet answering 503 to everyone but
// allowed addresses, or the MAINTENANCE_* environment variables of a Scalingo app.
//
// Each Switch reads the real state back, so a change made by hand shows as drift,
// and says with ErrNotFound when the place it switches is not there. Files and
// commands go through a host.Host (host.Local when none is given); the nginx
// snippet is written, tested, reloaded and restored by internal/nginxconf, the
// flow it shares with the blue/green router. Progress is logged with
// internal/logging.
package maintenance

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
)

// State is a maintenance mode.
type State struct {
	// Enabled turns maintenance on; false means the site is served normally.
	Enabled bool `json:"enabled"`
	// Banner asks for a banner only: the site stays up and shows Message.
	Banner bool `json:"banner"`
	// Message is shown to visitors.
	Message string `json:"message"`
	// Reason is for operators (shown on the page and kept in the state file).
	Reason string `json:"reason,omitempty"`
	// Until is when maintenance is expected to end (zero: unknown).
	Until time.Time `json:"until,omitzero"`
	// AllowedIPs are addresses or CIDR ranges that still reach the site.
	AllowedIPs []string `json:"allowed_ips,omitempty"`
}

// Blocking reports whether visitors are turned away (maintenance on, not a banner).
func (s State) Blocking() bool { return s.Enabled && !s.Banner }

// ErrNotFound is returned by Read when the place maintenance is switched in does
// not exist (no folder, no snippet, unknown app). It is host.ErrNotFound, the
// "gone" of every domain package (target.ErrNotFound and router.ErrNotFound are
// the same).
var ErrNotFound = host.ErrNotFound

// Switch is one place maintenance mode is switched: Directory, Nginx or Scalingo.
type Switch interface {
	// Describe names the place for messages: "nginx snippet /etc/nginx/maintenance.conf".
	Describe() string
	// Capabilities says what the place can record and how a change takes effect.
	Capabilities() Capabilities
	// Apply puts s in place; a disabled s turns maintenance off.
	Apply(ctx context.Context, s State) error
	// Read returns the state really in place, or an error matching ErrNotFound
	// when the place has never been set up.
	Read(ctx context.Context) (State, error)
}

// Capabilities tells callers what a Switch can do, so they never need to know
// which one it is.
type Capabilities struct {
	// Details is true when Reason, Until and AllowedIPs are stored and read back;
	// when false they read back empty and are not drift.
	Details bool
	// Staged is true when Apply stages a change that only takes effect after a
	// restart (Scalingo variables): after a failed Apply, Read tells what is
	// staged, not what serves.
	Staged bool
}

// ParsePrefixes validates allowed addresses and CIDR ranges.
func ParsePrefixes(ips []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ips))
	for _, s := range ips {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR range", s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
