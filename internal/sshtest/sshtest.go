// Package sshtest starts fleets of real OpenSSH servers for tests: each "host" of a
// Fleet is one /usr/sbin/sshd listening on a free 127.0.0.1 port with its own
// temporary ed25519 host key, accepting one client key generated for the test, with
// the internal sftp subsystem, stopped when the test ends.
//
// Every host runs in its own mount namespace where a folder of its own (Fleet.Dir) is
// bound over one root path chosen by the test (e.g. /srv/app): several hosts on one
// machine then hold the same absolute paths with different contents, as a real fleet
// does, and the test reads and changes "a host's" files directly in its folder. Only
// Root differs between hosts: /tmp, /root and the rest of the machine are shared. The
// fleet's known_hosts text (plain and hashed) lets clients verify every host key, and
// one host's sshd can be stopped, killed (with every connection and command it
// serves) and restarted, for host-down and killed-mid-transfer tests.
//
// The servers run as root (a mount namespace needs it) and clients log in as root.
// Under CI (CI=true) a missing sshd or unshare, or a machine where they cannot run,
// fails the test with what to install; elsewhere the test is skipped.
//
//	f := sshtest.Start(t, 3, sshtest.Root("/srv/app"))
//	client, err := f.Dial(0) // verifies the host key against f.KnownHosts()
//	...                      // or give f.Addrs(), f.ClientKeyPEM and f.KnownHosts() to the code under test
//	b, err := os.ReadFile(f.Local(0, "/srv/app/current/VERSION"))
//	err = f.Kill(1)          // host 1 crashes; f.Restart(1) brings it back
package sshtest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// InstallHint is appended to every failure caused by a missing or unusable sshd.
const InstallHint = "install openssh-server and util-linux (unshare) and run the tests as root (scripts/test-deps.sh)"

// DefaultRoot is the path bound over in every host when the test does not choose one
// with Root.
const DefaultRoot = "/srv/sshtest"

// User is the account the fleet's clients log in as.
const User = "root"

// startTimeout bounds how long one sshd may take to answer on its port.
const startTimeout = 15 * time.Second

// Option changes how Start sets up the fleet.
type Option func(*options)

type options struct {
	root      string
	extra     string
	keys      []ssh.PublicKey
	loopbacks bool
}

// Loopbacks gives every host an address of its own: host i listens on
// 127.0.0.<i+2> instead of 127.0.0.1, so that a host's name reaches services of
// that host only (a smoke test of http://{host}:<port>/ served per host).
func Loopbacks() Option { return func(o *options) { o.loopbacks = true } }

// Root sets the absolute path every host has its own folder bound over (default
// DefaultRoot). The directory is created on the machine when missing, empty, and left
// there: only the hosts' mount namespaces ever see files in it.
func Root(path string) Option { return func(o *options) { o.root = path } }

// Config adds sshd_config lines. They are written before the fixture's own settings,
// and sshd keeps the first value it reads for a keyword, so they override them. No
// Match blocks.
func Config(lines string) Option { return func(o *options) { o.extra += lines + "\n" } }

// AuthorizeKeys lets these public keys log in too, besides the fleet's client key
// (e.g. a key held by an ssh-agent).
func AuthorizeKeys(keys ...ssh.PublicKey) Option {
	return func(o *options) { o.keys = append(o.keys, keys...) }
}

// Fleet is a set of running sshd "hosts".
type Fleet struct {
	// Root is the path bound over in every host.
	Root string
	// User is the account to log in as ("root").
	User string
	// ClientKeyPEM is the client private key in OpenSSH PEM format
	// ("-----BEGIN OPENSSH PRIVATE KEY-----"), unencrypted.
	ClientKeyPEM []byte
	// Signer signs with the client key.
	Signer ssh.Signer
	// Hosts are the hosts, in the order of their index.
	Hosts []*Host

	clientKey      ed25519.PrivateKey
	knownHostsPath string
}

// Host is one sshd of a fleet.
type Host struct {
	Index int
	// Addr is "127.0.0.1:<Port>".
	Addr string
	Port int
	// Dir is the local folder bound over the fleet's Root inside this host: the file
	// Root+"/x" of the host is Dir+"/x" here.
	Dir string
	// HostKey is the host's public key.
	HostKey ssh.PublicKey
	// ConfigPath is the host's sshd_config.
	ConfigPath string
	// PidFile is where sshd writes its pid.
	PidFile string

	sshd, unshare, root string

	mu  sync.Mutex
	cmd *exec.Cmd
	ns  string // the mount namespace of the running sshd, as /proc/<pid>/ns/mnt reads
	// nsFile holds that namespace open until the host is stopped: a namespace's
	// number is reused once it is freed, and Stop and Kill find the host's
	// processes by it, so without this a stop could signal the processes of a
	// namespace created later by another test (another package's sshd).
	nsFile *os.File
	done   chan struct{}
	err    error // exit status of the last sshd, valid once done is closed
	log    *lockedBuffer
}

// Binaries returns the absolute paths of sshd and unshare, or an error naming what is
// missing. sshd must be run by absolute path (it re-executes itself).
func Binaries() (sshd, unshare string, err error) {
	sshd = findBinary("sshd", sshdPaths...)
	unshare = findBinary("unshare", unsharePaths...)
	var missing []string
	if sshd == "" {
		missing = append(missing, "sshd not found on PATH nor in /usr/sbin")
	}
	if unshare == "" {
		missing = append(missing, "unshare not found on PATH nor in /usr/bin")
	}
	if findBinary("mount", mountPaths...) == "" {
		missing = append(missing, "mount not found on PATH nor in /usr/bin")
	}
	if len(missing) > 0 {
		return "", "", errors.New(strings.Join(missing, "; "))
	}
	return sshd, unshare, nil
}

// Where the binaries are looked for besides PATH; tests change them to play a machine
// without OpenSSH.
var (
	lookPath     = exec.LookPath
	sshdPaths    = []string{"/usr/sbin/sshd", "/usr/local/sbin/sshd"}
	unsharePaths = []string{"/usr/bin/unshare", "/bin/unshare"}
	mountPaths   = []string{"/usr/bin/mount", "/bin/mount"}
)

func findBinary(name string, fallbacks ...string) string {
	if p, err := lookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	for _, p := range fallbacks {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Available reports why a fleet cannot be started on this machine, or nil.
func Available() error {
	if _, _, err := Binaries(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("not running as root: each host needs a mount namespace of its own")
	}
	return nil
}

// inCI reports whether the tests run in CI, where a missing component is a failure.
func inCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0"
}

// unavailable fails the test under CI and skips it elsewhere. The caller returns
// right after it.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("sshtest: %s; %s", msg, InstallHint)
		return
	}
	t.Skipf("sshtest: %s; %s (skipped outside CI)", msg, InstallHint)
}

// errNamespace marks a start failure of unshare or mount: the machine cannot give a
// host its own mount namespace.
var errNamespace = errors.New("cannot create a mount namespace")

// Start starts n hosts, waits until each one answers SSH on its port and registers
// their shutdown with t.Cleanup. When the test fails, each host's sshd log (stderr,
// sshd -e) is written to the test log.
func Start(t testing.TB, n int, opts ...Option) *Fleet {
	t.Helper()
	o := options{root: DefaultRoot}
	for _, opt := range opts {
		opt(&o)
	}
	if n < 1 {
		t.Fatalf("sshtest: Start needs at least one host, got %d", n)
		return nil
	}
	root := filepath.Clean(o.root)
	if !filepath.IsAbs(o.root) || root == "/" {
		t.Fatalf("sshtest: Root must be an absolute path other than /, got %q", o.root)
		return nil
	}
	if err := Available(); err != nil {
		unavailable(t, "%v", err)
		return nil
	}
	sshd, unshare, _ := Binaries()
	// sshd running as root refuses to start without its privilege separation directory,
	// which the Debian package only creates when its service starts.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		unavailable(t, "cannot create /run/sshd: %v", err)
		return nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		unavailable(t, "cannot create the hosts' root %s: %v", root, err)
		return nil
	}

	tmp := t.TempDir()
	f := &Fleet{Root: root, User: User}
	var err error
	f.clientKey, f.ClientKeyPEM, f.Signer, err = newKey("sshtest client")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	var authorized bytes.Buffer
	authorized.Write(ssh.MarshalAuthorizedKey(f.Signer.PublicKey()))
	for _, k := range o.keys {
		authorized.Write(ssh.MarshalAuthorizedKey(k))
	}
	authorizedPath := filepath.Join(tmp, "client", "authorized_keys")
	mustWrite(t, authorizedPath, authorized.Bytes(), 0o600)
	mustWrite(t, filepath.Join(tmp, "client", "id_ed25519"), f.ClientKeyPEM, 0o600)

	t.Cleanup(func() { f.cleanup(t) })

	for i := 0; i < n; i++ {
		ip := "127.0.0.1"
		if o.loopbacks {
			ip = "127.0.0." + strconv.Itoa(i+2)
		}
		h, err := startHost(t, tmp, i, ip, sshd, unshare, root, o.extra, authorizedPath)
		if errors.Is(err, errNamespace) {
			unavailable(t, "host %d: %v", i, err)
			return nil
		}
		if err != nil {
			t.Fatalf("sshtest: host %d: %v", i, err)
		}
		f.Hosts = append(f.Hosts, h)
	}

	f.knownHostsPath = filepath.Join(tmp, "client", "known_hosts")
	mustWrite(t, f.knownHostsPath, []byte(f.KnownHosts()), 0o644)
	return f
}

// cleanup stops every host of the fleet and, when the test failed, logs what
// each sshd said.
func (f *Fleet) cleanup(t testing.TB) {
	var wg sync.WaitGroup
	for _, h := range f.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.stop(syscall.SIGTERM, 5*time.Second); err != nil {
				t.Logf("sshtest: host %d: %v", h.Index, err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		for _, h := range f.Hosts {
			t.Logf("sshtest: host %d (%s) sshd log:\n%s", h.Index, h.Addr, h.Log())
		}
	}
}

// startHost makes host i's folder, host key and configuration under tmp and
// starts its sshd, on another free port when the chosen one was taken meanwhile.
func startHost(t testing.TB, tmp string, i int, ip, sshd, unshare, root, extra, authorizedPath string) (*Host, error) {
	h := &Host{
		Index:   i,
		Dir:     filepath.Join(tmp, "host"+strconv.Itoa(i)),
		sshd:    sshd,
		unshare: unshare,
		root:    root,
		log:     &lockedBuffer{},
	}
	etc := filepath.Join(tmp, "sshd", "host"+strconv.Itoa(i))
	h.ConfigPath = filepath.Join(etc, "sshd_config")
	h.PidFile = filepath.Join(etc, "sshd.pid")
	hostKeyPath := filepath.Join(etc, "ssh_host_ed25519_key")
	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		return nil, err
	}
	_, keyPEM, signer, err := newKey("sshtest host " + strconv.Itoa(i))
	if err != nil {
		return nil, err
	}
	h.HostKey = signer.PublicKey()
	mustWrite(t, hostKeyPath, keyPEM, 0o600)

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if h.Port, err = freePort(ip); err != nil {
			return nil, err
		}
		h.Addr = net.JoinHostPort(ip, strconv.Itoa(h.Port))
		mustWrite(t, h.ConfigPath, []byte(renderConfig(extra, h.Addr, hostKeyPath, h.PidFile, authorizedPath)), 0o600)
		if lastErr = h.checkConfig(); lastErr != nil {
			break
		}
		if lastErr = h.start(); lastErr == nil || !strings.Contains(lastErr.Error(), "Address already in use") {
			break
		}
	}
	return h, lastErr
}

func renderConfig(extra, addr, hostKey, pidFile, authorizedKeys string) string {
	var b strings.Builder
	b.WriteString("# sshd test server rendered by internal/sshtest\n")
	if extra != "" {
		b.WriteString(extra)
	}
	fmt.Fprintf(&b, "ListenAddress %s\n", addr)
	fmt.Fprintf(&b, "HostKey %s\n", hostKey)
	fmt.Fprintf(&b, "PidFile %s\n", pidFile)
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", authorizedKeys)
	b.WriteString(`AddressFamily inet
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
# Debian's default: a client cannot pass other variables with setenv.
AcceptEnv LANG LC_*
# Fleet tests open many connections and sessions at once.
MaxStartups 100
MaxSessions 100
LogLevel INFO
Subsystem sftp internal-sftp
`)
	return b.String()
}

// checkConfig runs sshd -t: its message is much clearer than an sshd exiting at start.
func (h *Host) checkConfig() error {
	out, err := exec.Command(h.sshd, "-t", "-f", h.ConfigPath).CombinedOutput()
	if err != nil {
		cfg, _ := os.ReadFile(h.ConfigPath)
		return fmt.Errorf("sshd -t rejected the test configuration %s: %v\n%s\n--- config ---\n%s", h.ConfigPath, err, out, cfg)
	}
	return nil
}

// nsScript makes the host's view of the root and becomes sshd. Arguments: root,
// host folder, sshd binary, config path, the login user's home folder.
//
// A host is a server with a plain account: the start-up files of this
// machine's login shell are hidden inside the namespace (bash reads ~/.bashrc
// for every command sshd runs, and a developer's may start version managers
// and the like), so a remote command costs what it costs on a server, and the
// tests do not depend on this machine's dotfiles.
const nsScript = `mkdir -p "$1" || { echo "unshare: mkdir $1 failed" >&2; exit 97; }
mount --bind "$2" "$1" || { echo "unshare: mount --bind $2 $1 failed" >&2; exit 97; }
for f in .bashrc .bash_profile .bash_login .profile; do
	[ -f "$5/$f" ] || continue
	mount --bind /dev/null "$5/$f" || { echo "unshare: mount --bind /dev/null $5/$f failed" >&2; exit 97; }
done
exec "$3" -D -e -f "$4"`

// start launches sshd in a new mount namespace and waits until it greets on its port.
func (h *Host) start() error {
	h.mu.Lock()
	fmt.Fprintf(h.log, "--- sshtest: starting sshd on %s at %s (the readiness probe closes one connection after the banner) ---\n",
		h.Addr, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(h.unshare, "--mount", "--propagation", "private",
		"sh", "-c", nsScript, "sh", h.root, h.Dir, h.sshd, h.ConfigPath, userHome())
	cmd.Stdout = h.log
	cmd.Stderr = h.log
	cmd.SysProcAttr = procAttr()
	logStart := h.log.Len()
	if err := cmd.Start(); err != nil {
		h.mu.Unlock()
		return fmt.Errorf("%w: cannot start %s: %v", errNamespace, h.unshare, err)
	}
	done := make(chan struct{})
	if h.nsFile != nil { // an sshd that ended without Stop: its namespace goes now
		_ = h.nsFile.Close()
	}
	h.cmd, h.done, h.ns, h.nsFile = cmd, done, "", nil
	h.mu.Unlock()
	go func() {
		err := cmd.Wait()
		h.mu.Lock()
		h.err = err
		h.mu.Unlock()
		close(done)
	}()

	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			out := h.log.From(logStart)
			err := fmt.Errorf("sshd exited during startup (%v):\n%s", h.exitErr(), out)
			if strings.Contains(out, "unshare: ") {
				err = fmt.Errorf("%w: %v", errNamespace, err)
			}
			return err
		default:
		}
		if greets(h.Addr) {
			// The namespace is how Stop and Kill find every process of the host:
			// held open, its number stays the host's until the host is stopped.
			nsPath := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/mnt"
			nsFile, err := os.Open(nsPath)
			var ns string
			if err == nil {
				ns, err = os.Readlink(nsPath)
			}
			if err != nil {
				if nsFile != nil {
					_ = nsFile.Close()
				}
				_ = h.stop(syscall.SIGKILL, 5*time.Second)
				return fmt.Errorf("cannot read the mount namespace of sshd (pid %d): %v", cmd.Process.Pid, err)
			}
			h.mu.Lock()
			h.ns, h.nsFile = ns, nsFile
			h.mu.Unlock()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = h.stop(syscall.SIGKILL, 5*time.Second)
	return fmt.Errorf("sshd did not answer on %s within %s:\n%s", h.Addr, startTimeout, h.log.From(logStart))
}

// greets reports whether an SSH server answers on addr with its identification line.
func greets(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

func (h *Host) exitErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// running reports whether the host's sshd listener is alive.
func (h *Host) running() bool {
	h.mu.Lock()
	done := h.done
	h.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// stop signals every process of the host (the sshd listener, the sshd of each
// connection and every command they run: all share the host's mount namespace) and
// waits until they are all gone, with SIGKILL after grace.
func (h *Host) stop(sig syscall.Signal, grace time.Duration) error {
	h.mu.Lock()
	cmd, done, ns := h.cmd, h.done, h.ns
	h.mu.Unlock()
	if cmd == nil {
		return nil
	}
	signalAll := func(s syscall.Signal) int {
		n := 0
		select {
		case <-done:
		default:
			// The listener, also while it is still the unshare or sh before exec.
			_ = cmd.Process.Signal(s)
			n++
		}
		for _, pid := range namespacePids(ns) {
			_ = syscall.Kill(pid, s)
			n++
		}
		return n
	}
	deadline := time.Now().Add(grace)
	signalAll(sig)
	for signalAll(0) > 0 {
		if time.Now().After(deadline) {
			if sig == syscall.SIGKILL {
				return fmt.Errorf("processes of host %d still alive %s after SIGKILL", h.Index, grace)
			}
			sig = syscall.SIGKILL
			deadline = time.Now().Add(grace)
			signalAll(sig)
			continue
		}
		time.Sleep(10 * time.Millisecond)
		if sig == syscall.SIGKILL {
			// A connection's sshd may have forked between two scans.
			signalAll(sig)
		}
	}
	<-done
	// Every process of the namespace is gone: let it go, and forget its number.
	h.mu.Lock()
	if h.ns == ns {
		if h.nsFile != nil {
			_ = h.nsFile.Close()
		}
		h.ns, h.nsFile = "", nil
	}
	h.mu.Unlock()
	return nil
}

// namespacePids lists the processes whose mount namespace is ns. An empty ns matches
// nothing.
func namespacePids(ns string) []int {
	if ns == "" {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if l, err := os.Readlink("/proc/" + e.Name() + "/ns/mnt"); err == nil && l == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Log returns everything the host's sshd wrote to stderr, across restarts.
func (h *Host) Log() string { return h.log.String() }

func (f *Fleet) host(i int) (*Host, error) {
	if i < 0 || i >= len(f.Hosts) {
		return nil, fmt.Errorf("sshtest: no host %d in a fleet of %d", i, len(f.Hosts))
	}
	return f.Hosts[i], nil
}

func (f *Fleet) mustHost(i int) *Host {
	h, err := f.host(i)
	if err != nil {
		panic(err)
	}
	return h
}

// Addr returns host i's address, "127.0.0.1:<port>".
func (f *Fleet) Addr(i int) string { return f.mustHost(i).Addr }

// Addrs returns every host's address, in order.
func (f *Fleet) Addrs() []string {
	out := make([]string, len(f.Hosts))
	for i, h := range f.Hosts {
		out[i] = h.Addr
	}
	return out
}

// Dir returns host i's local folder, the one bound over Root inside the host.
func (f *Fleet) Dir(i int) string { return f.mustHost(i).Dir }

// Local returns where the file at the absolute path p of host i lives on this
// machine; p must be Root or under it.
func (f *Fleet) Local(i int, p string) string {
	rel, err := filepath.Rel(f.Root, filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		panic(fmt.Sprintf("sshtest: %s is not under the hosts' root %s", p, f.Root))
	}
	return filepath.Join(f.Dir(i), rel)
}

// HostKey returns host i's public key.
func (f *Fleet) HostKey(i int) ssh.PublicKey { return f.mustHost(i).HostKey }

// Fingerprint returns host i's key fingerprint as OpenSSH prints it ("SHA256:…").
func (f *Fleet) Fingerprint(i int) string { return ssh.FingerprintSHA256(f.HostKey(i)) }

// Running reports whether host i's sshd is up.
func (f *Fleet) Running(i int) bool { return f.mustHost(i).running() }

// Log returns what host i's sshd wrote to stderr (sshd -e), across restarts.
func (f *Fleet) Log(i int) string { return f.mustHost(i).Log() }

// KnownHostsLine returns host i's known_hosts line, "[127.0.0.1]:<port> ssh-ed25519 AAAA…".
func (f *Fleet) KnownHostsLine(i int) string {
	h := f.mustHost(i)
	return knownhosts.Line([]string{h.Addr}, h.HostKey)
}

// HashedKnownHostsLine returns host i's known_hosts line with the host name hashed
// ("|1|salt|hash ssh-ed25519 AAAA…"), as ssh-keygen -H writes it.
func (f *Fleet) HashedKnownHostsLine(i int) string {
	h := f.mustHost(i)
	return knownhosts.HashHostname(knownhosts.Normalize(h.Addr)) + " " +
		strings.TrimSpace(string(ssh.MarshalAuthorizedKey(h.HostKey)))
}

// KnownHosts returns known_hosts text holding every host's key, one line per host.
func (f *Fleet) KnownHosts() string {
	var b strings.Builder
	for i := range f.Hosts {
		b.WriteString(f.KnownHostsLine(i) + "\n")
	}
	return b.String()
}

// HashedKnownHosts is KnownHosts with hashed host names.
func (f *Fleet) HashedKnownHosts() string {
	var b strings.Builder
	for i := range f.Hosts {
		b.WriteString(f.HashedKnownHostsLine(i) + "\n")
	}
	return b.String()
}

// KnownHostsFile returns the path of a file holding KnownHosts.
func (f *Fleet) KnownHostsFile() string { return f.knownHostsPath }

// HostKeyCallback verifies host keys against the fleet's known_hosts.
func (f *Fleet) HostKeyCallback() (ssh.HostKeyCallback, error) {
	return knownhosts.New(f.knownHostsPath)
}

// ClientConfig returns a client configuration that logs in as User with the client
// key and verifies host keys against the fleet's known_hosts.
func (f *Fleet) ClientConfig() (*ssh.ClientConfig, error) {
	cb, err := f.HostKeyCallback()
	if err != nil {
		return nil, err
	}
	return &ssh.ClientConfig{
		User:            f.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(f.Signer)},
		HostKeyCallback: cb,
		Timeout:         10 * time.Second,
	}, nil
}

// Dial connects to host i with ClientConfig. The caller closes the client.
func (f *Fleet) Dial(i int) (*ssh.Client, error) {
	h, err := f.host(i)
	if err != nil {
		return nil, err
	}
	cfg, err := f.ClientConfig()
	if err != nil {
		return nil, err
	}
	return ssh.Dial("tcp", h.Addr, cfg)
}

// ClientKeyWithPassphrase returns the client private key in OpenSSH PEM format,
// encrypted with passphrase.
func (f *Fleet) ClientKeyWithPassphrase(passphrase string) ([]byte, error) {
	block, err := ssh.MarshalPrivateKeyWithPassphrase(f.clientKey, "sshtest client", []byte(passphrase))
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(block), nil
}

// Stop stops host i the way a shutdown does: SIGTERM to its sshd and to every
// connection and command it serves, SIGKILL to what is left after 5 seconds. Its
// port then refuses connections; its folder is kept.
func (f *Fleet) Stop(i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	return h.stop(syscall.SIGTERM, 5*time.Second)
}

// Kill kills host i at once, as a crash does: SIGKILL to its sshd and to every
// connection and command it serves, so that clients in the middle of a transfer see
// their connection drop.
func (f *Fleet) Kill(i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	return h.stop(syscall.SIGKILL, 5*time.Second)
}

// Restart stops host i if it runs and starts it again on the same address, with the
// same host key, configuration and folder.
func (f *Fleet) Restart(i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	if err := h.stop(syscall.SIGTERM, 5*time.Second); err != nil {
		return err
	}
	if err := h.start(); err != nil {
		return fmt.Errorf("sshtest: restarting host %d: %w", i, err)
	}
	return f.waitLogin(i)
}

// waitLogin waits until a client can log in to host i: a restarted sshd that
// greets may still drop the first connections on a loaded machine.
func (f *Fleet) waitLogin(i int) error {
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := f.Dial(i)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshtest: host %d greets but refuses logins: %w", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newKey makes an ed25519 key and returns it with its OpenSSH PEM encoding and signer.
func newKey(comment string) (ed25519.PrivateKey, []byte, ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, nil, err
	}
	return priv, pem.EncodeToMemory(block), signer, nil
}

func mustWrite(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
}

func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil //nolint:forcetypeassert // a TCP listener has a TCP address
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// From returns what was written from offset on.
func (l *lockedBuffer) From(offset int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if offset > l.b.Len() {
		return ""
	}
	return string(l.b.Bytes()[offset:])
}

// userHome is User's home folder ("/root" when the user database does not say).
func userHome() string {
	if u, err := user.Lookup(User); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	return "/root"
}
