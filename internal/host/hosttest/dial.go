package hosttest

import (
	"context"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
)

// Config is how a test reaches host i of f: its address, the test user and
// key, f's known_hosts and a 10-second timeout.
func Config(f *sshtest.Fleet, i int) host.SSHConfig {
	return host.SSHConfig{
		Address:    f.Addr(i),
		User:       f.User,
		PrivateKey: f.ClientKeyPEM,
		KnownHosts: f.KnownHosts(),
		Timeout:    10 * time.Second,
	}
}

// Dial connects to host i of f with Config; the connection is closed when the
// test ends.
func Dial(t testing.TB, f *sshtest.Fleet, i int) *host.SSH {
	t.Helper()
	h, err := host.DialSSH(context.Background(), Config(f, i))
	if err != nil {
		t.Fatalf("DialSSH to host %d: %v", i, err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// DialAll connects to every host of f at once with host.DialAll (as the
// provider does), each with Config; the connections are closed when the test
// ends.
func DialAll(t testing.TB, f *sshtest.Fleet) []host.Host {
	t.Helper()
	cfgs := make([]host.SSHConfig, len(f.Hosts))
	for i := range f.Hosts {
		cfgs[i] = Config(f, i)
	}
	hosts, closeAll, err := host.DialAll(context.Background(), cfgs, 0)
	if err != nil {
		t.Fatalf("connect to the test hosts: %v", err)
	}
	t.Cleanup(closeAll)
	return hosts
}
