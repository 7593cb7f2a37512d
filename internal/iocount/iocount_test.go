package iocount

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReaderCountsWhatWasRead(t *testing.T) {
	r := &Reader{R: iotest.HalfReader(strings.NewReader("release 1.0.0"))}
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "release 1.0.0" || r.N != 13 {
		t.Fatalf("ReadAll = %q, %v; N = %d, want 13", b, err, r.N)
	}
	broken := errors.New("connection reset")
	r = &Reader{R: io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(broken))}
	if _, err := io.ReadAll(r); !errors.Is(err, broken) || r.N != 3 {
		t.Fatalf("a failing reader: %v, N = %d; want its error and 3", err, r.N)
	}
}

func TestWriterCountsWhatWasWritten(t *testing.T) {
	var buf bytes.Buffer
	w := &Writer{W: &buf}
	for _, s := range []string{"one ", "two"} {
		if _, err := io.WriteString(w, s); err != nil {
			t.Fatal(err)
		}
	}
	if buf.String() != "one two" || w.N != 7 {
		t.Fatalf("wrote %q, N = %d; want \"one two\" and 7", buf.String(), w.N)
	}
}
