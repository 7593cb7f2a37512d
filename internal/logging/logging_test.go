package logging_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

func TestFromReturnsTheLoggerWith(t *testing.T) {
	var buf bytes.Buffer
	ctx := logging.With(context.Background(), slog.New(slog.NewTextHandler(&buf, nil)))
	logging.From(ctx).Info("deployed", logging.Environment, "staging", logging.Version, "1.7.4")
	if got := buf.String(); !strings.Contains(got, "msg=deployed environment=staging version=1.7.4") {
		t.Fatalf("logged %q", got)
	}
}

func TestFromWithoutALoggerDiscards(t *testing.T) {
	l := logging.From(context.Background())
	if l == nil || l.Enabled(context.Background(), slog.LevelError) {
		t.Fatal("a context without a logger must give a logger that discards")
	}
	l.Info("nobody hears this") // must not panic
}
