package scalingo

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// RunOpts starts a one-off container (POST /v1/apps/:app/run), as go-scalingo's.
type RunOpts struct {
	App string
	// Command is joined with spaces into the command line, run by a shell.
	Command []string
	// Env is added to the app's environment for this container only.
	Env map[string]string
	// Size is the container size (S, M, L, XL, 2XL); "" is the app's default.
	Size     string
	Detached bool
}

// Container is a container of an app.
type Container struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Type  string `json:"type"`
}

// RunRes is the answer to Run.
type RunRes struct {
	Container    *Container `json:"container"`
	AttachURL    string     `json:"attach_url"`
	OperationURL string     `json:"operation_url"`
}

// Run starts a one-off container. An attached one (Detached false) waits for a
// client on its attach URL: RunAttached does the whole sequence.
func (c *Client) Run(ctx context.Context, opts RunOpts) (*RunRes, error) {
	var res RunRes
	body := map[string]any{"command": strings.Join(opts.Command, " "), "env": opts.Env, "size": opts.Size, "detached": opts.Detached}
	if _, err := c.do(ctx, apiRequest{method: http.MethodPost, base: c.apiURL, path: appPath(opts.App, "run"), body: body,
		expected: []int{http.StatusOK, http.StatusCreated}}, &res); err != nil {
		return nil, err
	}
	if res.OperationURL == "" && res.AttachURL == "" {
		return nil, fmt.Errorf("POST %s: answer without an operation_url", appPath(opts.App, "run"))
	}
	return &res, nil
}

// OperationsShowFromURL returns the operation at an operation URL the API gave
// (Run's operation_url); it must be on the API endpoint.
func (c *Client) OperationsShowFromURL(ctx context.Context, opURL string) (*Operation, error) {
	u, err := url.Parse(opURL)
	base, _ := url.Parse(c.apiURL)
	if err != nil || u.Host != base.Host || !strings.Contains(u.Path, "/operations/") {
		return nil, fmt.Errorf("the operation URL %q is not an operation of the Scalingo API at %s", redactQuery(opURL), c.apiURL)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/v1/apps/"), "/")
	if len(parts) != 3 || parts[1] != "operations" {
		return nil, fmt.Errorf("the operation URL %q is not /v1/apps/<app>/operations/<id>", redactQuery(opURL))
	}
	return c.OperationsShow(ctx, parts[0], parts[2])
}

func redactQuery(s string) string {
	before, _, _ := strings.Cut(s, "?")
	return before
}

// OneOffFailedError is a one-off command that exited with a non-zero code, or
// that Scalingo stopped for inactivity (TimedOut, exit code -127 as the CLI
// reports it). OutputTail holds its last output lines.
type OneOffFailedError struct {
	App        string
	Command    string
	ExitCode   int
	TimedOut   bool
	OutputTail string
}

func (e *OneOffFailedError) Error() string {
	msg := fmt.Sprintf("the one-off command `%s` on %s exited with code %d", e.Command, e.App, e.ExitCode)
	if e.TimedOut {
		msg = fmt.Sprintf("the one-off command `%s` on %s was stopped by Scalingo: it sent no output for too long (408 from its wait endpoint)", e.Command, e.App)
	}
	if e.OutputTail != "" {
		msg += "; its last output lines:\n" + e.OutputTail
	}
	return msg
}

// RunAttached runs a one-off command attached, as `scalingo run` does: Run with
// detached false, wait for the start-one-off operation, CONNECT to the attach
// URL with the bearer token as basic-auth password and copy the output to out
// (may be nil), then GET <attach_url>/wait for the exit code. A non-zero exit
// or an inactivity timeout is a *OneOffFailedError with the end of the output.
func (c *Client) RunAttached(ctx context.Context, opts RunOpts, out io.Writer, interval time.Duration) (int, error) {
	opts.Detached = false
	cmd := strings.Join(opts.Command, " ")
	res, err := c.Run(ctx, opts)
	if err != nil {
		return -1, err
	}
	attach := res.AttachURL
	if res.OperationURL != "" {
		op, err := c.waitOperationURL(ctx, opts.App, res.OperationURL, interval)
		if err != nil {
			return -1, fmt.Errorf("the one-off container of `%s` did not start: %w", cmd, err)
		}
		attach = orDefault(op.StartOneOffData.AttachURL, attach)
	}
	if attach == "" {
		return -1, fmt.Errorf("the one-off container of `%s` on %s has no attach URL", cmd, opts.App)
	}
	tail := &tailBuffer{max: 64 << 10}
	w := io.Writer(tail)
	if out != nil {
		w = io.MultiWriter(tail, out)
	}
	if err := c.attach(ctx, attach, w); err != nil {
		return -1, fmt.Errorf("reading the output of the one-off `%s` on %s: %w", cmd, opts.App, err)
	}
	code, timedOut, err := c.oneOffExitCode(ctx, attach)
	if err != nil {
		return -1, fmt.Errorf("reading the exit code of the one-off `%s` on %s: %w", cmd, opts.App, err)
	}
	if code != 0 || timedOut {
		return code, &OneOffFailedError{App: opts.App, Command: cmd, ExitCode: code, TimedOut: timedOut, OutputTail: Tail(tail.String(), outputTailLines)}
	}
	return 0, nil
}

func (c *Client) waitOperationURL(ctx context.Context, app, opURL string, interval time.Duration) (*Operation, error) {
	op, err := c.OperationsShowFromURL(ctx, opURL)
	if err != nil {
		return nil, err
	}
	return c.WaitOperation(ctx, app, op.ID, interval)
}

// attach CONNECTs to the attach URL and copies what the container writes
// until it ends; ctx ending closes the connection.
func (c *Client) attach(ctx context.Context, attachURL string, w io.Writer) error {
	u, err := url.Parse(attachURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return errors.New("invalid attach URL")
	}
	tok, err := c.bearerToken(ctx)
	if err != nil {
		return err
	}
	conn, err := dialAttach(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req, err := http.NewRequest(http.MethodConnect, attachURL, nil)
	if err != nil {
		return errors.New("invalid attach URL")
	}
	req.SetBasicAuth("", tok)
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	if err := req.Write(conn); err != nil {
		return ctxOr(ctx, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return ctxOr(ctx, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return newRequestFailedError(resp, http.MethodConnect, u.Path)
	}
	if _, err := io.Copy(w, br); err != nil {
		return ctxOr(ctx, err)
	}
	return ctx.Err()
}

func dialAttach(ctx context.Context, u *url.URL) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	var d net.Dialer
	if u.Scheme == "https" {
		td := tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
		return td.DialContext(ctx, "tcp", host)
	}
	return d.DialContext(ctx, "tcp", host)
}

func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// oneOffExitCode is GET <attach_url>/wait: {"exit_code": N}, or 408 when the
// one-off was stopped for inactivity.
func (c *Client) oneOffExitCode(ctx context.Context, attachURL string) (int, bool, error) {
	tok, err := c.bearerToken(ctx)
	if err != nil {
		return -1, false, err
	}
	u, _ := url.Parse(attachURL)
	u.Path = path.Join(u.Path, "wait")
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return -1, false, err
	}
	req.SetBasicAuth("", tok)
	resp, err := c.http.Do(req)
	if err != nil {
		return -1, false, transportError(http.MethodGet, u.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusRequestTimeout {
		return -127, true, nil
	}
	if resp.StatusCode != http.StatusOK {
		return -1, false, newRequestFailedError(resp, http.MethodGet, u.Path)
	}
	var res struct {
		ExitCode *int `json:"exit_code"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil || res.ExitCode == nil {
		return -1, false, fmt.Errorf("GET %s: answer without an exit_code", u.Path)
	}
	return *res.ExitCode, false, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
