package host_test

import (
	"context"
	"errors"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/host/hosttest"
)

func TestLocal(t *testing.T) {
	hosttest.Run(t, host.Local{}, t.TempDir())
}

func TestLocalHonoursACancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	h := host.Local{}
	if err := h.WriteFile(ctx, dir+"/f", []byte("x"), 0o644); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteFile with a cancelled context: %v", err)
	}
	if _, err := h.Stat(context.Background(), dir+"/f"); err == nil {
		t.Fatal("WriteFile wrote with a cancelled context")
	}
	if _, err := h.Run(ctx, host.Command{Script: "true"}); !errors.Is(err, host.ErrCancelled) {
		t.Fatalf("Run with a cancelled context: %v", err)
	}
}

func TestHostname(t *testing.T) {
	for name, want := range map[string]string{
		"web1.example.org":      "web1.example.org",
		"web2.example.org:2222": "web2.example.org",
		"127.0.0.1:2201":        "127.0.0.1",
		"[::1]:22":              "::1",
		"[::1]":                 "::1",
		"local":                 "local",
	} {
		if got := host.Hostname(name); got != want {
			t.Errorf("Hostname(%q) = %q, want %q", name, got, want)
		}
	}
}
