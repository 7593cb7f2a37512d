package host

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError says that a host presented a key that known_hosts does not
// vouch for, so the connection was refused before logging in.
type HostKeyError struct {
	// Host is the host's address as configured.
	Host string
	// KeyType is the presented key's type ("ssh-ed25519").
	KeyType string
	// Fingerprint is the presented key's fingerprint, as OpenSSH prints it
	// ("SHA256:…").
	Fingerprint string
	// Known are the fingerprints known_hosts holds for the host. Empty: the
	// host is unknown; not empty: its key changed.
	Known []string
	// Revoked is true when known_hosts marks the presented key @revoked.
	Revoked bool
	// Err is the verifier's own error for other refusals (certificates).
	Err error
}

func (e *HostKeyError) Error() string {
	presented := fmt.Sprintf("its %s key %s", e.KeyType, e.Fingerprint)
	switch {
	case e.Revoked:
		return fmt.Sprintf("host key verification failed for %s: %s is marked @revoked in known_hosts", e.Host, presented)
	case e.Err != nil:
		return fmt.Sprintf("host key verification failed for %s: %s was refused: %v", e.Host, presented, e.Err)
	case len(e.Known) == 0:
		return fmt.Sprintf("host key verification failed for %s: %s is not in known_hosts. "+
			"Check the fingerprint with the host's administrator (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the host), then add the key to known_hosts",
			e.Host, presented)
	}
	return fmt.Sprintf("host key verification failed for %s: it presented %s, but known_hosts holds %s for it. "+
		"The host was reinstalled or someone is intercepting the connection: check the new fingerprint with the host's administrator before updating known_hosts",
		e.Host, presented, strings.Join(e.Known, ", "))
}

// Unwrap returns the verifier's own error, if any.
func (e *HostKeyError) Unwrap() error { return e.Err }

// hostKeyVerifier checks host keys against known_hosts text and remembers why
// it refused one, so DialSSH can return that instead of the handshake error.
type hostKeyVerifier struct {
	name  string
	text  string
	check ssh.HostKeyCallback

	mu      sync.Mutex
	refusal *HostKeyError
}

// newHostKeyVerifier parses known_hosts text with x/crypto/ssh/knownhosts.
func newHostKeyVerifier(name, text string) (*hostKeyVerifier, error) {
	if !hasKnownHostsEntry(text) {
		return nil, errors.New("known_hosts is empty: give the hosts' public keys in OpenSSH known_hosts format; host keys are always verified")
	}
	// knownhosts only reads files; the text is public, and the file lives only
	// while it is parsed.
	f, err := os.CreateTemp("", "release-known-hosts-*")
	if err != nil {
		return nil, fmt.Errorf("prepare known_hosts: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("prepare known_hosts: %w", err)
	}
	check, err := knownhosts.New(tmp)
	if err != nil {
		return nil, fmt.Errorf("invalid known_hosts: %s", strings.ReplaceAll(err.Error(), tmp+":", "line "))
	}
	return &hostKeyVerifier{name: name, text: text, check: check}, nil
}

func hasKnownHostsEntry(text string) bool {
	for _, line := range strings.Split(text, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

// callback is the ssh.HostKeyCallback.
func (v *hostKeyVerifier) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := v.check(hostname, remote, key)
	if err == nil {
		return nil
	}
	refusal := &HostKeyError{Host: v.name, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key)}
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case errors.As(err, &keyErr):
		for _, k := range keyErr.Want {
			refusal.Known = append(refusal.Known, fmt.Sprintf("%s %s (line %d)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Line))
		}
	case errors.As(err, &revoked):
		refusal.Revoked = true
	default:
		refusal.Err = err
	}
	v.mu.Lock()
	v.refusal = refusal
	v.mu.Unlock()
	return refusal
}

// refused returns why the last host key was refused, or nil.
func (v *hostKeyVerifier) refused() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.refusal == nil {
		return nil
	}
	return v.refusal
}

// algorithms lists the host key algorithms of the keys known_hosts holds for
// addr, so the server is asked for a key that can be verified: a server with
// RSA, ECDSA and Ed25519 keys would otherwise present its preferred one, which
// known_hosts may not hold, and be refused although another key is known. Nil
// (no preference) when nothing is known or certificates are in play.
func (v *hostKeyVerifier) algorithms(addr string) []string {
	if strings.Contains(v.text, "@cert-authority") {
		return nil
	}
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if err := v.check(addr, &net.TCPAddr{IP: net.IPv4zero}, probe); !errors.As(err, &keyErr) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range keyErr.Want {
		for _, a := range algorithmsForKeyType(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsForKeyType maps a key type to the signature algorithms that can
// prove it: an RSA key signs with SHA-2 first, SHA-1 last.
func algorithmsForKeyType(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}
