package host

import (
	"os/exec"
	"strings"
	"testing"
)

// TestShellQuoteRoundTrips has a real sh read each quoted word back: what
// comes out must be the value, byte for byte, whatever it holds.
func TestShellQuoteRoundTrips(t *testing.T) {
	values := []string{
		"",
		"plain",
		"with spaces  and\ttabs",
		"it's",
		"''",
		`'\''`,
		`"double" and \backslash\ and \n`,
		"$(touch /tmp/pwned) `id` ${HOME} $HOME",
		"line one\nline two\n",
		"; rm -rf / #",
		"glob * ? [a-z] ~root",
		"-n",
		"unicode: é ✓ 日本",
		"\x01\x7f control",
	}
	for _, v := range values {
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+shellQuote(v)).Output()
		if err != nil {
			t.Fatalf("sh refused %s: %v", shellQuote(v), err)
		}
		if string(out) != v {
			t.Errorf("shellQuote(%q) read back as %q", v, out)
		}
	}
}

func TestShellQuoteIsOneWord(t *testing.T) {
	for in, want := range map[string]string{
		"":       "''",
		"a b":    "'a b'",
		"it's":   `'it'\''s'`,
		"$(x)":   "'$(x)'",
		"a\nb":   "'a\nb'",
		"'":      `''\'''`,
		"\\'\\'": `'\'\''\'\'''`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestCheckEnv(t *testing.T) {
	for _, tt := range []struct {
		kv   string
		want string // "" when accepted
	}{
		{"RELEASE_VERSION=1.7.4", ""},
		{"_x1=", ""},
		{"A=b=c", ""},
		{"A=multi\nline 'quoted' $(cmd)", ""},
		{"NOEQUALS", "not NAME=value"},
		{"=value", "not a shell name"},
		{"1ABC=x", "not a shell name"},
		{"A B=x", "not a shell name"},
		{"-p=x", "not a shell name"},
		{"A;rm=x", "not a shell name"},
		{"ÉTÉ=x", "not a shell name"},
		{"A=nul\x00byte", "NUL byte"},
	} {
		err := checkEnv(tt.kv)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("checkEnv(%q) = %v, want accepted", tt.kv, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("checkEnv(%q) = %v, want an error saying %q", tt.kv, err, tt.want)
		}
	}
}

func TestRemoteCommandQuotesEveryArgument(t *testing.T) {
	line, err := remoteCommand(Command{Script: "echo \"$A\"", Dir: "/srv/it's here", Env: []string{"A=$(reboot)"}})
	if err != nil {
		t.Fatal(err)
	}
	// The words after the wrapper, as sh splits them.
	out, err := exec.Command("/bin/sh", "-c", "set -- "+strings.TrimPrefix(line, "exec /bin/sh -c ")+`; shift 2; printf '%s\n' "$@"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "/srv/it's here\necho \"$A\"\nA=$(reboot)\n"; string(out) != want {
		t.Errorf("arguments = %q, want %q", out, want)
	}
	if _, err := remoteCommand(Command{Script: "true", Env: []string{"BAD NAME=x"}}); err == nil {
		t.Error("an invalid environment name was accepted")
	}
	if _, err := remoteCommand(Command{Script: "true", Env: []string{"BIG=" + strings.Repeat("x", 200<<10)}}); err == nil || !strings.Contains(err.Error(), "in a file") {
		t.Errorf("a 200 KiB environment: %v, want a clear refusal", err)
	}
	if _, err := remoteCommand(Command{Script: "a\x00b"}); err == nil {
		t.Error("a script with a NUL byte was accepted")
	}
}

func TestControlParsesTheWrapperReport(t *testing.T) {
	c := newControl()
	for _, chunk := range []string{"bash: warn", "ing from .bashrc\nrelease-ssh p", "id 4242\n", "release-ssh exit 7\nrelease-ssh exit 9\n"} {
		_, _ = c.Write([]byte(chunk))
	}
	st := c.state()
	if st.pid != 4242 || !st.exited || st.status != 7 || st.other != "bash: warning from .bashrc" {
		t.Errorf("state = %+v", st)
	}
	select {
	case <-c.exited:
	default:
		t.Error("exited is not closed")
	}
	c = newControl()
	_, _ = c.Write([]byte("release-ssh chdir missing\n"))
	if st := c.state(); st.chdir != "missing" || st.exited {
		t.Errorf("state = %+v", st)
	}
}

func TestDialAddress(t *testing.T) {
	for in, want := range map[string]string{
		"web1.example.org":      "web1.example.org:22",
		"web2.example.org:2222": "web2.example.org:2222",
		"10.0.0.1":              "10.0.0.1:22",
		"[::1]:2222":            "[::1]:2222",
		"::1":                   "[::1]:22",
		"[fe80::1]":             "[fe80::1]:22",
	} {
		got, err := dialAddress(in)
		if err != nil || got != want {
			t.Errorf("dialAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"host:0", "host:port", "host:70000", ":22", "a:b:c"} {
		if got, err := dialAddress(bad); err == nil {
			t.Errorf("dialAddress(%q) = %q, want an error", bad, got)
		}
	}
}

func TestKnownHostsMustHoldAnEntry(t *testing.T) {
	for _, text := range []string{"", "  \n", "# only a comment\n\n"} {
		if _, err := newHostKeyVerifier("web1", text); err == nil || !strings.Contains(err.Error(), "known_hosts is empty") {
			t.Errorf("known_hosts %q: %v, want an error", text, err)
		}
	}
	_, err := newHostKeyVerifier("web1", "web1 ssh-ed25519 not-base64!\n")
	if err == nil || !strings.Contains(err.Error(), "invalid known_hosts") || strings.Contains(err.Error(), "release-known-hosts") {
		t.Errorf("a bad line: %v, want an error that names the line, not a temporary file", err)
	}
}
