package maintenance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/atomicfile"
)

// DefaultReloadCommand reloads the system nginx.
const DefaultReloadCommand = "nginx -s reload"

// DefaultTestCommand validates the system nginx configuration.
const DefaultTestCommand = "nginx -t -q"

// DefaultRetryAfter is sent when no end time is known.
const DefaultRetryAfter = 300 * time.Second

const stateMarker = "# release-maintenance-state: "

// Nginx renders ConfigFile, a snippet the site's server {} block includes. While
// maintenance blocks, the snippet answers 503 with Retry-After and the page in
// ConfigFile+".html" to every client but AllowedIPs; otherwise it is empty (the
// include must keep resolving). Each change is written atomically, validated with
// TestCommand and applied with ReloadCommand; when either fails the previous file is
// put back (and nginx reloaded again).
type Nginx struct {
	ConfigFile    string
	ReloadCommand string // sh -c; default DefaultReloadCommand
	TestCommand   string // sh -c; default DefaultTestCommand; "-" skips the test
	Log           Logger
}

var _ Backend = (*Nginx)(nil)

// Describe implements Backend.
func (n *Nginx) Describe() string { return "nginx snippet " + n.ConfigFile }

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

// Apply implements Backend.
func (n *Nginx) Apply(ctx context.Context, s State) error {
	snippet, err := n.RenderSnippet(s)
	if err != nil {
		return err
	}
	if err := checkOwned(n.ConfigFile, ownSnippet); err != nil {
		return err
	}
	if err := checkOwned(n.PagePath(), ownPage); err != nil {
		return err
	}
	old, rerr := os.ReadFile(n.ConfigFile)
	hadOld := rerr == nil
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", n.ConfigFile, rerr)
	}
	if s.Blocking() {
		page, err := RenderPage(s)
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(n.PagePath(), []byte(page), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", n.PagePath(), err)
		}
	}
	if err := atomicfile.WriteFile(n.ConfigFile, []byte(snippet), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", n.ConfigFile, err)
	}
	restore := func() error {
		if hadOld {
			return atomicfile.WriteFile(n.ConfigFile, old, 0o644)
		}
		return os.Remove(n.ConfigFile)
	}
	test := n.TestCommand
	if test == "" {
		test = DefaultTestCommand
	}
	if test != "-" {
		if out, err := runShell(ctx, test); err != nil {
			rerr := restore()
			return fmt.Errorf("the nginx configuration test %q failed: %v%s; %s", test, err, clause(out), restoredSentence(n.ConfigFile, rerr, hadOld))
		}
	}
	reload := n.ReloadCommand
	if reload == "" {
		reload = DefaultReloadCommand
	}
	if out, err := runShell(ctx, reload); err != nil {
		rerr := restore()
		if rerr == nil {
			_, _ = runShell(context.WithoutCancel(ctx), reload)
		}
		return fmt.Errorf("the nginx reload %q failed: %v%s; %s", reload, err, clause(out), restoredSentence(n.ConfigFile, rerr, hadOld))
	}
	if !s.Blocking() {
		_ = os.Remove(n.PagePath())
	}
	n.Log.log("nginx reloaded", map[string]any{"backend": n.Describe(), "maintenance": s.Blocking()})
	return nil
}

func restoredSentence(path string, err error, hadOld bool) string {
	switch {
	case err != nil:
		return fmt.Sprintf("putting the previous %s back failed too (%v): check it by hand", path, err)
	case hadOld:
		return fmt.Sprintf("the previous %s was put back and nginx keeps serving as before", path)
	}
	return fmt.Sprintf("%s was removed again and nginx keeps serving as before", path)
}

// Read implements Backend. A snippet whose 503 rule was removed by hand reads as off.
func (n *Nginx) Read(_ context.Context) (State, bool, error) {
	raw, err := os.ReadFile(n.ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, err
	}
	if !ownSnippet(raw) {
		return State{}, true, &NotOwnedError{Path: n.ConfigFile}
	}
	var s State
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, stateMarker) {
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, stateMarker)), &s); err != nil {
				return State{}, true, fmt.Errorf("%s: unreadable state line: %w", n.ConfigFile, err)
			}
		}
	}
	if s.Blocking() && !strings.Contains(string(raw), "if ($release_maintenance) { return 503; }") {
		s.Enabled = false
	}
	return s, true, nil
}

func runShell(ctx context.Context, cmd string) (string, error) {
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	o := strings.TrimSpace(out.String())
	if len(o) > 2000 {
		o = "…" + o[len(o)-2000:]
	}
	return o, err
}

func clause(out string) string {
	if out == "" {
		return ""
	}
	return ": " + out
}
