// Package nginxtest starts real nginx servers for tests: a temporary prefix holding the
// configuration, logs, pid file and temp directories, one worker, listening on a free
// loopback port, stopped when the test ends.
//
// Tests that need nginx and cannot find it fail with an install hint; they never skip.
package nginxtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InstallHint is appended to every failure caused by a missing or unusable nginx.
const InstallHint = "install nginx (scripts/test-deps.sh)"

// ModulesDir is where the Debian packages put dynamic nginx modules.
const ModulesDir = "/usr/lib/nginx/modules"

// Config describes the nginx configuration to render. Every field is optional: the zero
// value serves 404 for everything on the chosen port.
type Config struct {
	// Main holds extra directives at the top level of nginx.conf (outside http {}).
	Main string
	// HTTP holds extra directives inside http {}: upstreams, maps, includes, other
	// server blocks (use FreePort for their ports).
	HTTP string
	// Server holds directives inside the default server {} that listens on Addr.
	Server string
	// Modules are dynamic modules to load, by file name in ModulesDir
	// (e.g. "ngx_http_dav_ext_module.so") or by absolute path.
	Modules []string
	// AccessLog writes an access log to <prefix>/logs/access.log; off by default so
	// load tests measure nginx, not the disk.
	AccessLog bool
}

// Server is a running nginx.
type Server struct {
	Binary   string // absolute path of the nginx binary
	Prefix   string // temporary prefix directory (-p)
	ConfPath string // <prefix>/conf/nginx.conf (-c)
	Addr     string // 127.0.0.1:<Port>
	Port     int
	ErrorLog string // <prefix>/logs/error.log
	PidFile  string // <prefix>/logs/nginx.pid

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error // process exit status, valid once done is closed
}

// Binary returns the nginx binary to use: `nginx` on PATH, else /usr/sbin/nginx.
func Binary() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return filepath.Abs(p)
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("nginx not found on PATH nor in /usr/sbin: " + InstallHint)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("nginxtest: cannot find a free loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port //nolint:forcetypeassert // a TCP listener has a TCP address
}

// Start renders cfg into a fresh prefix, starts nginx in the foreground of a child
// process, waits until its port answers and registers its shutdown with t.Cleanup.
// A port taken between FreePort and bind is retried with another port.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("nginxtest: %v", err)
	}
	prefix := t.TempDir()
	for _, d := range []string{"conf", "logs", "html", "tmp/client_body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatalf("nginxtest: %v", err)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s := &Server{
			Binary:   bin,
			Prefix:   prefix,
			ConfPath: filepath.Join(prefix, "conf", "nginx.conf"),
			ErrorLog: filepath.Join(prefix, "logs", "error.log"),
			PidFile:  filepath.Join(prefix, "logs", "nginx.pid"),
		}
		s.Port = FreePort(t)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		if err := os.WriteFile(s.ConfPath, []byte(s.render(cfg)), 0o644); err != nil {
			t.Fatalf("nginxtest: %v", err)
		}
		_ = os.Truncate(s.ErrorLog, 0)
		err := s.start()
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	t.Fatalf("nginxtest: %v", lastErr)
	return nil
}

func (s *Server) render(cfg Config) string {
	var b strings.Builder
	p := s.Prefix
	fmt.Fprintf(&b, "# nginx test server rendered by internal/nginxtest\n")
	if os.Geteuid() == 0 {
		// Without it the workers would switch to nobody and could not read the
		// 0700 temp directories tests create.
		b.WriteString("user root;\n")
	}
	for _, m := range cfg.Modules {
		if !filepath.IsAbs(m) {
			m = filepath.Join(ModulesDir, m)
		}
		fmt.Fprintf(&b, "load_module %s;\n", m)
	}
	fmt.Fprintf(&b, "daemon off;\nmaster_process on;\nworker_processes 1;\n")
	fmt.Fprintf(&b, "pid %s;\nerror_log %s notice;\n", s.PidFile, s.ErrorLog)
	if cfg.Main != "" {
		b.WriteString(cfg.Main + "\n")
	}
	b.WriteString("events {\n  worker_connections 1024;\n}\n")
	b.WriteString("http {\n")
	if cfg.AccessLog {
		fmt.Fprintf(&b, "  access_log %s;\n", filepath.Join(p, "logs", "access.log"))
	} else {
		b.WriteString("  access_log off;\n")
	}
	fmt.Fprintf(&b, "  client_body_temp_path %s;\n", filepath.Join(p, "tmp", "client_body"))
	fmt.Fprintf(&b, "  proxy_temp_path %s;\n", filepath.Join(p, "tmp", "proxy"))
	fmt.Fprintf(&b, "  fastcgi_temp_path %s;\n", filepath.Join(p, "tmp", "fastcgi"))
	fmt.Fprintf(&b, "  uwsgi_temp_path %s;\n", filepath.Join(p, "tmp", "uwsgi"))
	fmt.Fprintf(&b, "  scgi_temp_path %s;\n", filepath.Join(p, "tmp", "scgi"))
	b.WriteString("  types {\n    text/html html htm;\n    text/plain txt;\n    text/css css;\n    application/javascript js;\n    application/json json;\n  }\n")
	b.WriteString("  default_type application/octet-stream;\n")
	if cfg.HTTP != "" {
		b.WriteString(indent(cfg.HTTP, "  ") + "\n")
	}
	fmt.Fprintf(&b, "  server {\n    listen %s;\n    server_name localhost;\n    root %s;\n", s.Addr, filepath.Join(p, "html"))
	if cfg.Server != "" {
		b.WriteString(indent(cfg.Server, "    ") + "\n")
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

func (s *Server) baseArgs() []string {
	return []string{"-p", s.Prefix + "/", "-c", s.ConfPath, "-e", s.ErrorLog}
}

func (s *Server) start() error {
	// Check the configuration first: its error message is much clearer than a
	// process that exits during startup.
	if out, err := exec.Command(s.Binary, append(s.baseArgs(), "-t")...).CombinedOutput(); err != nil {
		return fmt.Errorf("nginx -t rejected the test configuration %s: %v\n%s\n--- config ---\n%s", s.ConfPath, err, out, s.Config())
	}
	var out bytes.Buffer
	cmd := exec.Command(s.Binary, s.baseArgs()...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start %s: %v (%s)", s.Binary, err, InstallHint)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("nginx exited during startup (%v): %s\n%s", s.exitErr(), out.String(), s.ErrorLogTail(20))
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.signal(syscall.SIGKILL)
	<-s.done
	return fmt.Errorf("nginx did not answer on %s within 15s:\n%s", s.Addr, s.ErrorLogTail(20))
}

func (s *Server) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Server) signal(sig syscall.Signal) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	// The master runs in its own process group: signal the group so that workers
	// never outlive a killed master.
	if sig == syscall.SIGKILL {
		return syscall.Kill(-s.cmd.Process.Pid, sig)
	}
	return s.cmd.Process.Signal(sig)
}

func (s *Server) stop(t testing.TB) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.signal(syscall.SIGTERM) // fast shutdown: do not wait for keep-alive clients
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Logf("nginxtest: nginx did not stop within 10s after SIGTERM; killing it")
		_ = s.signal(syscall.SIGKILL)
		<-s.done
	}
}

// Stopped reports whether the nginx master process has exited.
func (s *Server) Stopped() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Config returns the rendered nginx.conf.
func (s *Server) Config() string {
	b, _ := os.ReadFile(s.ConfPath)
	return string(b)
}

// ErrorLogTail returns the last n lines of the error log.
func (s *Server) ErrorLogTail(n int) string {
	b, err := os.ReadFile(s.ErrorLog)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Command returns a shell command line running this nginx binary against this prefix
// and configuration with the extra arguments, e.g. Command("-s", "reload").
func (s *Server) Command(args ...string) string {
	parts := []string{shellQuote(s.Binary)}
	for _, a := range append(s.baseArgs(), args...) {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// ReloadCommand is the shell command that reloads this server ("nginx -p … -c … -s reload"),
// for resources that take a reload_command.
//
// nginx reloads asynchronously: the command returns once the workers that served the
// old configuration are gone (at most 10 s), so a test that checks behaviour right
// after a resource's reload never meets an old worker.
func (s *Server) ReloadCommand() string {
	return "m=$(cat " + shellQuote(s.PidFile) + "); old=$(cat /proc/$m/task/*/children 2>/dev/null); " +
		s.Command("-s", "reload") + " || exit $?; " +
		"i=0; while [ $i -lt 200 ]; do alive=; for p in $old; do [ -d /proc/$p ] && alive=1; done; " +
		"[ -z \"$alive\" ] && exit 0; i=$((i+1)); sleep 0.05; done"
}

// TestCommand is the shell command that validates this server's configuration
// ("nginx -p … -c … -t"), for resources that take a test_command.
func (s *Server) TestCommand() string { return s.Command("-t", "-q") }

// Reload validates the configuration and asks the master to reload it. nginx reloads
// asynchronously: poll for the behaviour you expect (see WaitFor) afterwards.
func (s *Server) Reload(t testing.TB) {
	t.Helper()
	for _, args := range [][]string{{"-t", "-q"}, {"-s", "reload"}} {
		out, err := exec.Command(s.Binary, append(s.baseArgs(), args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("nginxtest: nginx %s failed: %v\n%s\n%s", strings.Join(args, " "), err, out, s.ErrorLogTail(20))
		}
	}
}

// URL returns http://127.0.0.1:<port><path>.
func (s *Server) URL(path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "http://" + s.Addr + path
}

// Get performs a GET on path with the given headers ("Host" sets the request host) and
// returns the status and body.
func (s *Server) Get(path string, headers map[string]string) (int, string, error) {
	return s.GetFrom("", path, headers)
}

// GetFrom is Get from the local address source, such as 127.0.0.2 to test what
// nginx allows by client address; an empty source lets the system choose.
func (s *Server) GetFrom(source, path string, headers map[string]string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, s.URL(path), nil)
	if err != nil {
		return 0, "", err
	}
	for k, v := range headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	if source != "" {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
		client.Transport = &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// WaitFor polls GET path until it answers wantStatus with a body containing wantBody,
// failing the test after 10 seconds. Use it after Reload.
func (s *Server) WaitFor(t testing.TB, path string, headers map[string]string, wantStatus int, wantBody string) {
	t.Helper()
	if err := s.AwaitFrom("", path, headers, wantStatus, wantBody); err != nil {
		t.Fatalf("nginxtest: %v\nerror log:\n%s", err, s.ErrorLogTail(20))
	}
}

// AwaitFrom polls GetFrom(source, path, headers) until it answers wantStatus with
// a body containing wantBody; after 10 seconds it returns an error saying what
// was answered last. It suits checks that report an error rather than stop the
// test, such as Terraform test steps.
func (s *Server) AwaitFrom(source, path string, headers map[string]string, wantStatus int, wantBody string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body, err := s.GetFrom(source, path, headers)
		if err == nil && status == wantStatus && strings.Contains(body, wantBody) {
			return nil
		}
		if time.Now().After(deadline) {
			from := ""
			if source != "" {
				from = " from " + source
			}
			return fmt.Errorf("GET %s%s did not answer %d with %q within 10s; last: status %d body %q err %v",
				s.URL(path), from, wantStatus, wantBody, status, body, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && !strings.ContainsRune("-_./:=@,+", r)
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
