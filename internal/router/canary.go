package router

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Sticky says how a client keeps its colour while a canary runs.
type Sticky string

// Stickiness of a canary.
const (
	// StickyNone spreads requests by weighted round robin: a client may see both colours.
	StickyNone Sticky = "none"
	// StickyCookie gives each client a cookie (CookieName) and routes by its value.
	StickyCookie Sticky = "cookie"
	// StickyClientIP routes by the client address ($remote_addr).
	StickyClientIP Sticky = "client_ip"
)

// ParseSticky accepts "", "none", "cookie" or "client_ip" ("" is none).
func ParseSticky(s string) (Sticky, error) {
	switch Sticky(s) {
	case "", StickyNone:
		return StickyNone, nil
	case StickyCookie, StickyClientIP:
		return Sticky(s), nil
	}
	return "", fmt.Errorf("sticky %q is none of %q, %q, %q", s, StickyNone, StickyCookie, StickyClientIP)
}

// Canary sends a share of the requests of the main upstream to the colour that
// is not active. The zero value sends none.
//
// In the include file the main upstream lists both colours with weights
// (100-Weight for the active colour, Weight for the other). Without
// stickiness nginx alternates by weighted round robin, which splits exactly.
// With stickiness the upstream uses `hash <key> consistent`: the key is the
// client address (client_ip) or the value of the cookie CookieName (cookie;
// nginx sets it to $request_id on the first answer that lacks it). Consistent
// hashing keeps a client on its colour while the weight stays, and a client on
// the canary stays there when the weight grows. At Weight 100 the active colour
// is listed `down`: every request goes to the other colour.
//
// With sticky = cookie the file adds `add_header Set-Cookie
// $<upstream>_canary_cookie;` in the http {} context: a server or location
// block with add_header directives of its own must repeat it.
type Canary struct {
	Weight int
	Sticky Sticky
}

// Active reports whether the canary sends any request to the other colour.
func (c Canary) Active() bool { return c.Weight > 0 }

// CookieName is the cookie that keeps a client on its colour (sticky = cookie).
func CookieName(upstreamName string) string { return "release_" + upstreamName }

func (c Canary) validate() error {
	if c.Weight < 0 || c.Weight > 100 {
		return fmt.Errorf("canary weight %d is not a percentage between 0 and 100", c.Weight)
	}
	if _, err := ParseSticky(string(c.Sticky)); err != nil {
		return err
	}
	return nil
}

// Describe says where requests go, for messages: "10% to green (sticky by
// cookie), 90% to blue".
func (c Canary) Describe(active Colour) string {
	if c.Weight <= 0 {
		return fmt.Sprintf("all requests to %s", active)
	}
	if c.Weight >= 100 {
		return fmt.Sprintf("all requests to %s (canary at 100%%; %s is active)", active.Other(), active)
	}
	sticky := ""
	switch c.Sticky {
	case StickyCookie:
		sticky = " (sticky by cookie)"
	case StickyClientIP:
		sticky = " (sticky by client address)"
	}
	return fmt.Sprintf("%d%% to %s%s, %d%% to %s", c.Weight, active.Other(), sticky, 100-c.Weight, active)
}

// renderUpstream writes the main upstream block for colour live with the canary.
func (n *Nginx) renderUpstream(b *strings.Builder, colour Colour) {
	name, c := n.UpstreamName, n.Canary
	live, other := n.upstream(colour), n.upstream(colour.Other())
	switch {
	case c.Weight <= 0:
		fmt.Fprintf(b, "# live: %s\nupstream %s {\n    server %s;\n}\n\n", colour, name, live)
		return
	case c.Weight >= 100:
		fmt.Fprintf(b, "# live: %s, canary %s at 100%%: %s takes no request\nupstream %s {\n", colour, colour.Other(), colour, name)
		fmt.Fprintf(b, "    server %s down;\n    server %s;\n}\n\n", live, other)
		return
	}
	fmt.Fprintf(b, "# live: %s, canary: %s\nupstream %s {\n", colour, c.Describe(colour), name)
	switch c.Sticky {
	case StickyCookie:
		fmt.Fprintf(b, "    hash $%s_canary_key consistent;\n", name)
	case StickyClientIP:
		b.WriteString("    hash $remote_addr consistent;\n")
	}
	fmt.Fprintf(b, "    server %s weight=%d;\n    server %s weight=%d;\n}\n\n", live, 100-c.Weight, other, c.Weight)
	if c.Sticky != StickyCookie {
		return
	}
	cookie := CookieName(name)
	fmt.Fprintf(b, "# sticky by cookie: a client without %s gets one.\n", cookie)
	fmt.Fprintf(b, "map $cookie_%s $%s_canary_key {\n    \"\" $request_id;\n    default $cookie_%s;\n}\n", cookie, name, cookie)
	fmt.Fprintf(b, "map \"$cookie_%s:$upstream_addr\" $%s_canary_cookie {\n    default \"\";\n", cookie, name)
	fmt.Fprintf(b, "    \"~^:(%s|%s)\" \"%s=$request_id; Path=/; HttpOnly; SameSite=Lax\";\n}\n", regexp.QuoteMeta(live), regexp.QuoteMeta(other), cookie)
	fmt.Fprintf(b, "add_header Set-Cookie $%s_canary_cookie;\n\n", name)
}

// upstreamEntry is one server line of an upstream block.
type upstreamEntry struct {
	addr   string
	weight int // 0 when down
}

// upstreamBlock returns the server lines and the hash key ("" without) of
// `upstream name { ... }`.
func upstreamBlock(content, name string) ([]upstreamEntry, string, bool) {
	re := regexp.MustCompile(`(?m)^\s*upstream\s+` + regexp.QuoteMeta(name) + `\s*\{([^}]*)\}`)
	m := re.FindStringSubmatch(content)
	if m == nil {
		return nil, "", false
	}
	var out []upstreamEntry
	hash := ""
	for _, line := range strings.Split(stripComment(m[1]), ";") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "hash":
			hash = f[1]
		case len(f) >= 2 && f[0] == "server":
			e := upstreamEntry{addr: f[1], weight: 1}
			for _, p := range f[2:] {
				if w, ok := strings.CutPrefix(p, "weight="); ok {
					e.weight, _ = strconv.Atoi(w)
				}
				if p == "down" {
					e.weight = 0
				}
			}
			out = append(out, e)
		}
	}
	return out, hash, len(out) > 0
}

// parseRouting fills st.Active, st.Live, st.Canary from the main upstream's
// servers; marked is the active colour the file's comments record.
func parseRouting(st *State, entries []upstreamEntry, hash, upstreamName string, marked Colour) {
	colourOf := func(addr string) Colour {
		switch addr {
		case st.Blue:
			return Blue
		case st.Green:
			return Green
		}
		return ""
	}
	if len(entries) == 1 && entries[0].weight > 0 {
		st.Live, st.Active = entries[0].addr, colourOf(entries[0].addr)
		return
	}
	weights := map[Colour]int{}
	var addrs []string
	for _, e := range entries {
		addrs = append(addrs, e.addr)
		weights[colourOf(e.addr)] += e.weight
	}
	total := weights[Blue] + weights[Green]
	if len(entries) != 2 || weights[""] != 0 || total == 0 || colourOf(entries[0].addr) == colourOf(entries[1].addr) {
		st.Live = strings.Join(addrs, ", ")
		return
	}
	active := marked
	if !active.Valid() {
		active = Blue
		if weights[Green] > weights[Blue] {
			active = Green
		}
	}
	st.Active, st.Live = active, st.target(active)
	st.Canary = Canary{Weight: (weights[active.Other()]*100 + total/2) / total, Sticky: StickyNone}
	switch hash {
	case "$remote_addr":
		st.Canary.Sticky = StickyClientIP
	case "$" + upstreamName + "_canary_key":
		st.Canary.Sticky = StickyCookie
	}
}

// target is the colour's upstream as the file records it.
func (st *State) target(c Colour) string {
	if c == Blue {
		return st.Blue
	}
	return st.Green
}
