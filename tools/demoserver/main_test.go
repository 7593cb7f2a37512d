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
