package router

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/nginxconf"
)

// Header is the first line of every file the nginx router writes; Read refuses files
// without it so that the router never adopts a file it does not own.
const Header = "# Managed by terraform-provider-release (release_blue_green_router)."

// PreviewHeader is the request header that routes a request to the idle colour when
// server blocks proxy_pass to the map variable (see Nginx).
const PreviewHeader = "X-Release-Preview"

var (
	upstreamNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	serverNameRe   = regexp.MustCompile(`^[A-Za-z0-9*.-]+$`)
)

// ValidUpstreamName reports why name cannot name an nginx upstream (and the map
// variable derived from it), or nil.
func ValidUpstreamName(name string) error {
	if !upstreamNameRe.MatchString(name) {
		return fmt.Errorf("upstream name %q must start with a letter or underscore and contain only letters, digits and underscores", name)
	}
	return nil
}

// ValidUpstream reports why addr cannot be an nginx upstream server address, or nil.
func ValidUpstream(addr string) error {
	if addr == "" || strings.ContainsAny(addr, " \t\r\n;{}#\"'$\\") {
		return fmt.Errorf("upstream %q must be a host:port or unix:/path without spaces, quotes or ;{}#$", addr)
	}
	return nil
}

// Nginx routes traffic by rendering an include file that it owns:
//
//	upstream <name>         { server <live colour's upstream>; }
//	upstream <name>_preview { server <idle colour's upstream>; }
//	map "$http_x_release_preview:$host" $<name>_backend { default <name>; "~^1:" <name>_preview; ... }
//
// The file must be included in nginx's http {} context (e.g. /etc/nginx/conf.d/*.conf).
// Server blocks send all traffic to the live colour with `proxy_pass http://<name>;`,
// or use `proxy_pass http://$<name>_backend;` so that requests carrying the header
// X-Release-Preview: 1 (or addressed to PreviewServerName) reach the idle colour.
type Nginx struct {
	ConfigFile   string
	UpstreamName string
	// Blue and Green are upstream server addresses ("127.0.0.1:8081", "unix:/run/app.sock").
	Blue, Green string
	// PreviewServerName, when set, routes requests whose Host is this name to the idle colour.
	PreviewServerName string
	// TestCommand validates the configuration after the file is written (sh -c);
	// empty means nginxconf.DefaultTestCommand, nginxconf.SkipTest skips the test.
	TestCommand string
	// ReloadCommand reloads nginx (sh -c); empty means nginxconf.DefaultReloadCommand.
	ReloadCommand string
	// Host is where the file and nginx are (nil: host.Local, this machine).
	Host host.Host
	// Now returns the switch time; time.Now when nil.
	Now func() time.Time
	// Canary sends a share of the requests to the colour that is not live (see Canary).
	Canary Canary
}

var _ Router = (*Nginx)(nil)

func (n *Nginx) upstream(c Colour) string {
	if c == Blue {
		return n.Blue
	}
	return n.Green
}

func (n *Nginx) validate() error {
	var errs []error
	if n.ConfigFile == "" {
		errs = append(errs, errors.New("config_file is empty"))
	}
	if err := ValidUpstreamName(n.UpstreamName); err != nil {
		errs = append(errs, err)
	}
	for _, u := range []string{n.Blue, n.Green} {
		if err := ValidUpstream(u); err != nil {
			errs = append(errs, err)
		}
	}
	if n.PreviewServerName != "" && !serverNameRe.MatchString(n.PreviewServerName) {
		errs = append(errs, fmt.Errorf("preview server name %q is not a host name", n.PreviewServerName))
	}
	if err := n.Canary.validate(); err != nil {
		errs = append(errs, err)
	}
	if n.Canary.Active() && n.Blue == n.Green {
		errs = append(errs, fmt.Errorf("a canary needs two different upstreams; blue and green are both %s", n.Blue))
	}
	return errors.Join(errs...)
}

// Render returns the include file that makes colour live.
func (n *Nginx) Render(colour Colour, switchedAt time.Time) string {
	idle := n.upstream(colour.Other())
	name := n.UpstreamName
	var b strings.Builder
	b.WriteString(Header + "\n")
	b.WriteString("# Changes made here by hand show up as drift in the next terraform plan.\n")
	fmt.Fprintf(&b, "# release:upstream_name=%s\n", name)
	fmt.Fprintf(&b, "# release:active=%s\n", colour)
	fmt.Fprintf(&b, "# release:blue=%s\n", n.Blue)
	fmt.Fprintf(&b, "# release:green=%s\n", n.Green)
	if n.PreviewServerName != "" {
		fmt.Fprintf(&b, "# release:preview_server_name=%s\n", n.PreviewServerName)
	}
	// The commands are recorded (quoted) so that an import restores them.
	fmt.Fprintf(&b, "# release:test_command=%s\n", strconv.Quote(n.TestCommand))
	fmt.Fprintf(&b, "# release:reload_command=%s\n", strconv.Quote(n.reloadCommand()))
	fmt.Fprintf(&b, "# release:switched_at=%s\n\n", switchedAt.UTC().Format(time.RFC3339))
	n.renderUpstream(&b, colour)
	fmt.Fprintf(&b, "# preview: %s\nupstream %s_preview {\n    server %s;\n}\n\n", colour.Other(), name, idle)
	fmt.Fprintf(&b, "# proxy_pass http://$%s_backend; sends %s: 1", name, PreviewHeader)
	if n.PreviewServerName != "" {
		fmt.Fprintf(&b, " and Host %s", n.PreviewServerName)
	}
	fmt.Fprintf(&b, " to the preview upstream.\nmap \"$http_x_release_preview:$host\" $%s_backend {\n", name)
	fmt.Fprintf(&b, "    default %s;\n", name)
	fmt.Fprintf(&b, "    \"~^1:\" %s_preview;\n", name)
	if n.PreviewServerName != "" {
		fmt.Fprintf(&b, "    \"~^[^:]*:%s$\" %s_preview;\n", regexp.QuoteMeta(strings.ToLower(n.PreviewServerName)), name)
	}
	b.WriteString("}\n")
	return b.String()
}

// Parse reads a file written by Render. The live colour comes from the upstream
// blocks themselves, not from the comments, so a hand edit of a server line is seen.
func Parse(content, upstreamName string) (State, error) {
	if !strings.HasPrefix(content, Header) {
		return State{}, fmt.Errorf("the file does not start with %q: it was not written by this provider", Header)
	}
	markers := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# release:"), "="); ok && strings.HasPrefix(sc.Text(), "# release:") {
			markers[k] = v
		}
	}
	if upstreamName == "" {
		upstreamName = markers["upstream_name"]
	}
	st := State{Blue: markers["blue"], Green: markers["green"]}
	if t, err := time.Parse(time.RFC3339, markers["switched_at"]); err == nil {
		st.SwitchedAt = t
	}
	entries, hash, ok := upstreamBlock(content, upstreamName)
	if !ok {
		return State{}, fmt.Errorf("the file has no `upstream %s { server …; }` block", upstreamName)
	}
	parseRouting(&st, entries, hash, upstreamName, Colour(markers["active"]))
	if preview, _, ok := upstreamBlock(content, upstreamName+"_preview"); ok {
		st.Preview = preview[0].addr
	}
	return st, nil
}

func stripComment(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// Read parses the include file. It returns ErrNotFound when the file does not exist.
func (n *Nginx) Read(ctx context.Context) (State, error) {
	b, err := n.host().ReadFile(ctx, n.ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("%s: %w", n.ConfigFile, ErrNotFound)
	}
	if err != nil {
		return State{}, err
	}
	st, err := Parse(string(b), n.UpstreamName)
	if err != nil {
		return State{}, fmt.Errorf("%s: %w", n.ConfigFile, err)
	}
	return st, nil
}

// Meta is what a file written by Render records about the router that wrote it.
type Meta struct {
	UpstreamName      string
	PreviewServerName string
	TestCommand       string
	ReloadCommand     string
}

// ReadMeta returns the settings recorded in a file written by Render on h, for
// import by file path. ErrNotFound when the file does not exist.
func ReadMeta(ctx context.Context, h host.Host, configFile string) (Meta, error) {
	b, err := h.ReadFile(ctx, configFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, fmt.Errorf("%s: %w", configFile, ErrNotFound)
	}
	if err != nil {
		return Meta{}, err
	}
	if !strings.HasPrefix(string(b), Header) {
		return Meta{}, fmt.Errorf("%s does not start with %q: it was not written by this provider", configFile, Header)
	}
	m := Meta{ReloadCommand: nginxconf.DefaultReloadCommand}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(l, "# release:"), "=")
		if !ok || !strings.HasPrefix(l, "# release:") {
			continue
		}
		switch k {
		case "upstream_name":
			m.UpstreamName = v
		case "preview_server_name":
			m.PreviewServerName = v
		case "test_command":
			if u, err := strconv.Unquote(v); err == nil {
				m.TestCommand = u
			}
		case "reload_command":
			if u, err := strconv.Unquote(v); err == nil {
				m.ReloadCommand = u
			}
		}
	}
	if m.UpstreamName == "" {
		return Meta{}, fmt.Errorf("%s records no upstream name", configFile)
	}
	return m, nil
}

func describe(c Colour, target string) string {
	if c == "" {
		return target
	}
	return fmt.Sprintf("%s (%s)", c, target)
}

// Switch makes colour live: health check (when its upstream is not live yet), then
// the nginxconf flow: atomic write, test_command, reload_command. When the test or
// the reload fails, the previous file is put back (or the new one removed if there
// was none) and nginx reloaded again.
func (n *Nginx) Switch(ctx context.Context, colour Colour, check HealthCheck) (State, error) {
	if !colour.Valid() {
		return State{}, &SwitchError{Stage: StageValidate, Colour: colour, Err: fmt.Errorf("unknown colour %q", colour)}
	}
	if err := n.validate(); err != nil {
		return State{}, &SwitchError{Stage: StageValidate, Colour: colour, Err: err}
	}
	h := n.host()
	left, prev, err := n.live(ctx)
	if err != nil {
		return State{}, &SwitchError{Stage: StageWrite, Colour: colour, Err: err}
	}
	target := n.upstream(colour)
	logging.Info(ctx, "Switching blue/green router", "colour", string(colour), "upstream", target,
		"canary", n.Canary.Describe(colour), "config_file", n.ConfigFile, logging.Host, h.Name())
	for _, c := range n.newlyServing(colour, prev) {
		if check == nil {
			break
		}
		msg := "Health-checking the colour about to go live"
		if c != colour {
			msg = "Health-checking the canary colour about to take requests"
		}
		logging.Info(ctx, msg, "colour", string(c), "upstream", n.upstream(c))
		if err := check(ctx, c, n.upstream(c)); err != nil {
			return State{}, &SwitchError{Stage: StageHealthCheck, Colour: c, Err: err, Left: left}
		}
	}

	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	content := n.Render(colour, now())
	_, err = nginxconf.Apply(ctx, h, n.change([]byte(content)))
	var ne *nginxconf.Error
	if errors.As(err, &ne) {
		se := &SwitchError{Stage: Stage(ne.Stage), Colour: colour, Command: ne.Command, Output: ne.Output,
			Restored: ne.Restored, RestoreErr: ne.RestoreErr, Left: left, Err: ne.Err}
		if ne.Stage == nginxconf.StageWrite {
			se.Restored = false
		}
		if ne.RestoreErr != nil {
			se.Left = ""
		}
		return State{}, se
	}
	if err != nil {
		return State{}, &SwitchError{Stage: StageWrite, Colour: colour, Err: err, Left: left}
	}
	logging.Info(ctx, "Blue/green router switched", "colour", string(colour), "upstream", target, logging.Host, h.Name())
	return Parse(content, n.UpstreamName)
}

// live describes what the current file serves (for messages) and returns its
// state (zero when there is none or it cannot be parsed).
func (n *Nginx) live(ctx context.Context) (left string, st State, err error) {
	previous, err := n.host().ReadFile(ctx, n.ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "nothing (no previous configuration)", State{}, nil
	}
	if err != nil {
		return "", State{}, err
	}
	// A file this router cannot parse is still what serves: name it, and let
	// the switch replace it.
	if st, perr := Parse(string(previous), n.UpstreamName); perr == nil {
		left = describe(st.Active, st.Live)
		if st.Canary.Active() {
			left = st.Canary.Describe(st.Active)
		}
		return left, st, nil
	}
	return "the previous " + n.ConfigFile, State{}, nil
}

// newlyServing lists the colours that take requests after a switch to colour
// (with n.Canary) and took none before (prev): the ones to health-check.
func (n *Nginx) newlyServing(colour Colour, prev State) []Colour {
	takes := func(c, live Colour, canary Canary) bool {
		return c == live && canary.Weight < 100 || c == live.Other() && canary.Weight > 0
	}
	var out []Colour
	for _, c := range []Colour{colour, colour.Other()} {
		if !takes(c, colour, n.Canary) {
			continue
		}
		before := prev.Active.Valid() && takes(c, prev.Active, prev.Canary) && prev.target(c) == n.upstream(c) ||
			prev.Active == "" && prev.Live == n.upstream(c)
		if !before {
			out = append(out, c)
		}
	}
	return out
}

func (n *Nginx) change(content []byte) nginxconf.Change {
	return nginxconf.Change{File: n.ConfigFile, Content: content, Remove: content == nil, TestCommand: n.TestCommand, ReloadCommand: n.ReloadCommand}
}

func (n *Nginx) reloadCommand() string { return n.change(nil).Reload() }

func (n *Nginx) host() host.Host {
	if n.Host == nil {
		return host.Local{}
	}
	return n.Host
}

// Remove deletes the include file and reloads nginx. Server blocks that still
// proxy_pass to the upstream make nginx refuse the new configuration: remove them
// first. When the test or the reload fails, the file is put back.
func (n *Nginx) Remove(ctx context.Context) error {
	_, err := nginxconf.Apply(ctx, n.host(), n.change(nil))
	var ne *nginxconf.Error
	if !errors.As(err, &ne) || ne.Stage == nginxconf.StageWrite {
		return err
	}
	if ne.RestoreErr != nil {
		return fmt.Errorf("%s failed after removing %s: %v: %s; putting the file back failed too: %v", ne.Command, n.ConfigFile, ne.Err, ne.Output, ne.RestoreErr)
	}
	return fmt.Errorf("%s failed after removing %s: %v: %s; the file was put back", ne.Command, n.ConfigFile, ne.Err, ne.Output)
}
