// Package check runs HTTP smoke and health checks: a request repeated until it
// answers the expected status (and body), with a timeout per attempt and a pause
// between attempts. Deployments use it to decide whether a release is healthy and
// blue/green routers to decide whether a colour may go live. Each attempt is
// logged here, once, at INFO with internal/logging (attempt, attempts, url,
// status, duration_ms, error): callers need not log attempts themselves.
package check

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/capool"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// Defaults applied by Run to zero fields.
const (
	DefaultExpectStatus = http.StatusOK
	DefaultAttempts     = 1
	DefaultInterval     = time.Second
	DefaultTimeout      = 10 * time.Second
	// maxBody caps how much of a response is read to look for BodyContains.
	maxBody = 1 << 20
)

// HTTPCheck describes one smoke or health check. Zero fields take the defaults:
// Method GET, ExpectStatus 200, Attempts 1, Interval 1s, Timeout 10s per attempt.
// Redirects are not followed: the check judges the status the URL itself answers.
type HTTPCheck struct {
	URL    string
	Method string
	// ExpectStatus is the status a healthy answer has.
	ExpectStatus int
	// BodyContains, when set, must appear in the first MiB of the body.
	BodyContains string
	// Headers are added to every request. Their values are never logged.
	Headers map[string]string
	// Attempts is how many requests are made at most before giving up.
	Attempts int
	// Interval is the pause between two attempts.
	Interval time.Duration
	// Timeout bounds each attempt (connection, headers and body).
	Timeout time.Duration
	// CAFile is a PEM file of certificates trusted in addition to the system roots.
	CAFile string
	// Insecure skips TLS certificate verification. Off unless asked for.
	Insecure bool
	// Host overrides the Host header (and the TLS server name), to reach a preview
	// route or a virtual host through an address such as 127.0.0.1:8081.
	Host string
}

// Attempt reports one request of a check. Err is nil for the successful attempt;
// for a failed one it says why (connection error, unexpected status, missing body
// text). Status is 0 when no response arrived.
type Attempt struct {
	N        int
	Status   int
	Err      error
	Duration time.Duration
}

// FailedError is returned by Run when no attempt succeeded. Its message says the
// method and URL, what the last attempt got and after how many attempts.
type FailedError struct {
	Method   string
	URL      string // without any password
	Attempts int
	Last     Attempt
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("%s %s %s after %s", e.Method, e.URL, e.Last.Err, attempts(e.Attempts))
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// Unwrap returns the last attempt's error.
func (e *FailedError) Unwrap() error { return e.Last.Err }

// Errors describing a failed attempt, for errors.Is.
var (
	// ErrUnexpectedStatus means the server answered another status than expected.
	ErrUnexpectedStatus = errors.New("unexpected status")
	// ErrBodyMismatch means the body did not contain the expected text.
	ErrBodyMismatch = errors.New("body does not contain the expected text")
)

// Validate reports configuration errors, without touching the network or files.
func (c HTTPCheck) Validate() error {
	var errs []error
	if err := ValidateURL(c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.Method != "" {
		if err := ValidateMethod(c.Method); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ExpectStatus != 0 && (c.ExpectStatus < 100 || c.ExpectStatus > 599) {
		errs = append(errs, fmt.Errorf("expect_status %d is not an HTTP status (100-599)", c.ExpectStatus))
	}
	if c.Attempts < 0 {
		errs = append(errs, fmt.Errorf("attempts must be at least 1, got %d", c.Attempts))
	}
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("interval must not be negative, got %s", c.Interval))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout must not be negative, got %s", c.Timeout))
	}
	for k := range c.Headers {
		if !validToken(k) {
			errs = append(errs, fmt.Errorf("header name %q is not valid", k))
		}
	}
	if strings.ContainsAny(c.Host, " /\r\n\t") {
		errs = append(errs, fmt.Errorf("host %q is not a valid host name", c.Host))
	}
	return errors.Join(errs...)
}

// Methods are the HTTP methods a check may use.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// ValidateURL refuses a check URL that is not absolute http(s) with a host, so
// that a typo fails at plan time instead of after the switch.
func ValidateURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return errors.New("url is required")
	case err != nil:
		return fmt.Errorf("url is not valid: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("url %s must use http or https", u.Redacted())
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("url %s has no host", u.Redacted())
	}
	return nil
}

// HostPlaceholder in a URL stands for each host of a fleet (its name or
// address, without the SSH port): a check whose URL holds it runs once per host.
const HostPlaceholder = "{host}"

// ValidateHostURL is ValidateURL for a URL that may hold HostPlaceholder in
// place of its host name.
func ValidateHostURL(raw string) error {
	if err := ValidateURL(strings.ReplaceAll(raw, HostPlaceholder, "host.invalid")); err != nil {
		return errors.New(strings.ReplaceAll(err.Error(), "host.invalid", HostPlaceholder))
	}
	return nil
}

// ValidateMethod refuses a method a check does not send (methods are case-sensitive).
func ValidateMethod(m string) error {
	for _, ok := range Methods {
		if m == ok {
			return nil
		}
	}
	return fmt.Errorf("method %q is not a valid HTTP method for a check: use one of %s", m, strings.Join(Methods, ", "))
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}

func (c HTTPCheck) withDefaults() HTTPCheck {
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	if c.ExpectStatus == 0 {
		c.ExpectStatus = DefaultExpectStatus
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Run tries the check up to Attempts times with Interval between attempts and
// returns nil on the first success. onAttempt, when not nil, is called after every
// attempt. When every attempt fails the error is a *FailedError; when ctx ends
// first, the error wraps ctx.Err() and says how many attempts were made.
func Run(ctx context.Context, c HTTPCheck, onAttempt func(Attempt)) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("invalid check: %w", err)
	}
	c = c.withDefaults()
	u, _ := url.Parse(c.URL)
	shown := u.Redacted()

	client, err := c.client()
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()

	var last Attempt
	for n := 1; n <= c.Attempts; n++ {
		if n > 1 {
			timer := time.NewTimer(c.Interval)
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("%s %s: stopped after %s (last: %v): %w", c.Method, shown, attempts(n-1), last.Err, ctx.Err())
			case <-timer.C:
			}
		}
		last = c.attempt(ctx, client, n)
		fields := []any{
			"method", c.Method, "url", shown, logging.Attempt, n, "attempts", c.Attempts,
			"status", last.Status, "duration_ms", last.Duration.Milliseconds(),
		}
		if last.Err != nil {
			fields = append(fields, "error", last.Err.Error())
		}
		logging.Info(ctx, "HTTP check attempt", fields...)
		if onAttempt != nil {
			onAttempt(last)
		}
		if last.Err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: stopped after %s (last: %v): %w", c.Method, shown, attempts(n), last.Err, ctx.Err())
		}
	}
	return &FailedError{Method: c.Method, URL: shown, Attempts: c.Attempts, Last: last}
}

// client builds an HTTP client of its own: the default transport is cloned so
// checks do not share connections or TLS settings, and keep-alives are off so
// every attempt opens a fresh connection (what a new visitor would do).
func (c HTTPCheck) client() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone() //nolint:forcetypeassert // the standard library sets an *http.Transport
	tr.DisableKeepAlives = true
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := capool.Load(c.CAFile)
		if err != nil {
			return nil, err
		}
		tlsConf.RootCAs = pool
	}
	if c.Insecure {
		tlsConf.InsecureSkipVerify = true
	}
	if c.Host != "" {
		if h, _, err := net.SplitHostPort(c.Host); err == nil {
			tlsConf.ServerName = h
		} else {
			tlsConf.ServerName = c.Host
		}
	}
	tr.TLSClientConfig = tlsConf
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

func (c HTTPCheck) attempt(ctx context.Context, client *http.Client, n int) Attempt {
	start := time.Now()
	a := Attempt{N: n}

	actx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, c.Method, c.URL, nil)
	if err != nil {
		a.Err = err
		a.Duration = time.Since(start)
		return a
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	resp, err := client.Do(req)
	if err != nil {
		a.Err = describeTransportError(err, c.Timeout)
		a.Duration = time.Since(start)
		return a
	}
	defer resp.Body.Close()
	a.Status = resp.StatusCode
	if resp.StatusCode != c.ExpectStatus {
		a.Err = &attemptError{fmt.Sprintf("answered %d, expected %d", resp.StatusCode, c.ExpectStatus), ErrUnexpectedStatus}
		a.Duration = time.Since(start)
		return a
	}
	if c.BodyContains != "" {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			a.Err = fmt.Errorf("answered %d but reading the body failed: %w", resp.StatusCode, describeTransportError(err, c.Timeout))
			a.Duration = time.Since(start)
			return a
		}
		if !strings.Contains(string(body), c.BodyContains) {
			a.Err = &attemptError{fmt.Sprintf("answered %d but the body does not contain %q", resp.StatusCode, c.BodyContains), ErrBodyMismatch}
			a.Duration = time.Since(start)
			return a
		}
	}
	a.Duration = time.Since(start)
	return a
}

// attemptError reads as a sentence and matches one of the sentinel errors.
type attemptError struct {
	msg  string
	kind error
}

func (e *attemptError) Error() string { return e.msg }
func (e *attemptError) Unwrap() error { return e.kind }

// describeTransportError turns client errors into short sentences, without the
// URL (the caller's message already names it).
func describeTransportError(err error, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
		return fmt.Errorf("did not answer within %s: %w", timeout, err)
	}
	return fmt.Errorf("failed: %w", err)
}
