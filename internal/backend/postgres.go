package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// PostgresConfig configures the PostgreSQL backend.
type PostgresConfig struct {
	// DSN is a libpq connection string (URL or key=value). It is a secret: it never
	// appears in errors or logs.
	DSN string
	// Schema holds the backend's tables; default "release". Created on first use.
	Schema string
}

// DefaultSchema is the schema used when PostgresConfig.Schema is empty.
const DefaultSchema = "release"

// Postgres is the shared backend: locks are rows that outlive every provider process,
// tokens come from a per-environment counter updated in the same transaction, and
// waiters wake on LISTEN/NOTIFY when a lock is released.
type Postgres struct {
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig
	schema  string // quoted identifier
	channel string // NOTIFY channel of lock releases; payload: the environment
	secrets []string

	lmu      sync.Mutex
	listener *listener
	closed   bool
}

var _ Backend = (*Postgres)(nil)

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// NewPostgres connects to PostgreSQL and creates the backend's tables when missing.
// The migration is idempotent and safe when several runners start at once.
func NewPostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	if strings.TrimSpace(cfg.DSN) == "" {
		return nil, errors.New("the PostgreSQL dsn is empty")
	}
	schema := cfg.Schema
	if schema == "" {
		schema = DefaultSchema
	}
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("invalid schema name %q: use letters, digits and '_', starting with a letter or '_', at most 63 characters", schema)
	}
	poolCfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// The parse error quotes the connection string: say what is wrong without it.
		return nil, errors.New("the PostgreSQL dsn is not a valid connection string (expected postgres://user:password@host:port/database?options or key=value pairs)")
	}
	if !strings.Contains(cfg.DSN, "pool_max_conns") {
		poolCfg.MaxConns = max(poolCfg.MaxConns, 8)
	}
	p := &Postgres{
		connCfg: poolCfg.ConnConfig.Copy(),
		schema:  pgx.Identifier{schema}.Sanitize(),
		channel: "release_lock_" + schema,
		secrets: []string{cfg.DSN},
	}
	if pw := poolCfg.ConnConfig.Password; pw != "" {
		p.secrets = append(p.secrets, pw)
	}
	p.pool, err = pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, p.sanitize(fmt.Errorf("opening the PostgreSQL connection pool: %w", err))
	}
	if err := p.migrate(ctx); err != nil {
		p.pool.Close()
		return nil, err
	}
	return p, nil
}

// sanitize rewrites an error so it names neither the DSN, nor the password, nor the
// user and host of a failed connection.
func (p *Postgres) sanitize(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		msg = "could not connect to the PostgreSQL server: " + connectCause(ce)
	}
	for _, s := range p.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return &sanitizedError{msg: msg, err: err}
}

func connectCause(ce *pgconn.ConnectError) string {
	var pgErr *pgconn.PgError
	if errors.As(ce, &pgErr) {
		return pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"
	}
	var opErr *net.OpError
	if errors.As(ce, &opErr) && opErr.Err != nil {
		cause := opErr.Err.Error()
		// "connect: connection refused" and the like; drop the addresses.
		if i := strings.LastIndex(cause, ": "); i >= 0 {
			cause = cause[i+2:]
		}
		return cause
	}
	if errors.Is(ce, context.DeadlineExceeded) || errors.Is(ce, context.Canceled) {
		return "timed out"
	}
	return "connection failed (check the dsn's host, port, user, password and database)"
}

// sanitizedError keeps the original chain for errors.Is while printing a safe message.
type sanitizedError struct {
	msg string
	err error
}

func (e *sanitizedError) Error() string { return e.msg }

// Unwrap keeps errors.Is working for context and lock errors; connection errors are
// not unwrapped, since their own messages name the user and host.
func (e *sanitizedError) Unwrap() error {
	var ce *pgconn.ConnectError
	if errors.As(e.err, &ce) {
		return nil
	}
	return e.err
}

func (p *Postgres) q(sql string) string { return strings.ReplaceAll(sql, "{s}", p.schema) }

func (p *Postgres) migrate(ctx context.Context) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return p.sanitize(fmt.Errorf("preparing the backend tables: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	stmts := []string{
		// Serializes concurrent first uses: CREATE ... IF NOT EXISTS alone can still
		// fail on a unique violation in the catalogs when two sessions race.
		`SELECT pg_advisory_xact_lock(hashtext('terraform-provider-release'), hashtext($1))`,
		`CREATE SCHEMA IF NOT EXISTS {s}`,
		`CREATE TABLE IF NOT EXISTS {s}.tokens (
			environment text PRIMARY KEY,
			last_token  bigint NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS {s}.locks (
			environment text PRIMARY KEY,
			id          text NOT NULL UNIQUE,
			holder      text NOT NULL,
			reason      text NOT NULL DEFAULT '',
			operation   text NOT NULL DEFAULT '',
			token       bigint NOT NULL,
			acquired_at timestamptz NOT NULL,
			expires_at  timestamptz
		)`,
		`CREATE TABLE IF NOT EXISTS {s}.events (
			seq         bigserial PRIMARY KEY,
			time        timestamptz NOT NULL,
			environment text NOT NULL DEFAULT '',
			kind        text NOT NULL,
			name        text NOT NULL DEFAULT '',
			version     text NOT NULL DEFAULT '',
			sha256      text NOT NULL DEFAULT '',
			git_commit  text NOT NULL DEFAULT '',
			actor       text NOT NULL DEFAULT '',
			lock_token  bigint NOT NULL DEFAULT 0,
			detail      text NOT NULL DEFAULT ''
		)`,
		`CREATE INDEX IF NOT EXISTS events_environment_time ON {s}.events (environment, time DESC, seq DESC)`,
		`CREATE TABLE IF NOT EXISTS {s}.blocks (
			name       text NOT NULL,
			version    text NOT NULL,
			reason     text NOT NULL,
			blocked_by text NOT NULL DEFAULT '',
			blocked_at timestamptz NOT NULL,
			PRIMARY KEY (name, version)
		)`,
		`CREATE TABLE IF NOT EXISTS {s}.freezes (
			id           text PRIMARY KEY,
			environments text[] NOT NULL,
			reason       text NOT NULL DEFAULT '',
			start_at     timestamptz,
			end_at       timestamptz,
			cron         text NOT NULL DEFAULT '',
			duration     text NOT NULL DEFAULT '',
			time_zone    text NOT NULL DEFAULT '',
			created_by   text NOT NULL DEFAULT '',
			created_at   timestamptz NOT NULL
		)`,
	}
	for i, s := range stmts {
		var args []any
		if i == 0 {
			args = []any{p.schema}
		}
		if _, err := tx.Exec(ctx, p.q(s), args...); err != nil {
			return p.sanitize(fmt.Errorf("creating the backend tables in schema %s: %w", p.schema, err))
		}
	}
	if err := p.addColumns(ctx, tx); err != nil {
		return p.sanitize(fmt.Errorf("upgrading the backend tables in schema %s: %w", p.schema, err))
	}
	if err := tx.Commit(ctx); err != nil {
		return p.sanitize(fmt.Errorf("creating the backend tables in schema %s: %w", p.schema, err))
	}
	return nil
}

// addedColumns are the columns added to tables after their first release, with
// their definitions. A database made by an earlier provider gets them in place;
// their defaults are what the earlier provider meant (a lock without run_scoped is
// held across runs).
var addedColumns = []struct{ table, column, definition string }{
	{"locks", "run_scoped", "boolean NOT NULL DEFAULT false"},
	{"events", "run", "text NOT NULL DEFAULT ''"},
}

// addColumns adds the missing addedColumns. It looks first, because ALTER TABLE
// locks the table against every runner even when the column is there already.
func (p *Postgres) addColumns(ctx context.Context, tx pgx.Tx) error {
	for _, c := range addedColumns {
		var present bool
		// The schema name matched schemaName, so it is safe inside the literal.
		if err := tx.QueryRow(ctx, p.q(`SELECT EXISTS (SELECT 1 FROM pg_attribute
			WHERE attrelid = '{s}.`+c.table+`'::regclass AND attname = $1 AND NOT attisdropped)`), c.column).Scan(&present); err != nil {
			return err
		}
		if present {
			continue
		}
		if _, err := tx.Exec(ctx, p.q(`ALTER TABLE {s}.`+c.table+` ADD COLUMN IF NOT EXISTS `+c.column+` `+c.definition)); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Backend.
func (p *Postgres) Close() error {
	p.lmu.Lock()
	p.closed = true
	l := p.listener
	p.listener = nil
	p.lmu.Unlock()
	if l != nil {
		l.stop()
	}
	p.pool.Close()
	return nil
}

const lockColumns = `id, environment, holder, reason, operation, token, acquired_at, expires_at, run_scoped`

func scanLock(row pgx.Row) (*Lock, error) {
	var l Lock
	var expires *time.Time
	if err := row.Scan(&l.ID, &l.Environment, &l.Holder, &l.Reason, &l.Operation, &l.Token, &l.AcquiredAt, &expires, &l.RunScoped); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	l.AcquiredAt = l.AcquiredAt.UTC()
	if expires != nil {
		l.ExpiresAt = expires.UTC()
	}
	return &l, nil
}

// Acquire implements Backend.
func (p *Postgres) Acquire(ctx context.Context, req AcquireRequest) (Lock, error) {
	if err := ValidateEnvironment(req.Environment); err != nil {
		return Lock{}, err
	}
	// NOTIFY wakes the waiters; the backoff is only a fallback re-check (missed
	// notifications while the listener reconnects, and expiry).
	w := newWaiter(ctx, req, 100*time.Millisecond, time.Second)
	var q *wakeQueue
	var tk *ticket
	if req.WaitTimeout > 0 {
		if q = p.waitQueue(ctx); q != nil {
			tk = q.join(req.Environment)
			defer q.leave(req.Environment, tk)
		}
	}
	return w.acquire(ctx, q, tk, func() (*Lock, Lock, error) { return p.tryAcquire(ctx, req) })
}

func (p *Postgres) tryAcquire(ctx context.Context, req AcquireRequest) (*Lock, Lock, error) {
	env := req.Environment
	fail := func(err error) (*Lock, Lock, error) {
		return nil, Lock{}, p.sanitize(fmt.Errorf("acquiring the lock of %s: %w", env, err))
	}
	// Cheap check without a transaction: most retries of a held lock end here.
	held, err := scanLock(p.pool.QueryRow(ctx, p.q(`SELECT `+lockColumns+` FROM {s}.locks
		WHERE environment = $1 AND (expires_at IS NULL OR expires_at > clock_timestamp())`), env))
	if err != nil {
		return fail(err)
	}
	if held != nil {
		return held, Lock{}, nil
	}

	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	// The tokens row lock serializes every acquisition of env.
	if _, err := tx.Exec(ctx, p.q(`INSERT INTO {s}.tokens (environment, last_token) VALUES ($1, 0) ON CONFLICT (environment) DO NOTHING`), env); err != nil {
		return fail(err)
	}
	var last int64
	var now time.Time
	if err := tx.QueryRow(ctx, p.q(`SELECT last_token, clock_timestamp() FROM {s}.tokens WHERE environment = $1 FOR UPDATE`), env).Scan(&last, &now); err != nil {
		return fail(err)
	}
	cur, err := scanLock(tx.QueryRow(ctx, p.q(`SELECT `+lockColumns+` FROM {s}.locks WHERE environment = $1`), env))
	if err != nil {
		return fail(err)
	}
	var previous *Lock
	if cur != nil {
		if !cur.Expired(now) {
			return cur, Lock{}, nil
		}
		if _, err := tx.Exec(ctx, p.q(`DELETE FROM {s}.locks WHERE environment = $1`), env); err != nil {
			return fail(err)
		}
		previous = cur
		last = max(last, cur.Token)
	}
	got := newLock(req, last+1, now)
	if _, err := tx.Exec(ctx, p.q(`UPDATE {s}.tokens SET last_token = $2 WHERE environment = $1`), env, got.Token); err != nil {
		return fail(err)
	}
	if _, err := tx.Exec(ctx, p.q(`INSERT INTO {s}.locks (`+lockColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
		got.ID, got.Environment, got.Holder, got.Reason, got.Operation, got.Token, got.AcquiredAt, nullTime(got.ExpiresAt), got.RunScoped); err != nil {
		return fail(err)
	}
	if err := p.insertEvent(ctx, tx, acquiredEvent(got, previous)); err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return nil, got, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Release implements Backend.
func (p *Postgres) Release(ctx context.Context, environment, lockID string) error {
	_, err := p.ReleaseBy(ctx, environment, lockID, "", "")
	return err
}

// ReleaseBy implements Backend. The conditional DELETE and the event are one
// transaction: the lock checked is the lock deleted, and a release is never missing
// from the history.
func (p *Postgres) ReleaseBy(ctx context.Context, environment, lockID, actor, detail string) (Lock, error) {
	if err := ValidateEnvironment(environment); err != nil {
		return Lock{}, err
	}
	fail := func(err error) (Lock, error) {
		return Lock{}, p.sanitize(fmt.Errorf("releasing the lock of %s: %w", environment, err))
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	released, err := scanLock(tx.QueryRow(ctx, p.q(`DELETE FROM {s}.locks WHERE environment = $1 AND id = $2 RETURNING `+lockColumns), environment, lockID))
	if err != nil {
		return fail(err)
	}
	if released == nil {
		cur, err := scanLock(tx.QueryRow(ctx, p.q(`SELECT `+lockColumns+` FROM {s}.locks WHERE environment = $1`), environment))
		if err != nil {
			return fail(err)
		}
		return Lock{}, checkHolder(environment, cur, lockID)
	}
	if err := p.insertEvent(ctx, tx, releasedEvent(*released, actor, detail)); err != nil {
		return fail(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, p.channel, environment); err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return *released, nil
}

// ForceRelease implements Backend.
func (p *Postgres) ForceRelease(ctx context.Context, environment, actor, reason string) (*Lock, error) {
	return p.forceRelease(ctx, environment, "", actor, reason)
}

// ForceReleaseID implements Backend.
func (p *Postgres) ForceReleaseID(ctx context.Context, environment, lockID, actor, reason string) (*Lock, error) {
	if err := requireLockID(environment, lockID); err != nil {
		return nil, err
	}
	return p.forceRelease(ctx, environment, lockID, actor, reason)
}

// forceRelease frees the environment's lock, any lock when lockID is empty: one
// conditional DELETE in the transaction that records the event, so the lock checked
// is the lock deleted.
func (p *Postgres) forceRelease(ctx context.Context, environment, lockID, actor, reason string) (*Lock, error) {
	if err := ValidateEnvironment(environment); err != nil {
		return nil, err
	}
	fail := func(err error) (*Lock, error) {
		return nil, p.sanitize(fmt.Errorf("force-releasing the lock of %s: %w", environment, err))
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	var row pgx.Row
	if lockID == "" {
		row = tx.QueryRow(ctx, p.q(`DELETE FROM {s}.locks WHERE environment = $1 RETURNING `+lockColumns), environment)
	} else {
		row = tx.QueryRow(ctx, p.q(`DELETE FROM {s}.locks WHERE environment = $1 AND id = $2 RETURNING `+lockColumns), environment, lockID)
	}
	released, err := scanLock(row)
	if err != nil {
		return fail(err)
	}
	if released == nil {
		if lockID == "" {
			return nil, nil
		}
		// Say which lock is held instead; a lock taken after the DELETE is not ours to
		// report, but nothing was released either way.
		cur, err := scanLock(tx.QueryRow(ctx, p.q(`SELECT `+lockColumns+` FROM {s}.locks WHERE environment = $1`), environment))
		if err != nil {
			return fail(err)
		}
		if cur == nil {
			return nil, nil
		}
		return nil, checkHolder(environment, cur, lockID)
	}
	if err := p.insertEvent(ctx, tx, forceReleasedEvent(*released, actor, reason)); err != nil {
		return fail(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, p.channel, environment); err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return released, nil
}

// Renew implements Backend.
func (p *Postgres) Renew(ctx context.Context, environment, lockID string, ttl time.Duration, reason string) (Lock, error) {
	if err := ValidateEnvironment(environment); err != nil {
		return Lock{}, err
	}
	fail := func(err error) (Lock, error) {
		return Lock{}, p.sanitize(fmt.Errorf("renewing the lock of %s: %w", environment, err))
	}
	renewed, err := scanLock(p.pool.QueryRow(ctx, p.q(`UPDATE {s}.locks SET reason = $3,
			expires_at = CASE WHEN $4::bigint > 0 THEN clock_timestamp() + $4::bigint * interval '1 microsecond' END
		WHERE environment = $1 AND id = $2 RETURNING `+lockColumns), environment, lockID, reason, ttl.Microseconds()))
	if err != nil {
		return fail(err)
	}
	if renewed == nil {
		cur, err := p.Inspect(ctx, environment)
		if err != nil {
			return Lock{}, err
		}
		return Lock{}, checkHolder(environment, cur, lockID)
	}
	return *renewed, nil
}

// Inspect implements Backend.
func (p *Postgres) Inspect(ctx context.Context, environment string) (*Lock, error) {
	if err := ValidateEnvironment(environment); err != nil {
		return nil, err
	}
	l, err := scanLock(p.pool.QueryRow(ctx, p.q(`SELECT `+lockColumns+` FROM {s}.locks WHERE environment = $1`), environment))
	if err != nil {
		return nil, p.sanitize(fmt.Errorf("reading the lock of %s: %w", environment, err))
	}
	return l, nil
}

// CurrentToken implements Backend. Expiry is judged by the database clock, the one
// clock every runner shares.
func (p *Postgres) CurrentToken(ctx context.Context, environment string) (int64, error) {
	if err := ValidateEnvironment(environment); err != nil {
		return 0, err
	}
	var token int64
	err := p.pool.QueryRow(ctx, p.q(`SELECT token FROM {s}.locks
		WHERE environment = $1 AND (expires_at IS NULL OR expires_at > clock_timestamp())`), environment).Scan(&token)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, p.sanitize(fmt.Errorf("reading the lock token of %s: %w", environment, err))
	}
	return token, nil
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (p *Postgres) insertEvent(ctx context.Context, db execer, ev Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	_, err := db.Exec(ctx, p.q(`INSERT INTO {s}.events (time, environment, kind, name, version, sha256, git_commit, actor, lock_token, detail, run)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`),
		ev.Time.UTC(), ev.Environment, ev.Kind, ev.Name, ev.Version, ev.SHA256, ev.GitCommit, ev.Actor, ev.LockToken, ev.Detail, ev.Run)
	return err
}

// Append implements Backend.
func (p *Postgres) Append(ctx context.Context, ev Event) error {
	if ev.Environment != "" {
		if err := ValidateEnvironment(ev.Environment); err != nil {
			return err
		}
	}
	if err := p.insertEvent(ctx, p.pool, ev); err != nil {
		return p.sanitize(fmt.Errorf("appending to the release history: %w", err))
	}
	return nil
}

// History implements Backend.
func (p *Postgres) History(ctx context.Context, q HistoryQuery) ([]Event, error) {
	sql := `SELECT time, environment, kind, name, version, sha256, git_commit, actor, lock_token, detail, run FROM {s}.events WHERE true`
	var args []any
	if q.Environment != "" {
		args = append(args, q.Environment)
		sql += fmt.Sprintf(` AND environment = $%d`, len(args))
	}
	if q.Name != "" {
		args = append(args, q.Name)
		sql += fmt.Sprintf(` AND name = $%d`, len(args))
	}
	if len(q.Kinds) > 0 {
		args = append(args, q.Kinds)
		sql += fmt.Sprintf(` AND kind = ANY($%d)`, len(args))
	}
	sql += ` ORDER BY time DESC, seq DESC`
	if q.Limit > 0 {
		args = append(args, q.Limit)
		sql += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := p.pool.Query(ctx, p.q(sql), args...)
	if err != nil {
		return nil, p.sanitize(fmt.Errorf("reading the release history: %w", err))
	}
	defer rows.Close()
	var events []Event
	for rows.Next() {
		var ev Event
		if err := rows.Scan(&ev.Time, &ev.Environment, &ev.Kind, &ev.Name, &ev.Version, &ev.SHA256, &ev.GitCommit, &ev.Actor, &ev.LockToken, &ev.Detail, &ev.Run); err != nil {
			return nil, p.sanitize(fmt.Errorf("reading the release history: %w", err))
		}
		ev.Time = ev.Time.UTC()
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, p.sanitize(fmt.Errorf("reading the release history: %w", err))
	}
	return events, nil
}

// SetBlock implements Backend.
func (p *Postgres) SetBlock(ctx context.Context, b Block) error {
	if err := validateBlockKey(b.Name, b.Version); err != nil {
		return err
	}
	if b.BlockedAt.IsZero() {
		b.BlockedAt = time.Now()
	}
	_, err := p.pool.Exec(ctx, p.q(`INSERT INTO {s}.blocks (name, version, reason, blocked_by, blocked_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name, version) DO UPDATE SET reason = EXCLUDED.reason, blocked_by = EXCLUDED.blocked_by, blocked_at = EXCLUDED.blocked_at`),
		b.Name, b.Version, b.Reason, b.BlockedBy, b.BlockedAt.UTC())
	if err != nil {
		return p.sanitize(fmt.Errorf("blocking %s@%s: %w", b.Name, b.Version, err))
	}
	return nil
}

// GetBlock implements Backend.
func (p *Postgres) GetBlock(ctx context.Context, name, version string) (*Block, error) {
	if err := validateBlockKey(name, version); err != nil {
		return nil, err
	}
	var b Block
	err := p.pool.QueryRow(ctx, p.q(`SELECT name, version, reason, blocked_by, blocked_at FROM {s}.blocks WHERE name = $1 AND version = $2`), name, version).
		Scan(&b.Name, &b.Version, &b.Reason, &b.BlockedBy, &b.BlockedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, p.sanitize(fmt.Errorf("reading the block of %s@%s: %w", name, version, err))
	}
	b.BlockedAt = b.BlockedAt.UTC()
	return &b, nil
}

// RemoveBlock implements Backend.
func (p *Postgres) RemoveBlock(ctx context.Context, name, version string) error {
	if err := validateBlockKey(name, version); err != nil {
		return err
	}
	if _, err := p.pool.Exec(ctx, p.q(`DELETE FROM {s}.blocks WHERE name = $1 AND version = $2`), name, version); err != nil {
		return p.sanitize(fmt.Errorf("unblocking %s@%s: %w", name, version, err))
	}
	return nil
}

// waitQueue returns the queue that release notifications wake. It starts the shared
// listener on first use; when listening is impossible (for example behind a
// transaction-mode pooler) it returns nil and the waiters poll.
func (p *Postgres) waitQueue(ctx context.Context) *wakeQueue {
	p.lmu.Lock()
	defer p.lmu.Unlock()
	if p.closed {
		return nil
	}
	if p.listener == nil {
		l, err := p.startListener(ctx)
		if err != nil {
			logging.Warn(ctx, "Cannot LISTEN for lock releases; waiting by polling", "error", err.Error())
			return nil
		}
		p.listener = l
	}
	return &p.listener.queue
}

// listener owns one dedicated connection that LISTENs on the release channel and
// wakes the waiters of this process.
type listener struct {
	cancel context.CancelFunc
	done   chan struct{}
	queue  wakeQueue
}

func (p *Postgres) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, p.connCfg.Copy())
	if err != nil {
		return nil, p.sanitize(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{p.channel}.Sanitize()); err != nil {
		conn.Close(context.Background()) //nolint:errcheck // already failing
		return nil, p.sanitize(err)
	}
	return conn, nil
}

func (p *Postgres) startListener(ctx context.Context) (*listener, error) {
	conn, err := p.listen(ctx)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &listener{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		backoff := 100 * time.Millisecond
		for {
			n, err := conn.WaitForNotification(lctx)
			if err == nil {
				l.queue.wake(n.Payload)
				continue
			}
			conn.Close(context.Background()) //nolint:errcheck // replaced below
			if lctx.Err() != nil {
				return
			}
			// Reconnect; notifications sent meanwhile are lost, so everyone re-checks.
			for {
				l.queue.wakeAll()
				select {
				case <-lctx.Done():
					return
				case <-time.After(backoff):
				}
				if conn, err = p.listen(lctx); err == nil {
					backoff = 100 * time.Millisecond
					l.queue.wakeAll()
					break
				}
				backoff = min(backoff*2, 5*time.Second)
			}
		}
	}()
	return l, nil
}

func (l *listener) stop() {
	l.cancel()
	<-l.done
}
