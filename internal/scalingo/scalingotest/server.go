// Package scalingotest is an in-process fake of the Scalingo API, its token
// exchange and its database API, for unit and acceptance tests. It implements the
// documented endpoints the scalingo client uses with realistic state machines:
// deployments go queued → building → pushing → starting → success (or a chosen error
// status) with an output log, uploaded sources keep their bytes, variables have ids,
// restarts and backups are asynchronous operations, and bearer tokens are JWTs with
// an exp. It rejects what the real API rejects: no or bad authentication (401),
// unknown apps (404), invalid bodies (422).
//
// Test hooks inject 429/5xx answers, make the next deployment, restart or backup
// fail, deploy "by hand" (drift), expire tokens and inspect the calls received.
package scalingotest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options tune a fake server. The zero value is fine.
type Options struct {
	// APIToken is the API token the fake accepts (default: a random tk-us-... token).
	APIToken string
	// TokenTTL is the lifetime of bearer tokens (default one hour, like Scalingo).
	TokenTTL time.Duration
	// StepDuration is how long each asynchronous step lasts (a deployment status, a
	// restart or backup state); default 10ms.
	StepDuration time.Duration
}

// Call is one request the fake received (the query string is dropped).
type Call struct {
	Method string
	Path   string
	Status int
}

// Server is a running fake. Its URL serves the API, the auth service and the
// database API at once: /v1/tokens/exchange, /v1/... and /api/databases/....
type Server struct {
	*httptest.Server
	APIToken string

	opts Options
	key  []byte

	mu          sync.Mutex
	nextID      int
	revokedUpTo int // bearer tokens with a jti at or below are refused
	apps        map[string]*app
	sources     map[string]*source
	addons      map[string]*addon
	calls       []Call
	faults      []int
	exchanges   int
}

type app struct {
	id          string
	name        string
	createdAt   time.Time
	deployments []*deployment // oldest first
	variables   []*variable
	operations  map[string]*operation
	addons      []string
	runningEnv  map[string]string
	restarts    int
	failDeploy  string
	failRestart string
}

type deployment struct {
	id        string
	app       *app
	gitRef    string
	sourceURL string
	source    []byte
	fetchErr  string
	createdAt time.Time
	fail      string // final error status, "" for success
	byHand    bool
}

type variable struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

type operation struct {
	id        string
	createdAt time.Time
	fail      string
	env       map[string]string
	applied   bool
}

type source struct {
	id            string
	uploadToken   string
	downloadToken string
	data          []byte
	uploaded      bool
}

type addon struct {
	id         string
	app        *app
	provider   string
	backups    []*backup
	failBackup bool
}

type backup struct {
	id        string
	createdAt time.Time
	fail      bool
}

// NewServer starts a fake with no apps and stops it when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.APIToken == "" {
		opts.APIToken = "tk-us-" + randomHex(16)
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.StepDuration == 0 {
		opts.StepDuration = 10 * time.Millisecond
	}
	s := &Server{
		APIToken: opts.APIToken,
		opts:     opts,
		key:      []byte(randomHex(32)),
		apps:     map[string]*app{},
		sources:  map[string]*source{},
		addons:   map[string]*addon{},
	}
	s.Server = httptest.NewServer(s.routes())
	t.Cleanup(s.Close)
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) id(prefix string) string {
	s.nextID++
	return fmt.Sprintf("%s-%06d-%s", prefix, s.nextID, randomHex(4))
}

// ---- test hooks -------------------------------------------------------------

// CreateApp adds an app (with no deployment) and returns its id.
func (s *Server) CreateApp(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &app{id: s.id("app"), name: name, createdAt: time.Now(), operations: map[string]*operation{}, runningEnv: map[string]string{}}
	s.apps[name] = a
	return a.id
}

// AddAddon attaches an addon of the given provider ("postgresql", "mysql",
// "redis") to an app and returns its id.
func (s *Server) AddAddon(appName, provider string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustApp(appName)
	ad := &addon{id: s.id("ad"), app: a, provider: provider}
	s.addons[ad.id] = ad
	a.addons = append(a.addons, ad.id)
	return ad.id
}

// FailNext makes the next n requests, whatever they are, answer status
// (429 or 5xx typically) before doing anything.
func (s *Server) FailNext(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.faults = append(s.faults, status)
	}
}

// FailNextDeployment makes the next deployment of app end in status
// ("build-error", "crashed-error", "timeout-error", "hook-error", "aborted").
func (s *Server) FailNextDeployment(appName, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustApp(appName).failDeploy = status
}

// FailNextRestart makes the next restart operation of app end in error with msg.
func (s *Server) FailNextRestart(appName, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustApp(appName).failRestart = msg
}

// FailNextBackup makes the next backup of the addon end in error.
func (s *Server) FailNextBackup(addonID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addons[addonID].failBackup = true
}

// DeployByHand records a successful deployment of gitRef made outside the code
// under test (someone ran `git push scalingo` or used the dashboard), and returns its id.
func (s *Server) DeployByHand(appName, gitRef string, archive []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustApp(appName)
	d := &deployment{id: s.id("dep"), app: a, gitRef: gitRef, source: archive, byHand: true,
		createdAt: time.Now().Add(-10 * s.opts.StepDuration)}
	a.deployments = append(a.deployments, d)
	a.runningEnv = variablesMap(a.variables)
	return d.id
}

// SetVariable changes a variable by hand (as in the dashboard), without restarting.
func (s *Server) SetVariable(appName, name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustApp(appName)
	s.upsertVariable(a, name, value)
}

// ExpireTokens makes every bearer token issued so far invalid (401), as if their
// hour had passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokedUpTo = s.nextID
}

// Calls returns the requests received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CountCalls counts the requests received with that method whose path starts with
// prefix.
func (s *Server) CountCalls(method, prefix string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Method == method && strings.HasPrefix(c.Path, prefix) {
			n++
		}
	}
	return n
}

// Exchanges counts successful token exchanges.
func (s *Server) Exchanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exchanges
}

// DeploymentInfo describes a deployment for assertions.
type DeploymentInfo struct {
	ID        string
	GitRef    string
	Status    string
	SourceURL string
	Source    []byte
	ByHand    bool
}

// Deployments returns the deployments of an app, oldest first.
func (s *Server) Deployments(appName string) []DeploymentInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustApp(appName)
	out := make([]DeploymentInfo, 0, len(a.deployments))
	for _, d := range a.deployments {
		st, _ := s.deploymentState(d)
		out = append(out, DeploymentInfo{ID: d.id, GitRef: d.gitRef, Status: st, SourceURL: d.sourceURL,
			Source: append([]byte(nil), d.source...), ByHand: d.byHand})
	}
	return out
}

// LiveVersion is the git_ref of the app's last successful deployment ("" if none).
func (s *Server) LiveVersion(appName string) string {
	ds := s.Deployments(appName)
	for i := len(ds) - 1; i >= 0; i-- {
		if ds[i].Status == "success" {
			return ds[i].GitRef
		}
	}
	return ""
}

// Variables returns the app's variables by name.
func (s *Server) Variables(appName string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return variablesMap(s.mustApp(appName).variables)
}

// RunningEnv returns the variables the app's containers run with: those in place at
// the last finished restart or successful deployment.
func (s *Server) RunningEnv(appName string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustApp(appName)
	s.settle(a)
	out := map[string]string{}
	for k, v := range a.runningEnv {
		out[k] = v
	}
	return out
}

// Restarts counts the restart operations requested for an app.
func (s *Server) Restarts(appName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustApp(appName).restarts
}

// BackupInfo describes a database backup for assertions.
type BackupInfo struct {
	ID     string
	Status string
}

// Backups returns an addon's backups, oldest first.
func (s *Server) Backups(addonID string) []BackupInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	ad := s.addons[addonID]
	out := []BackupInfo{}
	for _, b := range ad.backups {
		out = append(out, BackupInfo{ID: b.id, Status: s.backupStatus(b)})
	}
	return out
}

func (s *Server) mustApp(name string) *app {
	a, ok := s.apps[name]
	if !ok {
		panic("scalingotest: no app " + name + " (call CreateApp first)")
	}
	return a
}

func variablesMap(vs []*variable) map[string]string {
	m := map[string]string{}
	for _, v := range vs {
		m[v.Name] = v.Value
	}
	return m
}

// ---- state machines ----------------------------------------------------------

// deploymentState returns the status reached by now and the output so far.
func (s *Server) deploymentState(d *deployment) (string, string) {
	step := int(time.Since(d.createdAt) / s.opts.StepDuration)
	var out strings.Builder
	fmt.Fprintf(&out, "-----> Deployment %s of %s (git_ref %s)\n", d.id, d.app.name, d.gitRef)
	if d.byHand {
		out.WriteString("-----> Pushed by hand\n")
		step = 4
	}
	fail := d.fail
	if d.fetchErr != "" {
		fail = "build-error"
	}
	if step < 1 {
		return "queued", out.String()
	}
	if fail == "aborted" {
		out.WriteString(" !     Deployment aborted by a user\n")
		return "aborted", out.String()
	}
	out.WriteString("-----> Fetching source code\n")
	if d.fetchErr != "" {
		fmt.Fprintf(&out, " !     %s\n", d.fetchErr)
		if step < 2 {
			return "building", out.String()
		}
		out.WriteString(" !     Build failed\n")
		return "build-error", out.String()
	}
	fmt.Fprintf(&out, "       %d bytes received\n-----> Building with the buildpack\n", len(d.source))
	if step < 2 {
		return "building", out.String()
	}
	if fail == "build-error" {
		out.WriteString(" !     ERROR: composer install failed (exit status 1)\n !     Build failed\n")
		return "build-error", out.String()
	}
	out.WriteString(" Build complete, shipping your container...\n")
	if step < 3 {
		return "pushing", out.String()
	}
	out.WriteString(" Waiting for your application to boot...\n")
	if fail == "hook-error" {
		out.WriteString(" !     postdeploy hook failed: php bin/console doctrine:migrations:migrate exited with 1\n")
	}
	if step < 4 {
		return "starting", out.String()
	}
	switch fail {
	case "":
		fmt.Fprintf(&out, " <-- https://%s.osc-fr1.scalingo.io -->\n", d.app.name)
		return "success", out.String()
	case "crashed-error":
		out.WriteString(" !     Your application crashed while booting: web-1 exited with status 255\n")
	case "timeout-error":
		out.WriteString(" !     Your application did not bind to $PORT within 60 seconds\n")
	}
	return fail, out.String()
}

func (s *Server) operationStatus(op *operation) string {
	step := int(time.Since(op.createdAt) / s.opts.StepDuration)
	switch {
	case step < 1:
		return "pending"
	case step < 2:
		return "running"
	case op.fail != "":
		return "error"
	}
	return "done"
}

func (s *Server) backupStatus(b *backup) string {
	step := int(time.Since(b.createdAt) / s.opts.StepDuration)
	switch {
	case step < 1:
		return "pending"
	case step < 2:
		return "running"
	case b.fail:
		return "error"
	}
	return "done"
}

// settle applies the environment of finished restarts and successful deployments
// in the order they happened.
func (s *Server) settle(a *app) {
	type ev struct {
		at  time.Time
		env map[string]string
	}
	var evs []ev
	for _, op := range a.operations {
		if !op.applied && s.operationStatus(op) == "done" {
			op.applied = true
			evs = append(evs, ev{op.createdAt, op.env})
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	for _, e := range evs {
		a.runningEnv = e.env
	}
}

// ---- HTTP -------------------------------------------------------------------

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/tokens/exchange", s.tokenExchange)
	mux.HandleFunc("POST /v1/sources", s.auth(s.sourcesCreate))
	mux.HandleFunc("PUT /v1/sources/{id}", s.sourceUpload)
	mux.HandleFunc("GET /v1/sources/{id}", s.sourceDownload)
	mux.HandleFunc("GET /v1/apps/{app}", s.auth(s.withApp(s.appShow)))
	mux.HandleFunc("POST /v1/apps/{app}/deployments", s.auth(s.withApp(s.deploymentsCreate)))
	mux.HandleFunc("GET /v1/apps/{app}/deployments", s.auth(s.withApp(s.deploymentsList)))
	mux.HandleFunc("GET /v1/apps/{app}/deployments/{id}", s.auth(s.withApp(s.deploymentShow)))
	mux.HandleFunc("GET /v1/apps/{app}/deployments/{id}/output", s.auth(s.withApp(s.deploymentOutput)))
	mux.HandleFunc("GET /v1/apps/{app}/variables", s.auth(s.withApp(s.variablesList)))
	mux.HandleFunc("PUT /v1/apps/{app}/variables", s.auth(s.withApp(s.variablesSet)))
	mux.HandleFunc("DELETE /v1/apps/{app}/variables/{id}", s.auth(s.withApp(s.variableUnset)))
	mux.HandleFunc("POST /v1/apps/{app}/restart", s.auth(s.withApp(s.restart)))
	mux.HandleFunc("GET /v1/apps/{app}/operations/{id}", s.auth(s.withApp(s.operationShow)))
	mux.HandleFunc("GET /v1/apps/{app}/addons", s.auth(s.withApp(s.addonsList)))
	mux.HandleFunc("POST /v1/apps/{app}/addons/{id}/token", s.auth(s.withApp(s.addonToken)))
	mux.HandleFunc("POST /api/databases/{id}/backups", s.dbAuth(s.backupCreate))
	mux.HandleFunc("GET /api/databases/{id}/backups", s.dbAuth(s.backupList))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no route " + r.Method + " " + r.URL.Path})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		s.mu.Lock()
		fault := 0
		if len(s.faults) > 0 {
			fault, s.faults = s.faults[0], s.faults[1:]
		}
		s.mu.Unlock()
		if fault != 0 {
			writeJSON(rec, fault, map[string]string{"error": http.StatusText(fault)})
		} else {
			mux.ServeHTTP(rec, r)
		}
		s.mu.Lock()
		s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Status: rec.status})
		s.mu.Unlock()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func unprocessable(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string][]string{field: {msg}}})
}

// ---- tokens -----------------------------------------------------------------

func (s *Server) sign(claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	msg := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

// verify checks a bearer token's signature, expiry and revocation, returning its
// scope ("user" or "addon:<id>").
func (s *Server) verify(token string) (string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Exp   int64  `json:"exp"`
		JTI   int    `json:"jti"`
		Scope string `json:"scope"`
	}
	if json.Unmarshal(raw, &c) != nil || time.Now().Unix() >= c.Exp {
		return "", false
	}
	s.mu.Lock()
	revoked := c.JTI <= s.revokedUpTo
	s.mu.Unlock()
	if revoked {
		return "", false
	}
	return c.Scope, true
}

func (s *Server) issue(scope string) string {
	s.mu.Lock()
	s.nextID++
	jti := s.nextID
	s.mu.Unlock()
	now := time.Now()
	return s.sign(map[string]any{"iss": "scalingotest", "iat": now.Unix(), "exp": now.Add(s.opts.TokenTTL).Unix(), "jti": jti, "scope": scope})
}

func (s *Server) tokenExchange(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != "" || pass != s.APIToken {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid credentials"})
		return
	}
	tok := s.issue("user")
	s.mu.Lock()
	s.exchanges++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "you need to be authenticated to access this resource"})
			return
		}
		if scope, ok := s.verify(tok); !ok || scope != "user" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "token invalid or expired"})
			return
		}
		next(w, r)
	}
}

type appHandler func(w http.ResponseWriter, r *http.Request, a *app)

func (s *Server) withApp(next appHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		a, ok := s.apps[r.PathValue("app")]
		s.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"resource": "app", "error": "not found"})
			return
		}
		next(w, r, a)
	}
}

func (s *Server) dbAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		scope, ok := s.verify(tok)
		if tok == "" || !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "token invalid or expired"})
			return
		}
		if scope != "addon:"+r.PathValue("id") {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "this token does not give access to this database"})
			return
		}
		next(w, r)
	}
}

// ---- apps, sources, deployments ----------------------------------------------

func (s *Server) appJSON(a *app) map[string]any {
	return map[string]any{"id": a.id, "name": a.name, "created_at": a.createdAt.Format(time.RFC3339),
		"url": "https://" + a.name + ".osc-fr1.scalingo.io", "status": "running"}
}

func (s *Server) appShow(w http.ResponseWriter, _ *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"app": s.appJSON(a)})
}

func (s *Server) sourcesCreate(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	src := &source{id: s.id("src"), uploadToken: randomHex(16), downloadToken: randomHex(16)}
	s.sources[src.id] = src
	s.mu.Unlock()
	base := s.URL + "/v1/sources/" + src.id
	writeJSON(w, http.StatusOK, map[string]any{"source": map[string]string{
		"upload_url": base + "?token=" + src.uploadToken, "download_url": base + "?token=" + src.downloadToken}})
}

func (s *Server) sourceUpload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	src, ok := s.sources[r.PathValue("id")]
	s.mu.Unlock()
	if !ok || r.URL.Query().Get("token") != src.uploadToken {
		http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 512<<20))
	if err != nil {
		http.Error(w, "upload interrupted", http.StatusBadRequest)
		return
	}
	if r.ContentLength >= 0 && int64(len(data)) != r.ContentLength {
		http.Error(w, "body shorter than Content-Length", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	src.data, src.uploaded = data, true
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *Server) sourceDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	src, ok := s.sources[r.PathValue("id")]
	s.mu.Unlock()
	if !ok || r.URL.Query().Get("token") != src.downloadToken || !src.uploaded {
		http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/x-gzip")
	_, _ = w.Write(src.data)
}

// fetch downloads a deployment's source the way the builder does.
func (s *Server) fetch(sourceURL string) ([]byte, string) {
	var data []byte
	if strings.HasPrefix(sourceURL, s.URL+"/v1/sources/") {
		rest := strings.TrimPrefix(sourceURL, s.URL+"/v1/sources/")
		id, query, _ := strings.Cut(rest, "?")
		s.mu.Lock()
		src, ok := s.sources[id]
		s.mu.Unlock()
		if !ok || query != "token="+src.downloadToken || !src.uploaded {
			return nil, "Fail to fetch source code: 403 Forbidden"
		}
		data = src.data
	} else if strings.HasPrefix(sourceURL, "http://") || strings.HasPrefix(sourceURL, "https://") {
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(sourceURL)
		if err != nil {
			return nil, "Fail to fetch source code: the URL cannot be reached"
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, "Fail to fetch source code: " + resp.Status
		}
		data, _ = io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	} else {
		return nil, "Fail to fetch source code: unsupported URL scheme"
	}
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return data, "Fail to extract the archive: gzip: invalid header"
	}
	return data, ""
}

func (s *Server) deploymentsCreate(w http.ResponseWriter, r *http.Request, a *app) {
	var body struct {
		Deployment *struct {
			GitRef    *string `json:"git_ref"`
			SourceURL string  `json:"source_url"`
		} `json:"deployment"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body"})
		return
	}
	if body.Deployment == nil {
		unprocessable(w, "deployment", "is missing")
		return
	}
	if strings.TrimSpace(body.Deployment.SourceURL) == "" {
		unprocessable(w, "source_url", "can't be blank")
		return
	}
	data, fetchErr := s.fetch(body.Deployment.SourceURL)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &deployment{id: s.id("dep"), app: a, sourceURL: body.Deployment.SourceURL, source: data, fetchErr: fetchErr,
		createdAt: time.Now(), fail: a.failDeploy}
	if body.Deployment.GitRef != nil {
		d.gitRef = *body.Deployment.GitRef
	}
	a.failDeploy = ""
	a.deployments = append(a.deployments, d)
	writeJSON(w, http.StatusCreated, map[string]any{"deployment": s.deploymentJSON(d)})
}

func (s *Server) deploymentJSON(d *deployment) map[string]any {
	st, _ := s.deploymentState(d)
	return map[string]any{
		"id": d.id, "app_id": d.app.id, "created_at": d.createdAt.Format(time.RFC3339Nano), "status": st,
		"git_ref": d.gitRef, "duration": int(time.Since(d.createdAt).Seconds()),
		"pusher": map[string]string{"username": "release", "email": "release@example.org"},
		"links":  map[string]string{"output": s.URL + "/v1/apps/" + d.app.name + "/deployments/" + d.id + "/output"},
	}
}

func (s *Server) findDeployment(w http.ResponseWriter, r *http.Request, a *app) *deployment {
	id := r.PathValue("id")
	for _, d := range a.deployments {
		if d.id == id {
			return d
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"resource": "deployment", "error": "not found"})
	return nil
}

func (s *Server) deploymentsList(w http.ResponseWriter, r *http.Request, a *app) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if page < 1 {
		page = 1
	}
	if perPage < 1 || perPage > 50 {
		perPage = 20
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]map[string]any, 0, len(a.deployments))
	for i := len(a.deployments) - 1; i >= 0; i-- {
		all = append(all, s.deploymentJSON(a.deployments[i]))
	}
	total := (len(all) + perPage - 1) / perPage
	from := min((page-1)*perPage, len(all))
	to := min(from+perPage, len(all))
	next := 0
	if page < total {
		next = page + 1
	}
	writeJSON(w, http.StatusOK, map[string]any{"deployments": all[from:to], "meta": map[string]any{"pagination": map[string]any{
		"prev_page": page - 1, "current_page": page, "next_page": next, "total_pages": total, "total_count": len(all)}}})
}

func (s *Server) deploymentShow(w http.ResponseWriter, r *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.findDeployment(w, r, a); d != nil {
		writeJSON(w, http.StatusOK, map[string]any{"deployment": s.deploymentJSON(d)})
	}
}

func (s *Server) deploymentOutput(w http.ResponseWriter, r *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.findDeployment(w, r, a); d != nil {
		_, out := s.deploymentState(d)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, out)
	}
}

// ---- variables, restarts, operations -----------------------------------------

var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (s *Server) variablesList(w http.ResponseWriter, _ *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"variables": append([]*variable{}, a.variables...)})
}

func (s *Server) upsertVariable(a *app, name, value string) *variable {
	for _, v := range a.variables {
		if v.Name == name {
			v.Value = value
			return v
		}
	}
	v := &variable{ID: s.id("var"), Name: name, Value: value}
	a.variables = append(a.variables, v)
	return v
}

func (s *Server) variablesSet(w http.ResponseWriter, r *http.Request, a *app) {
	var body struct {
		Variables []struct {
			Name  *string `json:"name"`
			Value *string `json:"value"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body"})
		return
	}
	if len(body.Variables) == 0 {
		unprocessable(w, "variables", "can't be blank")
		return
	}
	for _, v := range body.Variables {
		if v.Name == nil || *v.Name == "" {
			unprocessable(w, "name", "can't be blank")
			return
		}
		if !variableName.MatchString(*v.Name) {
			unprocessable(w, "name", "must only contain letters, digits and underscores, and not start with a digit")
			return
		}
		if v.Value == nil {
			unprocessable(w, "value", "can't be blank")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*variable{}
	for _, v := range body.Variables {
		out = append(out, s.upsertVariable(a, *v.Name, *v.Value))
	}
	writeJSON(w, http.StatusOK, map[string]any{"variables": out})
}

func (s *Server) variableUnset(w http.ResponseWriter, r *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	for i, v := range a.variables {
		if v.ID == id {
			a.variables = append(a.variables[:i], a.variables[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"resource": "variable", "error": "not found"})
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request, a *app) {
	var body struct {
		Scope []string `json:"scope"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body"})
			return
		}
	}
	for _, sc := range body.Scope {
		if sc != "web" && sc != "worker" && sc != "clock" {
			unprocessable(w, "scope", "container type "+sc+" does not exist")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	op := &operation{id: s.id("op"), createdAt: time.Now(), fail: a.failRestart, env: variablesMap(a.variables)}
	a.failRestart = ""
	a.operations[op.id] = op
	a.restarts++
	w.Header().Set("Location", s.URL+"/v1/apps/"+a.name+"/operations/"+op.id)
	writeJSON(w, http.StatusAccepted, map[string]any{})
}

func (s *Server) operationShow(w http.ResponseWriter, r *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := a.operations[r.PathValue("id")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"resource": "operation", "error": "not found"})
		return
	}
	s.settle(a)
	st := s.operationStatus(op)
	res := map[string]any{"id": op.id, "created_at": op.createdAt.Format(time.RFC3339Nano), "status": st, "type": "restart"}
	if st == "done" || st == "error" {
		res["finished_at"] = op.createdAt.Add(2 * s.opts.StepDuration).Format(time.RFC3339Nano)
	}
	if st == "error" {
		res["error"] = op.fail
	}
	writeJSON(w, http.StatusOK, map[string]any{"operation": res})
}

// ---- addons and the database API ---------------------------------------------

func (s *Server) addonsList(w http.ResponseWriter, _ *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, id := range a.addons {
		ad := s.addons[id]
		out = append(out, map[string]any{"id": ad.id, "app_id": a.id, "resource_id": a.name + "-" + ad.provider,
			"status": "running", "addon_provider": map[string]string{"id": ad.provider, "name": ad.provider}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"addons": out})
}

func (s *Server) addonToken(w http.ResponseWriter, r *http.Request, a *app) {
	s.mu.Lock()
	ad, ok := s.addons[r.PathValue("id")]
	s.mu.Unlock()
	if !ok || ad.app != a {
		writeJSON(w, http.StatusNotFound, map[string]string{"resource": "addon", "error": "not found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"addon": map[string]string{"token": s.issue("addon:" + ad.id)}})
}

func (s *Server) backupJSON(ad *addon, b *backup) map[string]any {
	st := s.backupStatus(b)
	size := 0
	if st == "done" {
		size = 4096
	}
	return map[string]any{"id": b.id, "created_at": b.createdAt.Format(time.RFC3339Nano), "started_at": b.createdAt.Format(time.RFC3339Nano),
		"name": b.createdAt.UTC().Format("20060102150405") + "_" + ad.app.name, "size": size, "status": st,
		"database_id": ad.id, "method": "manual"}
}

func (s *Server) backupCreate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ad, ok := s.addons[r.PathValue("id")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"resource": "database", "error": "not found"})
		return
	}
	b := &backup{id: s.id("bkp"), createdAt: time.Now(), fail: ad.failBackup}
	ad.failBackup = false
	ad.backups = append(ad.backups, b)
	writeJSON(w, http.StatusCreated, map[string]any{"database_backup": s.backupJSON(ad, b)})
}

func (s *Server) backupList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ad, ok := s.addons[r.PathValue("id")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"resource": "database", "error": "not found"})
		return
	}
	out := []map[string]any{}
	for i := len(ad.backups) - 1; i >= 0; i-- {
		out = append(out, s.backupJSON(ad, ad.backups[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"database_backups": out})
}
