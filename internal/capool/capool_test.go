package capool_test

import (
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/capool"
)

func TestLoadTrustsTheFilesCertificates(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(file, block, 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := capool.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("a server whose certificate is in the CA file is not trusted: %v", err)
	}
	resp.Body.Close()

	// Without the file, the same server is refused: the trust comes from the file.
	empty := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	if resp, err := empty.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatal("the test server is trusted without its CA file")
	}
}

func TestLoadRefusesUnusableFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{filepath.Join(dir, "missing.pem"), "read CA file"},
		{notPEM, "CA file " + notPEM + " holds no PEM certificate"},
	} {
		if _, err := capool.Load(tc.file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, want an error with %q", tc.file, err, tc.want)
		}
	}
}
