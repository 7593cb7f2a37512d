package provider

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
)

// The examples' resource_ssh.tf files name hosts such as web1.example.org, log
// in as deploy with var.deploy_key and check host keys against the folder's
// known_hosts. A workspace applies them against real sshd hosts instead
// (internal/sshtest): the hosts' list becomes the fleet's addresses, the user
// root, known_hosts the fleet's keys and var.deploy_key a key every fleet of
// the workspace accepts. Commands run on the hosts find the application's tools
// (php, pg_dump) and sudo as stubs that log to the workspace's stub log.

// exampleSSH is what the workspace's fleets share: the deploy key and the
// known_hosts lines of every fleet started so far.
type exampleSSH struct {
	keyPEM     []byte
	public     ssh.PublicKey
	knownHosts strings.Builder
	stubs      string // the stubs commands on the hosts find first on PATH
}

// sshFleet starts n hosts whose root is the example's path root (bound over it
// in each host), replaces hostsText (the example's list of hosts, exactly as
// written) by their addresses, and makes the example log in to them.
func (w *exampleWorkspace) sshFleet(root string, n int, hostsText string) *sshtest.Fleet {
	w.t.Helper()
	s := w.sshSetup()
	env := fmt.Sprintf("SetEnv PATH=%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin EXAMPLE_STUB_LOG=%s", s.stubs, w.stubLog)
	f := sshtest.Start(w.t, n, sshtest.Root(root), sshtest.Loopbacks(), sshtest.AuthorizeKeys(s.public), sshtest.Config(env))
	w.rewrite(hostsText, hclList(f.Addrs()))
	s.knownHosts.WriteString(f.KnownHosts())
	w.write("known_hosts", s.knownHosts.String())
	return f
}

// sshSetup makes the workspace's deploy key, the stubs the hosts run and the
// rewrites every SSH example needs, once.
func (w *exampleWorkspace) sshSetup() *exampleSSH {
	w.t.Helper()
	if w.ssh != nil {
		return w.ssh
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "example deploy key")
	if err != nil {
		w.t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		w.t.Fatal(err)
	}
	s := &exampleSSH{keyPEM: pem.EncodeToMemory(block), public: sshPub, stubs: w.path("host-stubs")}
	if err := os.MkdirAll(s.stubs, 0o755); err != nil {
		w.t.Fatal(err)
	}
	for name, script := range map[string]string{
		"php":     "#!/bin/sh\nprintf 'php %s (on %s)\\n' \"$*\" \"$RELEASE_HOST\" >> \"$EXAMPLE_STUB_LOG\"\n",
		"pg_dump": "#!/bin/sh\nprintf 'pg_dump %s (on %s)\\n' \"$*\" \"$RELEASE_HOST\" >> \"$EXAMPLE_STUB_LOG\"\nprintf -- '-- dump of %s\\n' \"$*\"\n",
		"sudo":    "#!/bin/sh\nprintf 'sudo %s\\n' \"$*\" >> \"$EXAMPLE_STUB_LOG\"\n",
	} {
		if err := os.WriteFile(filepath.Join(s.stubs, name), []byte(script), 0o755); err != nil {
			w.t.Fatal(err)
		}
	}
	w.rewrite(`= "deploy"`, `= "root"`)
	w.env = append(w.env, "TF_VAR_deploy_key="+string(s.keyPEM))
	w.ssh = s
	return s
}

// serveFleetCurrent serves, on every host of f, the host's <site>/current (its
// /health included), and returns the port.
func (w *exampleWorkspace) serveFleetCurrent(f *sshtest.Fleet, site string) int {
	return serveOnHosts(w.t, f, func(i int) http.Handler {
		return http.FileServer(http.Dir(f.Local(i, site+"/current")))
	})
}

// expectOnHosts fails unless file p of every host of f holds want.
func (w *exampleWorkspace) expectOnHosts(f *sshtest.Fleet, p, want string) {
	w.t.Helper()
	for i := range f.Hosts {
		w.expectFile(f.Local(i, p), want)
	}
}

// expectStubCall fails unless a stub was called with a line containing want.
func (w *exampleWorkspace) expectStubCall(want string) {
	w.t.Helper()
	if log := w.stubCalls(); !strings.Contains(log, want) {
		w.t.Fatalf("no command ran with %q; commands run: %q", want, log)
	}
}
