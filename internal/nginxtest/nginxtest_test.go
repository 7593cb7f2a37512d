package nginxtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartServesAndReloads(t *testing.T) {
	s := Start(t, Config{Server: "location = /hello { return 200 \"hello\\n\"; }"})
	s.WaitFor(t, "/hello", nil, 200, "hello")

	for _, d := range []string{"tmp/proxy", "tmp/client_body", "logs"} {
		if _, err := os.Stat(filepath.Join(s.Prefix, d)); err != nil {
			t.Errorf("prefix lacks %s: %v", d, err)
		}
	}
	if !strings.Contains(s.Config(), "listen "+s.Addr) {
		t.Errorf("config does not listen on %s:\n%s", s.Addr, s.Config())
	}

	conf := strings.Replace(s.Config(), `return 200 "hello\n";`, `return 200 "reloaded\n";`, 1)
	if err := os.WriteFile(s.ConfPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Reload(t)
	s.WaitFor(t, "/hello", nil, 200, "reloaded")
}

func TestCommandsRunThroughShell(t *testing.T) {
	s := Start(t, Config{})
	tests := []struct {
		name, cmd string
	}{
		{"test", s.TestCommand()},
		{"reload", s.ReloadCommand()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out, err := exec.Command("sh", "-c", tt.cmd).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tt.cmd, err, out)
			}
		})
	}
}

func TestProxyAndModule(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "from backend "+r.Header.Get("X-Test"))
	}))
	defer backend.Close()
	s := Start(t, Config{
		Modules: []string{"ngx_http_dav_ext_module.so"},
		HTTP:    fmt.Sprintf("upstream app { server %s; }", strings.TrimPrefix(backend.URL, "http://")),
		Server:  "location / { proxy_pass http://app; }",
	})
	s.WaitFor(t, "/", map[string]string{"X-Test": "ok"}, 200, "from backend ok")
	if !strings.Contains(s.Config(), "load_module "+ModulesDir+"/ngx_http_dav_ext_module.so;") {
		t.Errorf("module not loaded:\n%s", s.Config())
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/sbin/nginx", "/usr/sbin/nginx"},
		{"a b", "'a b'"},
		{"it's", `'it'"'"'s'`},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
