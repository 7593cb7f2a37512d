// Package canary moves a share of the requests to a new colour step by step and
// gates every step on what nginx's access log says about it: each step sets the
// weight, waits its pause, then compares the canary colour's 5xx rate and p99
// latency over the last window with the thresholds (and with the active
// colour's, reported side by side). A failed analysis, or too few requests to
// judge, sets the weight back to 0 and fails with the figures.
//
// Access logs are read through host.Host (this machine or every load balancer
// over SSH), from the position they had when the window began, and analysed by
// internal/accesslog. The weight itself is set by a callback: the package knows
// nothing of nginx or Terraform.
package canary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/accesslog"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// Thresholds are what a canary step must meet.
type Thresholds struct {
	// Window is how much of the end of each pause is analysed.
	Window time.Duration
	// MinRequests is the fewest requests the canary colour must serve within
	// the window; fewer is a failure, never a pass.
	MinRequests int64
	// MaxErrorRate is the highest share of 5xx answers (0.01 is 1%).
	MaxErrorRate float64
	// MaxP99 is the highest 99th percentile of $request_time; 0: not checked.
	MaxP99 time.Duration
}

// Describe says what is checked: "5xx ≤ 1% and p99 ≤ 500ms over 2m on at
// least 50 requests".
func (t Thresholds) Describe() string {
	s := "5xx ≤ " + Percent(t.MaxErrorRate)
	if t.MaxP99 > 0 {
		s += " and p99 ≤ " + Duration(t.MaxP99)
	}
	return fmt.Sprintf("%s over %s on at least %d requests", s, Duration(t.Window), t.MinRequests)
}

// Describe says what is checked: the thresholds on the access log and the
// Prometheus query.
func (a *Analysis) Describe() string {
	var parts []string
	if a.AccessLog != "" {
		parts = append(parts, a.Thresholds.Describe())
	}
	if p := a.Prometheus; p != nil {
		parts = append(parts, fmt.Sprintf("Prometheus %q ≤ %s at the end of %s", p.Query, formatFloat(p.Max), Duration(a.Window)))
	}
	return strings.Join(parts, " and ")
}

// Analysis measures the colours on the access log of every host.
type Analysis struct {
	// Hosts hold the access log (nginx's hosts); none: this machine.
	Hosts []host.Host
	// AccessLog is the log's path on every host ("": only Prometheus is asked).
	AccessLog string
	// Prometheus, when set, is queried at the end of every window too.
	Prometheus *Prometheus
	Thresholds
	// Canary and Active name the colours; their upstream addresses are as
	// nginx writes them in $upstream_addr.
	Canary, Active                   string
	CanaryUpstreams, ActiveUpstreams []string
}

func (a *Analysis) hosts() []host.Host {
	if len(a.Hosts) == 0 {
		return []host.Host{host.Local{}}
	}
	return a.Hosts
}

// Mark is the size of the access log on every host, where a window begins.
type Mark []int64

// Mark records where the access log of every host ends now (0 when it does
// not exist yet).
func (a *Analysis) Mark(ctx context.Context) (Mark, error) {
	hs := a.hosts()
	m := make(Mark, len(hs))
	if a.AccessLog == "" {
		return m, nil
	}
	for i, h := range hs {
		fi, err := h.Stat(ctx, a.AccessLog)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("reading the access log %s on %s: %w", a.AccessLog, h.Name(), err)
		default:
			m[i] = fi.Size()
		}
	}
	return m, nil
}

// Report is one analysed window.
type Report struct {
	Canary, Active         accesslog.Stats
	CanaryName, ActiveName string
	Thresholds
	// Over is how long the window really lasted.
	Over time.Duration
	// Lines and Unparsed count the log lines read and those in no known format.
	Lines, Unparsed int64
	// LogRead says the access log was analysed; Prom is the Prometheus check.
	LogRead bool
	Prom    *PromResult
}

// Measure analyses the requests logged on every host since m.
func (a *Analysis) Measure(ctx context.Context, m Mark, over time.Duration) (Report, error) {
	r := Report{CanaryName: a.Canary, ActiveName: a.Active, Thresholds: a.Thresholds, Over: over}
	if p := a.Prometheus; p != nil {
		v, err := p.Value(ctx, time.Now())
		r.Prom = &PromResult{Query: p.Query, Value: v, Max: p.Max, Err: err}
	}
	if a.AccessLog == "" {
		return r, nil
	}
	groups := accesslog.Groups{"canary": a.CanaryUpstreams, "active": a.ActiveUpstreams}
	var total accesslog.Result
	for i, h := range a.hosts() {
		res, err := readFrom(ctx, h, a.AccessLog, m[i], groups)
		if err != nil {
			return Report{}, fmt.Errorf("reading the access log %s on %s: %w", a.AccessLog, h.Name(), err)
		}
		total.Merge(&res)
	}
	r.LogRead, r.Lines, r.Unparsed = true, total.Lines, total.Unparsed
	if s := total.Groups["canary"]; s != nil {
		r.Canary = *s
	}
	if s := total.Groups["active"]; s != nil {
		r.Active = *s
	}
	return r, nil
}

// readFrom analyses path on h from offset on (from the start when the file
// is shorter: it was rotated).
func readFrom(ctx context.Context, h host.Host, path string, offset int64, groups accesslog.Groups) (accesslog.Result, error) {
	fi, err := h.Stat(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return accesslog.Result{}, nil
	}
	if err != nil {
		return accesslog.Result{}, err
	}
	if fi.Size() < offset {
		offset = 0
	}
	f, err := h.Open(ctx, path)
	if err != nil {
		return accesslog.Result{}, err
	}
	defer f.Close()
	if s, ok := f.(io.Seeker); ok {
		_, err = s.Seek(offset, io.SeekStart)
	} else {
		_, err = io.CopyN(io.Discard, f, offset)
	}
	if err != nil {
		return accesslog.Result{}, err
	}
	// Only what was there when the window ended: nginx keeps appending.
	return accesslog.Analyze(io.LimitReader(f, fi.Size()-offset), groups)
}

// Failures lists why the window fails its thresholds (none: it passes).
func (r *Report) Failures() []string {
	var out []string
	if r.Prom != nil && r.Prom.failure() != "" {
		out = append(out, r.Prom.failure())
	}
	if !r.LogRead {
		return out
	}
	c, over := &r.Canary, Duration(r.Over)
	if c.Requests < r.MinRequests {
		out = append(out, fmt.Sprintf("%s answered only %d requests over %s, at least %d are needed to judge it (%s answered %d)",
			r.CanaryName, c.Requests, over, r.MinRequests, r.ActiveName, r.Active.Requests))
		return out
	}
	if c.ErrorRate() > r.MaxErrorRate {
		out = append(out, fmt.Sprintf("%s answered %s 5xx (%d of %d) over %s, limit %s; %s %s",
			r.CanaryName, Percent(c.ErrorRate()), c.Errors, c.Requests, over, Percent(r.MaxErrorRate), r.ActiveName, r.activeRate()))
	}
	if r.MaxP99 > 0 && c.P99() > r.MaxP99 {
		out = append(out, fmt.Sprintf("%s's p99 latency was %s over %s (%d requests), limit %s; %s %s",
			r.CanaryName, Duration(c.P99()), over, c.Requests, Duration(r.MaxP99), r.ActiveName, r.activeP99()))
	}
	return out
}

func (r *Report) activeRate() string {
	if r.Active.Requests == 0 {
		return "served no request"
	}
	return Percent(r.Active.ErrorRate())
}

func (r *Report) activeP99() string {
	if r.Active.Requests == 0 {
		return "served no request"
	}
	return Duration(r.Active.P99())
}

// String gives the figures of both colours side by side.
func (r *Report) String() string {
	side := func(name string, s *accesslog.Stats) string {
		if s.Requests == 0 {
			return name + ": no request"
		}
		return fmt.Sprintf("%s: %d requests, %s 5xx, p99 %s", name, s.Requests, Percent(s.ErrorRate()), Duration(s.P99()))
	}
	var parts []string
	if r.LogRead {
		parts = append(parts, side(r.CanaryName, &r.Canary), side(r.ActiveName, &r.Active))
	}
	if p := r.Prom; p != nil && p.Err == nil {
		parts = append(parts, fmt.Sprintf("Prometheus: %s (limit %s)", formatFloat(p.Value), formatFloat(p.Max)))
	}
	return fmt.Sprintf("%s (over %s)", strings.Join(parts, "; "), Duration(r.Over))
}

// Percent formats a share: 0.072 → "7.2%", 0.01 → "1%".
func Percent(v float64) string {
	return strconv.FormatFloat(float64(int64(v*1000+0.5))/10, 'f', -1, 64) + "%"
}

// Duration formats d briefly: "2m", "1m30s", "500ms", "1.2s".
func Duration(d time.Duration) string {
	switch {
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		d = d.Round(time.Millisecond)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// logReport logs a window's figures.
func logReport(ctx context.Context, weight int, r *Report, passed bool) {
	logging.Info(ctx, "Canary analysis", "weight", weight, "passed", passed, "figures", r.String(),
		"unparsed_lines", r.Unparsed)
}
