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
