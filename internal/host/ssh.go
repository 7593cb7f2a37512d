package host

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// DefaultSSHTimeout bounds connecting and logging in when SSHConfig.Timeout is 0.
const DefaultSSHTimeout = 30 * time.Second

// maxKeepAliveInterval caps how often a connection asks the server for a sign
// of life, so that a host that vanished (power cut, network partition) fails
// the operations waiting on it instead of leaving them hanging forever.
const maxKeepAliveInterval = 15 * time.Second

// ErrConnectionLost means the SSH connection to a host ended while an
// operation needed it (the host rebooted, sshd was killed, the network went
// away). Whatever the operation was doing on the host may be half done; the
// atomic operations (WriteFile, Symlink, Rename) leave the old state in place.
var ErrConnectionLost = errors.New("the SSH connection was lost")

// SSHConfig says how to reach and log in to one host over SSH.
type SSHConfig struct {
	// Address is "host" or "host:port" (port 22 by default); an IPv6 address
	// with a port is written "[::1]:2222". It is also the host's Name.
	Address string
	// User is the account to log in as.
	User string
	// PrivateKey is a private key in PEM or OpenSSH format. It is secret: it is
	// never logged nor put in an error.
	PrivateKey []byte
	// Passphrase decrypts PrivateKey when it is encrypted.
	Passphrase []byte
	// Agent also offers the keys of the ssh-agent at $SSH_AUTH_SOCK.
	Agent bool
	// KnownHosts is OpenSSH known_hosts text (plain, hashed "|1|…" and
	// "[host]:port" entries, @cert-authority and @revoked markers). The host's
	// key must be in it: there is no trust on first use and no way to skip the
	// check.
	KnownHosts string
	// Timeout bounds connecting and logging in, and how long the host may
	// leave a keep-alive request unanswered before the connection is
	// considered lost (0: DefaultSSHTimeout). Commands are not bounded by it.
	Timeout time.Duration
}

// SSH is a remote host reached over SSH: files through SFTP, commands through
// `sh -c` in sessions of their own. It is safe for concurrent use: one SSH
// connection carries one shared SFTP client and one session per command.
//
// The server must be OpenSSH (or offer the same SFTP extensions:
// posix-rename@openssh.com, and fsync@openssh.com for durable writes), the
// account's login shell must understand POSIX sh syntax, and the host needs
// /bin/sh and kill.
type SSH struct {
	name    string
	timeout time.Duration
	client  *ssh.Client
	files   *sftp.Client

	fsync    bool          // the server syncs files to disk on request
	sessions chan struct{} // one token per running command (maxCommandSessions)

	closeOnce sync.Once
	closed    atomic.Bool
	gone      chan struct{} // closed when the connection ends, for whatever reason
	goneErr   error         // why, once gone is closed
}

var _ Host = (*SSH)(nil)

// DialSSH connects to cfg.Address, verifies its host key against
// cfg.KnownHosts, logs in and starts SFTP. The caller closes the returned SSH.
func DialSSH(ctx context.Context, cfg SSHConfig) (*SSH, error) {
	name := strings.TrimSpace(cfg.Address)
	if name == "" {
		return nil, errors.New("ssh: no host address")
	}
	addr, err := dialAddress(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if cfg.User == "" {
		return nil, fmt.Errorf("%s: no SSH user to log in as", name)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultSSHTimeout
	}
	verify, err := newHostKeyVerifier(name, cfg.KnownHosts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	auth, agentConn, err := authMethods(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if agentConn != nil {
		// The agent signs during the login only.
		defer agentConn.Close()
	}
	h := &SSH{
		name: name, timeout: timeout,
		sessions: make(chan struct{}, maxCommandSessions),
		gone:     make(chan struct{}),
	}
	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              auth,
		HostKeyCallback:   verify.callback,
		HostKeyAlgorithms: verify.algorithms(addr),
		Timeout:           timeout,
	}
	h.client, err = connect(ctx, addr, clientCfg, timeout)
	if err != nil {
		if hkErr := verify.refused(); hkErr != nil {
			return nil, hkErr
		}
		return nil, fmt.Errorf("%s: connect as %s: %w", name, cfg.User, explainDialError(err))
	}
	go h.watch()
	if err := h.startSFTP(ctx); err != nil {
		_ = h.Close()
		return nil, err
	}
	return h, nil
}

// dialAddress turns "host" or "host:port" into host:port.
func dialAddress(address string) (string, error) {
	if host, port, err := net.SplitHostPort(address); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("invalid port %q in the host address", port)
		}
		if host == "" {
			return "", errors.New("no host name before the port in the host address")
		}
		return address, nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(address, "["), "]")
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return "", fmt.Errorf("invalid host address %q: write host or host:port ([v6 address]:port)", address)
	}
	return net.JoinHostPort(host, "22"), nil
}

// authMethods builds one public key method from the private key and the
// agent's keys: x/crypto/ssh tries each method name once, so two "publickey"
// methods would never both be offered.
func authMethods(cfg SSHConfig) ([]ssh.AuthMethod, net.Conn, error) {
	var signers []ssh.Signer
	if len(cfg.PrivateKey) > 0 {
		s, err := parsePrivateKey(cfg.PrivateKey, cfg.Passphrase)
		if err != nil {
			return nil, nil, err
		}
		signers = append(signers, s)
	}
	var agentConn net.Conn
	var agentClient agent.ExtendedAgent
	if cfg.Agent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, nil, errors.New("agent authentication asked for, but SSH_AUTH_SOCK is not set")
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, fmt.Errorf("reach the ssh-agent at SSH_AUTH_SOCK: %w", err)
		}
		agentConn, agentClient = c, agent.NewClient(c)
	}
	if len(signers) == 0 && agentClient == nil {
		return nil, nil, errors.New("no SSH credentials: give a private key or use the agent")
	}
	return []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		if agentClient == nil {
			return signers, nil
		}
		fromAgent, err := agentClient.Signers()
		if err != nil {
			return nil, fmt.Errorf("list the ssh-agent's keys: %w", err)
		}
		return append(append([]ssh.Signer(nil), signers...), fromAgent...), nil
	})}, agentConn, nil
}

// parsePrivateKey reads a private key, with the passphrase when it is
// encrypted (a passphrase given for a plain key is not used). Its errors never
// quote the key.
func parsePrivateKey(pemBytes, passphrase []byte) (ssh.Signer, error) {
	s, err := ssh.ParsePrivateKey(pemBytes)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if len(passphrase) == 0 {
			return nil, errors.New("the private key is encrypted: give its passphrase")
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(pemBytes, passphrase)
	}
	switch {
	case errors.Is(err, x509.IncorrectPasswordError):
		return nil, errors.New("the passphrase does not decrypt the private key")
	case err != nil:
		return nil, fmt.Errorf("read the private key: %w", err)
	}
	return s, nil
}

// connect dials addr and runs the SSH handshake, within timeout and ctx: a
// server that accepts TCP but never answers must not hang the caller.
func connect(ctx context.Context, addr string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	dialer := net.Dialer{Timeout: timeout}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	ctxDeadline, byCtx := ctx.Deadline()
	byCtx = byCtx && ctxDeadline.Before(deadline)
	if byCtx {
		deadline = ctxDeadline
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stop()
	switch {
	case err == nil && ctx.Err() != nil:
		_ = c.Close()
		return nil, ctx.Err()
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
	case byCtx && errors.Is(err, os.ErrDeadlineExceeded):
		// The connection's deadline was the context's, a hair before its timer.
		return nil, fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, fmt.Errorf("no SSH handshake within %s: %w", timeout, err)
	case err != nil:
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// explainDialError adds what to do to the errors a user can fix.
func explainDialError(err error) error {
	if strings.Contains(err.Error(), "unable to authenticate") {
		return fmt.Errorf("%w (the server refused every key offered: check the user and that its authorized_keys holds the public key)", err)
	}
	return err
}

// startSFTP opens the SFTP subsystem and checks the extensions atomic
// replacement needs. It gives up when ctx ends (a server that never answers
// is dropped by the keep-alive, later).
func (h *SSH) startSFTP(ctx context.Context) error {
	type started struct {
		c   *sftp.Client
		err error
	}
	ch := make(chan started, 1)
	go func() {
		c, err := sftp.NewClient(h.client)
		ch <- started{c, err}
	}()
	var s started
	select {
	case s = <-ch:
	case <-ctx.Done():
		go func() {
			if s := <-ch; s.c != nil {
				_ = s.c.Close()
			}
		}()
		return h.fail("start SFTP", ctx.Err())
	}
	if s.err != nil {
		return h.fail("start SFTP", s.err)
	}
	h.files = s.c
	if _, ok := s.c.HasExtension("posix-rename@openssh.com"); !ok {
		return fmt.Errorf("%s: the SFTP server lacks posix-rename@openssh.com, without which files cannot be replaced atomically", h.name)
	}
	v, ok := s.c.HasExtension("fsync@openssh.com")
	h.fsync = ok && v == "1"
	return nil
}

// watch records when and why the connection ends, and keeps it alive: a
// server that stops answering keep-alive requests within the timeout has the
// connection closed, which fails every operation waiting on it.
func (h *SSH) watch() {
	ended := make(chan error, 1)
	go func() { ended <- h.client.Wait() }()
	tick := time.NewTicker(min(h.timeout/2, maxKeepAliveInterval))
	defer tick.Stop()
	for {
		select {
		case err := <-ended:
			if err == nil {
				err = errors.New("closed by the server")
			}
			h.goneErr = err
			close(h.gone)
			return
		case <-tick.C:
			go h.keepAlive()
		}
	}
}

func (h *SSH) keepAlive() {
	answered := make(chan struct{})
	go func() {
		_, _, _ = h.client.SendRequest("keepalive@openssh.com", true, nil)
		close(answered)
	}()
	select {
	case <-answered:
	case <-h.gone:
	case <-time.After(h.timeout):
		_ = h.client.Close()
	}
}

// lost returns why the connection ended, or nil while it is up.
func (h *SSH) lost() error {
	select {
	case <-h.gone:
		return h.goneErr
	default:
		return nil
	}
}

// Name implements Host: the address as configured ("web1.example.org",
// "web2.example.org:2222").
func (h *SSH) Name() string { return h.name }

// Close ends the connection. Commands still running on the host are killed
// with every process they started (their watchdog sees the session end).
func (h *SSH) Close() error {
	var err error
	h.closeOnce.Do(func() {
		h.closed.Store(true)
		if h.files != nil {
			_ = h.files.Close()
		}
		err = h.client.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	})
	return err
}

// fail names the operation and the host in err.
func (h *SSH) fail(op string, err error) error {
	return h.wrap(fmt.Errorf("%s: %w", op, err))
}
