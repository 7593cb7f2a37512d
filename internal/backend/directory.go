package backend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/atomicfile"
)

// Directory is the embedded backend: coordination data in a local directory, shared
// by every process of one machine.
//
// Layout under the root:
//
//	locks/<env>.lock        the environment's lock (JSON); present only while held
//	tokens/<env>            the last fencing token given for env; flock(2) on this file
//	                        serializes every lock change of env between processes
//	history/<env>.jsonl     append-only events of env; _global.jsonl for the others
//	blocks/<name>@<version>.json
//	freezes/<id>.json
type Directory struct {
	root string

	// waiters of this process retry at once when a lock is released here; waiters in
	// other processes poll.
	waiters wakeQueue
}

var _ Backend = (*Directory)(nil)

// globalHistory is the history file of events that name no environment.
const globalHistory = "_global"

// NewDirectory opens (creating with mode 0700 when missing) a directory backend.
func NewDirectory(path string) (*Directory, error) {
	if path == "" {
		return nil, errors.New("backend directory path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving backend directory %s: %w", path, err)
	}
	for _, sub := range []string{"", "locks", "tokens", "history", "blocks", "freezes"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o700); err != nil {
			return nil, fmt.Errorf("creating backend directory: %w", err)
		}
	}
	return &Directory{root: abs}, nil
}

// Path returns the backend's root directory.
func (d *Directory) Path() string { return d.root }

// Close implements Backend; a directory backend holds no open handles between calls.
func (d *Directory) Close() error { return nil }

func (d *Directory) lockPath(env string) string {
	return filepath.Join(d.root, "locks", env+".lock")
}

// withEnvLock runs fn while holding the exclusive flock of env's token file, which
// every change of env's lock takes; fn gets the open token file.
func (d *Directory) withEnvLock(env string, fn func(tokens *os.File) error) error {
	f, err := os.OpenFile(filepath.Join(d.root, "tokens", env), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening the token counter of %s: %w", env, err)
	}
	defer f.Close()
	if err := flock(f, lockExclusive); err != nil {
		return fmt.Errorf("locking the token counter of %s: %w", env, err)
	}
	defer funlock(f) //nolint:errcheck // closing the file unlocks too
	return fn(f)
}

// nextToken increments the counter file held under flock. The token is also kept
// above floor (the token of the lock file), so a lost counter cannot hand out a token
// again.
func nextToken(f *os.File, floor int64) (int64, error) {
	buf := make([]byte, 64)
	n, err := f.ReadAt(buf, 0)
	if err != nil && n == 0 && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("reading token counter: %w", err)
	}
	var last int64
	if s := strings.TrimSpace(string(buf[:n])); s != "" {
		last, err = strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("token counter %s is corrupt (%q): %w", f.Name(), s, err)
		}
	}
	last = max(last, floor) + 1
	// A fixed-width single write at offset 0: the counter never shrinks and a reader
	// never sees half of it.
	if _, err := f.WriteAt([]byte(fmt.Sprintf("%020d\n", last)), 0); err != nil {
		return 0, fmt.Errorf("writing token counter: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("syncing token counter: %w", err)
	}
	return last, nil
}

// readLock returns the lock stored at path, or nil when there is none.
func readLock(path string) (*Lock, error) { return readRecord[Lock](path, "lock") }

// readRecord returns the JSON record (a lock, a freeze, a block) stored at
// path, or nil when there is none; what names the kind of record in errors.
func readRecord[T any](path, what string) (*T, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s file: %w", what, err)
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s file %s is corrupt: %w", what, path, err)
	}
	return &v, nil
}

// Acquire implements Backend.
func (d *Directory) Acquire(ctx context.Context, req AcquireRequest) (Lock, error) {
	if err := ValidateEnvironment(req.Environment); err != nil {
		return Lock{}, err
	}
	w := newWaiter(ctx, req, 5*time.Millisecond, 100*time.Millisecond)
	var tk *ticket
	if req.WaitTimeout > 0 {
		tk = d.waiters.join(req.Environment)
		defer d.waiters.leave(req.Environment, tk)
	}
	return w.acquire(ctx, &d.waiters, tk, func() (*Lock, Lock, error) { return d.tryAcquire(ctx, req) })
}

// tryAcquire takes the lock when it is free or expired; otherwise it returns the
// holder's lock. The acquisition is all or nothing: the history entry is written
// under the environment's flock, and when it cannot be written the lock file is
// removed again (and an expired lock that was taken over put back) before the error
// is returned, so a failed Acquire never leaves a lock behind.
func (d *Directory) tryAcquire(ctx context.Context, req AcquireRequest) (*Lock, Lock, error) {
	path := d.lockPath(req.Environment)
	// Cheap check without the flock: most polls of a held lock end here.
	if cur, err := readLock(path); err != nil {
		return nil, Lock{}, err
	} else if cur != nil && !cur.Expired(time.Now()) {
		return cur, Lock{}, nil
	}
	var held *Lock
	var got Lock
	undone := false
	err := d.withEnvLock(req.Environment, func(tokens *os.File) error {
		cur, err := readLock(path)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		var floor int64
		var previous *Lock
		if cur != nil {
			if !cur.Expired(now) {
				held = cur
				return nil
			}
			floor = cur.Token
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("removing the expired lock: %w", err)
			}
			previous = cur
		}
		token, err := nextToken(tokens, floor)
		if err != nil {
			return d.restoreExpired(path, previous, err)
		}
		got = newLock(req, token, now)
		data, err := json.Marshal(got)
		if err != nil {
			return d.restoreExpired(path, previous, err)
		}
		if err := atomicfile.CreateFile(path, data, 0o600); err != nil {
			return d.restoreExpired(path, previous, fmt.Errorf("creating the lock file: %w", err))
		}
		if err := d.Append(ctx, acquiredEvent(got, previous)); err != nil {
			err = fmt.Errorf("recording the acquisition in the history: %w", err)
			if uerr := d.undoAcquire(path, got, previous); uerr != nil {
				return fmt.Errorf("%w; undoing the acquisition also failed, so lock %s (token %d) is still held: %w", err, got.ID, got.Token, uerr)
			}
			undone = true
			return fmt.Errorf("%w; the lock was not taken", err)
		}
		return nil
	})
	if undone {
		// Waiters that saw the short-lived lock file retry now.
		d.waiters.wake(req.Environment)
	}
	if err != nil {
		return nil, Lock{}, fmt.Errorf("acquiring the lock of %s: %w", req.Environment, err)
	}
	if held != nil {
		return held, Lock{}, nil
	}
	return nil, got, nil
}

// undoAcquire, called under the environment's flock, removes the lock file if it is
// still got and puts back the expired lock it had replaced.
func (d *Directory) undoAcquire(path string, got Lock, previous *Lock) error {
	cur, err := readLock(path)
	if err != nil {
		return err
	}
	if cur == nil || cur.ID != got.ID {
		// Someone who ignores the flock changed it: leave their lock alone.
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing the lock file: %w", err)
	}
	return d.restoreExpired(path, previous, nil)
}

// restoreExpired puts back the expired lock that an acquisition removed, so a failed
// takeover leaves the environment as it found it; it returns cause, or the restore's
// own failure joined to it.
func (d *Directory) restoreExpired(path string, previous *Lock, cause error) error {
	if previous == nil {
		return cause
	}
	data, err := json.Marshal(previous)
	if err == nil {
		err = atomicfile.CreateFile(path, data, 0o600)
	}
	if err != nil {
		err = fmt.Errorf("putting back the expired lock %s: %w", previous.ID, err)
		if cause == nil {
			return err
		}
		return fmt.Errorf("%w; %w", cause, err)
	}
	return cause
}

// Release implements Backend.
func (d *Directory) Release(ctx context.Context, environment, lockID string) error {
	_, err := d.ReleaseBy(ctx, environment, lockID, "", "")
	return err
}

// ReleaseBy implements Backend.
func (d *Directory) ReleaseBy(ctx context.Context, environment, lockID, actor, detail string) (Lock, error) {
	if err := ValidateEnvironment(environment); err != nil {
		return Lock{}, err
	}
	released, err := d.removeLock(environment, lockID, false)
	if err != nil {
		return Lock{}, err
	}
	d.waiters.wake(environment)
	if err := d.Append(ctx, releasedEvent(*released, actor, detail)); err != nil {
		return *released, fmt.Errorf("the lock of %s (token %d) was released but recording it in the history failed: %w", environment, released.Token, err)
	}
	return *released, nil
}

// removeLock removes the environment's lock file under the environment's flock
// and returns the lock it held. Without force, the lock must be lockID's
// (checkHolder). With force, no lock is no error (nil is returned) and the lock
// is checked only when lockID is set.
func (d *Directory) removeLock(environment, lockID string, force bool) (*Lock, error) {
	var removed *Lock
	err := d.withEnvLock(environment, func(*os.File) error {
		cur, err := readLock(d.lockPath(environment))
		if err != nil || (force && cur == nil) {
			return err
		}
		if !force || lockID != "" {
			if err := checkHolder(environment, cur, lockID); err != nil {
				return err
			}
		}
		if err := os.Remove(d.lockPath(environment)); err != nil {
			return fmt.Errorf("removing the lock file: %w", err)
		}
		removed = cur
		return nil
	})
	return removed, err
}

// ForceRelease implements Backend.
func (d *Directory) ForceRelease(ctx context.Context, environment, actor, reason string) (*Lock, error) {
	return d.forceRelease(ctx, environment, "", actor, reason)
}

// ForceReleaseID implements Backend.
func (d *Directory) ForceReleaseID(ctx context.Context, environment, lockID, actor, reason string) (*Lock, error) {
	if err := requireLockID(environment, lockID); err != nil {
		return nil, err
	}
	return d.forceRelease(ctx, environment, lockID, actor, reason)
}

// forceRelease frees the environment's lock, any lock when lockID is empty; the
// comparison and the removal happen under the environment's flock.
func (d *Directory) forceRelease(ctx context.Context, environment, lockID, actor, reason string) (*Lock, error) {
	if err := ValidateEnvironment(environment); err != nil {
		return nil, err
	}
	released, err := d.removeLock(environment, lockID, true)
	if err != nil || released == nil {
		return nil, err
	}
	d.waiters.wake(environment)
	if err := d.Append(ctx, forceReleasedEvent(*released, actor, reason)); err != nil {
		return released, fmt.Errorf("the lock of %s (token %d) was force-released but recording it in the history failed: %w", environment, released.Token, err)
	}
	return released, nil
}

// Renew implements Backend.
func (d *Directory) Renew(ctx context.Context, environment, lockID string, ttl time.Duration, reason string) (Lock, error) {
	if err := ValidateEnvironment(environment); err != nil {
		return Lock{}, err
	}
	var renewed Lock
	err := d.withEnvLock(environment, func(*os.File) error {
		cur, err := readLock(d.lockPath(environment))
		if err != nil {
			return err
		}
		if err := checkHolder(environment, cur, lockID); err != nil {
			return err
		}
		renewed = *cur
		renewed.Reason = reason
		renewed.ExpiresAt = expiry(time.Now().UTC(), ttl)
		data, err := json.Marshal(renewed)
		if err != nil {
			return err
		}
		return atomicfile.WriteFile(d.lockPath(environment), data, 0o600)
	})
	return renewed, err
}

// Inspect implements Backend.
func (d *Directory) Inspect(_ context.Context, environment string) (*Lock, error) {
	if err := ValidateEnvironment(environment); err != nil {
		return nil, err
	}
	return readLock(d.lockPath(environment))
}

// CurrentToken implements Backend.
func (d *Directory) CurrentToken(ctx context.Context, environment string) (int64, error) {
	l, err := d.Inspect(ctx, environment)
	if err != nil || l == nil || l.Expired(time.Now()) {
		return 0, err
	}
	return l.Token, nil
}

// Append implements Backend. Each event is one line written with a single write(2)
// on an O_APPEND file under flock, so concurrent writers never interleave.
func (d *Directory) Append(_ context.Context, ev Event) error {
	file := globalHistory
	if ev.Environment != "" {
		if err := ValidateEnvironment(ev.Environment); err != nil {
			return err
		}
		file = ev.Environment
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	line, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding history event: %w", err)
	}
	line = append(line, '\n')
	f, err := os.OpenFile(filepath.Join(d.root, "history", file+".jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening history: %w", err)
	}
	defer f.Close()
	if err := flock(f, lockExclusive); err != nil {
		return fmt.Errorf("locking history: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("appending to history: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing history: %w", err)
	}
	return nil
}

// History implements Backend.
func (d *Directory) History(_ context.Context, q HistoryQuery) ([]Event, error) {
	var files []string
	if q.Environment != "" {
		if err := ValidateEnvironment(q.Environment); err != nil {
			return nil, err
		}
		files = []string{q.Environment + ".jsonl"}
	} else {
		entries, err := os.ReadDir(filepath.Join(d.root, "history"))
		if err != nil {
			return nil, fmt.Errorf("listing history: %w", err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".jsonl") && !e.IsDir() {
				files = append(files, e.Name())
			}
		}
	}
	type seqEvent struct {
		Event
		file int
		line int
	}
	var out []seqEvent
	for fi, name := range files {
		evs, err := readHistoryFile(filepath.Join(d.root, "history", name))
		if err != nil {
			return nil, err
		}
		for li, ev := range evs {
			if q.matches(ev) {
				out = append(out, seqEvent{ev, fi, li})
			}
		}
	}
	// Newest first; within one file the later line is the newer on equal times.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.After(b.Time)
		}
		if a.file == b.file {
			return a.line > b.line
		}
		return a.file < b.file
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	events := make([]Event, len(out))
	for i := range out {
		events[i] = out[i].Event
	}
	return events, nil
}

func readHistoryFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening history: %w", err)
	}
	defer f.Close()
	if err := flock(f, lockShared); err != nil {
		return nil, fmt.Errorf("locking history: %w", err)
	}
	var events []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("history file %s line %d is corrupt: %w", path, n, err)
		}
		events = append(events, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	return events, nil
}

func (d *Directory) blockPath(name, version string) (string, error) {
	if err := validateBlockKey(name, version); err != nil {
		return "", err
	}
	return filepath.Join(d.root, "blocks", name+"@"+version+".json"), nil
}

// SetBlock implements Backend.
func (d *Directory) SetBlock(_ context.Context, b Block) error {
	path, err := d.blockPath(b.Name, b.Version)
	if err != nil {
		return err
	}
	if b.BlockedAt.IsZero() {
		b.BlockedAt = time.Now()
	}
	b.BlockedAt = b.BlockedAt.UTC()
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing block of %s@%s: %w", b.Name, b.Version, err)
	}
	return nil
}

// GetBlock implements Backend.
func (d *Directory) GetBlock(_ context.Context, name, version string) (*Block, error) {
	path, err := d.blockPath(name, version)
	if err != nil {
		return nil, err
	}
	return readRecord[Block](path, "block")
}

// RemoveBlock implements Backend.
func (d *Directory) RemoveBlock(_ context.Context, name, version string) error {
	path, err := d.blockPath(name, version)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing block of %s@%s: %w", name, version, err)
	}
	return nil
}
