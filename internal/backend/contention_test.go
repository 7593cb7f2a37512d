package backend_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

// Contention sizes: 32 goroutines and 8 processes; every contender takes the lock
// this many times, so each test makes about 200 hand-overs.
const (
	goroutines       = 32
	goroutineRounds  = 7 // 32 × 7 = 224 acquisitions
	processes        = 8
	processRounds    = 25 // 8 × 25 = 200 acquisitions
	contenderTimeout = 60 * time.Second
)

// holdOnce acquires the lock, proves it is alone by creating the shared marker with
// O_EXCL, appends its token to the shared log, and releases.
func holdOnce(ctx context.Context, b backend.Backend, shared, holder string) error {
	l, err := b.Acquire(ctx, backend.AcquireRequest{Environment: defaultEnv, Holder: holder, WaitTimeout: contenderTimeout})
	if err != nil {
		return fmt.Errorf("%s: %w", holder, err)
	}
	marker := filepath.Join(shared, "holder")
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		other, _ := os.ReadFile(marker)
		return fmt.Errorf("%s holds token %d but the marker exists (held by %q): two holders at once: %w", holder, l.Token, other, err)
	}
	fmt.Fprintf(f, "%s token %d", holder, l.Token)
	f.Close()
	logf, err := os.OpenFile(filepath.Join(shared, "tokens.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(logf, "%d\n", l.Token)
	logf.Close()
	if err != nil {
		return err
	}
	time.Sleep(200 * time.Microsecond) // hold briefly
	if err := os.Remove(marker); err != nil {
		return err
	}
	return b.Release(ctx, defaultEnv, l.ID)
}

// checkTokenLog verifies the tokens appended by the holders, in holding order, are
// strictly increasing and that there are want of them.
func checkTokenLog(t *testing.T, shared string, want int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(shared, "tokens.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(data))
	if len(lines) != want {
		t.Fatalf("%d acquisitions logged, want %d", len(lines), want)
	}
	var last int64
	for i, s := range lines {
		tok, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if tok <= last {
			t.Fatalf("acquisition %d got token %d after %d: not strictly increasing", i, tok, last)
		}
		last = tok
	}
}

func TestContentionGoroutines(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			spec := k.newSpec(t)
			b := mustOpen(t, spec)
			shared := t.TempDir()
			errs := make(chan error, goroutines)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for r := range goroutineRounds {
						if err := holdOnce(t.Context(), b, shared, fmt.Sprintf("g%d-r%d", g, r)); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if t.Failed() {
				return
			}
			checkTokenLog(t, shared, goroutines*goroutineRounds)
		})
	}
}

func TestContentionProcesses(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			spec := k.newSpec(t)
			mustOpen(t, spec) // creates the tables before the processes race
			shared := t.TempDir()
			cmds := make([]*exec.Cmd, processes)
			outs := make([]*bytes.Buffer, processes)
			for i := range cmds {
				outs[i] = &bytes.Buffer{}
				cmds[i] = childCommand(t, "contend", spec, sharedEnv+"="+shared, roundsEnv+"="+strconv.Itoa(processRounds), holderEnv+"="+fmt.Sprintf("p%d", i))
				cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
				if err := cmds[i].Start(); err != nil {
					t.Fatal(err)
				}
			}
			for i, c := range cmds {
				if err := c.Wait(); err != nil {
					t.Errorf("contender process %d: %v\n%s", i, err, outs[i])
				}
			}
			if t.Failed() {
				return
			}
			checkTokenLog(t, shared, processes*processRounds)
		})
	}
}

// A holder killed with SIGKILL leaves its lock behind: with a ttl the lock is taken
// over once it expires; without one, a force release frees it.
func TestCrashedHolder(t *testing.T) {
	for _, k := range kinds {
		for _, ttl := range []time.Duration{300 * time.Millisecond, 0} {
			t.Run(fmt.Sprintf("%s/ttl=%s", k.name, ttl), func(t *testing.T) {
				spec := k.newSpec(t)
				b := mustOpen(t, spec)
				cmd := childCommand(t, "hold", spec, holderEnv+"=victim@runner", ttlEnv+"="+ttl.String())
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				line, err := bufio.NewReader(stdout).ReadString('\n')
				if err != nil {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("victim did not report its lock: %v\n%s", err, stderr.String())
				}
				victimToken, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "held ")), 10, 64)
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				_ = cmd.Wait()

				left := mustInspect(t, b, defaultEnv)
				if left == nil || left.Holder != "victim@runner" || left.Token != victimToken {
					t.Fatalf("lock after SIGKILL = %+v, want the victim's (token %d)", left, victimToken)
				}
				if ttl > 0 {
					l := mustAcquire(t, b, backend.AcquireRequest{Environment: defaultEnv, Holder: "rescuer", WaitTimeout: 20 * time.Second})
					if l.Token <= victimToken {
						t.Fatalf("takeover token %d <= victim's %d", l.Token, victimToken)
					}
					evs := mustHistory(t, b, backend.HistoryQuery{Environment: defaultEnv, Limit: 1})
					if len(evs) != 1 || evs[0].Kind != backend.KindLockTakenOver || !strings.Contains(evs[0].Detail, "victim@runner") {
						t.Fatalf("latest event = %+v, want the takeover of the victim's lock", evs)
					}
					return
				}
				_, err = b.Acquire(t.Context(), backend.AcquireRequest{Environment: defaultEnv, Holder: "rescuer", WaitTimeout: 300 * time.Millisecond})
				var le *backend.LockedError
				if !errors.As(err, &le) || le.Lock.Holder != "victim@runner" {
					t.Fatalf("Acquire of a lock without ttl = %v, want LockedError naming the victim", err)
				}
				released, err := b.ForceRelease(t.Context(), defaultEnv, "ops@laptop", "runner was killed")
				if err != nil || released == nil || released.Token != victimToken {
					t.Fatalf("ForceRelease = %+v, %v", released, err)
				}
				l := mustAcquire(t, b, backend.AcquireRequest{Environment: defaultEnv, Holder: "rescuer"})
				if l.Token <= victimToken {
					t.Fatalf("token after force release %d <= %d", l.Token, victimToken)
				}
			})
		}
	}
}

// runChild is the body of a re-executed test binary.
func runChild(mode string) int {
	ctx := context.Background()
	b, err := openSpec(ctx, os.Getenv(specEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer b.Close()
	holder := os.Getenv(holderEnv)
	switch mode {
	case "contend":
		rounds, _ := strconv.Atoi(os.Getenv(roundsEnv))
		for r := range rounds {
			if err := holdOnce(ctx, b, os.Getenv(sharedEnv), fmt.Sprintf("%s-r%d", holder, r)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return 0
	case "hold":
		ttl, _ := time.ParseDuration(os.Getenv(ttlEnv))
		l, err := b.Acquire(ctx, backend.AcquireRequest{Environment: defaultEnv, Holder: holder, TTL: ttl})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("held %d\n", l.Token)
		select {} // until SIGKILL
	}
	fmt.Fprintln(os.Stderr, "unknown child mode", mode)
	return 2
}
