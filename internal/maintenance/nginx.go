package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/nginxconf"
)

// DefaultRetryAfter is sent when no end time is known.
const DefaultRetryAfter = 300 * time.Second

const stateMarker = "# release-maintenance-state: "

// Nginx renders ConfigFile, a snippet the site's server {} block includes. While
// maintenance blocks, the snippet answers 503 with Retry-After and the page in
// ConfigFile+".html" to every client but AllowedIPs; otherwise it is empty (the
// include must keep resolving). Each change goes through nginxconf.Apply: written
// atomically, validated with TestCommand and applied with ReloadCommand; when
// either fails the previous file is put back (and nginx reloaded again).
type Nginx struct {
	ConfigFile    string
	ReloadCommand string // sh -c; empty: nginxconf.DefaultReloadCommand
	TestCommand   string // sh -c; empty: nginxconf.DefaultTestCommand; nginxconf.SkipTest ("-") skips the test
	// Host is where the files and nginx are (nil: host.Local, this machine).
	Host host.Host
}

var _ Switch = (*Nginx)(nil)

// Describe implements Switch.
func (n *Nginx) Describe() string { return "nginx snippet " + n.ConfigFile }

// Capabilities implements Switch: the snippet records every detail.
func (n *Nginx) Capabilities() Capabilities { return Capabilities{Details: true} }

// PagePath is where the maintenance page is written.
func (n *Nginx) PagePath() string { return n.ConfigFile + ".html" }

var unsafePath = regexp.MustCompile(`["'$;{}\\\s]`)

// RenderSnippet returns the snippet for s.
func (n *Nginx) RenderSnippet(s State) (string, error) {
	var b strings.Builder
	state, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	b.WriteString(managedHeader + ": changes made here are overwritten.\n")
	b.WriteString("# Include it inside the site's server {} block.\n")
	b.WriteString(stateMarker + string(state) + "\n")
	if !s.Blocking() {
		return b.String(), nil
	}
	if unsafePath.MatchString(n.PagePath()) {
		return "", fmt.Errorf("the nginx config_file path %q must not contain quotes, spaces, $, ;, braces or backslashes", n.ConfigFile)
	}
	prefixes, err := ParsePrefixes(s.AllowedIPs)
	if err != nil {
		return "", err
	}
	retryAfter := strconv.Itoa(int(DefaultRetryAfter.Seconds()))
	if !s.Until.IsZero() {
		retryAfter = s.Until.UTC().Format(http.TimeFormat)
	}
	b.WriteString("set $release_maintenance 1;\n")
	for _, p := range prefixes {
		re, err := addrRegex(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "if ($remote_addr ~ \"%s\") { set $release_maintenance 0; }  # %s\n", re, p)
	}
	// The error page is an internal redirect that runs the server's rewrite rules
	// again: let it through.
	b.WriteString("if ($uri = /__release_maintenance.html) { set $release_maintenance 0; }\n")
	b.WriteString("if ($release_maintenance) { return 503; }\n")
	b.WriteString("error_page 503 /__release_maintenance.html;\n")
	b.WriteString("location = /__release_maintenance.html {\n")
	b.WriteString("    internal;\n")
	fmt.Fprintf(&b, "    alias %s;\n", n.PagePath())
	b.WriteString("    default_type text/html;\n")
	b.WriteString("    charset utf-8;\n")
	fmt.Fprintf(&b, "    add_header Retry-After \"%s\" always;\n", retryAfter)
	b.WriteString("    add_header Cache-Control \"no-store\" always;\n")
	b.WriteString("}\n")
	return b.String(), nil
}

// NginxAllowed checks that the nginx snippet can let every entry of allowed
// through (IPv4 addresses and ranges, single IPv6 addresses), so that a
// configuration it cannot express is refused before anything changes.
func NginxAllowed(allowed []string) error {
	prefixes, err := ParsePrefixes(allowed)
	if err != nil {
		return err
	}
	for _, p := range prefixes {
		if _, err := addrRegex(p); err != nil {
			return err
		}
	}
	return nil
}

// addrRegex matches the text form of $remote_addr for addresses inside p. IPv4
// ranges are expanded octet by octet; IPv6 is matched exactly (no ranges), because
// its text form is not prefix-friendly.
func addrRegex(p netip.Prefix) (string, error) {
	a := p.Addr()
	if a.Is6() {
		if p.Bits() != 128 {
			return "", fmt.Errorf("%s: the nginx backend accepts IPv6 addresses, not IPv6 ranges", p)
		}
		return "^" + regexp.QuoteMeta(a.String()) + "$", nil
	}
	oct := a.As4()
	bits := p.Bits()
	var parts []string
	i := 0
	for ; i < 4 && bits >= 8; i++ {
		parts = append(parts, strconv.Itoa(int(oct[i])))
		bits -= 8
	}
	re := "^(::ffff:)?" + strings.Join(parts, `\.`)
	if i == 4 {
		return re + "$", nil
	}
	if bits > 0 {
		lo := int(oct[i])
		hi := lo + (1 << (8 - bits)) - 1
		alts := make([]string, 0, hi-lo+1)
		for v := lo; v <= hi; v++ {
			alts = append(alts, strconv.Itoa(v))
		}
		if len(parts) > 0 {
			re += `\.`
		}
		re += "(" + strings.Join(alts, "|") + ")"
		i++
		if i == 4 {
			return re + "$", nil
		}
		return re + `\.`, nil
	}
	if len(parts) == 0 {
		return "^", nil // 0.0.0.0/0
	}
	return re + `\.`, nil
}

// Apply implements Switch: the page first (when maintenance blocks), then the
// snippet through nginxconf (write, test, reload, restore on failure).
func (n *Nginx) Apply(ctx context.Context, s State) error {
	h := orLocal(n.Host)
	snippet, err := n.RenderSnippet(s)
	if err != nil {
		return err
	}
	if err := checkOwned(ctx, h, n.ConfigFile, ownSnippet); err != nil {
		return err
	}
	if err := checkOwned(ctx, h, n.PagePath(), ownPage); err != nil {
		return err
	}
	if s.Blocking() {
		page, err := RenderPage(s)
		if err != nil {
			return err
		}
		if err := h.WriteFile(ctx, n.PagePath(), []byte(page), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", n.PagePath(), err)
		}
	}
	_, err = nginxconf.Apply(ctx, h, nginxconf.Change{File: n.ConfigFile, Content: []byte(snippet), TestCommand: n.TestCommand, ReloadCommand: n.ReloadCommand})
	if err != nil {
		return err
	}
	if !s.Blocking() {
		_ = h.Remove(ctx, n.PagePath())
	}
	logging.Info(ctx, "maintenance snippet applied", "place", n.Describe(), "maintenance", s.Blocking(), logging.Host, h.Name())
	return nil
}

// Read implements Switch. A snippet whose 503 rule was removed by hand reads as
// off; no snippet is ErrNotFound.
func (n *Nginx) Read(ctx context.Context) (State, error) {
	raw, err := orLocal(n.Host).ReadFile(ctx, n.ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("nginx snippet %s: %w", n.ConfigFile, ErrNotFound)
	}
	if err != nil {
		return State{}, err
	}
	if !ownSnippet(raw) {
		return State{}, &NotOwnedError{Path: n.ConfigFile}
	}
	var s State
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, stateMarker) {
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, stateMarker)), &s); err != nil {
				return State{}, fmt.Errorf("%s: unreadable state line: %w", n.ConfigFile, err)
			}
		}
	}
	if s.Blocking() && !strings.Contains(string(raw), "if ($release_maintenance) { return 503; }") {
		s.Enabled = false
	}
	return s, nil
}
