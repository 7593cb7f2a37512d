package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestHandlerFollowsCurrentPerRequest(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(Handler(dir))
	defer srv.Close()

	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(); code != http.StatusServiceUnavailable {
		t.Fatalf("nothing deployed: status %d, want 503", code)
	}
	for _, v := range []string{"1.0.0", "1.0.1"} {
		rel := filepath.Join(dir, "releases", v)
		if err := os.MkdirAll(rel, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rel, "health"), []byte("ok "+v), 0o644); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, ".current.tmp")
		if err := os.Symlink(filepath.Join("releases", v), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "current")); err != nil {
			t.Fatal(err)
		}
		if code, body := get(); code != 200 || body != "ok "+v {
			t.Fatalf("after switching to %s: %d %q", v, code, body)
		}
	}
}

// A release holding `fail` passes its health check and fails everything else.
func TestHandlerFailingRelease(t *testing.T) {
	dir := t.TempDir()
	rel := filepath.Join(dir, "releases", "1.2.0")
	if err := os.MkdirAll(rel, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"health": "ok", "index.html": "<h1>demo-app 1.2.0</h1>", "fail": ""} {
		if err := os.WriteFile(filepath.Join(rel, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join("releases", "1.2.0"), filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(dir))
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/health"); code != http.StatusOK || body != "ok" {
		t.Fatalf("/health of a failing release: %d %q, want 200 \"ok\"", code, body)
	}
	for _, p := range []string{"/", "/index.html", "/fail", "/missing"} {
		if code, body := get(p); code != http.StatusInternalServerError {
			t.Fatalf("%s of a failing release: %d %q, want 500", p, code, body)
		}
	}
	// Without the file the same release serves again.
	if err := os.Remove(filepath.Join(rel, "fail")); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/"); code != http.StatusOK || body != "<h1>demo-app 1.2.0</h1>" {
		t.Fatalf("/ once fail is removed: %d %q", code, body)
	}
}
