package backend_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/pgtest"
)

var schemaSeq atomic.Int64

// postgresFactory returns a constructor of empty PostgreSQL backends, each in its own
// schema of one server started for t.
func postgresFactory(t *testing.T) (func(t *testing.T) backend.Backend, *pgtest.Server) {
	srv := postgresServer(t)
	return func(t *testing.T) backend.Backend {
		t.Helper()
		b, err := backend.NewPostgres(context.Background(), backend.PostgresConfig{DSN: srv.DSN, Schema: fmt.Sprintf("t%d", schemaSeq.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}, srv
}

func TestPostgresBehaviours(t *testing.T) {
	newBackend, _ := postgresFactory(t)
	runBehaviours(t, newBackend)
}

// Several runners starting at once all create the tables without failing.
func TestPostgresConcurrentFirstUse(t *testing.T) {
	srv := postgresServer(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			b, err := backend.NewPostgres(t.Context(), backend.PostgresConfig{DSN: srv.DSN})
			if err != nil {
				errs <- err
				return
			}
			_ = b.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The default schema is "release".
	b, err := backend.NewPostgres(t.Context(), backend.PostgresConfig{DSN: srv.DSN})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The server and its default schema outlive one run of the test (-count): a
	// name of this run's own.
	env := fmt.Sprintf("staging-%d", schemaSeq.Add(1))
	mustAcquire(t, b, backend.AcquireRequest{Environment: env, Holder: "a"})
	other, err := backend.NewPostgres(t.Context(), backend.PostgresConfig{DSN: srv.DSN, Schema: backend.DefaultSchema})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got := mustInspect(t, other, env); got == nil || got.Holder != "a" {
		t.Fatalf("lock not visible through the default schema: %+v", got)
	}
}

// The DSN and its password never appear in errors.
func TestPostgresErrorsHideTheDSN(t *testing.T) {
	srv := postgresServer(t)
	wrongPW := strings.Replace(srv.DSN, srv.Password, "s3cret-wrong-pass", 1)
	refused := "postgres://deployer:s3cret-pass@127.0.0.1:1/db?sslmode=disable&connect_timeout=5"
	cases := []struct {
		name, dsn, schema, want string
		secrets                 []string
	}{
		{"wrong password", wrongPW, "", "password authentication failed", []string{"s3cret-wrong-pass", wrongPW}},
		{"connection refused", refused, "", "connection refused", []string{"s3cret-pass", "deployer", "127.0.0.1:1", refused}},
		{"unparsable", "postgres://u:s3cret-pass@host:notaport/db", "", "not a valid connection string", []string{"s3cret-pass", "notaport"}},
		{"key=value", "host=127.0.0.1 port=1 user=deployer password=s3cret-pass connect_timeout=5", "", "connection refused", []string{"s3cret-pass", "deployer"}},
		{"bad schema", srv.DSN, "x; drop table", "invalid schema name", []string{srv.Password}},
		{"empty", "", "", "dsn is empty", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := backend.NewPostgres(t.Context(), backend.PostgresConfig{DSN: tc.dsn, Schema: tc.schema})
			if err == nil {
				b.Close()
				t.Fatal("NewPostgres succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			for _, s := range tc.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q reveals %q", err, s)
				}
			}
		})
	}
}

// A CHECK constraint refusing lock events makes the history insert fail inside the
// acquiring transaction.
func TestPostgresAcquireAllOrNothing(t *testing.T) {
	srv := postgresServer(t)
	schemas := map[backend.Backend]string{}
	newBackend := func(t *testing.T) backend.Backend {
		schema := fmt.Sprintf("t%d", schemaSeq.Add(1))
		b, err := backend.NewPostgres(t.Context(), backend.PostgresConfig{DSN: srv.DSN, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		schemas[b] = schema
		return b
	}
	exec := func(t *testing.T, sql string) {
		t.Helper()
		conn, err := pgx.Connect(t.Context(), srv.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatal(err)
		}
	}
	checkAcquireAllOrNothing(t, newBackend,
		func(t *testing.T, b backend.Backend) {
			exec(t, `ALTER TABLE `+schemas[b]+`.events ADD CONSTRAINT refuse_lock_events
				CHECK (kind NOT IN ('lock_acquired', 'lock_taken_over')) NOT VALID`)
		},
		func(t *testing.T, b backend.Backend) {
			exec(t, `ALTER TABLE `+schemas[b]+`.events DROP CONSTRAINT refuse_lock_events`)
		})
}

// A database made by a provider without run-scoped locks is upgraded in place: its
// tables get the new column, its held lock stays held and counts as held across
// runs, so a failed deployment does not release it.
func TestPostgresUpgradesAnEarlierSchema(t *testing.T) {
	srv := postgresServer(t)
	schema := fmt.Sprintf("t%d", schemaSeq.Add(1))
	conn, err := pgx.Connect(t.Context(), srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{
		`CREATE SCHEMA ` + schema,
		`CREATE TABLE ` + schema + `.tokens (environment text PRIMARY KEY, last_token bigint NOT NULL)`,
		`CREATE TABLE ` + schema + `.locks (
			environment text PRIMARY KEY, id text NOT NULL UNIQUE, holder text NOT NULL,
			reason text NOT NULL DEFAULT '', operation text NOT NULL DEFAULT '', token bigint NOT NULL,
			acquired_at timestamptz NOT NULL, expires_at timestamptz)`,
		`INSERT INTO ` + schema + `.tokens VALUES ('staging', 7)`,
		`INSERT INTO ` + schema + `.locks VALUES ('staging', 'e6f1c3a2-0000-4000-8000-000000000007', 'alice', 'manual validation', 'release_environment_lock', 7, now(), NULL)`,
	} {
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for range 2 { // the upgrade is idempotent
		b, err := backend.NewPostgres(t.Context(), backend.PostgresConfig{DSN: srv.DSN, Schema: schema})
		if err != nil {
			t.Fatalf("opening the earlier schema: %v", err)
		}
		_ = b.Close()
	}
	b, err := backend.NewPostgres(t.Context(), backend.PostgresConfig{DSN: srv.DSN, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	old := mustInspect(t, b, "staging")
	if old == nil || old.Holder != "alice" || old.Token != 7 || old.RunScoped {
		t.Fatalf("the earlier lock reads as %+v; want alice's, token 7, held across runs", old)
	}
	if ok, err := backend.ReleaseRunLock(ctx(t), b, "staging", 7, "ci", "failed"); ok || err != nil {
		t.Fatalf("ReleaseRunLock(the earlier lock) = %v, %v; want false, nil", ok, err)
	}
	if err := b.Release(ctx(t), "staging", old.ID); err != nil {
		t.Fatal(err)
	}
	run := mustAcquire(t, b, backend.AcquireRequest{Environment: "staging", Holder: "ci", RunScoped: true, TTL: time.Minute})
	if run.Token != 8 || !mustInspect(t, b, "staging").RunScoped {
		t.Fatalf("run lock after the upgrade = %+v; want token 8, run-scoped", run)
	}
}
