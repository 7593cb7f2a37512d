package scalingotest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Server) authRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/tokens/exchange", s.tokenExchange)
	return withNotFound(mux)
}

func (s *Server) apiRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sources", s.auth(s.sourcesCreate))
	mux.HandleFunc("GET /v1/apps/{app}", s.auth(s.withApp(s.appShow)))
	mux.HandleFunc("POST /v1/apps/{app}/deployments", s.auth(s.withApp(s.deploymentsCreate)))
	mux.HandleFunc("GET /v1/apps/{app}/deployments", s.auth(s.withApp(s.deploymentsList)))
	mux.HandleFunc("GET /v1/apps/{app}/deployments/{id}", s.auth(s.withApp(s.deploymentShow)))
	mux.HandleFunc("GET /v1/apps/{app}/deployments/{id}/output", s.auth(s.withApp(s.deploymentOutput)))
	mux.HandleFunc("GET /v1/apps/{app}/variables", s.auth(s.withApp(s.variablesList)))
	mux.HandleFunc("PUT /v1/apps/{app}/variables", s.auth(s.withApp(s.variablesSet)))
	mux.HandleFunc("DELETE /v1/apps/{app}/variables/{id}", s.auth(s.withApp(s.variableUnset)))
	mux.HandleFunc("POST /v1/apps/{app}/restart", s.auth(s.withApp(s.restart)))
	mux.HandleFunc("POST /v1/apps/{app}/run", s.auth(s.withApp(s.run)))
	mux.HandleFunc("GET /v1/apps/{app}/operations/{id}", s.auth(s.withApp(s.operationShow)))
	mux.HandleFunc("GET /v1/apps/{app}/addons", s.auth(s.withApp(s.addonsList)))
	mux.HandleFunc("POST /v1/apps/{app}/addons/{id}/token", s.auth(s.withApp(s.addonToken)))
	return withNotFound(mux)
}

func (s *Server) dbRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/databases/{id}/backups", s.dbAuth(s.withDatabase(s.backupCreate)))
	mux.HandleFunc("GET /api/databases/{id}/backups", s.dbAuth(s.withDatabase(s.backupList)))
	return withNotFound(mux)
}

func (s *Server) storageRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /sources/{id}", s.sourceUpload)
	mux.HandleFunc("GET /sources/{id}", s.sourceDownload)
	return withNotFound(mux)
}

func withNotFound(mux *http.ServeMux) http.Handler {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no route " + r.Method + " " + r.URL.Path})
	})
	return mux
}

// service records every request of one listener, answers the faults FailNext
// injected (not on storage and run, which are other services) and applies the
// API's rate limit.
func (s *Server) service(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		fault, retryAfter := 0, 0
		s.mu.Lock()
		if len(s.faults) > 0 && name != "storage" && name != "run" {
			fault, s.faults = s.faults[0], s.faults[1:]
		} else if name == "api" {
			retryAfter = s.rateLimited()
		}
		s.mu.Unlock()
		switch {
		case fault != 0:
			writeJSON(rec, fault, map[string]string{"error": http.StatusText(fault)})
		case retryAfter > 0:
			rec.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			writeJSON(rec, http.StatusTooManyRequests, map[string]string{"error": "API rate limit exceeded"})
		default:
			next.ServeHTTP(rec, r)
		}
		s.mu.Lock()
		s.calls = append(s.calls, Call{Service: name, Method: r.Method, Path: r.URL.Path, Status: rec.status})
		s.mu.Unlock()
	})
}

// rateLimited counts an API request against the rate limit and returns 0, or
// the seconds to wait (Retry-After) when the window is full. Called with s.mu held.
func (s *Server) rateLimited() int {
	if s.opts.RateLimit < 0 {
		return 0
	}
	now := time.Now()
	keep := s.accepted[:0]
	for _, at := range s.accepted {
		if now.Sub(at) < s.opts.RateWindow {
			keep = append(keep, at)
		}
	}
	s.accepted = keep
	if len(s.accepted) < s.opts.RateLimit {
		s.accepted = append(s.accepted, now)
		return 0
	}
	s.throttled++
	wait := s.accepted[0].Add(s.opts.RateWindow).Sub(now)
	return max(1, int(math.Ceil(wait.Seconds())))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

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
		JTI   string `json:"jti"` // a string, as Scalingo's (go-scalingo cannot decode a number)
		Scope string `json:"scope"`
	}
	if json.Unmarshal(raw, &c) != nil || time.Now().Unix() >= c.Exp {
		return "", false
	}
	seq, err := strconv.Atoi(strings.TrimPrefix(c.JTI, "jti-"))
	if err != nil {
		return "", false
	}
	s.mu.Lock()
	revoked := seq <= s.revokedUpTo
	s.mu.Unlock()
	if revoked {
		return "", false
	}
	return c.Scope, true
}

func (s *Server) issue(scope string) string {
	s.mu.Lock()
	s.nextID++
	jti := "jti-" + strconv.Itoa(s.nextID)
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
