package host_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/host/hosttest"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
)

func TestDialAll(t *testing.T) {
	f := sshtest.Start(t, 3, sshtest.Root(sshRoot))
	cfgs := []host.SSHConfig{hosttest.Config(f, 0), hosttest.Config(f, 1), hosttest.Config(f, 2)}
	for _, maxParallel := range []int{0, 1, 2, 10} {
		t.Run(fmt.Sprintf("max_parallel=%d", maxParallel), func(t *testing.T) {
			hosts, closeAll, err := host.DialAll(context.Background(), cfgs, maxParallel)
			if err != nil {
				t.Fatalf("DialAll: %v", err)
			}
			defer closeAll()
			if len(hosts) != 3 {
				t.Fatalf("got %d hosts, want 3", len(hosts))
			}
			// Each connection reaches its own host, in the order of cfgs.
			name := fmt.Sprintf("dial-%d", maxParallel)
			for i, h := range hosts {
				if h.Name() != f.Addr(i) {
					t.Errorf("host %d is named %q, want %q", i, h.Name(), f.Addr(i))
				}
				if err := h.WriteFile(context.Background(), sshRoot+"/"+name, []byte(f.Addr(i)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for i := range hosts {
				got, err := os.ReadFile(f.Local(i, sshRoot+"/"+name))
				if err != nil || string(got) != f.Addr(i) {
					t.Errorf("host %d holds %q (%v), want %q", i, got, err, f.Addr(i))
				}
			}
		})
	}

	// One host down: no host is returned and the error names that host only.
	if err := f.Stop(1); err != nil {
		t.Fatal(err)
	}
	hosts, closeAll, err := host.DialAll(context.Background(), cfgs, 2)
	closeAll()
	if err == nil {
		t.Fatal("DialAll succeeded with a host down")
	}
	if hosts != nil {
		t.Errorf("DialAll returned %d hosts with an error", len(hosts))
	}
	msg := err.Error()
	if !strings.Contains(msg, "cannot reach host "+f.Addr(1)) {
		t.Errorf("error does not name the host that is down: %v", err)
	}
	for _, i := range []int{0, 2} {
		if strings.Contains(msg, f.Addr(i)) {
			t.Errorf("error names host %s, which is up: %v", f.Addr(i), err)
		}
	}
}
