// Package errtest holds the one assertion that table tests make about an error:
// either none is expected, or one whose message contains a given phrase.
package errtest

import (
	"strings"
	"testing"
)

// Want stops the test unless err is what want asks for: no error when want is
// empty, otherwise an error whose message contains want. call names what returned
// err (such as "New" or "Put over TLS") in the failure message.
func Want(t testing.TB, call string, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("%s: %v", call, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s error = %v, want it to contain %q", call, err, want)
	}
}
