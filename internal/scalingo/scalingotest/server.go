// Package scalingotest is an in-process fake of the Scalingo platform for unit
// and acceptance tests: its API, its token exchange, its database API, the
// object storage that holds uploaded sources and the one-off run service, each
// on its own listener like the real services, so that a request sent to the
// wrong base URL fails as it would for real.
//
// It is as strict as Scalingo where the provider could otherwise pass its tests
// and fail in production (facts checked against go-scalingo, the Scalingo CLI
// and Scalingo's documentation):
//   - POST /v1/sources answers 201; deployments are created with 201;
//   - bearer tokens are JWTs with an exp and a string jti;
//   - apps have a status (new, deploying, running, restarting, stopped); a
//     restart of an app that is restarting answers 422 {"errors":{"app":["is
//     restarting"]}}, and apps that are not running cannot be restarted;
//   - the API allows RateLimit requests per RateWindow (60 per minute) and
//     answers 429 with Retry-After beyond;
//   - a deployment's git_ref becomes an image tag (no leading "-", no "+"), and
//     its archive must be a tar.gz of at most 300 MiB with one top-level folder,
//     downloaded by the fake's "build machine" from source_url;
//   - pre-signed upload URLs live 10 minutes;
//   - one-off containers (POST /run) start through a start-one-off operation,
//     stream their output on a CONNECT to the attach URL (the bearer token as
//     basic-auth password) and give their exit code on GET <attach_url>/wait,
//     408 when they timed out for inactivity.
//
// Test hooks inject 429/5xx answers, make the next deployment, restart or backup
// fail, script one-off commands, stop apps, deploy "by hand" (drift), expire
// tokens and inspect the calls received.
package scalingotest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// MaxArchiveSize is the largest source archive Scalingo accepts (300 MiB).
const MaxArchiveSize = 300 << 20

// Options tune a fake server. The zero value is fine.
type Options struct {
	// APIToken is the API token the fake accepts (default: a random tk-us-... token).
	APIToken string
	// TokenTTL is the lifetime of bearer tokens (default one hour, like Scalingo).
	TokenTTL time.Duration
	// StepDuration is how long each asynchronous step lasts (a deployment status, a
	// restart or backup state); default 10ms.
	StepDuration time.Duration
	// RateLimit is how many API requests the fake accepts per RateWindow before
	// it answers 429 (default 60, Scalingo's; negative: no limit).
	RateLimit int
	// RateWindow is the window of the rate limit (default one minute, Scalingo's).
	// Tests shorten it, and give the client the same (ClientConfig does).
	RateWindow time.Duration
	// MaxArchiveSize is the largest archive a deployment accepts (default 300 MiB).
	MaxArchiveSize int64
	// SourceTTL is how long an upload URL is valid (default 10 minutes).
	SourceTTL time.Duration
	// OneOffInactivity is how long an attached one-off may send nothing before
	// it is stopped and /wait answers 408 (default one minute).
	OneOffInactivity time.Duration
}

// Call is one request the fake received (the query string is dropped). Service
// is the listener that received it: auth, api, db, storage or run.
type Call struct {
	Service string
	Method  string
	Path    string
	Status  int
}

// Server is a running fake. Its URL is the API's; AuthURL, DatabaseAPIURL,
// StorageURL and RunURL are the other services.
type Server struct {
	*httptest.Server
	APIToken string
	// AuthURL serves POST /v1/tokens/exchange.
	AuthURL string
	// DatabaseAPIURL serves /api/databases/....
	DatabaseAPIURL string
	// StorageURL serves the pre-signed source URLs /v1/sources gives.
	StorageURL string
	// RunURL serves the attach URLs of one-off containers.
	RunURL string

	opts  Options
	key   []byte
	other []*httptest.Server
	quit  chan struct{}

	mu          sync.Mutex
	nextID      int
	revokedUpTo int // bearer tokens with a jti at or below are refused
	apps        map[string]*app
	sources     map[string]*source
	addons      map[string]*addon
	sessions    map[string]*oneOff
	calls       []Call
	faults      []int
	exchanges   int
	accepted    []time.Time // API requests accepted within the rate window
	throttled   int
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
	stopped     bool
	scripts     map[string]OneOff
	oneOffs     []*oneOff
}

type deployment struct {
	id        string
	app       *app
	gitRef    string
	sourceURL string
	source    []byte
	files     map[string]string
	fetchErr  string
	createdAt time.Time
	env       map[string]string
	applied   bool
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
	typ       string // restart, start-one-off
	createdAt time.Time
	fail      string
	env       map[string]string
	applied   bool
	oneOff    *oneOff
}

type source struct {
	id            string
	uploadToken   string
	downloadToken string
	createdAt     time.Time
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
	if opts.RateLimit == 0 {
		opts.RateLimit = 60
	}
	if opts.RateWindow == 0 {
		opts.RateWindow = time.Minute
	}
	if opts.MaxArchiveSize == 0 {
		opts.MaxArchiveSize = MaxArchiveSize
	}
	if opts.SourceTTL == 0 {
		opts.SourceTTL = 10 * time.Minute
	}
	if opts.OneOffInactivity == 0 {
		opts.OneOffInactivity = time.Minute
	}
	s := &Server{
		APIToken: opts.APIToken,
		opts:     opts,
		key:      []byte(randomHex(32)),
		quit:     make(chan struct{}),
		apps:     map[string]*app{},
		sources:  map[string]*source{},
		addons:   map[string]*addon{},
		sessions: map[string]*oneOff{},
	}
	s.Server = httptest.NewServer(s.service("api", s.apiRoutes()))
	auth := httptest.NewServer(s.service("auth", s.authRoutes()))
	db := httptest.NewServer(s.service("db", s.dbRoutes()))
	storage := httptest.NewServer(s.service("storage", s.storageRoutes()))
	run := httptest.NewServer(s.service("run", s.runRoutes()))
	s.other = []*httptest.Server{auth, db, storage, run}
	s.AuthURL, s.DatabaseAPIURL, s.StorageURL, s.RunURL = auth.URL, db.URL, storage.URL, run.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops every listener of the fake.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.mu.Unlock()
	for _, o := range s.other {
		o.Close()
	}
	s.Server.Close()
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

// CreateApp adds an app (status new: no deployment yet) and returns its id.
func (s *Server) CreateApp(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &app{id: s.id("app"), name: name, createdAt: time.Now(), operations: map[string]*operation{},
		runningEnv: map[string]string{}, scripts: map[string]OneOff{}}
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

// FailNext makes the next n requests to the API, the auth service or the
// database API, whatever they are, answer status (429 or 5xx typically) before
// doing anything.
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

// StopApp scales an app to zero (status stopped): restarts and one-offs are
// refused until it is deployed again.
func (s *Server) StopApp(appName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustApp(appName).stopped = true
}

// DeployByHand records a successful deployment of gitRef made outside the code
// under test (someone ran `git push scalingo` or used the dashboard), and returns its id.
func (s *Server) DeployByHand(appName, gitRef string, archive []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustApp(appName)
	d := &deployment{id: s.id("dep"), app: a, gitRef: gitRef, source: archive, byHand: true,
		createdAt: time.Now().Add(-10 * s.opts.StepDuration), env: variablesMap(a.variables), applied: true}
	a.deployments = append(a.deployments, d)
	a.runningEnv = variablesMap(a.variables)
	a.stopped = false
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

// Throttled counts the API requests answered 429 because of the rate limit
// (not those FailNext injected).
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
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
	// Source is the archive the build machine downloaded.
	Source []byte
	// Files are the archive's files, by path under its top-level folder.
	Files map[string]string
	// Env is the environment the deployment's containers start with.
	Env    map[string]string
	ByHand bool
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
			Source: append([]byte(nil), d.source...), Files: d.files, Env: copyMap(d.env), ByHand: d.byHand})
	}
	return out
}

// LiveVersion is the git_ref of the app's last successful deployment ("" if none).
func (s *Server) LiveVersion(appName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.liveVersion(s.mustApp(appName))
}

func (s *Server) liveVersion(a *app) string {
	for i := len(a.deployments) - 1; i >= 0; i-- {
		if st, _ := s.deploymentState(a.deployments[i]); st == "success" {
			return a.deployments[i].gitRef
		}
	}
	return ""
}

// AppStatus is the app's status: new, deploying, running, restarting or stopped.
func (s *Server) AppStatus(appName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appStatus(s.mustApp(appName))
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
	return copyMap(a.runningEnv)
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

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
