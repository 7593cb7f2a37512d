package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/releaseplan/terraform-provider-release/internal/atomicfile"
)

// Freezes of the directory backend live in freezes/<id>.json.

func (d *Directory) freezePath(id string) (string, error) {
	if err := ValidateFreezeID(id); err != nil {
		return "", err
	}
	return filepath.Join(d.root, "freezes", id+".json"), nil
}

// normalizeFreeze stores times in UTC and stamps the creation time.
func normalizeFreeze(f Freeze) Freeze {
	if f.CreatedAt.IsZero() {
		f.CreatedAt = time.Now()
	}
	f.CreatedAt = f.CreatedAt.UTC()
	if !f.Start.IsZero() {
		f.Start = f.Start.UTC()
	}
	if !f.End.IsZero() {
		f.End = f.End.UTC()
	}
	return f
}

// SetFreeze implements Backend.
func (d *Directory) SetFreeze(_ context.Context, f Freeze) error {
	path, err := d.freezePath(f.ID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the freezes directory: %w", err)
	}
	data, err := json.Marshal(normalizeFreeze(f))
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing freeze %s: %w", f.ID, err)
	}
	return nil
}

// GetFreeze implements Backend.
func (d *Directory) GetFreeze(_ context.Context, id string) (*Freeze, error) {
	path, err := d.freezePath(id)
	if err != nil {
		return nil, err
	}
	return readFreeze(path)
}

func readFreeze(path string) (*Freeze, error) { return readRecord[Freeze](path, "freeze") }

// ListFreezes implements Backend.
func (d *Directory) ListFreezes(_ context.Context) ([]Freeze, error) {
	entries, err := os.ReadDir(filepath.Join(d.root, "freezes"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing freezes: %w", err)
	}
	var out []Freeze
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		f, err := readFreeze(filepath.Join(d.root, "freezes", e.Name()))
		if err != nil {
			return nil, err
		}
		if f != nil {
			out = append(out, *f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// RemoveFreeze implements Backend.
func (d *Directory) RemoveFreeze(_ context.Context, id string) error {
	path, err := d.freezePath(id)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing freeze %s: %w", id, err)
	}
	return nil
}

// Freezes of the PostgreSQL backend live in the freezes table.

const freezeColumns = `id, environments, reason, start_at, end_at, cron, duration, time_zone, created_by, created_at`

// SetFreeze implements Backend.
func (p *Postgres) SetFreeze(ctx context.Context, f Freeze) error {
	if err := ValidateFreezeID(f.ID); err != nil {
		return err
	}
	f = normalizeFreeze(f)
	envs := f.Environments
	if envs == nil {
		envs = []string{}
	}
	_, err := p.pool.Exec(ctx, p.q(`INSERT INTO {s}.freezes (`+freezeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET environments = EXCLUDED.environments, reason = EXCLUDED.reason, start_at = EXCLUDED.start_at,
		end_at = EXCLUDED.end_at, cron = EXCLUDED.cron, duration = EXCLUDED.duration, time_zone = EXCLUDED.time_zone,
		created_by = EXCLUDED.created_by, created_at = EXCLUDED.created_at`),
		f.ID, envs, f.Reason, nullTime(f.Start), nullTime(f.End), f.Cron, f.Duration, f.TimeZone, f.CreatedBy, f.CreatedAt)
	if err != nil {
		return p.sanitize(fmt.Errorf("storing freeze %s: %w", f.ID, err))
	}
	return nil
}

func scanFreeze(row pgx.Row) (Freeze, error) {
	var f Freeze
	var start, end *time.Time
	err := row.Scan(&f.ID, &f.Environments, &f.Reason, &start, &end, &f.Cron, &f.Duration, &f.TimeZone, &f.CreatedBy, &f.CreatedAt)
	if start != nil {
		f.Start = start.UTC()
	}
	if end != nil {
		f.End = end.UTC()
	}
	f.CreatedAt = f.CreatedAt.UTC()
	return f, err
}

// GetFreeze implements Backend.
func (p *Postgres) GetFreeze(ctx context.Context, id string) (*Freeze, error) {
	if err := ValidateFreezeID(id); err != nil {
		return nil, err
	}
	f, err := scanFreeze(p.pool.QueryRow(ctx, p.q(`SELECT `+freezeColumns+` FROM {s}.freezes WHERE id = $1`), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, p.sanitize(fmt.Errorf("reading freeze %s: %w", id, err))
	}
	return &f, nil
}

// ListFreezes implements Backend.
func (p *Postgres) ListFreezes(ctx context.Context) ([]Freeze, error) {
	rows, err := p.pool.Query(ctx, p.q(`SELECT `+freezeColumns+` FROM {s}.freezes ORDER BY id`))
	if err != nil {
		return nil, p.sanitize(fmt.Errorf("listing freezes: %w", err))
	}
	defer rows.Close()
	var out []Freeze
	for rows.Next() {
		f, err := scanFreeze(rows)
		if err != nil {
			return nil, p.sanitize(fmt.Errorf("listing freezes: %w", err))
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, p.sanitize(fmt.Errorf("listing freezes: %w", err))
	}
	return out, nil
}

// RemoveFreeze implements Backend.
func (p *Postgres) RemoveFreeze(ctx context.Context, id string) error {
	if err := ValidateFreezeID(id); err != nil {
		return err
	}
	if _, err := p.pool.Exec(ctx, p.q(`DELETE FROM {s}.freezes WHERE id = $1`), id); err != nil {
		return p.sanitize(fmt.Errorf("removing freeze %s: %w", id, err))
	}
	return nil
}
