package check

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/errtest"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// sequence answers the given statuses in turn (the last one repeats) with body.
func sequence(body string, statuses ...int) (http.Handler, *atomic.Int32) {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i >= len(statuses) {
			i = len(statuses) - 1
		}
		w.WriteHeader(statuses[i])
		fmt.Fprint(w, body)
	}), &n
}

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		body     string
		check    HTTPCheck
		wantErr  []string // substrings of the error; nil: success
		wantIs   error
		wantReqs int32
	}{
		{name: "first try", statuses: []int{200}, body: "ok", wantReqs: 1},
		{name: "retries until healthy", statuses: []int{503, 502, 200}, check: HTTPCheck{Attempts: 5}, wantReqs: 3},
		{name: "gives up", statuses: []int{502}, check: HTTPCheck{Attempts: 3},
			wantErr: []string{"GET http://", "answered 502, expected 200", "after 3 attempts"}, wantIs: ErrUnexpectedStatus, wantReqs: 3},
		{name: "one attempt", statuses: []int{500}, wantErr: []string{"answered 500", "after 1 attempt"}, wantIs: ErrUnexpectedStatus, wantReqs: 1},
		{name: "expected other status", statuses: []int{204}, check: HTTPCheck{ExpectStatus: 204}, wantReqs: 1},
		{name: "redirect not followed", statuses: []int{301}, wantErr: []string{"answered 301"}, wantReqs: 1},
		{name: "body contains", statuses: []int{200}, body: `{"status":"ok"}`, check: HTTPCheck{BodyContains: `"ok"`}, wantReqs: 1},
		{name: "body missing text", statuses: []int{200}, body: "maintenance", check: HTTPCheck{BodyContains: "ok", Attempts: 2, Method: "HEAD"},
			wantErr: []string{"HEAD http://", `body does not contain "ok"`, "after 2 attempts"}, wantIs: ErrBodyMismatch, wantReqs: 2},
		{name: "post", statuses: []int{200}, check: HTTPCheck{Method: http.MethodPost}, wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, reqs := sequence(tt.body, tt.statuses...)
			srv := httptest.NewServer(h)
			defer srv.Close()
			c := tt.check
			c.URL = srv.URL + "/health"
			c.Interval = time.Millisecond
			var seen []Attempt
			err := Run(context.Background(), c, func(a Attempt) { seen = append(seen, a) })
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			} else {
				if err == nil {
					t.Fatal("Run succeeded, want an error")
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				var fe *FailedError
				if !errors.As(err, &fe) || fe.Attempts != int(tt.wantReqs) {
					t.Errorf("error %#v is not a *FailedError with %d attempts", err, tt.wantReqs)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
				}
			}
			if got := reqs.Load(); got != tt.wantReqs {
				t.Errorf("server saw %d requests, want %d", got, tt.wantReqs)
			}
			if len(seen) != int(tt.wantReqs) {
				t.Fatalf("onAttempt called %d times, want %d", len(seen), tt.wantReqs)
			}
			for i, a := range seen {
				if a.N != i+1 || a.Status != tt.statuses[min(i, len(tt.statuses)-1)] {
					t.Errorf("attempt %d = %+v", i, a)
				}
			}
			if last := seen[len(seen)-1]; (last.Err == nil) != (tt.wantErr == nil) {
				t.Errorf("last attempt error = %v", last.Err)
			}
		})
	}
}

func TestRunHeadersAndHost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "preview.example.test" || r.Header.Get("X-Token") != "s3cret" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		fmt.Fprint(w, "green ok")
	}))
	defer srv.Close()
	c := HTTPCheck{URL: srv.URL, Host: "preview.example.test", Headers: map[string]string{"X-Token": "s3cret"}, BodyContains: "green"}
	if err := Run(context.Background(), c, nil); err != nil {
		t.Fatal(err)
	}
	c.Host = ""
	err := Run(context.Background(), c, nil)
	if err == nil || !strings.Contains(err.Error(), "answered 404") {
		t.Fatalf("without the Host override: err = %v, want a 404", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows a header value", err)
	}
}

func TestRunConnectionErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more

	err = Run(context.Background(), HTTPCheck{URL: "http://user:hunter2@" + addr + "/", Attempts: 2, Interval: time.Millisecond}, nil)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("err = %v, want connection refused after 2 attempts", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q shows the URL password", err)
	}
}

func TestRunTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	var seen []Attempt
	err := Run(context.Background(), HTTPCheck{URL: srv.URL, Timeout: 50 * time.Millisecond, Attempts: 2, Interval: time.Millisecond}, func(a Attempt) { seen = append(seen, a) })
	if err == nil || !strings.Contains(err.Error(), "did not answer within 50ms") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if len(seen) != 2 || seen[0].Status != 0 || seen[0].Duration < 50*time.Millisecond {
		t.Errorf("attempts = %+v", seen)
	}
}

func TestRunContextCancel(t *testing.T) {
	h, _ := sequence("", 503)
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, HTTPCheck{URL: srv.URL, Attempts: 1000, Interval: time.Hour}, func(Attempt) { cancel() })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "after 1 attempt") {
			t.Fatalf("err = %v, want context.Canceled after 1 attempt", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its context was cancelled")
	}
}

// testCA makes a CA and a server certificate it signed for preview.example.test
// and 127.0.0.1; it returns the CA's PEM file and the server's TLS certificate.
func testCA(t *testing.T) (caFile string, cert tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "release test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "preview.example.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"preview.example.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestRunTLS(t *testing.T) {
	caFile, cert := testCA(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	notPEM := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)

	tests := []struct {
		name    string
		check   HTTPCheck
		wantErr string
	}{
		{"verified by default", HTTPCheck{URL: srv.URL}, "certificate"},
		{"trusted CA", HTTPCheck{URL: srv.URL, CAFile: caFile, BodyContains: "ok"}, ""},
		{"trusted CA and host override", HTTPCheck{URL: srv.URL, CAFile: caFile, Host: "preview.example.test"}, ""},
		{"host not in certificate", HTTPCheck{URL: srv.URL, CAFile: caFile, Host: "other.example.test"}, "certificate"},
		{"insecure when asked", HTTPCheck{URL: srv.URL, Insecure: true}, ""},
		{"missing CA file", HTTPCheck{URL: srv.URL, CAFile: filepath.Join(t.TempDir(), "nope.pem")}, "read CA file"},
		{"CA file without certificates", HTTPCheck{URL: srv.URL, CAFile: notPEM}, "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errtest.Want(t, "Run", Run(context.Background(), tt.check, nil), tt.wantErr)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		check   HTTPCheck
		wantErr string
	}{
		{"minimal", HTTPCheck{URL: "http://127.0.0.1:8080/health"}, ""},
		{"full", HTTPCheck{URL: "https://app.example.org/", Method: "HEAD", ExpectStatus: 204, Attempts: 3, Interval: time.Second, Timeout: time.Second, Headers: map[string]string{"X-A": "b"}, Host: "preview:8443"}, ""},
		{"no url", HTTPCheck{}, "url is required"},
		{"bad scheme", HTTPCheck{URL: "ftp://host/x"}, "must use http or https"},
		{"no host", HTTPCheck{URL: "http:///health"}, "has no host"},
		{"unparsable", HTTPCheck{URL: "http://[::1"}, "not valid"},
		{"bad method", HTTPCheck{URL: "http://h/", Method: "GE T"}, "not a valid HTTP method"},
		{"bad status", HTTPCheck{URL: "http://h/", ExpectStatus: 999}, "not an HTTP status"},
		{"negative attempts", HTTPCheck{URL: "http://h/", Attempts: -1}, "attempts"},
		{"negative interval", HTTPCheck{URL: "http://h/", Interval: -time.Second}, "interval"},
		{"negative timeout", HTTPCheck{URL: "http://h/", Timeout: -time.Second}, "timeout"},
		{"bad header", HTTPCheck{URL: "http://h/", Headers: map[string]string{"X A": "b"}}, "header name"},
		{"bad host", HTTPCheck{URL: "http://h/", Host: "a b"}, "host"},
		{"password hidden", HTTPCheck{URL: "ftp://u:hunter2@h/"}, "u:xxxxx@h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check.Validate()
			errtest.Want(t, "Validate", err, tt.wantErr)
			if tt.wantErr == "" {
				return
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
			if Run(context.Background(), tt.check, nil) == nil {
				t.Error("Run accepted an invalid check")
			}
		})
	}
}

// TestRunLogsEachAttemptOnce: the check is the one place attempts are logged,
// with the shared field names.
func TestRunLogsEachAttemptOnce(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n++
		if n < 3 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	var logs strings.Builder
	ctx := logging.With(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err := Run(ctx, HTTPCheck{URL: srv.URL, Attempts: 5, Interval: time.Millisecond}, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("logged %d lines, want one per attempt:\n%s", len(lines), logs.String())
	}
	for i, want := range []string{"attempt=1 attempts=5 status=502", "attempt=2 attempts=5 status=502", "attempt=3 attempts=5 status=200"} {
		if !strings.Contains(lines[i], `level=INFO msg="HTTP check attempt"`) || !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want %q", i+1, lines[i], want)
		}
	}
}
