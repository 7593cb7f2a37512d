// Package scalingo is a small client for the Scalingo platform API: token exchange,
// apps, source uploads, deployments and their output, environment variables, restarts
// and their operations, one-off commands, addons and database backups through the
// database API, and the rules Scalingo sets for source archives and git_ref.
//
// Method names follow github.com/Scalingo/go-scalingo (TokenExchange, AppsShow,
// DeploymentsCreate, VariableMultipleSet, BackupCreate, ...) so that moving to that
// library later is mechanical. Requests retry on 429 and 5xx answers with backoff,
// never on other 4xx answers; every request to the API goes through the client's
// request budget (Scalingo allows 60 requests per minute per token), shared by
// all its users, and a 429 pauses them all for its Retry-After. The API token and the bearer tokens derived from it
// never appear in logs or errors.
package scalingo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// DefaultRegion is the region used when neither Region nor endpoints are given.
const DefaultRegion = "osc-fr1"

// DefaultAuthEndpoint serves token exchanges for every region.
const DefaultAuthEndpoint = "https://auth.scalingo.com"

// tokenRefreshMargin is how long before its exp a bearer token is replaced, so a
// request never leaves with a token about to expire in flight.
const tokenRefreshMargin = 2 * time.Minute

// ClientConfig configures a Client. Only APIToken is required.
type ClientConfig struct {
	// APIToken is the user's API token (tk-us-...). Sensitive.
	APIToken string
	// Region selects https://api.<region>.scalingo.com and
	// https://db-api.<region>.scalingo.com ("osc-fr1", "osc-secnum-fr1").
	Region string
	// APIEndpoint overrides the regional API URL (without /v1).
	APIEndpoint string
	// AuthEndpoint overrides https://auth.scalingo.com.
	AuthEndpoint string
	// DatabaseAPIEndpoint overrides the regional database API URL (without /api).
	DatabaseAPIEndpoint string
	// UserAgent is sent with every request.
	UserAgent string
	// HTTPClient carries the requests; nil uses a clean client with a 60s timeout.
	HTTPClient *http.Client
	// RetryMax is how many times a 429/5xx answer is retried (default 4).
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between retries
	// (defaults 500ms and 15s). A Retry-After header on 429/503 takes precedence.
	RetryWaitMin, RetryWaitMax time.Duration
	// RateLimit and RateWindow are the API's request budget shared by every
	// user of the client (default 60 per minute, Scalingo's; a negative
	// RateLimit: no budget). Retries count; a 429 pauses every request for its
	// Retry-After.
	RateLimit  int
	RateWindow time.Duration
	// Logger, when set, receives one line per retried request (never secrets).
	// When nil, the line goes to internal/logging with the request's context, so
	// it reaches the operation that made the request even on a shared client.
	Logger func(msg string, fields map[string]any)
}

// Client talks to one Scalingo region. It is safe for concurrent use.
type Client struct {
	cfg      ClientConfig
	apiURL   string
	authURL  string
	dbAPIURL string
	http     *retryablehttp.Client
	now      func() time.Time
	limiter  *limiter

	mu          sync.Mutex
	bearer      string
	bearerExp   time.Time
	addonTokens map[string]cachedToken
}

type cachedToken struct {
	token string
	exp   time.Time
}

// New validates cfg and returns a client. It does not contact the API: the first
// request exchanges the API token for a bearer token.
func New(_ context.Context, cfg ClientConfig) (*Client, error) {
	if strings.TrimSpace(cfg.APIToken) == "" {
		return nil, errors.New("no Scalingo API token: set api_token in the provider's scalingo block or SCALINGO_API_TOKEN")
	}
	region := cfg.Region
	if region == "" {
		region = DefaultRegion
	}
	c := &Client{
		cfg:         cfg,
		apiURL:      strings.TrimRight(cfg.APIEndpoint, "/"),
		authURL:     strings.TrimRight(cfg.AuthEndpoint, "/"),
		dbAPIURL:    strings.TrimRight(cfg.DatabaseAPIEndpoint, "/"),
		now:         time.Now,
		addonTokens: map[string]cachedToken{},
	}
	if c.apiURL == "" {
		c.apiURL = "https://api." + region + ".scalingo.com"
	}
	if c.authURL == "" {
		c.authURL = DefaultAuthEndpoint
	}
	if c.dbAPIURL == "" {
		c.dbAPIURL = "https://db-api." + region + ".scalingo.com"
	}
	for name, u := range map[string]string{"api_url": c.apiURL, "auth_url": c.authURL, "db_api_url": c.dbAPIURL} {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("invalid Scalingo %s %q: want an absolute http(s) URL", name, u)
		}
	}

	c.limiter = newLimiter(cfg.RateLimit, cfg.RateWindow)
	c.http = c.retryingClient(cfg)
	return c, nil
}

// retryingClient is the HTTP client of c: retries with backoff, and the
// request budget on every request to the API host.
func (c *Client) retryingClient(cfg ClientConfig) *retryablehttp.Client {
	rc := retryablehttp.NewClient()
	rc.Logger = nil // retryablehttp logs URLs, and source URLs carry tokens
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		rc.HTTPClient = &hc
	} else {
		rc.HTTPClient.Timeout = 60 * time.Second
	}
	base := rc.HTTPClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	apiHost := ""
	if u, err := url.Parse(c.apiURL); err == nil {
		apiHost = u.Host
	}
	rc.HTTPClient.Transport = &limitedTransport{base: base, host: apiHost, limiter: c.limiter}
	rc.RetryMax = 4
	if cfg.RetryMax > 0 {
		rc.RetryMax = cfg.RetryMax
	} else if cfg.RetryMax < 0 {
		rc.RetryMax = 0
	}
	rc.RetryWaitMin = 500 * time.Millisecond
	if cfg.RetryWaitMin > 0 {
		rc.RetryWaitMin = cfg.RetryWaitMin
	}
	rc.RetryWaitMax = 15 * time.Second
	if cfg.RetryWaitMax > 0 {
		rc.RetryWaitMax = cfg.RetryWaitMax
	}
	rc.CheckRetry = checkRetry
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, attempt int) {
		switch {
		case attempt == 0:
		case cfg.Logger != nil:
			cfg.Logger("Retrying Scalingo API request", map[string]any{
				"method": req.Method, "path": req.URL.Path, "attempt": attempt,
			})
		default:
			logging.Info(req.Context(), "Retrying Scalingo API request", "method", req.Method, "path", req.URL.Path, logging.Attempt, attempt)
		}
	}
	return rc
}

// APIEndpoint is the API base URL in use.
func (c *Client) APIEndpoint() string { return c.apiURL }

// checkRetry retries 429 and 5xx answers and transport errors, never other 4xx.
// A POST is only retried when the server says it did not process it (429, 502,
// 503), so a deployment is never created twice.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	code := resp.StatusCode
	if code == http.StatusTooManyRequests {
		return true, nil
	}
	if resp.Request != nil && resp.Request.Method == http.MethodPost {
		return code == http.StatusBadGateway || code == http.StatusServiceUnavailable, nil
	}
	return code >= 500 && code != http.StatusNotImplemented, nil
}

// apiRequest describes one call.
type apiRequest struct {
	method   string
	base     string // c.apiURL, c.dbAPIURL or c.authURL
	path     string // e.g. /v1/apps/x
	query    url.Values
	body     any // JSON-encoded when not nil
	expected []int
	// auth: "bearer" (default), "addon:<app>/<id>", "basic" (token exchange), "none"
	auth string
}

func (c *Client) do(ctx context.Context, r apiRequest, out any) (*http.Response, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return resp, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(out); err != nil {
		return nil, fmt.Errorf("%s %s: unreadable answer from the Scalingo API: %w", r.method, r.path, err)
	}
	return resp, nil
}

// doObject performs r and returns the object its JSON answer holds under key.
// An answer without that object, or with one that complete (when set) finds
// unusable, is an error naming the request and what was missing.
func doObject[T any](ctx context.Context, c *Client, r apiRequest, key, missing string, complete func(*T) bool) (*T, error) {
	var res map[string]json.RawMessage
	if _, err := c.do(ctx, r, &res); err != nil {
		return nil, err
	}
	var obj *T
	if raw, ok := res[key]; ok {
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("%s %s: unreadable answer from the Scalingo API: %w", r.method, r.path, err)
		}
	}
	if obj == nil || (complete != nil && !complete(obj)) {
		return nil, fmt.Errorf("%s %s: answer without %s", r.method, r.path, missing)
	}
	return obj, nil
}

// send performs the request and returns the response when its status is expected;
// otherwise an error built from the body. A 401 on a bearer-authenticated request
// refreshes the token once and tries again.
func (c *Client) send(ctx context.Context, r apiRequest) (*http.Response, error) {
	resp, err := c.sendThrottled(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && r.auth != "basic" && r.auth != "none" {
		resp.Body.Close()
		c.invalidate(r.auth)
		resp, err = c.sendThrottled(ctx, r)
		if err != nil {
			return nil, err
		}
	}
	expected := r.expected
	if len(expected) == 0 {
		expected = []int{http.StatusOK}
	}
	for _, e := range expected {
		if resp.StatusCode == e {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, newRequestFailedError(resp, r.method, r.path)
}

// maxThrottledRounds bounds how many times a request still answered 429 after
// its retries is sent again (each time after the Retry-After pause).
const maxThrottledRounds = 50

// sendThrottled sends the request again while the API answers 429 once its
// retries are spent: the budget waits for Retry-After, so a deployment never
// fails for the rate limit before its own timeout.
func (c *Client) sendThrottled(ctx context.Context, r apiRequest) (*http.Response, error) {
	for round := 0; ; round++ {
		resp, err := c.sendOnce(ctx, r)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || round >= maxThrottledRounds || ctx.Err() != nil {
			return resp, err
		}
		wait := retryAfter(resp, time.Second)
		resp.Body.Close()
		c.limiter.pause(wait)
		if c.limiter == nil {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%s %s: %w", r.method, r.path, ctx.Err())
			case <-time.After(wait):
			}
		}
	}
}

func (c *Client) sendOnce(ctx context.Context, r apiRequest) (*http.Response, error) {
	u := r.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body any
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	switch {
	case r.auth == "none":
	case r.auth == "basic":
		req.SetBasicAuth("", c.cfg.APIToken)
	case strings.HasPrefix(r.auth, "addon:"):
		app, addon, _ := strings.Cut(strings.TrimPrefix(r.auth, "addon:"), "/")
		tok, err := c.addonBearer(ctx, app, addon)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	default:
		tok, err := c.bearerToken(ctx)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(r.method, r.path, err)
	}
	return resp, nil
}

// transportError drops the URL (it may carry a pre-signed token) from net errors.
func transportError(method, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return fmt.Errorf("%s %s: cannot reach the Scalingo API: %w", method, path, err)
}

// TokenExchange trades the configured API token for a bearer token (a JWT valid one
// hour) and caches it. Most callers never need it: every request refreshes the
// bearer token itself before it expires.
func (c *Client) TokenExchange(ctx context.Context) (string, error) {
	var res struct {
		Token string `json:"token"`
	}
	_, err := c.do(ctx, apiRequest{
		method: http.MethodPost, base: c.authURL, path: "/v1/tokens/exchange",
		auth: "basic", expected: []int{http.StatusOK, http.StatusCreated},
	}, &res)
	if err != nil {
		var rf *RequestFailedError
		if errors.As(err, &rf) && rf.Code == http.StatusUnauthorized {
			return "", fmt.Errorf("the Scalingo API token was refused (401): check api_token or SCALINGO_API_TOKEN: %w", err)
		}
		return "", err
	}
	if res.Token == "" {
		return "", errors.New("the Scalingo token exchange answered without a token")
	}
	exp, ok := jwtExpiry(res.Token)
	if !ok {
		exp = c.now().Add(time.Hour)
	}
	c.mu.Lock()
	c.bearer, c.bearerExp = res.Token, exp
	c.mu.Unlock()
	return res.Token, nil
}

func (c *Client) bearerToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	tok, exp := c.bearer, c.bearerExp
	c.mu.Unlock()
	if tok != "" && c.now().Add(tokenRefreshMargin).Before(exp) {
		return tok, nil
	}
	return c.TokenExchange(ctx)
}

func (c *Client) invalidate(auth string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.HasPrefix(auth, "addon:") {
		delete(c.addonTokens, strings.TrimPrefix(auth, "addon:"))
		return
	}
	c.bearer = ""
}

// jwtExpiry reads the exp claim of a JWT without verifying its signature: the client
// only uses it to know when to ask for a new one.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims.Exp == "" {
		return time.Time{}, false
	}
	f, err := claims.Exp.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}
