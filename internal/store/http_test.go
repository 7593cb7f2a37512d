package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/errtest"
	"github.com/releaseplan/terraform-provider-release/internal/nginxtest"
)

const (
	davUser     = "ci"
	davPassword = "s3cr3t-dav-Pa55"
)

type davOptions struct {
	auth   bool   // require basic auth as davUser/davPassword
	noMove bool   // leave MOVE out of dav_methods, like a server without it
	prefix string // location the repository is served under, e.g. "/releases/"
}

// startDAV starts nginx with the dav and dav_ext modules serving a fresh temporary
// root and returns the server, the root on disk and the repository URL.
func startDAV(t testing.TB, o davOptions) (*nginxtest.Server, string, string) {
	t.Helper()
	root := t.TempDir()
	prefix := o.prefix
	if prefix == "" {
		prefix = "/"
	}
	methods := "PUT DELETE MKCOL COPY MOVE"
	if o.noMove {
		methods = "PUT DELETE MKCOL COPY"
	}
	var auth string
	if o.auth {
		htpasswd := filepath.Join(t.TempDir(), "htpasswd")
		// nginx reads {PLAIN} passwords from auth_basic_user_file.
		if err := os.WriteFile(htpasswd, []byte(davUser+":{PLAIN}"+davPassword+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth_basic \"releases\";\nauth_basic_user_file %s;\n", htpasswd)
	}
	alias := "root " + root + ";"
	if prefix != "/" {
		alias = "alias " + root + "/;"
	}
	s := nginxtest.Start(t, nginxtest.Config{
		Modules: []string{"ngx_http_dav_ext_module.so"},
		Server: fmt.Sprintf(`location %s {
  %s
  dav_methods %s;
  dav_ext_methods PROPFIND OPTIONS;
  create_full_put_path on;
  dav_access user:rw;
  client_max_body_size 0;
  %s}`, prefix, alias, methods, auth),
	})
	return s, root, s.URL(prefix)
}

func newTestHTTP(t testing.TB, cfg HTTPConfig) *HTTP {
	t.Helper()
	if cfg.RetryWaitMin == 0 {
		cfg.RetryWaitMin, cfg.RetryWaitMax = 5*time.Millisecond, 20*time.Millisecond
	}
	s, err := NewHTTP(cfg)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	return s
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// leftovers lists the temporary upload folders left under the store root.
func leftovers(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, ".tmp"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestNewHTTPValidatesConfig(t *testing.T) {
	tests := []struct {
		name, url, wantErr string
	}{
		{"ok", "https://dav.example.org/releases", ""},
		{"relative", "dav.example.org/releases", "absolute http"},
		{"ftp", "ftp://dav.example.org/", "absolute http"},
		{"query", "https://dav.example.org/r?x=1", "query"},
		{"password in a bad url is hidden", "https://ci:hunter2@dav.example.org/%zz", "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewHTTP(HTTPConfig{URL: tt.url})
			errtest.Want(t, "NewHTTP", err, tt.wantErr)
			if tt.wantErr == "" {
				if got := s.URL(); got != tt.url+"/" {
					t.Errorf("URL() = %q", got)
				}
				return
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
	if _, err := NewHTTP(HTTPConfig{URL: "https://x.example.org", CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("missing ca_file: error = %v", err)
	}
}

func TestHTTPStoreLifecycle(t *testing.T) {
	for _, o := range []davOptions{{auth: true}, {prefix: "/releases/"}, {noMove: true}} {
		t.Run(fmt.Sprintf("auth=%v,prefix=%q,noMove=%v", o.auth, o.prefix, o.noMove), func(t *testing.T) {
			_, root, base := startDAV(t, o)
			cfg := HTTPConfig{URL: base}
			if o.auth {
				cfg.Username, cfg.Password = davUser, davPassword
			}
			s := newTestHTTP(t, cfg)
			obj := storeLifecycle(t, s)
			if obj.URI != base+"app/1.0.0-staging/data" {
				t.Errorf("Put returned URI %q", obj.URI)
			}
			// The directory store's layout, byte for byte.
			if b, err := os.ReadFile(filepath.Join(root, "app", "1.0.0-staging", "data")); err != nil || sum(b) != obj.SHA256 {
				t.Fatalf("data on disk: %v", err)
			}
			if _, err := os.Stat(filepath.Join(root, "app", "1.0.0-staging", "metadata.json")); err != nil {
				t.Fatalf("metadata on disk: %v", err)
			}
			if l := leftovers(t, root); len(l) != 0 {
				t.Errorf("temporary folders left behind: %v", l)
			}
		})
	}
}

// Both stores share one layout: either can read what the other published.
func TestHTTPAndDirectoryStoresAreInterchangeable(t *testing.T) {
	_, root, base := startDAV(t, davOptions{})
	h := newTestHTTP(t, HTTPConfig{URL: base})
	d, err := NewDirectory(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, b := []byte("published over http"), []byte("published in a directory")
	if _, err := h.Put(ctx, "app", "1.0.0", bytes.NewReader(a), "", map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(ctx, "app", "2.0.0", bytes.NewReader(b), "", nil); err != nil {
		t.Fatal(err)
	}
	if obj, err := d.Verify(ctx, "app", "1.0.0"); err != nil || obj.SHA256 != sum(a) || obj.Metadata["k"] != "v" {
		t.Errorf("directory store reading the http upload: %+v, %v", obj, err)
	}
	if obj, err := h.Verify(ctx, "app", "2.0.0"); err != nil || obj.SHA256 != sum(b) {
		t.Errorf("http store reading the directory upload: %+v, %v", obj, err)
	}
	hl, _ := h.List(ctx, "app")
	dl, _ := d.List(ctx, "app")
	if len(hl) != 2 || len(dl) != 2 {
		t.Errorf("List: http sees %d versions, directory %d; want 2 and 2", len(hl), len(dl))
	}
}

func TestHTTPStorePutFromFile(t *testing.T) {
	_, _, base := startDAV(t, davOptions{})
	s := newTestHTTP(t, HTTPConfig{URL: base})
	path := filepath.Join(t.TempDir(), "app.tar.gz")
	content := bytes.Repeat([]byte{0, 1, 2, 3}, 50000)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	obj, err := s.Put(context.Background(), "app", "1.0.0", f, sum(content), nil)
	if err != nil || obj.Size != int64(len(content)) {
		t.Fatalf("Put(file) = %+v, %v", obj, err)
	}
	if _, err := s.Verify(context.Background(), "app", "1.0.0"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestHTTPStoreAuthErrors(t *testing.T) {
	_, _, base := startDAV(t, davOptions{auth: true})
	tests := []struct {
		name     string
		user     string
		password string
		want     string
	}{
		{"wrong password", davUser, "not-the-" + davPassword, `refused the credentials of user "ci"; check the username and password`},
		{"no credentials", "", "", "requires credentials; set username and password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			s := newTestHTTP(t, HTTPConfig{URL: base, Username: tt.user, Password: tt.password, HTTPClient: countingClient(&tries)})
			_, err := s.Put(context.Background(), "app", "1.0.0", strings.NewReader("x"), "", nil)
			if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want a 401 saying %q", err, tt.want)
			}
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Errorf("error reveals the password: %v", err)
			}
			if n := tries.Load(); n != 1 {
				t.Errorf("a 401 was tried %d times, want once (4xx are never retried)", n)
			}
		})
	}
}

type countingTransport struct {
	n    *atomic.Int32
	next http.RoundTripper
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func countingClient(n *atomic.Int32) *http.Client {
	return &http.Client{Transport: countingTransport{n, http.DefaultTransport.(*http.Transport).Clone()}}
}

// cutTransport breaks the requests that match: the body is cut after limit bytes
// and the connection dropped, as when a runner dies or the network fails mid-upload.
type cutTransport struct {
	match func(*http.Request) bool
	limit int64
	next  http.RoundTripper
}

func (c cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !c.match(r) {
		return c.next.RoundTrip(r)
	}
	if r.Body != nil {
		_, _ = io.CopyN(io.Discard, r.Body, c.limit)
		r.Body.Close()
	}
	return nil, errors.New("connection reset by peer")
}

func TestHTTPStoreInterruptedUploadLeavesNothingVisible(t *testing.T) {
	s0, root, base := startDAV(t, davOptions{})
	content := bytes.Repeat([]byte("0123456789"), 100000)
	tests := []struct {
		name  string
		match func(*http.Request) bool
	}{
		{"bytes cut mid-upload", func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/data")
		}},
		{"metadata never arrives", func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/metadata.json")
		}},
		{"move into place never happens", func(r *http.Request) bool { return r.Method == "MOVE" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			client := &http.Client{Transport: countingTransport{&tries, cutTransport{match: tt.match, limit: 4096, next: http.DefaultTransport}}}
			s := newTestHTTP(t, HTTPConfig{URL: base, HTTPClient: client, MaxRetries: 2})
			_, err := s.Put(context.Background(), "app", "3.0.0", bytes.NewReader(content), "", nil)
			if err == nil || !strings.Contains(err.Error(), "connection reset") {
				t.Fatalf("Put error = %v, want the connection error", err)
			}
			// The store, nginx and the disk all agree that nothing was published.
			clean := newTestHTTP(t, HTTPConfig{URL: base})
			if _, err := clean.Stat(context.Background(), "app", "3.0.0"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Stat after an interrupted upload = %v, want ErrNotFound", err)
			}
			if list, err := clean.List(context.Background(), "app"); err != nil || len(list) != 0 {
				t.Errorf("List after an interrupted upload = %+v, %v", list, err)
			}
			if status, _, _ := s0.Get("/app/3.0.0/data", nil); status != http.StatusNotFound {
				t.Errorf("GET /app/3.0.0/data answered %d, want 404", status)
			}
			if _, err := os.Stat(filepath.Join(root, "app", "3.0.0")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the version folder exists on disk: %v", err)
			}
			if l := leftovers(t, root); len(l) != 0 {
				t.Errorf("temporary folders left behind: %v", l)
			}
		})
	}
	// A later publication of the same version goes through.
	s := newTestHTTP(t, HTTPConfig{URL: base})
	if _, err := s.Put(context.Background(), "app", "3.0.0", bytes.NewReader(content), sum(content), nil); err != nil {
		t.Fatalf("Put after the interruptions: %v", err)
	}
}

// flaky is a reverse proxy in front of nginx that answers fail for the first n
// requests, recording every request it sees.
type flaky struct {
	mu       sync.Mutex
	n        int
	status   int
	requests []string
	sha      []string
	proxy    *httputil.ReverseProxy
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/data") {
		f.sha = append(f.sha, r.Header.Get("X-Checksum-Sha256"))
	}
	fail := f.n > 0
	if fail {
		f.n--
	}
	f.mu.Unlock()
	if fail {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "try later", f.status)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

func newFlaky(t *testing.T, target string, n, status int) (*flaky, *httptest.Server) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{n: n, status: status, proxy: httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestHTTPStoreRetries(t *testing.T) {
	s0, _, _ := startDAV(t, davOptions{})
	content := []byte("retry me")
	tests := []struct {
		name      string
		failFirst int
		status    int
		wantErr   string
		wantTries int
	}{
		{"502 then success", 2, http.StatusBadGateway, "", 3},
		{"503 until retries run out", 100, http.StatusServiceUnavailable, "503", 3},
		{"403 is never retried", 100, http.StatusForbidden, "403 Forbidden", 1},
		{"409 is never retried", 100, http.StatusConflict, "409 Conflict", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFlaky(t, s0.URL("/"), tt.failFirst, tt.status)
			var tries atomic.Int32
			s := newTestHTTP(t, HTTPConfig{URL: srv.URL, HTTPClient: countingClient(&tries), MaxRetries: 2})
			// The first request of a Put is the GET of metadata.json (404: not
			// published yet); count the tries of that request only.
			_, err := s.Stat(context.Background(), "app", "1.0.0")
			n := int(tries.Load())
			if tt.wantErr == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Stat = %v, want ErrNotFound after the retries", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Stat error = %v, want it to contain %q", err, tt.wantErr)
			}
			if n != tt.wantTries {
				t.Errorf("tried %d times, want %d (%v)", n, tt.wantTries, f.requests)
			}
		})
	}

	t.Run("upload survives a 502 and carries X-Checksum-Sha256", func(t *testing.T) {
		f, _ := newFlaky(t, s0.URL("/"), 0, http.StatusBadGateway)
		wrapped := &onceFailing{next: f}
		srv := httptest.NewServer(wrapped)
		defer srv.Close()
		s := newTestHTTP(t, HTTPConfig{URL: srv.URL, MaxRetries: 2})
		obj, err := s.Put(context.Background(), "app", "1.0.0", bytes.NewReader(content), "", nil)
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		if !wrapped.failed.Load() {
			t.Fatal("the PUT of the bytes was never failed: the test proves nothing")
		}
		if len(f.sha) == 0 || f.sha[len(f.sha)-1] != obj.SHA256 {
			t.Errorf("X-Checksum-Sha256 headers = %v, want %s", f.sha, obj.SHA256)
		}
		if _, err := s.Verify(context.Background(), "app", "1.0.0"); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})
}

// onceFailing answers 502 to the first PUT of the bytes, then passes through.
type onceFailing struct {
	next   http.Handler
	failed atomic.Bool
}

func (o *onceFailing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/data") && o.failed.CompareAndSwap(false, true) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	o.next.ServeHTTP(w, r)
}

func TestHTTPStoreDetectsCorruption(t *testing.T) {
	_, root, base := startDAV(t, davOptions{})
	s := newTestHTTP(t, HTTPConfig{URL: base})
	ctx := context.Background()
	content := []byte("the original release bytes")
	if _, err := s.Put(ctx, "app", "1.0.0", bytes.NewReader(content), "", nil); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(root, "app", "1.0.0", "data")

	// Same size, different bytes: only hashing notices.
	if err := os.WriteFile(data, bytes.ToUpper(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "app", "1.0.0"); err != nil {
		t.Errorf("Stat is cheap and only checks the size: %v", err)
	}
	if _, err := s.Verify(ctx, "app", "1.0.0"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify = %v, want ErrCorrupt", err)
	}
	rc, _, err := s.Get(ctx, "app", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Errorf("reading corrupt bytes ended with %v, want ErrChecksumMismatch", err)
	}
	if _, err := s.Copy(ctx, "app", "1.0.0", "1.0.1", "", nil); err == nil {
		t.Error("Copy of corrupt bytes succeeded")
	}
	if _, err := s.Stat(ctx, "app", "1.0.1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused copy left something: %v", err)
	}

	// Truncated bytes: Stat notices.
	if err := os.WriteFile(data, content[:5], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "app", "1.0.0"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Stat of truncated bytes = %v, want ErrCorrupt", err)
	}
	// Missing bytes.
	if err := os.Remove(data); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "app", "1.0.0"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Stat of missing bytes = %v, want ErrCorrupt", err)
	}
}

func TestHTTPStoreTLS(t *testing.T) {
	s0, _, _ := startDAV(t, davOptions{})
	target, _ := url.Parse(s0.URL("/"))
	srv := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     HTTPConfig
		wantErr string
	}{
		{"ca_file", HTTPConfig{URL: srv.URL, CAFile: ca}, ""},
		{"insecure", HTTPConfig{URL: srv.URL, Insecure: true}, ""},
		{"untrusted", HTTPConfig{URL: srv.URL}, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestHTTP(t, tt.cfg)
			_, err := s.Put(context.Background(), "app", "1.0.0-"+strings.ReplaceAll(tt.name, "_", "-"), strings.NewReader("tls"), "", nil)
			errtest.Want(t, "Put over TLS", err, tt.wantErr)
		})
	}
}

// BenchmarkHTTPStoreRoundTrip publishes and verifies 1 MiB per iteration through
// a real nginx on loopback.
func BenchmarkHTTPStoreRoundTrip(b *testing.B) {
	_, _, base := startDAV(b, davOptions{})
	s := newTestHTTP(b, HTTPConfig{URL: base})
	content := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	ctx := context.Background()
	b.SetBytes(int64(len(content)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		v := fmt.Sprintf("1.0.%d", i)
		if _, err := s.Put(ctx, "bench", v, bytes.NewReader(content), "", nil); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Verify(ctx, "bench", v); err != nil {
			b.Fatal(err)
		}
	}
}
