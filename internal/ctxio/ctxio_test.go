package ctxio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReaderAndWriterStopWithTheirContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var buf bytes.Buffer
	if _, err := io.Copy(Writer(ctx, &buf), Reader(ctx, strings.NewReader("data"))); err != nil || buf.String() != "data" {
		t.Fatalf("copy = %q, %v", buf.String(), err)
	}
	cancel()
	if _, err := Reader(ctx, strings.NewReader("more")).Read(make([]byte, 4)); !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel = %v", err)
	}
	if _, err := Writer(ctx, &buf).Write([]byte("more")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write after cancel = %v", err)
	}
	if buf.String() != "data" {
		t.Errorf("buffer = %q", buf.String())
	}
}
