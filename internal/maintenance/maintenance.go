// Package maintenance turns an application's maintenance mode on and off in the
// place that serves it: a directory the application reads (maintenance.json and a
// rendered maintenance.html), an nginx snippet answering 503 to everyone but
// allowed addresses, or the MAINTENANCE_* environment variables of a Scalingo app.
//
// Each Backend reads the real state back, so a change made by hand shows as drift.
package maintenance

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
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

// Backend is one place maintenance mode is switched.
type Backend interface {
	// Describe names the backend for messages: "nginx snippet /etc/nginx/maintenance.conf".
	Describe() string
	// Apply puts s in place; a disabled s turns maintenance off.
	Apply(ctx context.Context, s State) error
	// Read returns the state really in place. exists is false when the backend has
	// never been set up (no file, unknown app).
	Read(ctx context.Context) (s State, exists bool, err error)
}

// Logger receives progress messages.
type Logger func(msg string, fields map[string]any)

func (l Logger) log(msg string, fields map[string]any) {
	if l != nil {
		l(msg, fields)
	}
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
