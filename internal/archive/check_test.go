package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestCheckAppliesTheExtractionRules: Check refuses every archive ExtractTarGz
// refuses, with the same error, and writes nothing.
func TestCheckAppliesTheExtractionRules(t *testing.T) {
	for _, tt := range attacks() {
		t.Run(tt.name, func(t *testing.T) {
			data := tgz(t, tar.FormatPAX, tt.ents...)
			dest, _ := sandbox(t)
			_, extractErr := ExtractTarGz(context.Background(), bytes.NewReader(data), dest, tt.lim)
			_, err := Check(context.Background(), bytes.NewReader(data), tt.lim)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), `"`+tt.entry+`"`) {
				t.Fatalf("Check = %v, want %v naming %q", err, tt.wantErr, tt.entry)
			}
			if extractErr == nil || err.Error() != extractErr.Error() {
				t.Fatalf("Check says %q, ExtractTarGz says %q", err, extractErr)
			}
		})
	}
}

// TestCheckCountsWhatExtractionCreates: an archive both accept gives the same
// Stats, replaced files and hard links included.
func TestCheckCountsWhatExtractionCreates(t *testing.T) {
	ents := []ent{
		dir("./", 0o755), dir("bin/", 0o755), file("bin/run", "#!/bin/sh\n", 0o4755),
		file("implicit/parent/file", "made\n", 0o600), symlink("current", "bin"),
		hardlink("run.hard", "bin/run"), file("dup", "first\n", 0o644), file("dup", "second\n", 0o600),
		symlink("relink", "dup"), file("relink", "now a file\n", 0o644),
	}
	data := tgz(t, tar.FormatPAX, ents...)
	dest, _ := sandbox(t)
	want, err := ExtractTarGz(context.Background(), bytes.NewReader(data), dest, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Check(context.Background(), bytes.NewReader(data), Limits{})
	if err != nil || got != want {
		t.Fatalf("Check = %+v, %v; ExtractTarGz counted %+v", got, err, want)
	}
}

func TestCheckRefusesCorruptInput(t *testing.T) {
	data := tgz(t, tar.FormatPAX, file("a", strings.Repeat("abc", 5000), 0o644))
	crc := bytes.Clone(data)
	crc[len(crc)-6] ^= 0xff
	for name, in := range map[string][]byte{"not gzip": []byte("plain"), "truncated": data[:len(data)/2], "bad crc": crc, "empty": nil} {
		t.Run(name, func(t *testing.T) {
			if _, err := Check(context.Background(), bytes.NewReader(in), Limits{}); err == nil {
				t.Fatal("corrupt input passed the check")
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Check(ctx, io.MultiReader(bytes.NewReader(data)), Limits{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check with a cancelled context: %v", err)
	}
}
