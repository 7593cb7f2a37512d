package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
	"github.com/releaseplan/terraform-provider-release/internal/host"
)

// ErrChecksumOnHost means that the bytes a host received do not have the
// artifact's sha256 (the transfer corrupted them): nothing was extracted there.
var ErrChecksumOnHost = errors.New("the archive a host received does not have the artifact's sha256")

// cleanupTimeout bounds the removal of what a failed preparation left on a
// host, which runs even when the caller's context has ended.
const cleanupTimeout = 2 * time.Minute

// upload is one host's part of a release prepared by uploading its archive.
// Its folder, releases/.tmp-at-<time>-<random>-<id>/, holds the archive as it
// arrives (archive.tar.gz) and the release extracted from it (release/), which
// is renamed to releases/<id> once complete: nothing half-written is ever
// visible as a release, and removing the folder removes every trace.
type upload struct {
	d      *Directory
	id     string
	tmp    string
	meta   bool // the metadata of the release was written
	placed bool // release/ was renamed to releases/<id>
}

func (u *upload) archivePath() string { return path.Join(u.tmp, "archive.tar.gz") }
func (u *upload) dir() string         { return path.Join(u.tmp, "release") }

// startUpload creates the upload folder for release id on d's host.
func (d *Directory) startUpload(ctx context.Context, id string) (*upload, error) {
	u := &upload{d: d, id: id, tmp: path.Join(d.releasesPath(), d.tempName(id))}
	if err := d.host().MkdirAll(ctx, u.dir(), 0o755); err != nil {
		return nil, fmt.Errorf("create the upload folder: %w", err)
	}
	return u, nil
}

// receive copies r to the archive file on the host, up to r's EOF.
func (u *upload) receive(ctx context.Context, r io.Reader) error {
	if err := u.d.host().WriteFileFrom(ctx, u.archivePath(), r, 0o600); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("upload the archive into %s: %w: %w; free some space (old releases, logs) and deploy again", u.tmp, archive.ErrNoSpace, err)
		}
		return fmt.Errorf("upload the archive: %w", err)
	}
	return nil
}

// extractScript checks on the host that $ARCHIVE has the sha256 $WANT
// (printing "sha256 <sum>" first, exit 3 when it differs): with openssl when
// the host has it (it uses the CPU's SHA instructions, several times faster
// than coreutils on a large archive), else with sha256sum (GNU, BusyBox) or
// shasum (BSD, macOS). Then it extracts it into $DIR when the filesystem has
// the $NEED_KIB KiB the files need (exit 28 when not): with GNU tar and a zstd
// that reads gzip (zstd decodes gzip with zlib, about twice as fast as gzip
// itself; tar checks its exit status), else with tar -z. It drops the setuid,
// setgid and sticky bits (as local extraction does), and removes the archive.
// One command, so one session per host.
const extractScript = `sum=$(openssl dgst -sha256 -r <"$ARCHIVE" 2>/dev/null) || sum=
sum=${sum%% *}
case $sum in *[!0-9a-f]*) sum= ;; esac
if [ ${#sum} -ne 64 ]; then
	if command -v sha256sum >/dev/null 2>&1; then sum=$(sha256sum -- "$ARCHIVE"); else sum=$(shasum -a 256 -- "$ARCHIVE"); fi || exit
	sum=${sum%% *}
	sum=${sum#\\}
fi
echo "sha256 $sum"
[ "$sum" = "$WANT" ] || exit 3
avail=$(df -Pk -- "$DIR" 2>/dev/null | awk 'NR==2 {print $4}')
case $avail in
''|*[!0-9]*) ;;
*) if [ "$avail" -lt "$NEED_KIB" ]; then echo "only $avail KiB free, the release needs $NEED_KIB KiB" >&2; exit 28; fi ;;
esac
unz=
case $(tar --version 2>/dev/null) in
*"GNU tar"*)
	if command -v zstd >/dev/null 2>&1 && printf '\037\213\010\000\000\000\000\000\000\003\003\000\000\000\000\000\000\000\000\000' | zstd -dcq >/dev/null 2>&1; then unz=zstd; fi ;;
esac
if [ -n "$unz" ]; then
	tar --use-compress-program="$unz" -xpf "$ARCHIVE" -C "$DIR" --no-same-owner || exit
else
	tar -xzpf "$ARCHIVE" -C "$DIR" --no-same-owner || exit
fi
find "$DIR" \( -type f -o -type d \) \( -perm -4000 -o -perm -2000 -o -perm -1000 \) -exec chmod ug-s,o-t {} + || exit
rm -f -- "$ARCHIVE"`

// Exit statuses of extractScript.
const (
	exitChecksum = 3
	exitNoSpace  = 28
)

// finish checks on the host that the archive it received has rel's sha256,
// extracts it there, links the shared paths, writes the metadata and renames
// the release into place.
func (u *upload) finish(ctx context.Context, rel Release, st archive.Stats) error {
	d, h := u.d, u.d.host()
	out, err := h.Run(ctx, host.Command{Script: extractScript, Env: []string{
		"ARCHIVE=" + u.archivePath(), "DIR=" + u.dir(), "WANT=" + strings.ToLower(rel.SHA256),
		fmt.Sprintf("NEED_KIB=%d", st.Bytes/1024+1),
	}})
	if err != nil {
		return extractError(err, out, rel.SHA256, u.dir())
	}
	final := path.Join(d.releasesPath(), rel.ID)
	if err := d.linkShared(ctx, u.dir(), final); err != nil {
		return err
	}
	if err := d.writeMeta(ctx, rel); err != nil {
		return err
	}
	u.meta = true
	if err := h.Rename(ctx, u.dir(), final); err != nil {
		return fmt.Errorf("move release into %s: %w", final, err)
	}
	u.placed = true
	_ = h.RemoveAll(ctx, u.tmp)
	return nil
}

// extractError explains how extractScript failed.
func extractError(err error, out, want, dir string) error {
	var exit interface{ ExitCode() int }
	status := -1
	var rest []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "sha256 ") {
			rest = append(rest, line)
		}
	}
	if errors.As(err, &exit) {
		status = exit.ExitCode()
	}
	switch {
	case status == exitChecksum:
		got := "nothing readable"
		for _, line := range strings.Split(out, "\n") {
			if s, ok := strings.CutPrefix(line, "sha256 "); ok && s != "" {
				got = s
			}
		}
		return fmt.Errorf("%w: the host computed %s, the artifact's is %s; the transfer corrupted it and nothing was extracted", ErrChecksumOnHost, got, want)
	case status == exitNoSpace || strings.Contains(out, "No space left"):
		return fmt.Errorf("extract the archive into %s: %w: %w%s; free some space (old releases, logs) and deploy again", dir, archive.ErrNoSpace, err, outputNote(strings.Join(rest, "\n")))
	}
	return fmt.Errorf("extract the archive into %s: %w%s", dir, err, outputNote(strings.Join(rest, "\n")))
}

// abort removes everything the upload made, the release too once placed.
func (u *upload) abort(ctx context.Context) error {
	h := u.d.host()
	err := h.RemoveAll(ctx, u.tmp)
	if u.placed {
		err = errors.Join(err, u.d.removeRelease(ctx, u.id))
	} else if u.meta {
		if rerr := h.Remove(ctx, u.d.metaPath(u.id)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

func outputNote(out string) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return ""
	}
	return " (output: " + out + ")"
}

// prepareOn prepares one release of spec on every directory of dirs, each on
// its host, with one release id free on all of them. r is read once: the
// archive rules of local extraction (archive.Check) run here on the stream
// while the same bytes go to every host, at most maxParallel at a time. Only
// when r reached its end (the caller's reader fails there on a wrong sha256)
// and the check passed does each host verify the sha256 of what it received
// and extract it. Any failure removes the release from every host. again, when
// not nil, is the release being prepared again (see releaseID).
func prepareOn(ctx context.Context, dirs []*Directory, spec Spec, r io.Reader, maxParallel int, again *Release) (_ []*Prepared, err error) {
	id, now, err := releaseID(ctx, dirs, spec.Version, again, dirs[0].now(), maxParallel)
	if err != nil {
		return nil, err
	}
	ups := make([]*upload, len(dirs))
	defer func() {
		if err != nil {
			abortUploads(ctx, ups, maxParallel)
		}
	}()
	errs := each(len(dirs), maxParallel, func(i int) error {
		var err error
		ups[i], err = dirs[i].startUpload(ctx, id)
		return err
	})
	if err := hostsError(dirs, errs, "prepare "+spec.Name+"@"+spec.Version); err != nil {
		return nil, err
	}
	st, err := send(ctx, ups, spec, r, dirs[0].Limits, maxParallel)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rel := newRelease(id, spec, now)
	errs = each(len(dirs), maxParallel, func(i int) error { return ups[i].finish(ctx, rel, st) })
	if err := hostsError(dirs, errs, "prepare "+spec.Name+"@"+spec.Version); err != nil {
		return nil, err
	}
	out := make([]*Prepared, len(dirs))
	for i, d := range dirs {
		r := rel
		r.Path = path.Join(d.releasesPath(), id)
		out[i] = d.prepared(r, false)
	}
	return out, nil
}

func abortUploads(ctx context.Context, ups []*upload, maxParallel int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	each(len(ups), maxParallel, func(i int) error {
		if ups[i] == nil {
			return nil
		}
		return ups[i].abort(ctx)
	})
}

// errStreamStopped ends the uploads when the stream they copy failed.
var errStreamStopped = errors.New("the upload was stopped")

// send reads r once and checks the archive while the same bytes go to every
// upload: through pipes, all at once, when there are at most maxParallel
// uploads; else to a local temporary file first, uploaded from there
// maxParallel at a time. It returns what the check counted.
func send(ctx context.Context, ups []*upload, spec Spec, r io.Reader, lim archive.Limits, maxParallel int) (archive.Stats, error) {
	if len(ups) > maxParallel {
		return sendSpooled(ctx, ups, spec, r, lim, maxParallel)
	}
	pws := make([]*io.PipeWriter, len(ups))
	ws := make([]io.Writer, len(ups))
	upErrs := make([]error, len(ups))
	var wg sync.WaitGroup
	for i, u := range ups {
		pr, pw := io.Pipe()
		pws[i], ws[i] = pw, pw
		wg.Add(1)
		go func() {
			defer wg.Done()
			upErrs[i] = u.receive(ctx, pr)
			_ = pr.CloseWithError(errStreamStopped) // a writer waiting on a host that failed
		}()
	}
	fan := newFanOut(r, ws)
	st, checkErr := checkStream(ctx, fan, lim)
	if checkErr != nil {
		// Stop the uploads first: a writer may wait on a host that no longer reads.
		for _, pw := range pws {
			_ = pw.CloseWithError(errStreamStopped)
		}
	}
	fan.finish()
	for _, pw := range pws {
		if checkErr != nil {
			_ = pw.CloseWithError(errStreamStopped)
		} else {
			_ = pw.Close()
		}
	}
	wg.Wait()
	for i, e := range upErrs {
		if errors.Is(e, errStreamStopped) {
			upErrs[i] = nil
		}
	}
	return st, streamError(ctx, spec, fan, r, checkErr, hostsError(dirsOf(ups), upErrs, "upload "+spec.Name+"@"+spec.Version))
}

// sendSpooled is send through a local temporary file.
func sendSpooled(ctx context.Context, ups []*upload, spec Spec, r io.Reader, lim archive.Limits, maxParallel int) (archive.Stats, error) {
	f, err := os.CreateTemp("", "release-upload-*.tar.gz")
	if err != nil {
		return archive.Stats{}, fmt.Errorf("spool %s@%s: %w", spec.Name, spec.Version, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	fan := newFanOut(r, []io.Writer{f})
	st, checkErr := checkStream(ctx, fan, lim)
	fan.finish()
	if fan.failed[0] != nil {
		return st, fmt.Errorf("spool %s@%s to %s: %w", spec.Name, spec.Version, f.Name(), fan.failed[0])
	}
	if err := streamError(ctx, spec, fan, r, checkErr, nil); err != nil {
		return st, err
	}
	errs := each(len(ups), maxParallel, func(i int) error {
		src, err := os.Open(f.Name())
		if err != nil {
			return err
		}
		defer src.Close()
		return ups[i].receive(ctx, src)
	})
	return st, hostsError(dirsOf(ups), errs, "upload "+spec.Name+"@"+spec.Version)
}

// checkStream runs the archive check on the stream and reads it to its end.
func checkStream(ctx context.Context, fan *fanOut, lim archive.Limits) (archive.Stats, error) {
	br := bufio.NewReaderSize(fan, 1<<20)
	st, err := archive.Check(ctx, br, lim)
	if err != nil {
		return st, err
	}
	_, err = io.Copy(io.Discard, br)
	return st, err
}

// streamError says why sending failed, the most telling first: bytes that do
// not match their sha256 (read to the end to know it when the check stopped
// first), a host that failed, the archive itself.
func streamError(ctx context.Context, spec Spec, fan *fanOut, r io.Reader, checkErr, hostErr error) error {
	if checkErr != nil && fan.readErr == nil && hostErr == nil && ctx.Err() == nil {
		if _, err := io.Copy(io.Discard, r); err != nil {
			fan.readErr = err
		}
	}
	switch {
	case fan.readErr != nil && checkErr != nil && !errors.Is(checkErr, fan.readErr):
		return fmt.Errorf("read %s@%s: %w (the archive check stopped at: %v)", spec.Name, spec.Version, fan.readErr, checkErr)
	case fan.readErr != nil:
		return fmt.Errorf("read %s@%s: %w", spec.Name, spec.Version, fan.readErr)
	case ctx.Err() != nil:
		return ctx.Err()
	case hostErr != nil:
		return hostErr
	case checkErr != nil:
		return fmt.Errorf("extract %s@%s: %w", spec.Name, spec.Version, checkErr)
	}
	return nil
}

func dirsOf(ups []*upload) []*Directory {
	out := make([]*Directory, len(ups))
	for i, u := range ups {
		out[i] = u.d
	}
	return out
}

// fanOut reads r and hands what it read to every writer, so the one stream
// feeds every host. Each writer has a goroutine and a short queue of its own:
// the reader (the archive check) and the hosts' uploads run at the same time
// instead of taking turns, and a slow host only holds the stream back once its
// queue is full. Chunks are shared by the queues, so memory stays a few
// chunks. It records r's error apart from the writers'.
type fanOut struct {
	r       io.Reader
	readErr error
	// failed holds each writer's error; read it after finish.
	failed []error
	queues []chan []byte
	bad    atomic.Bool
	done   sync.WaitGroup
	once   sync.Once
}

// fanOutQueue is how many chunks a writer may be behind the reader.
const fanOutQueue = 4

// errWriteFailed is what a reader of fanOut sees when a writer failed.
var errWriteFailed = errors.New("a copy of the stream failed")

func newFanOut(r io.Reader, ws []io.Writer) *fanOut {
	f := &fanOut{r: r, failed: make([]error, len(ws)), queues: make([]chan []byte, len(ws))}
	for i, w := range ws {
		q := make(chan []byte, fanOutQueue)
		f.queues[i] = q
		f.done.Add(1)
		go func() {
			defer f.done.Done()
			for b := range q {
				if f.failed[i] != nil {
					continue // drain: the stream stops at the next Read
				}
				if _, err := w.Write(b); err != nil {
					f.failed[i] = err
					f.bad.Store(true)
				}
			}
		}()
	}
	return f
}

func (f *fanOut) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 {
		if werr := f.write(p[:n]); werr != nil {
			return 0, werr
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		f.readErr = err
	}
	return n, err
}

// write queues a copy of b (the caller reuses b) for every writer.
func (f *fanOut) write(b []byte) error {
	if f.bad.Load() {
		return errWriteFailed
	}
	chunk := append([]byte(nil), b...)
	for _, q := range f.queues {
		q <- chunk
	}
	return nil
}

// finish waits until every writer has written (or failed on) what it was
// given. Call it before closing the writers, and before reading failed.
func (f *fanOut) finish() {
	f.once.Do(func() {
		for _, q := range f.queues {
			close(q)
		}
		f.done.Wait()
	})
}
