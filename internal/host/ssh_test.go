package host_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/host/hosttest"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
)

// sshRoot is the path every test host has its own folder bound over.
const sshRoot = "/srv/release-host-ssh"

// startOne starts one test server and connects to it.
func startOne(t *testing.T) (*sshtest.Fleet, *host.SSH) {
	t.Helper()
	f := sshtest.Start(t, 1, sshtest.Root(sshRoot))
	return f, hosttest.Dial(t, f, 0)
}

func dial(t *testing.T, cfg host.SSHConfig) *host.SSH {
	t.Helper()
	h, err := host.DialSSH(context.Background(), cfg)
	if err != nil {
		t.Fatalf("DialSSH: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestSSH(t *testing.T) {
	f, h := startOne(t)
	if h.Name() != f.Addr(0) {
		t.Errorf("Name() = %q, want the address %q", h.Name(), f.Addr(0))
	}
	hosttest.Run(t, h, path.Join(sshRoot, "suite"))
}

func TestSSHRefusesUnknownChangedAndRevokedHostKeys(t *testing.T) {
	f := sshtest.Start(t, 2, sshtest.Root(sshRoot))
	addr, fp := f.Addr(0), f.Fingerprint(0)
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(f.HostKey(0))))
	for name, tt := range map[string]struct {
		knownHosts string
		want       string
	}{
		// Only the other host is known.
		"unknown": {f.KnownHostsLine(1) + "\n", "is not in known_hosts"},
		// Host 1's key filed under host 0's address: what a reinstalled host or
		// an interception looks like.
		"changed": {knownhosts.Line([]string{f.Addr(0)}, f.HostKey(1)) + "\n", "known_hosts holds ssh-ed25519 " + f.Fingerprint(1)},
		"revoked": {f.KnownHosts() + "@revoked * " + key + "\n", "@revoked"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := hosttest.Config(f, 0)
			cfg.KnownHosts = tt.knownHosts
			h, err := host.DialSSH(context.Background(), cfg)
			if err == nil {
				h.Close()
				t.Fatal("connected to a host whose key known_hosts does not vouch for")
			}
			var hkErr *host.HostKeyError
			if !errors.As(err, &hkErr) || hkErr.Fingerprint != fp {
				t.Fatalf("err = %v, want a HostKeyError with the fingerprint %s", err, fp)
			}
			for _, want := range []string{addr, fp, tt.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
		})
	}
	cfg := hosttest.Config(f, 0)
	cfg.KnownHosts = ""
	if _, err := host.DialSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "known_hosts is empty") {
		t.Errorf("an empty known_hosts: %v, want a refusal", err)
	}
}

func TestSSHAcceptsHashedKnownHosts(t *testing.T) {
	f := sshtest.Start(t, 2, sshtest.Root(sshRoot))
	for i := range 2 {
		cfg := hosttest.Config(f, i)
		cfg.KnownHosts = "# hashed, as ssh-keygen -H writes them\n" + f.HashedKnownHosts()
		h := dial(t, cfg)
		if _, err := h.Run(context.Background(), host.Command{Script: "true"}); err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
	}
}

func TestSSHEncryptedPrivateKey(t *testing.T) {
	f := sshtest.Start(t, 1, sshtest.Root(sshRoot))
	const passphrase = "correct horse battery staple"
	encrypted, err := f.ClientKeyWithPassphrase(passphrase)
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		passphrase string
		want       string
	}{
		"no passphrase":    {"", "encrypted"},
		"wrong passphrase": {"Tr0ub4dor&3", "passphrase does not decrypt"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := hosttest.Config(f, 0)
			cfg.PrivateKey, cfg.Passphrase = encrypted, []byte(tt.passphrase)
			_, err := host.DialSSH(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
			assertNoSecret(t, err, encrypted, f.ClientKeyPEM, []byte(passphrase))
		})
	}
	cfg := hosttest.Config(f, 0)
	cfg.Passphrase = []byte(passphrase)
	dial(t, cfg).Close() // a passphrase given for a plain key is not in the way
	cfg.PrivateKey = encrypted
	h := dial(t, cfg)
	if out, err := h.Run(context.Background(), host.Command{Script: "echo in"}); err != nil || out != "in" {
		t.Fatalf("Run = %q, %v", out, err)
	}
}

// assertNoSecret fails when err quotes a line of a key or the passphrase.
func assertNoSecret(t *testing.T, err error, secrets ...[]byte) {
	t.Helper()
	for _, s := range secrets {
		for _, line := range strings.Split(string(s), "\n") {
			if len(line) > 8 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
				t.Fatalf("the error quotes secret material: %v", err)
			}
		}
	}
}

func TestSSHAgent(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	f := sshtest.Start(t, 1, sshtest.Root(sshRoot), sshtest.AuthorizeKeys(signer.PublicKey()))
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	cfg := hosttest.Config(f, 0)
	cfg.PrivateKey, cfg.Agent = nil, true
	h := dial(t, cfg)
	if _, err := h.Run(context.Background(), host.Command{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	cfg.Agent = false
	if _, err := host.DialSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "no SSH credentials") {
		t.Errorf("without a key nor the agent: %v", err)
	}
}

func TestSSHLoginErrorsNameTheHost(t *testing.T) {
	f := sshtest.Start(t, 1, sshtest.Root(sshRoot))
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(otherKey, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := hosttest.Config(f, 0)
	cfg.PrivateKey = pem.EncodeToMemory(block)
	_, err = host.DialSSH(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), f.Addr(0)) || !strings.Contains(err.Error(), "authorized_keys") {
		t.Errorf("an unauthorised key: %v, want an error naming the host and what to check", err)
	}
	if err := f.Stop(0); err != nil {
		t.Fatal(err)
	}
	_, err = host.DialSSH(context.Background(), hosttest.Config(f, 0))
	if err == nil || !strings.Contains(err.Error(), f.Addr(0)) {
		t.Errorf("a host that is down: %v, want an error naming it", err)
	}
}

func TestSSHEnvValuesAreNotInterpreted(t *testing.T) {
	f, h := startOne(t)
	ctx := context.Background()
	dir := path.Join(sshRoot, "env dir with 'quotes'")
	if err := h.MkdirAll(ctx, dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pwned := path.Join(sshRoot, "pwned")
	values := []string{
		"it's a 'quoted' \"value\"",
		"  spaces  around  ",
		"$(touch " + pwned + ")",
		"`touch " + pwned + "`; touch " + pwned,
		"first line\nsecond line\n",
		`back\slash \n \'`,
		"${HOME} $0 $1 *",
		"",
	}
	for _, v := range values {
		out, err := h.Run(ctx, host.Command{
			Script:    `printf '%s|' "$V" "$(pwd)"`,
			Dir:       dir,
			Env:       []string{"V=" + v},
			MaxOutput: 4096,
		})
		// The output is trimmed, as Local's is.
		if want := strings.TrimSpace(v + "|" + dir + "|"); err != nil || out != want {
			t.Errorf("V=%q: output %q, %v; want %q", v, out, err, want)
		}
	}
	if _, err := os.Stat(f.Local(0, pwned)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a value was run as a command: %v", err)
	}
	for _, bad := range []string{"1V=x", "V W=x", "NOVALUE", "V;touch " + pwned + "=x"} {
		if _, err := h.Run(ctx, host.Command{Script: "touch " + pwned, Env: []string{bad}}); err == nil {
			t.Errorf("Env %q accepted", bad)
		}
	}
	if _, err := os.Stat(f.Local(0, pwned)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a command with an invalid environment ran: %v", err)
	}
}

func TestSSHCommandErrors(t *testing.T) {
	f, h := startOne(t)
	ctx := context.Background()
	out, err := h.Run(ctx, host.Command{Script: "echo failing; exit 3"})
	var exitErr *host.ExitStatusError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 3 || out != "failing" || !strings.Contains(err.Error(), f.Addr(0)) {
		t.Errorf("exit 3: %q, %v", out, err)
	}
	_, err = h.Run(ctx, host.Command{Script: "true", Dir: path.Join(sshRoot, "missing")})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing folder: %v, want fs.ErrNotExist", err)
	}
	// The script gets no input, as Local's does.
	if out, err := h.Run(ctx, host.Command{Script: "cat; echo done"}); err != nil || out != "done" {
		t.Errorf("a script reading its input: %q, %v", out, err)
	}
}

// processesWith lists the pids of this machine's processes whose environment
// holds entry. The test hosts share the machine's process table.
func processesWith(entry string) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + d.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, e := range bytes.Split(env, []byte{0}) {
			if string(e) == entry {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// waitGone fails unless every process holding entry is gone within 5s.
func waitGone(t *testing.T, entry, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := processesWith(entry)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: processes %v of the command are still running on the host", what, pids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRunning reports whether the command's two sleeps run within 10s.
func waitRunning(entry string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for len(processesWith(entry)) < 2 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func marker() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "RELEASE_SSH_TEST_MARK=" + hex.EncodeToString(b)
}

// TestSSHStoppedCommandsTakeTheirChildrenAlong looks at the host's processes:
// a `sleep 300` started in the background must be gone once Run returns,
// whether the command timed out, was cancelled, ended by itself, or its
// connection was closed under it.
func TestSSHStoppedCommandsTakeTheirChildrenAlong(t *testing.T) {
	f, h := startOne(t)
	script := "sleep 300 & sleep 300"

	t.Run("timeout", func(t *testing.T) {
		mark := marker()
		ran := make(chan bool, 1)
		go func() { ran <- waitRunning(mark) }()
		started := time.Now()
		// Long enough for the sleeps to start on a loaded machine (the login
		// shell reads its rc files first), short for a test.
		const timeout = 3 * time.Second
		_, err := h.Run(context.Background(), host.Command{Script: script, Env: []string{mark}, Timeout: timeout})
		if !errors.Is(err, host.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), f.Addr(0)) {
			t.Fatalf("err = %v, want a timeout naming the host", err)
		}
		if took := time.Since(started); took > timeout+4*time.Second {
			t.Errorf("the timeout took %s", took)
		}
		if !<-ran {
			t.Fatal("the command's sleeps never ran")
		}
		waitGone(t, mark, "after a timeout")
	})
	t.Run("cancel", func(t *testing.T) {
		mark := marker()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			if !waitRunning(mark) {
				t.Error("the command's sleeps never ran")
			}
			cancel()
		}()
		_, err := h.Run(ctx, host.Command{Script: script, Env: []string{mark}})
		if !errors.Is(err, host.ErrCancelled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want a cancellation", err)
		}
		waitGone(t, mark, "after a cancellation")
	})
	t.Run("leftovers", func(t *testing.T) {
		mark := marker()
		out, err := h.Run(context.Background(), host.Command{Script: "sleep 300 & kill -0 $! && echo started", Env: []string{mark}})
		if err != nil || out != "started" {
			t.Fatalf("Run = %q, %v", out, err)
		}
		waitGone(t, mark, "after the script ended")
	})
	t.Run("connection closed", func(t *testing.T) {
		other := hosttest.Dial(t, f, 0)
		mark := marker()
		go func() {
			if !waitRunning(mark) {
				t.Error("the command's sleeps never ran")
			}
			other.Close()
		}()
		if _, err := other.Run(context.Background(), host.Command{Script: script, Env: []string{mark}}); err == nil {
			t.Fatal("Run succeeded although its connection was closed")
		}
		if _, err := other.Stat(context.Background(), sshRoot); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("Stat after Close: %v", err)
		}
		waitGone(t, mark, "after the connection closed")
	})
}

// endless is an upload that never ends by itself.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestSSHHostKilledDuringWriteFile(t *testing.T) {
	f, h := startOne(t)
	ctx := context.Background()
	dir := path.Join(sshRoot, "killed")
	if err := h.MkdirAll(ctx, dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dest := path.Join(dir, "app.tar.gz")
	if err := h.WriteFile(ctx, dest, []byte("previous release"), 0o644); err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() { written <- h.WriteFileFrom(ctx, dest, endless{}, 0o644) }()
	ran := make(chan error, 1)
	mark := marker()
	go func() {
		_, err := h.Run(ctx, host.Command{Script: "sleep 30 & sleep 30", Env: []string{mark}})
		ran <- err
	}()
	// Kill the host once the upload is well under way and the command runs:
	// killing a login shell still in its rc files can leave their locks
	// behind (pyenv's rehash lock stalls every later login for a minute).
	if !waitRunning(mark) {
		t.Fatal("the command never ran")
	}
	deadline := time.Now().Add(10 * time.Second)
	for fileSizes(t, f.Local(0, dir), ".app.tar.gz.tmp-") < 1<<20 {
		if time.Now().After(deadline) {
			t.Fatal("the upload never reached the host")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := f.Kill(0); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-written:
	case <-time.After(15 * time.Second):
		t.Fatal("WriteFile outlived its host")
	}
	if err == nil || !strings.Contains(err.Error(), f.Addr(0)) || !errors.Is(err, host.ErrConnectionLost) {
		t.Fatalf("err = %v, want a lost connection naming the host", err)
	}
	select {
	case err := <-ran:
		if !errors.Is(err, host.ErrConnectionLost) || !strings.Contains(err.Error(), f.Addr(0)) {
			t.Errorf("a command running when the host died: %v, want a lost connection naming the host", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run outlived its host")
	}
	if b, err := os.ReadFile(f.Local(0, dest)); err != nil || string(b) != "previous release" {
		t.Fatalf("the destination holds %d bytes (%v), want the previous content untouched", len(b), err)
	}
	entries, _ := os.ReadDir(f.Local(0, dir))
	for _, e := range entries {
		if e.Name() != "app.tar.gz" && !strings.HasPrefix(e.Name(), ".app.tar.gz.tmp-") {
			t.Errorf("unexpected file %s after the failed upload", e.Name())
		}
	}
	// Later calls fail at once, naming the host.
	if _, err := h.Stat(ctx, dest); !errors.Is(err, host.ErrConnectionLost) || !strings.Contains(err.Error(), f.Addr(0)) {
		t.Errorf("Stat after the host died: %v", err)
	}
	if _, err := h.Run(ctx, host.Command{Script: "true"}); !errors.Is(err, host.ErrConnectionLost) {
		t.Errorf("Run after the host died: %v", err)
	}
}

// fileSizes adds the sizes of the files in dir whose name starts with prefix.
func fileSizes(t *testing.T, dir, prefix string) int64 {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var n int64
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
	}
	return n
}

func TestSSHCancelledWriteLeavesNothing(t *testing.T) {
	f, h := startOne(t)
	dir := path.Join(sshRoot, "cancelled")
	if err := h.MkdirAll(context.Background(), dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := h.WriteFileFrom(ctx, path.Join(dir, "big"), endless{}, 0o644)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if entries, _ := os.ReadDir(f.Local(0, dir)); len(entries) != 0 {
		t.Errorf("the cancelled write left %v", entries)
	}
}

// TestSSHConcurrentUse shares one connection between goroutines that write,
// read, list and run at once (go test -race checks the rest).
func TestSSHConcurrentUse(t *testing.T) {
	_, h := startOne(t)
	ctx := context.Background()
	dir := path.Join(sshRoot, "concurrent")
	if err := h.MkdirAll(ctx, dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := path.Join(dir, "f"+strconv.Itoa(i))
			content := strings.Repeat(strconv.Itoa(i), 100_000)
			for range 3 {
				if err := h.WriteFile(ctx, p, []byte(content), 0o600); err != nil {
					errs <- err
					return
				}
				if b, err := h.ReadFile(ctx, p); err != nil || string(b) != content {
					errs <- errors.Join(err, errors.New("read back another content"))
					return
				}
				out, err := h.Run(ctx, host.Command{Script: `wc -c < "$F"`, Env: []string{"F=" + p}})
				if err != nil || strings.TrimSpace(out) != "100000" {
					errs <- errors.Join(err, errors.New("wc says "+out))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := h.ReadDir(ctx, dir)
	if err != nil || len(list) != 8 {
		t.Fatalf("ReadDir = %d entries, %v", len(list), err)
	}
}

func TestSSHRemoveAllDoesNotFollowLinks(t *testing.T) {
	f, h := startOne(t)
	ctx := context.Background()
	shared := path.Join(sshRoot, "shared")
	release := path.Join(sshRoot, "releases", "1")
	for _, d := range []string{shared, path.Join(release, "a", "b")} {
		if err := h.MkdirAll(ctx, d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.WriteFile(ctx, path.Join(shared, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := h.WriteFile(ctx, path.Join(release, "a", "f"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Symlink(ctx, shared, path.Join(release, "a", "b", "storage")); err != nil {
		t.Fatal(err)
	}
	if fi, err := h.Stat(ctx, path.Join(release, "a")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("MkdirAll made %v, %v; want mode 0750", fi, err)
	}
	if err := h.Remove(ctx, release); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("Remove of a folder that is not empty: %v, want ENOTEMPTY", err)
	}
	if err := h.RemoveAll(ctx, path.Join(sshRoot, "releases")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Local(0, path.Join(sshRoot, "releases"))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("releases is still there: %v", err)
	}
	if _, err := os.Stat(f.Local(0, path.Join(shared, "keep"))); err != nil {
		t.Errorf("RemoveAll followed a link into shared: %v", err)
	}
}

func TestSSHHonoursACancelledContext(t *testing.T) {
	f, h := startOne(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := path.Join(sshRoot, "f")
	if err := h.WriteFile(ctx, p, []byte("x"), 0o644); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteFile with a cancelled context: %v", err)
	}
	if _, err := os.Stat(f.Local(0, p)); err == nil {
		t.Fatal("WriteFile wrote with a cancelled context")
	}
	if _, err := h.Run(ctx, host.Command{Script: "true"}); !errors.Is(err, host.ErrCancelled) {
		t.Fatalf("Run with a cancelled context: %v", err)
	}
}

func TestSSHDialGivesUpOnASilentServer(t *testing.T) {
	// A port that accepts connections and never says a word.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	cfg := host.SSHConfig{Address: l.Addr().String(), User: "deploy", PrivateKey: testKeyPEM(t), KnownHosts: "# none\n" + l.Addr().String() + " " + testPublicKey(t) + "\n", Timeout: 300 * time.Millisecond}
	started := time.Now()
	_, err = host.DialSSH(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) || time.Since(started) > 3*time.Second {
		t.Errorf("after %s: %v, want an error naming the host within the timeout", time.Since(started), err)
	}
	cfg.Timeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	started = time.Now()
	_, err = host.DialSSH(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(started) > 3*time.Second {
		t.Errorf("after %s: %v, want the context's deadline", time.Since(started), err)
	}
}

func testKeyPEM(t *testing.T) []byte {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

func testPublicKey(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// TestSSHFrozenHostIsDetected freezes every sshd process of a host (as a
// host that vanished from the network looks): the keep-alive gives up on it
// and the waiting operation fails instead of hanging.
func TestSSHFrozenHostIsDetected(t *testing.T) {
	f := sshtest.Start(t, 1, sshtest.Root(sshRoot))
	cfg := hosttest.Config(f, 0)
	cfg.Timeout = time.Second
	h := dial(t, cfg)
	ctx := context.Background()
	if _, err := h.Stat(ctx, sshRoot); err != nil {
		t.Fatal(err)
	}
	pids := hostProcesses(t, f.Hosts[0].PidFile)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	started := time.Now()
	_, err := h.Stat(ctx, sshRoot)
	if !errors.Is(err, host.ErrConnectionLost) || !strings.Contains(err.Error(), f.Addr(0)) {
		t.Fatalf("Stat on a frozen host: %v, want a lost connection naming it", err)
	}
	if took := time.Since(started); took > 5*time.Second {
		t.Errorf("noticing took %s", took)
	}
}

// hostProcesses lists the processes in the mount namespace of the sshd whose
// pid is in pidFile: the listener and every connection it serves.
func hostProcesses(t *testing.T, pidFile string) []int {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := os.Readlink("/proc/" + strings.TrimSpace(string(b)) + "/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if l, err := os.Readlink("/proc/" + d.Name() + "/ns/mnt"); err == nil && l == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestSSHAsksForAKeyKnownHostsHolds gives the host an ECDSA key besides its
// Ed25519 one: x/crypto prefers ECDSA, but known_hosts only holds Ed25519, so
// the client must ask for that one instead of refusing a host it knows.
func TestSSHAsksForAKeyKnownHostsHolds(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "ssh_host_ecdsa_key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	f := sshtest.Start(t, 1, sshtest.Root(sshRoot), sshtest.Config("HostKey "+keyFile))
	h := hosttest.Dial(t, f, 0)
	if _, err := h.Run(context.Background(), host.Command{Script: "true"}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSSHWriteFileFrom uploads 64 MiB to one host over loopback.
func BenchmarkSSHWriteFileFrom(b *testing.B) {
	f := sshtest.Start(b, 1, sshtest.Root(sshRoot))
	h, err := host.DialSSH(context.Background(), hosttest.Config(f, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	const size = 64 << 20
	b.SetBytes(size)
	for b.Loop() {
		if err := h.WriteFileFrom(context.Background(), path.Join(sshRoot, "bench"), io.LimitReader(endless{}, size), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSSHMoreCommandsThanTheServerHasSessions runs more commands at once than
// a stock OpenSSH accepts sessions on one connection (MaxSessions 10): they
// queue instead of failing.
func TestSSHMoreCommandsThanTheServerHasSessions(t *testing.T) {
	f := sshtest.Start(t, 1, sshtest.Root(sshRoot), sshtest.Config("MaxSessions 10"))
	h := hosttest.Dial(t, f, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := h.Run(context.Background(), host.Command{Script: "sleep 0.2; echo $N", Env: []string{"N=" + strconv.Itoa(i)}})
			if err == nil && out != strconv.Itoa(i) {
				err = errors.New("output " + out)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A command waiting for a slot still honours its context.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	for range 8 {
		go func() { _, _ = h.Run(ctx, host.Command{Script: "sleep 5"}) }()
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := h.Run(ctx, host.Command{Script: "true"}); !errors.Is(err, host.ErrTimedOut) {
		t.Errorf("a queued command past its deadline: %v", err)
	}
}

// TestSSHWriteFileFromFullDisk: SFTP reports a full filesystem as a generic
// "Failure"; the write says ENOSPC instead, and leaves no partial file.
func TestSSHWriteFileFromFullDisk(t *testing.T) {
	f, h := startOne(t)
	ctx := context.Background()
	dir := sshRoot + "/small"
	// A 1 MiB filesystem of the host's own (its mount namespace only).
	if out, err := h.Run(ctx, host.Command{Script: `mkdir -p "$P" && mount -t tmpfs -o size=1m tmpfs "$P"`, Env: []string{"P=" + dir}}); err != nil {
		t.Fatalf("mount a small filesystem on the host: %v: %s", err, out)
	}
	err := h.WriteFileFrom(ctx, dir+"/app.tar.gz", strings.NewReader(strings.Repeat("x", 3<<20)), 0o644)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), f.Addr(0)) {
		t.Fatalf("WriteFileFrom on a full filesystem = %v, want ENOSPC naming the host", err)
	}
	list, err := h.ReadDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("the failed write left %d entries, e.g. %s", len(list), list[0].Name())
	}
	// A write that fits still works there.
	if err := h.WriteFileFrom(ctx, dir+"/small.txt", strings.NewReader("fits"), 0o644); err != nil {
		t.Fatalf("a small write after the full one: %v", err)
	}
}
