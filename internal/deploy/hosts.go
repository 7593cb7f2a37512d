package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/check"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/shell"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// DefaultMaxParallel bounds how many hosts run hooks or smoke tests at once when
// Facts.MaxParallel is 0.
const DefaultMaxParallel = 10

// HostPlaceholder in a smoke test URL stands for each host's name or address,
// without the SSH port: the check then runs once per host.
const HostPlaceholder = check.HostPlaceholder

// hosts are the release's folders the hooks run in, one per host in the
// target's order: Prepared.Hosts, or the machine Terraform runs on (in
// Prepared.Dir) for a target with no hosts of its own.
func (r *run) hosts() []target.HostDir {
	p := r.prepared
	if p != nil && len(p.Hosts) > 0 {
		return p.Hosts
	}
	dir := ""
	if p != nil {
		dir = p.Dir
	}
	return []target.HostDir{{Host: host.Local{}, Dir: dir}}
}

// checkHosts warns when the hosts holding the prepared release are not the
// ones the plan named.
func (r *run) checkHosts() {
	if len(r.req.Hosts) == 0 || r.prepared == nil {
		return
	}
	var got []string
	for _, hd := range r.prepared.Hosts {
		got = append(got, hd.Host.Name())
	}
	switch {
	case len(got) == 0:
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("the plan named the hosts %s, the target names none: the commands run on the machine Terraform runs on", andList(r.req.Hosts)))
	case strings.Join(got, "\n") != strings.Join(r.req.Hosts, "\n"):
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("the plan named the hosts %s, the target holds the release on %s", andList(r.req.Hosts), andList(got)))
	}
}

func (f Facts) maxParallel() int {
	if f.MaxParallel > 0 {
		return f.MaxParallel
	}
	return DefaultMaxParallel
}

// onHosts runs fn for every host, at most MaxParallel at once, and returns
// their errors in the hosts' order (nil where fn succeeded).
func (r *run) onHosts(ctx context.Context, hosts []target.HostDir, fn func(ctx context.Context, i int, hd target.HostDir) error) []error {
	errs := make([]error, len(hosts))
	if len(hosts) == 1 {
		errs[0] = fn(ctx, 0, hosts[0])
		return errs
	}
	slots := make(chan struct{}, r.req.maxParallel())
	var wg sync.WaitGroup
	for i, hd := range hosts {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			errs[i] = fn(ctx, i, hd)
		})
	}
	wg.Wait()
	return errs
}

// hookFailure is one hook that failed on one host.
type hookFailure struct {
	index int // from 0
	cmd   string
	host  host.Host
	err   error
}

// runHooks runs cmds, in order, in the release folder of every host of hosts
// (several hosts at once). Once a hook failed on a host, no host starts another
// hook; hooks already running finish. It returns the failures in the hosts'
// order, or nil.
func (r *run) runHooks(ctx context.Context, kind string, cmds []string, hosts []target.HostDir) []hookFailure {
	var stop atomic.Bool
	failures := make([]*hookFailure, len(hosts))
	r.onHosts(ctx, hosts, func(ctx context.Context, h int, hd target.HostDir) error {
		for i, cmd := range cmds {
			if stop.Load() {
				return nil
			}
			if err := r.hook(ctx, kind, i, cmd, hd); err != nil {
				stop.Store(true)
				failures[h] = &hookFailure{index: i, cmd: cmd, host: hd.Host, err: err}
				return err
			}
		}
		return nil
	})
	var out []hookFailure
	for _, f := range failures {
		if f != nil {
			out = append(out, *f)
		}
	}
	return out
}

// hookError says which hook failed on which host, the first failure in the
// hosts' order in full and the others in short: "The before_switch hook #1
// "…" failed on web2.example.org: …". The error matches every failure.
func hookError(kind string, fs []hookFailure) (what string, err error) {
	first := fs[0]
	var b strings.Builder
	fmt.Fprintf(&b, "The %s hook #%d %q failed%s: %v.", kind, first.index+1, first.cmd, onHost(first.host), first.err)
	errs := []error{first.err}
	for _, f := range fs[1:] {
		fmt.Fprintf(&b, " The %s hook #%d failed%s as well.", kind, f.index+1, onHost(f.host))
		errs = append(errs, f.err)
	}
	return b.String(), errors.Join(errs...)
}

// onHost names h in a sentence (" on web2.example.org"); nothing for the
// machine Terraform runs on, where every deployment without hosts runs.
func onHost(h host.Host) string {
	if _, ok := h.(host.Local); ok {
		return ""
	}
	return " on " + h.Name()
}

// hostErrText is err's message without the host's name in front of it, where
// the sentence around it names the host already.
func hostErrText(h host.Host, err error) string {
	return strings.TrimPrefix(err.Error(), h.Name()+": ")
}

// hook runs one hook in the release folder on one host.
func (r *run) hook(ctx context.Context, kind string, i int, cmd string, hd target.HostDir) error {
	r.log("running hook", map[string]any{"hook": kind, "index": i + 1, "command": cmd, "host": hd.Host.Name()})
	out, err := r.runCommand(ctx, hd.Host, hd.Dir, cmd, r.releaseEnv(hd.Dir, hd.Host))
	if err != nil {
		return &hostError{msg: ErrHook.Error() + ": " + hostErrText(hd.Host, err) + outputClause(out), errs: []error{ErrHook, err}}
	}
	return nil
}

// hostError is a failure on a host whose message does not repeat the host's
// name, for a sentence that names it already.
type hostError struct {
	msg  string
	errs []error
}

func (e *hostError) Error() string   { return e.msg }
func (e *hostError) Unwrap() []error { return e.errs }

// runCommand runs a hook or the backup command on h with Host.Run (for the
// machine Terraform runs on, internal/shell: its own process group, killed as
// a whole when the deployment's context ends, output capped to its tail), and
// says which limit stopped it. The error's message does not name the host: the
// sentence around it does.
func (r *run) runCommand(ctx context.Context, h host.Host, dir, script string, env []string) (string, error) {
	out, err := h.Run(ctx, host.Command{Script: script, Dir: dir, Env: env})
	if err == nil {
		return out, nil
	}
	text := hostErrText(h, err)
	switch {
	case errors.Is(err, shell.ErrTimedOut):
		text = fmt.Sprintf("the time limit of the deployment (timeouts) was reached %s after it started: the command %s", time.Since(r.started).Round(time.Second), strings.TrimPrefix(text, "command "))
	case errors.Is(err, shell.ErrCancelled):
		text = "the deployment was cancelled: the command " + strings.TrimPrefix(text, "command ")
	}
	return out, &hostError{msg: text, errs: []error{err}}
}

// smokeError is a smoke test that failed: once, or on one or more hosts. Its
// message says, for each, the host, the URL and what went wrong.
type smokeError struct {
	sentence string
	errs     []error
}

func (e *smokeError) Error() string   { return e.sentence }
func (e *smokeError) Unwrap() []error { return e.errs }

// smoke runs the smoke test once, or on every host of the release when its URL
// holds {host} (several hosts at once).
func (r *run) smoke(ctx context.Context) error {
	c := *r.req.SmokeTest
	if !strings.Contains(c.URL, HostPlaceholder) {
		// check logs each attempt itself.
		if err := check.Run(ctx, c, nil); err != nil {
			return &smokeError{sentence: smokeSentence(c, err), errs: []error{err}}
		}
		return nil
	}
	hosts := r.hosts()
	sentences := make([]string, len(hosts))
	errs := r.onHosts(ctx, hosts, func(ctx context.Context, i int, hd target.HostDir) error {
		hc := c
		hc.URL = strings.ReplaceAll(c.URL, HostPlaceholder, urlHost(hd.Host))
		err := check.Run(ctx, hc, nil)
		if err != nil {
			sentences[i] = "on " + hd.Host.Name() + ": " + smokeSentence(hc, err)
		}
		return err
	})
	var failed []string
	var all []error
	for i, err := range errs {
		if err != nil {
			failed, all = append(failed, sentences[i]), append(all, err)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return &smokeError{sentence: "failed " + strings.Join(failed, "; "), errs: all}
}

// urlHost is what {host} becomes for h: its name without the SSH port, an IPv6
// address in brackets; localhost for the machine Terraform runs on.
func urlHost(h host.Host) string {
	if _, ok := h.(host.Local); ok {
		return "localhost"
	}
	return urlHostname(h.Name())
}

// urlHostname is a host's name as a URL holds it: without the SSH port, an
// IPv6 address in brackets.
func urlHostname(name string) string {
	name = host.Hostname(name)
	if strings.Contains(name, ":") {
		return "[" + name + "]"
	}
	return name
}

// smokeSentence phrases a failed check as "GET <url> answered 502 after 10 attempts".
func smokeSentence(c check.HTTPCheck, err error) string {
	method := c.Method
	if method == "" {
		method = "GET"
	}
	msg := err.Error()
	where := redactURL(c.URL)
	if strings.Contains(msg, where) {
		return msg
	}
	return method + " " + where + " failed: " + msg
}

// redactURL is raw without the password it may hold; {host} stays as it is.
func redactURL(raw string) string {
	const stand = "release-host-placeholder"
	u, err := url.Parse(strings.ReplaceAll(raw, HostPlaceholder, stand))
	if err != nil || u.User == nil {
		return raw
	}
	return strings.ReplaceAll(u.Redacted(), stand, HostPlaceholder)
}
