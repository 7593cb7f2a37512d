package backend_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/pgtest"
)

// The test binary re-executes itself as a contender or crash victim when childEnv is
// set; see child_test.go.
const (
	childEnv   = "RELEASE_BACKEND_TEST_CHILD"
	specEnv    = "RELEASE_BACKEND_TEST_SPEC"
	dsnEnv     = "RELEASE_BACKEND_TEST_DSN"
	sharedEnv  = "RELEASE_BACKEND_TEST_SHARED"
	roundsEnv  = "RELEASE_BACKEND_TEST_ROUNDS"
	holderEnv  = "RELEASE_BACKEND_TEST_HOLDER"
	ttlEnv     = "RELEASE_BACKEND_TEST_TTL"
	defaultEnv = "staging"
)

var (
	sharedPG     *pgtest.Server
	sharedPGErr  error
	sharedPGOnce sync.Once
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	code := m.Run()
	if sharedPG != nil {
		if err := sharedPG.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// postgresServer returns the PostgreSQL server shared by this package's tests.
func postgresServer(t testing.TB) *pgtest.Server {
	t.Helper()
	sharedPGOnce.Do(func() { sharedPG, sharedPGErr = pgtest.Start() })
	if sharedPGErr != nil {
		t.Fatalf("starting PostgreSQL: %v", sharedPGErr)
	}
	return sharedPG
}

// kind is one backend implementation under test; spec names one backend instance so
// that child processes can open it too.
type kind struct {
	name string
	// newSpec prepares an empty backend and returns its spec.
	newSpec func(t testing.TB) string
}

var kinds = []kind{
	{"directory", func(t testing.TB) string { return "dir:" + filepath.Join(t.TempDir(), "state") }},
	{"postgres", func(t testing.TB) string {
		postgresServer(t)
		return fmt.Sprintf("pg:t%d", schemaSeq.Add(1))
	}},
}

// openSpec opens the backend named by spec; the PostgreSQL DSN comes from the shared
// server (or, in a child, from dsnEnv).
func openSpec(ctx context.Context, spec string) (backend.Backend, error) {
	kindName, arg, _ := strings.Cut(spec, ":")
	switch kindName {
	case "dir":
		return backend.NewDirectory(arg)
	case "pg":
		dsn := os.Getenv(dsnEnv)
		if dsn == "" && sharedPG != nil {
			dsn = sharedPG.DSN
		}
		return backend.NewPostgres(ctx, backend.PostgresConfig{DSN: dsn, Schema: arg})
	}
	return nil, fmt.Errorf("unknown backend spec %q", spec)
}

func mustOpen(t testing.TB, spec string) backend.Backend {
	t.Helper()
	b, err := openSpec(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// childCommand is this test binary run again as a child process in mode
// ("contend" or "hold", see runChild) working on spec, with the extra
// environment variables; it runs no test of its own.
func childCommand(t testing.TB, mode, spec string, extra ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, specEnv+"="+spec)
	if sharedPG != nil {
		cmd.Env = append(cmd.Env, dsnEnv+"="+sharedPG.DSN)
	}
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}
