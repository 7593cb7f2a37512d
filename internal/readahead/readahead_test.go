package readahead

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestReader(t *testing.T) {
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	boom := errors.New("boom")
	tests := []struct {
		name    string
		src     io.Reader
		want    []byte
		wantErr error
	}{
		{"whole source", bytes.NewReader(data), data, nil},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(data[:5000])), data[:5000], nil},
		{"empty", bytes.NewReader(nil), nil, nil},
		{"error after data", io.MultiReader(bytes.NewReader(data[:70_000]), iotest.ErrReader(boom)), data[:70_000], boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ra := New(tc.src, 2, 4096)
			got, err := io.ReadAll(ra)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("read %d bytes, want %d", len(got), len(tc.want))
			}
			if _, err := ra.Read(make([]byte, 1)); err == nil {
				t.Fatal("a read after the end succeeded")
			}
			if err := ra.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("close before the end stops the reader", func(t *testing.T) {
		ra := New(bytes.NewReader(data), 2, 1024)
		if _, err := io.ReadFull(ra, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		_ = ra.Close() // returns only once the goroutine is gone
	})
	t.Run("read after close fails", func(t *testing.T) {
		ra := New(bytes.NewReader(data), 2, 1024)
		_ = ra.Close()
		if _, err := ra.Read(make([]byte, 1)); !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("read after close: %v, want io.ErrClosedPipe", err)
		}
	})
}
