package provider

import "testing"

func TestSentenceCase(t *testing.T) {
	for in, want := range map[string]string{
		"end (x) must be after start (y)":        "End (x) must be after start (y)",
		"time_zone \"Mars\" is not an IANA zone": "time_zone \"Mars\" is not an IANA zone",
		"Already capitalised":                    "Already capitalised",
		"":                                       "",
	} {
		if got := sentenceCase(in); got != want {
			t.Errorf("sentenceCase(%q) = %q, want %q", in, got, want)
		}
	}
}
