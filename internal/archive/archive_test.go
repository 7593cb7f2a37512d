package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ent is one archive entry built by a test: a header and, for regular files, a body.
type ent struct {
	hdr  tar.Header
	body string
}

func file(name, body string, mode int64) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body}
}

func dir(name string, mode int64) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}

func symlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

func special(name string, typ byte) ent {
	return ent{hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o644, Devmajor: 1, Devminor: 3}}
}

// tgz builds a tar.gz in memory; the archives under test are made here, never
// committed as binaries.
func tgz(t testing.TB, format tar.Format, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range ents {
		h := e.hdr
		h.Format = format
		if h.ModTime.IsZero() {
			h.ModTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write header %s: %v", h.Name, err)
		}
		if e.body != "" {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sandbox returns an empty destination directory and a sibling "outside"
// directory that an attack would try to reach.
func sandbox(t testing.TB) (dest, outside string) {
	t.Helper()
	base := t.TempDir()
	dest = filepath.Join(base, "dest")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{dest, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Read-only directories from an archive must not stop the temp dir's removal
	// when the tests run as an ordinary user.
	t.Cleanup(func() {
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return dest, outside
}

func assertEmpty(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("%s was written to: %v", dir, entries)
	}
}

// attack is an archive the rules refuse, and what the refusal must say.
type attack struct {
	name    string
	ents    []ent
	lim     Limits
	wantErr error
	entry   string // the entry the error must name
}

func attacks() []attack {
	big := strings.Repeat("x", 2048)
	return []attack{
		{"absolute path", []ent{file("/tmp/evil", "x", 0o644)}, Limits{}, ErrUnsafeEntry, "/tmp/evil"},
		{"dot dot", []ent{file("../outside/evil", "x", 0o644)}, Limits{}, ErrUnsafeEntry, "../outside/evil"},
		{"dot dot inside", []ent{file("a/../../outside/evil", "x", 0o644)}, Limits{}, ErrUnsafeEntry, "a/../../outside/evil"},
		{"dot dot harmless looking", []ent{file("a/../b", "x", 0o644)}, Limits{}, ErrUnsafeEntry, "a/../b"},
		{"symlink absolute", []ent{symlink("etc", "/etc")}, Limits{}, ErrUnsafeEntry, "etc"},
		{"symlink up", []ent{symlink("out", "../outside")}, Limits{}, ErrUnsafeEntry, "out"},
		{"symlink up from subdir", []ent{dir("a/", 0o755), dir("a/b/", 0o755), symlink("a/b/l", "../../../outside")}, Limits{}, ErrUnsafeEntry, "a/b/l"},
		{"symlink to root parent", []ent{symlink("a/l", "../..")}, Limits{}, ErrUnsafeEntry, "a/l"},
		{"write through inner symlink", []ent{dir("sub/", 0o755), symlink("l", "sub"), file("l/x", "x", 0o644)}, Limits{}, ErrUnsafeEntry, "l/x"},
		{"dir through symlink", []ent{dir("sub/", 0o755), symlink("l", "sub"), dir("l/d/", 0o755)}, Limits{}, ErrUnsafeEntry, "l/d/"},
		{"symlink through symlink", []ent{dir("sub/", 0o755), symlink("l", "sub"), symlink("l/m", "x")}, Limits{}, ErrUnsafeEntry, "l/m"},
		{"hard link absolute", []ent{hardlink("passwd", "/etc/passwd")}, Limits{}, ErrUnsafeEntry, "passwd"},
		{"hard link up", []ent{hardlink("h", "../outside/f")}, Limits{}, ErrUnsafeEntry, "h"},
		{"hard link missing", []ent{hardlink("h", "nothere")}, Limits{}, ErrUnsafeEntry, "h"},
		{"hard link to symlink", []ent{file("f", "x", 0o644), symlink("l", "f"), hardlink("h", "l")}, Limits{}, ErrUnsafeEntry, "h"},
		{"hard link to dir", []ent{dir("d/", 0o755), hardlink("h", "d")}, Limits{}, ErrUnsafeEntry, "h"},
		{"hard link through symlink", []ent{dir("sub/", 0o755), file("sub/f", "x", 0o644), symlink("l", "sub"), hardlink("h", "l/f")}, Limits{}, ErrUnsafeEntry, "h"},
		{"char device", []ent{special("null", tar.TypeChar)}, Limits{}, ErrUnsafeEntry, "null"},
		{"block device", []ent{special("sda", tar.TypeBlock)}, Limits{}, ErrUnsafeEntry, "sda"},
		{"fifo", []ent{special("pipe", tar.TypeFifo)}, Limits{}, ErrUnsafeEntry, "pipe"},
		{"file replaces dir", []ent{dir("d/", 0o755), file("d", "x", 0o644)}, Limits{}, ErrUnsafeEntry, "d"},
		{"symlink replaces dir", []ent{dir("d/", 0o755), symlink("d", ".")}, Limits{}, ErrUnsafeEntry, "d"},
		{"dir replaces symlink", []ent{symlink("d", "."), dir("d/", 0o755)}, Limits{}, ErrUnsafeEntry, "d/"},
		{"too many entries", []ent{file("a", "x", 0o644), file("b", "x", 0o644), file("c", "x", 0o644)}, Limits{MaxEntries: 2}, ErrTooLarge, "c"},
		{"file over cap", []ent{file("big", big, 0o644)}, Limits{MaxFileBytes: 1024}, ErrTooLarge, "big"},
		{"total over cap", []ent{file("a", big, 0o644), file("b", big, 0o644)}, Limits{MaxBytes: 3000}, ErrTooLarge, "b"},
	}
}

func TestExtractRefusesAttacks(t *testing.T) {
	for _, tt := range attacks() {
		t.Run(tt.name, func(t *testing.T) {
			dest, outside := sandbox(t)
			_, err := ExtractTarGz(context.Background(), bytes.NewReader(tgz(t, tar.FormatPAX, tt.ents...)), dest, tt.lim)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), `"`+tt.entry+`"`) {
				t.Errorf("error %q does not name entry %q", err, tt.entry)
			}
			if errors.Is(tt.wantErr, ErrUnsafeEntry) {
				var ue *UnsafeEntryError
				if !errors.As(err, &ue) || ue.Name != tt.entry {
					t.Errorf("error %#v is not an *UnsafeEntryError for %q", err, tt.entry)
				}
			}
			assertEmpty(t, outside)
			if _, err := os.Stat("/tmp/evil"); err == nil && tt.name == "absolute path" {
				t.Fatal("/tmp/evil was created")
			}
		})
	}
}

func TestExtractZipBombStopsEarly(t *testing.T) {
	// 256 MiB of zeros compresses to about 256 KiB: the cap must stop it before
	// the disk fills, whatever the header claims.
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	const size = 256 << 20
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "zeros", Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, size); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	if buf.Len() > 2<<20 {
		t.Fatalf("bomb is %d bytes compressed; expected a high ratio", buf.Len())
	}
	dest, _ := sandbox(t)
	st, err := ExtractTarGz(context.Background(), &buf, dest, Limits{MaxBytes: 1 << 20})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if st.Bytes != 0 {
		t.Errorf("wrote %d bytes before refusing", st.Bytes)
	}
	if _, err := os.Lstat(filepath.Join(dest, "zeros")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("zeros was created: %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestExtractPreservesTree(t *testing.T) {
	longDir := strings.Repeat("d", 120) + "/"
	longName := longDir + strings.Repeat("n", 150) + ".txt"
	longTarget := strings.Repeat("n", 150) + ".txt"
	ents := []ent{
		dir("./", 0o755),
		dir("bin/", 0o755),
		file("bin/run", "#!/bin/sh\necho hi\n", 0o4755), // setuid must be dropped
		file("README", "hello\n", 0o640),
		dir("ro/", 0o555),
		file("ro/inside", "kept\n", 0o444),
		file("implicit/parent/file", "made\n", 0o600),
		symlink("current", "bin"),
		symlink("bin/self", "../README"),
		symlink("implicit/parent/up", "../../README"),
		hardlink("README.hard", "README"),
		dir(longDir, 0o750),
		file(longName, "long\n", 0o644),
		symlink(longDir+"link", longTarget),
		file("dup", "first\n", 0o644),
		file("dup", "second\n", 0o600),
		symlink("relink", "README"),
		file("relink", "now a file\n", 0o644), // replaces the link, writing nothing through it
		// Clean form written: resolves to the root, not above it.
		symlink("weird", "implicit/parent/../.."),
	}
	for _, format := range []tar.Format{tar.FormatPAX, tar.FormatGNU} {
		t.Run(format.String(), func(t *testing.T) {
			dest, outside := sandbox(t)
			st, err := ExtractTarGz(context.Background(), bytes.NewReader(tgz(t, format, ents...)), dest, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			want := Stats{Files: 8, Dirs: 5, Symlinks: 5, Bytes: int64(len("#!/bin/sh\necho hi\n") + len("hello\n") + len("kept\n") + len("made\n") + len("long\n") + len("first\n") + len("second\n") + len("now a file\n"))}
			if st != want {
				t.Errorf("stats = %+v, want %+v", st, want)
			}
			modes := map[string]fs.FileMode{
				"bin/run":                0o755,
				"README":                 0o640,
				"ro":                     fs.ModeDir | 0o555,
				"ro/inside":              0o444,
				"implicit/parent":        fs.ModeDir | 0o755,
				"implicit/parent/file":   0o600,
				longDir[:len(longDir)-1]: fs.ModeDir | 0o750,
				"dup":                    0o600,
			}
			for name, mode := range modes {
				fi, err := os.Lstat(filepath.Join(dest, name))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != mode {
					t.Errorf("%s mode = %v, want %v", name, fi.Mode(), mode)
				}
			}
			contents := map[string]string{
				"README": "hello\n", "README.hard": "hello\n", "bin/self": "hello\n",
				"implicit/parent/up": "hello\n", longName: "long\n", longDir + "link": "long\n",
				"dup": "second\n", "relink": "now a file\n", "current/run": "#!/bin/sh\necho hi\n",
				"weird/README": "hello\n",
			}
			for name, body := range contents {
				got, err := os.ReadFile(filepath.Join(dest, name))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != body {
					t.Errorf("%s = %q, want %q", name, got, body)
				}
			}
			if target, _ := os.Readlink(filepath.Join(dest, "weird")); target != "." {
				t.Errorf("weird -> %q, want the clean form %q", target, ".")
			}
			fi, _ := os.Stat(filepath.Join(dest, "README"))
			if !fi.ModTime().Equal(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)) {
				t.Errorf("README mtime = %v", fi.ModTime())
			}
			a, _ := os.Stat(filepath.Join(dest, "README.hard"))
			if !os.SameFile(fi, a) {
				t.Error("README.hard is not a hard link to README")
			}
			assertEmpty(t, outside)
		})
	}
}

func TestExtractChainedSymlinksStayInside(t *testing.T) {
	// d1/d2/s -> ../../e, then u -> d1/d2/s/../../.. would reach the parent of the
	// destination if written verbatim (s resolves to e, then two levels up).
	ents := []ent{
		dir("d1/d2/", 0o755), dir("e/", 0o755),
		symlink("d1/d2/s", "../../e"),
		symlink("u", "d1/d2/s/../../.."),
	}
	dest, outside := sandbox(t)
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ExtractTarGz(context.Background(), bytes.NewReader(tgz(t, tar.FormatPAX, ents...)), dest, Limits{}); err != nil {
		t.Fatal(err)
	}
	assertInside(t, dest)
	if _, err := os.Stat(filepath.Join(dest, "u", "outside", "secret")); err == nil {
		t.Fatal("u reaches outside the destination")
	}
}

// assertInside checks that every path under dest resolves inside dest.
func assertInside(t testing.TB, dest string) {
	t.Helper()
	realDest, err := filepath.EvalSymlinks(dest)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0 {
			t.Errorf("%s is a special file", p)
		}
		if info, err := d.Info(); err == nil && info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			t.Errorf("%s has mode %v", p, info.Mode())
		}
		resolved, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil //nolint:nilerr // dangling or looping links resolve nowhere
		}
		if resolved != realDest && !strings.HasPrefix(resolved, realDest+string(filepath.Separator)) {
			t.Errorf("%s resolves to %s, outside %s", p, resolved, realDest)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestExtractDestinationChecks(t *testing.T) {
	data := tgz(t, tar.FormatPAX, file("a", "x", 0o644))
	t.Run("missing", func(t *testing.T) {
		if _, err := ExtractTarGz(context.Background(), bytes.NewReader(data), filepath.Join(t.TempDir(), "nope"), Limits{}); err == nil {
			t.Fatal("extracted into a missing directory")
		}
	})
	t.Run("not empty", func(t *testing.T) {
		dest := t.TempDir()
		os.WriteFile(filepath.Join(dest, "old"), nil, 0o644)
		_, err := ExtractTarGz(context.Background(), bytes.NewReader(data), dest, Limits{})
		if err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("err = %v, want a not-empty error", err)
		}
	})
}

func TestExtractCorruptInput(t *testing.T) {
	data := tgz(t, tar.FormatPAX, file("a", strings.Repeat("abc", 5000), 0o644), file("b", "x", 0o644))
	crc := bytes.Clone(data)
	crc[len(crc)-6] ^= 0xff // gzip trailer: CRC-32
	tests := map[string][]byte{
		"not gzip":  []byte("plain text, not an archive"),
		"truncated": data[:len(data)/2],
		"bad crc":   crc,
		"empty":     nil,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			dest, _ := sandbox(t)
			if _, err := ExtractTarGz(context.Background(), bytes.NewReader(in), dest, Limits{}); err == nil {
				t.Fatal("corrupt input extracted without error")
			}
		})
	}
}

// cancelAfter cancels a context once n bytes were read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestExtractCancel(t *testing.T) {
	var ents []ent
	for i := range 200 {
		ents = append(ents, file(strings.Repeat("f", 1+i%50)+string(rune('a'+i%26))+"/"+time.Duration(i).String(), strings.Repeat("z", 10000+i), 0o644))
	}
	data := tgz(t, tar.FormatPAX, ents...)

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		dest, _ := sandbox(t)
		if _, err := ExtractTarGz(ctx, bytes.NewReader(data), dest, Limits{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		assertEmpty(t, dest)
	})
	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dest, _ := sandbox(t)
		st, err := ExtractTarGz(ctx, &cancelAfter{r: bytes.NewReader(data), n: len(data) / 3, cancel: cancel}, dest, Limits{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if st.Files >= len(ents) {
			t.Errorf("extracted all %d files despite cancellation", st.Files)
		}
	})
}

func TestWriteTarGzRoundTrip(t *testing.T) {
	src := t.TempDir()
	mtime := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	mustWrite := func(name, body string, mode fs.FileMode) {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		os.Chtimes(p, mtime, mtime)
	}
	mustWrite("index.html", "<h1>v1</h1>", 0o644)
	mustWrite("bin/start", "#!/bin/sh", 0o755)
	mustWrite("public/css/site.css", "body{}", 0o600)
	if err := os.Symlink("../index.html", filepath.Join(src, "public", "home.html")); err != nil {
		t.Fatal(err)
	}

	var a, b bytes.Buffer
	if err := WriteTarGz(&a, src); err != nil {
		t.Fatal(err)
	}
	if err := WriteTarGz(&b, src); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two archives of the same tree differ")
	}

	dest, _ := sandbox(t)
	st, err := ExtractTarGz(context.Background(), &a, dest, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Files: 3, Dirs: 3, Symlinks: 1, Bytes: int64(len("<h1>v1</h1>#!/bin/shbody{}"))}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	for name, want := range map[string]string{"index.html": "<h1>v1</h1>", "bin/start": "#!/bin/sh", "public/css/site.css": "body{}", "public/home.html": "<h1>v1</h1>"} {
		got, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(dest, "bin/start"))
	if err != nil || fi.Mode() != 0o755 || !fi.ModTime().Equal(mtime) {
		t.Errorf("bin/start: %v %v, want mode 0755 and mtime %v", fi.Mode(), fi.ModTime(), mtime)
	}
}

func FuzzExtractTarGz(f *testing.F) {
	seeds := [][]ent{
		{dir("a/", 0o755), file("a/b", "hello", 0o644), symlink("l", "a/b"), hardlink("h", "a/b")},
		{symlink("l", "../x")},
		{dir("sub/", 0o755), symlink("l", "sub"), file("l/x", "x", 0o644)},
		{dir("d1/d2/", 0o755), symlink("d1/d2/s", "../../e"), symlink("u", "d1/d2/s/../../..")},
		{file("dup", "1", 0o644), symlink("dup", "."), file("dup", "2", 0o4755)},
		{special("null", tar.TypeChar)},
	}
	for _, s := range seeds {
		f.Add(tgz(f, tar.FormatPAX, s...))
		f.Add(gunzip(f, tgz(f, tar.FormatGNU, s...)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Mutations of compressed bytes rarely get past the gzip checksum: inputs
		// that are not gzip are taken as raw tar and compressed here, so the tar
		// headers themselves are what the fuzzer explores.
		if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			data = buf.Bytes()
		}
		dest, outside := sandbox(t)
		st, err := ExtractTarGz(context.Background(), bytes.NewReader(data), dest, Limits{MaxBytes: 1 << 20, MaxEntries: 1000, MaxFileBytes: 1 << 20})
		if err == nil && st.Bytes > 1<<20 {
			t.Fatalf("extracted %d bytes over the cap", st.Bytes)
		}
		assertEmpty(t, outside)
		assertInside(t, dest)
	})
}

func gunzip(t testing.TB, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// BenchmarkExtractTarGz extracts a generated 64 MiB release (1024 files of 64 KiB
// in 32 directories); the reported MB/s is of uncompressed bytes.
func BenchmarkExtractTarGz(b *testing.B) {
	const files, size = 1024, 64 << 10
	var ents []ent
	body := make([]byte, size)
	for i := range files {
		for j := range body {
			body[j] = byte((i*31 + j*7) % 251) // compressible, but not trivially
		}
		ents = append(ents, file("dir"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+"/file"+time.Duration(i).String(), string(body), 0o644))
	}
	data := tgz(b, tar.FormatPAX, ents...)
	b.SetBytes(files * size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dest := filepath.Join(b.TempDir(), "dest")
		if err := os.Mkdir(dest, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := ExtractTarGz(context.Background(), bytes.NewReader(data), dest, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
