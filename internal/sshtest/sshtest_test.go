package sshtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const root = "/srv/sshtest-app"

func dial(t *testing.T, f *Fleet, i int) *ssh.Client {
	t.Helper()
	c, err := f.Dial(i)
	if err != nil {
		t.Fatalf("dial host %d (%s): %v", i, f.Addr(i), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs cmd on the client and returns its combined output and error.
func run(c *ssh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

func TestHostsShareARootPathWithTheirOwnFiles(t *testing.T) {
	f := Start(t, 3, Root(root))
	if len(f.Hosts) != 3 || f.Root != root {
		t.Fatalf("fleet of %d hosts over %q", len(f.Hosts), f.Root)
	}
	seen := map[string]bool{}
	for i, h := range f.Hosts {
		if !strings.HasPrefix(h.Addr, "127.0.0.1:") || seen[h.Addr] {
			t.Errorf("host %d address %q", i, h.Addr)
		}
		seen[h.Addr] = true
	}

	c0 := dial(t, f, 0)
	out, err := run(c0, "id -u && mkdir -p "+root+"/releases && echo hello from 0 > "+root+"/releases/marker && cat "+root+"/releases/marker")
	if err != nil || out != "0\nhello from 0\n" {
		t.Fatalf("write on host 0: %v\n%s", err, out)
	}
	b, err := os.ReadFile(f.Local(0, root+"/releases/marker"))
	if err != nil || string(b) != "hello from 0\n" {
		t.Fatalf("host 0's folder: %q, %v", b, err)
	}
	if got, want := f.Local(0, root+"/releases/marker"), filepath.Join(f.Dir(0), "releases", "marker"); got != want {
		t.Errorf("Local = %s, want %s", got, want)
	}
	for i := 1; i < 3; i++ {
		c := dial(t, f, i)
		if out, err := run(c, "test -d "+root+" && test ! -e "+root+"/releases/marker && echo absent"); err != nil || out != "absent\n" {
			t.Errorf("host %d sees host 0's file or lacks the root: %v %q", i, err, out)
		}
		if _, err := os.Stat(filepath.Join(f.Dir(i), "releases")); !os.IsNotExist(err) {
			t.Errorf("host %d's folder holds releases: %v", i, err)
		}
	}
	// Nothing leaks onto the machine's own root.
	if _, err := os.Stat(filepath.Join(root, "releases")); !os.IsNotExist(err) {
		t.Errorf("the machine's %s holds releases: %v", root, err)
	}

	// A file put in a host's folder by the test is what that host serves.
	if err := os.WriteFile(filepath.Join(f.Dir(2), "planted"), []byte("by the test"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(dial(t, f, 2), "cat "+root+"/planted"); err != nil || out != "by the test" {
		t.Errorf("host 2 does not serve its folder: %v %q", err, out)
	}
}

func TestHostKeysAreVerified(t *testing.T) {
	f := Start(t, 2, Root(root))
	dir := t.TempDir()
	connect := func(i int, known string) error {
		path := filepath.Join(dir, fmt.Sprintf("known_hosts_%d", time.Now().UnixNano()))
		if err := os.WriteFile(path, []byte(known), 0o600); err != nil {
			t.Fatal(err)
		}
		cb, err := knownhosts.New(path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ssh.Dial("tcp", f.Addr(i), &ssh.ClientConfig{
			User: f.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(f.Signer)}, HostKeyCallback: cb, Timeout: 10 * time.Second,
		})
		if err == nil {
			c.Close()
		}
		return err
	}

	if !strings.HasPrefix(f.KnownHostsLine(0), "[127.0.0.1]:"+fmt.Sprint(f.Hosts[0].Port)+" ssh-ed25519 AAAA") {
		t.Errorf("known_hosts line: %q", f.KnownHostsLine(0))
	}
	if err := connect(0, f.KnownHosts()); err != nil {
		t.Errorf("plain known_hosts: %v", err)
	}
	if !strings.HasPrefix(f.HashedKnownHostsLine(1), "|1|") {
		t.Errorf("hashed line: %q", f.HashedKnownHostsLine(1))
	}
	if err := connect(1, f.HashedKnownHosts()); err != nil {
		t.Errorf("hashed known_hosts: %v", err)
	}

	// Host 0 listed with host 1's key: a changed key.
	wrong := knownhosts.Line([]string{f.Addr(0)}, f.HostKey(1)) + "\n"
	err := connect(0, wrong)
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) || len(keyErr.Want) != 1 {
		t.Errorf("a changed host key is not refused as such: %v", err)
	}
	// Host 0 not listed at all: an unknown key.
	err = connect(0, f.KnownHostsLine(1)+"\n")
	if !errors.As(err, &keyErr) || len(keyErr.Want) != 0 {
		t.Errorf("an unknown host is not refused as such: %v", err)
	}
	if fp := f.Fingerprint(0); !strings.HasPrefix(fp, "SHA256:") {
		t.Errorf("fingerprint %q", fp)
	}

	// A key the fleet does not authorize cannot log in.
	other, _, _, _ := newKey("stranger")
	signer, _ := ssh.NewSignerFromKey(other)
	cb, _ := f.HostKeyCallback()
	if c, err := ssh.Dial("tcp", f.Addr(0), &ssh.ClientConfig{
		User: f.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: cb, Timeout: 10 * time.Second,
	}); err == nil {
		c.Close()
		t.Error("an unauthorized key logged in")
	}
}

func TestClientKeyFormats(t *testing.T) {
	f := Start(t, 1, Root(root))
	if !bytes.HasPrefix(f.ClientKeyPEM, []byte("-----BEGIN OPENSSH PRIVATE KEY-----")) {
		t.Fatalf("client key is not in OpenSSH format:\n%s", f.ClientKeyPEM)
	}
	signer, err := ssh.ParsePrivateKey(f.ClientKeyPEM)
	if err != nil || !bytes.Equal(signer.PublicKey().Marshal(), f.Signer.PublicKey().Marshal()) {
		t.Fatalf("ClientKeyPEM does not parse to Signer: %v", err)
	}
	enc, err := f.ClientKeyWithPassphrase("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ssh.ParsePrivateKey(enc); err == nil {
		t.Error("encrypted key parsed without its passphrase")
	}
	signer, err = ssh.ParsePrivateKeyWithPassphrase(enc, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(signer)}
	c, err := ssh.Dial("tcp", f.Addr(0), cfg)
	if err != nil {
		t.Fatalf("login with the decrypted key: %v", err)
	}
	c.Close()
}

func TestKillDropsConnectionsAndRestartServesAgain(t *testing.T) {
	f := Start(t, 2, Root(root))
	if err := os.WriteFile(filepath.Join(f.Dir(0), "kept"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := dial(t, f, 0)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	s.Stdout = out
	if err := s.Start("echo started; exec sleep 300"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "started") }, "the remote command to start")
	waited := make(chan error, 1)
	go func() { waited <- s.Wait() }()

	if err := f.Kill(0); err != nil {
		t.Fatal(err)
	}
	if f.Running(0) {
		t.Error("host 0 runs after Kill")
	}
	select {
	case err := <-waited:
		if err == nil {
			t.Error("the remote command ended well although its host was killed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the session outlived the killed host")
	}
	if conn, err := net.DialTimeout("tcp", f.Addr(0), time.Second); err == nil {
		conn.Close()
		t.Fatal("the killed host still accepts connections")
	}
	if _, err := f.Dial(0); err == nil {
		t.Fatal("Dial reached a killed host")
	}
	if !f.Running(1) {
		t.Fatal("killing host 0 stopped host 1")
	}
	if _, err := run(dial(t, f, 1), "true"); err != nil {
		t.Fatalf("host 1 after host 0 was killed: %v", err)
	}

	if err := f.Restart(0); err != nil {
		t.Fatal(err)
	}
	if out, err := run(dial(t, f, 0), "cat "+root+"/kept"); err != nil || out != "kept" {
		t.Fatalf("restarted host 0: %v %q\n%s", err, out, f.Log(0))
	}

	// Stop, then Restart from stopped; Restart of a running host works too.
	if err := f.Stop(1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Dial(1); err == nil {
		t.Fatal("Dial reached a stopped host")
	}
	for range 2 {
		if err := f.Restart(1); err != nil {
			t.Fatal(err)
		}
		if _, err := run(dial(t, f, 1), "test -d "+root); err != nil {
			t.Fatalf("restarted host 1: %v", err)
		}
	}
	if !strings.Contains(f.Log(1), "Server listening on 127.0.0.1") {
		t.Errorf("sshd log not captured:\n%s", f.Log(1))
	}
}

func TestSFTPWritesAndRenames(t *testing.T) {
	f := Start(t, 2, Root(root))
	c := dial(t, f, 1)
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, f.Log(1))
	}
	defer sc.Close()
	if err := sc.MkdirAll(root + "/releases/1.0.0"); err != nil {
		t.Fatal(err)
	}
	w, err := sc.Create(root + "/releases/1.0.0/app.part")
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("release bytes\n"), 10000)
	if _, err := w.ReadFrom(bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sc.PosixRename(root+"/releases/1.0.0/app.part", root+"/releases/1.0.0/app"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Symlink("releases/1.0.0", root+"/current.tmp"); err != nil {
		t.Fatal(err)
	}
	if err := sc.PosixRename(root+"/current.tmp", root+"/current"); err != nil {
		t.Fatal(err)
	}

	got, err := os.ReadFile(f.Local(1, root+"/current/app"))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("host 1's folder after sftp: %d bytes, %v", len(got), err)
	}
	if _, err := os.Stat(f.Local(1, root+"/releases/1.0.0/app.part")); !os.IsNotExist(err) {
		t.Errorf("the temp name survived the rename: %v", err)
	}
	if target, err := sc.ReadLink(root + "/current"); err != nil || target != "releases/1.0.0" {
		t.Errorf("readlink current: %q %v", target, err)
	}
	r, err := sc.Open(root + "/current/app")
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(back, payload) {
		t.Errorf("read back over sftp: %d bytes, %v", len(back), err)
	}
	if _, err := os.Stat(filepath.Join(f.Dir(0), "releases")); !os.IsNotExist(err) {
		t.Errorf("host 0 got host 1's upload: %v", err)
	}
}

func TestKillMidUploadBreaksTheTransfer(t *testing.T) {
	f := Start(t, 2, Root(root))
	sc, err := sftp.NewClient(dial(t, f, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	w, err := sc.Create(root + "/upload.part")
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
	}()
	uploaded := make(chan error, 1)
	go func() {
		_, err := w.ReadFrom(pr)
		uploaded <- err
	}()
	waitFor(t, func() bool {
		st, err := os.Stat(f.Local(0, root+"/upload.part"))
		return err == nil && st.Size() >= 256<<10
	}, "the upload to reach host 0")
	if err := f.Kill(0); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-uploaded:
		if err == nil {
			t.Fatal("the upload succeeded although its host was killed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the upload outlived the killed host")
	}
	// What the host received before it died stays in its folder, as on a real disk.
	if _, err := os.Stat(f.Local(0, root+"/upload.part")); err != nil {
		t.Errorf("the partial upload is gone: %v", err)
	}
}

func TestConfigOverridesAndExtraKeys(t *testing.T) {
	_, _, extra, err := newKey("agent key")
	if err != nil {
		t.Fatal(err)
	}
	f := Start(t, 1, Root(root), Config("AcceptEnv RELEASE_*"), AuthorizeKeys(extra.PublicKey()))
	cfg, err := f.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(extra)}
	c, err := ssh.Dial("tcp", f.Addr(0), cfg)
	if err != nil {
		t.Fatalf("login with the extra key: %v", err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Setenv("RELEASE_VERSION", "1.7.4"); err != nil {
		t.Fatalf("setenv refused although AcceptEnv allows it: %v", err)
	}
	out, err := s.Output(`printf %s "$RELEASE_VERSION"`)
	if err != nil || string(out) != "1.7.4" {
		t.Errorf("RELEASE_VERSION = %q, %v", out, err)
	}
}

func TestDefaultConfigRefusesSetenvLikeDebian(t *testing.T) {
	f := Start(t, 1)
	if f.Root != DefaultRoot {
		t.Errorf("root %q, want %q", f.Root, DefaultRoot)
	}
	s, err := dial(t, f, 0).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Setenv("RELEASE_VERSION", "1.7.4"); err == nil {
		t.Error("setenv accepted: the fixture is more permissive than a Debian sshd")
	}
}

// tb records what unavailable asks of a test.
type tb struct {
	testing.TB
	fatal, skip string
}

func (r *tb) Helper()                        {}
func (r *tb) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *tb) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }

func TestUnavailableFailsUnderCIAndSkipsElsewhere(t *testing.T) {
	for _, tt := range []struct {
		ci       string
		wantFail bool
	}{{"true", true}, {"1", true}, {"", false}, {"false", false}} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &tb{TB: t}
			unavailable(r, "sshd not found")
			msg := r.skip
			if tt.wantFail {
				msg = r.fatal
			}
			if (r.fatal != "") != tt.wantFail || (r.skip != "") == tt.wantFail {
				t.Fatalf("fatal %q skip %q", r.fatal, r.skip)
			}
			if !strings.Contains(msg, "sshd not found") || !strings.Contains(msg, "openssh-server") {
				t.Errorf("message lacks the cause or what to install: %q", msg)
			}
		})
	}
}

func TestStartWithoutOpenSSHFailsUnderCIAndSkipsElsewhere(t *testing.T) {
	lp, sp := lookPath, sshdPaths
	t.Cleanup(func() { lookPath, sshdPaths = lp, sp })
	lookPath = func(name string) (string, error) {
		if name == "sshd" {
			return "", errors.New("not found")
		}
		return lp(name)
	}
	sshdPaths = []string{filepath.Join(t.TempDir(), "no-sshd")}

	t.Setenv("CI", "true")
	r := &tb{TB: t}
	if f := Start(r, 2, Root(root)); f != nil {
		t.Fatal("Start returned a fleet without sshd")
	}
	if !strings.Contains(r.fatal, "sshd not found") || !strings.Contains(r.fatal, "openssh-server") || r.skip != "" {
		t.Errorf("under CI: fatal %q skip %q", r.fatal, r.skip)
	}

	t.Setenv("CI", "")
	r = &tb{TB: t}
	if f := Start(r, 2, Root(root)); f != nil {
		t.Fatal("Start returned a fleet without sshd")
	}
	if !strings.Contains(r.skip, "sshd not found") || r.fatal != "" {
		t.Errorf("outside CI: fatal %q skip %q", r.fatal, r.skip)
	}
}

func TestStartRefusesBadRoots(t *testing.T) {
	for _, bad := range []string{"/", "relative/path", ""} {
		r := &tb{TB: t}
		if f := Start(r, 1, Root(bad)); f != nil || r.fatal == "" {
			t.Errorf("Root(%q) accepted", bad)
		}
	}
}

func TestRenderConfig(t *testing.T) {
	cfg := renderConfig("LogLevel DEBUG\n", "127.0.0.1:2222", "/k", "/p", "/a")
	for _, want := range []string{"ListenAddress 127.0.0.1:2222\n", "UsePAM no\n", "PasswordAuthentication no\n",
		"StrictModes no\n", "Subsystem sftp internal-sftp\n", "AuthorizedKeysFile /a\n", "PidFile /p\n", "HostKey /k\n"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Index(cfg, "LogLevel DEBUG") > strings.Index(cfg, "LogLevel INFO") {
		t.Errorf("extra lines do not come first:\n%s", cfg)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHostsHaveAPlainAccount: the login shell of a host reads no start-up file
// of this machine's account, as on a server set up for deployments.
func TestHostsHaveAPlainAccount(t *testing.T) {
	f := Start(t, 1)
	c := dial(t, f, 0)
	for _, name := range []string{".bashrc", ".bash_profile", ".bash_login", ".profile"} {
		out, err := run(c, "cat \"$HOME/"+name+"\" 2>/dev/null | wc -c")
		if err != nil {
			t.Fatalf("read %s on the host: %v (%s)", name, err, out)
		}
		if strings.TrimSpace(out) != "0" {
			t.Errorf("the host's %s holds %s bytes, want none", name, strings.TrimSpace(out))
		}
	}
}

// TestStopNeverSignalsAnotherHost: a host stopped again (a test's cleanup
// after Kill does so) signals nothing, even once a newer host, here or in a
// test of another package, has a mount namespace with the number the first
// one had.
func TestStopNeverSignalsAnotherHost(t *testing.T) {
	a := Start(t, 1)
	if err := a.Stop(0); err != nil {
		t.Fatal(err)
	}
	b := Start(t, 1)
	if err := a.Kill(0); err != nil {
		t.Fatal(err)
	}
	if out, err := run(dial(t, b, 0), "echo alive"); err != nil || out != "alive\n" {
		t.Fatalf("the newer host after the older one was killed again: %v %q", err, out)
	}
}
