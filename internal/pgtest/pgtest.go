// Package pgtest starts throwaway PostgreSQL servers for tests: a fresh cluster made
// with initdb in a temporary directory, listening on a free loopback port, stopped and
// removed when the test ends. Tests that need PostgreSQL fail (never skip) when the
// server binaries are missing.
package pgtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// InstallHint tells how to get the PostgreSQL server binaries.
const InstallHint = "install the PostgreSQL server (Debian: apt-get install postgresql, or run scripts/test-deps.sh)"

// Server is a running throwaway cluster.
type Server struct {
	// DSN connects as the superuser "postgres" with a password over TCP on 127.0.0.1.
	DSN string
	// Password is the superuser's password (part of DSN).
	Password string
	Port     int

	dir     string
	bin     string
	run     func(name string, args ...string) *exec.Cmd
	started bool
}

// New starts a PostgreSQL cluster for t and returns it; the cluster is stopped and its
// files removed in t.Cleanup.
func New(t testing.TB) *Server {
	t.Helper()
	srv, err := Start()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return srv
}

// Start starts a cluster that lives until Stop, for servers shared by several tests
// (started lazily and stopped in TestMain).
func Start() (*Server, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, fmt.Errorf("%w; %s", err, InstallHint)
	}
	run, owner, err := runner()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: when running as root the server runs as another user, who must
	// be able to enter the directory.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	srv := &Server{dir: dir, run: run, bin: bin}
	if err := srv.start(owner); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return srv, nil
}

func (s *Server) start(owner *ids) error {
	pw := randomHex(16)
	pwfile := filepath.Join(s.dir, "pw")
	if err := os.WriteFile(pwfile, []byte(pw+"\n"), 0o600); err != nil {
		return err
	}
	if owner != nil {
		if err := chownAll(s.dir, owner.uid, owner.gid); err != nil {
			return fmt.Errorf("giving %s to the postgres user: %w", s.dir, err)
		}
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.run(filepath.Join(s.bin, "initdb"), "-D", data, "-U", "postgres", "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb failed: %w\n%s", err, out)
	}
	var port int
	var err error
	var lastOut []byte
	for attempt := 0; attempt < 3; attempt++ {
		port, err = freePort()
		if err != nil {
			return err
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", port, s.dir)
		lastOut, err = s.run(filepath.Join(s.bin, "pg_ctl"), "-D", data, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput()
		if err == nil {
			break
		}
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		lastOut = append(lastOut, log...)
	}
	if err != nil {
		return fmt.Errorf("pg_ctl start failed: %w\n%s", err, lastOut)
	}
	s.started = true
	s.DSN = fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", pw, port)
	s.Password = pw
	s.Port = port
	return nil
}

// Stop stops the server at once and removes its files.
func (s *Server) Stop() error {
	var err error
	if s.started {
		if out, e := s.run(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop").CombinedOutput(); e != nil {
			err = fmt.Errorf("pg_ctl stop: %w\n%s", e, out)
		}
		s.started = false
	}
	if e := os.RemoveAll(s.dir); e != nil && err == nil {
		err = e
	}
	return err
}

// findBinDir returns the directory holding initdb and pg_ctl: PATH first, then the
// Debian layout /usr/lib/postgresql/<major>/bin (newest major first).
func findBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return majorOf(matches[i]) > majorOf(matches[j]) })
	for _, m := range matches {
		dir := filepath.Dir(m)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("initdb and pg_ctl not found on PATH nor in /usr/lib/postgresql/*/bin")
}

func majorOf(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

type ids struct{ uid, gid int }

// runner returns how to run the server binaries. PostgreSQL refuses to run as root,
// so as root they run as the "postgres" system user through runuser (or su).
func runner() (func(name string, args ...string) *exec.Cmd, *ids, error) {
	if os.Geteuid() != 0 {
		return exec.Command, nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, fmt.Errorf("running as root and there is no postgres user to run the server as (%v); %s", err, InstallHint)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if p, err := exec.LookPath("runuser"); err == nil {
		return func(name string, args ...string) *exec.Cmd {
			return exec.Command(p, append([]string{"-u", "postgres", "--", name}, args...)...)
		}, &ids{uid, gid}, nil
	}
	if p, err := exec.LookPath("su"); err == nil {
		return func(name string, args ...string) *exec.Cmd {
			quoted := []string{shellQuote(name)}
			for _, a := range args {
				quoted = append(quoted, shellQuote(a))
			}
			return exec.Command(p, "postgres", "-s", "/bin/sh", "-c", strings.Join(quoted, " "))
		}, &ids{uid, gid}, nil
	}
	return nil, nil, errors.New("running as root and neither runuser nor su is available to run the server as the postgres user")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func chownAll(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil //nolint:forcetypeassert // a TCP listener has a TCP address
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
