package errtest

import (
	"errors"
	"testing"
)

// recorder is a testing.TB that records whether the assertion stopped the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(string, ...any) { r.failed = true }

func TestWant(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		want     string
		wantFail bool
	}{
		{"no error expected, none", nil, "", false},
		{"no error expected, one", errors.New("boom"), "", true},
		{"error expected, none", nil, "boom", true},
		{"error expected, other message", errors.New("bang"), "boom", true},
		{"error expected, message contains it", errors.New("it went boom here"), "boom", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			Want(r, "call", tt.err, tt.want)
			if r.failed != tt.wantFail {
				t.Errorf("Want(%v, %q) failed = %v, want %v", tt.err, tt.want, r.failed, tt.wantFail)
			}
		})
	}
}
