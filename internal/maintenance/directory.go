package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// Directory files, read by the application or its web server.
const (
	JSONFile = "maintenance.json"
	HTMLFile = "maintenance.html"
)

// Directory writes <Path>/maintenance.json and <Path>/maintenance.html while
// maintenance is on (banner or not) and removes them when it is off.
type Directory struct {
	Path string
	// Host is where Path is (nil: host.Local, this machine).
	Host host.Host
	// Now returns the current time (nil: time.Now).
	Now func() time.Time
}

var _ Switch = (*Directory)(nil)

// Describe implements Switch.
func (d *Directory) Describe() string { return "directory " + d.Path }

// Capabilities implements Switch: maintenance.json keeps every detail.
func (d *Directory) Capabilities() Capabilities { return Capabilities{Details: true} }

type directoryFile struct {
	// ManagedBy marks the file as the provider's: only such files are overwritten.
	ManagedBy string `json:"managed_by"`
	State
	UpdatedAt time.Time `json:"updated_at"`
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="release_maintenance_mode">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{- if .Reason}}
<p class="reason">{{.Reason}}</p>
{{- end}}
{{- if .Until}}
<p class="until">Expected back: <time datetime="{{.Until}}">{{.Until}}</time></p>
{{- end}}
</body>
</html>
`))

// RenderPage renders the maintenance page; every value is HTML-escaped.
func RenderPage(s State) (string, error) {
	var b strings.Builder
	data := map[string]string{"Title": "Maintenance", "Message": s.Message, "Reason": s.Reason}
	if data["Message"] == "" {
		data["Message"] = "The site is under maintenance. Please come back in a few minutes."
	}
	if !s.Until.IsZero() {
		data["Until"] = s.Until.UTC().Format(time.RFC3339)
	}
	if err := pageTemplate.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Apply implements Switch.
func (d *Directory) Apply(ctx context.Context, s State) error {
	h := orLocal(d.Host)
	jsonPath, htmlPath := filepath.Join(d.Path, JSONFile), filepath.Join(d.Path, HTMLFile)
	if err := checkOwned(ctx, h, jsonPath, ownJSON); err != nil {
		return err
	}
	if err := checkOwned(ctx, h, htmlPath, ownPage); err != nil {
		return err
	}
	if !s.Enabled {
		for _, p := range []string{jsonPath, htmlPath} {
			if err := h.Remove(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove %s: %w", p, err)
			}
		}
		logging.Info(ctx, "maintenance mode off", "place", d.Describe(), logging.Host, h.Name())
		return nil
	}
	if st, err := h.Stat(ctx, d.Path); err != nil || !st.IsDir() {
		return fmt.Errorf("maintenance directory %s does not exist or is not a folder", d.Path)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	page, err := RenderPage(s)
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(directoryFile{ManagedBy: managedBy, State: s, UpdatedAt: now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	// The page first: an application that sees the JSON finds its page ready.
	if err := h.WriteFile(ctx, htmlPath, []byte(page), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", htmlPath, err)
	}
	if err := h.WriteFile(ctx, jsonPath, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", jsonPath, err)
	}
	logging.Info(ctx, "maintenance mode on", "place", d.Describe(), "banner", s.Banner, logging.Host, h.Name())
	return nil
}

// Read implements Switch: no maintenance.json means maintenance is off; no
// folder at Path is ErrNotFound.
func (d *Directory) Read(ctx context.Context) (State, error) {
	h := orLocal(d.Host)
	st, err := h.Stat(ctx, d.Path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !st.IsDir() {
		return State{}, fmt.Errorf("maintenance directory %s: %w", d.Path, ErrNotFound)
	}
	if err != nil {
		return State{}, err
	}
	raw, err := h.ReadFile(ctx, filepath.Join(d.Path, JSONFile))
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, err
	}
	if !ownJSON(raw) {
		return State{}, &NotOwnedError{Path: filepath.Join(d.Path, JSONFile)}
	}
	var f directoryFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return State{}, fmt.Errorf("%s is not valid JSON: %w", filepath.Join(d.Path, JSONFile), err)
	}
	return f.State, nil
}
