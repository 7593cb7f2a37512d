package target

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
	"github.com/releaseplan/terraform-provider-release/internal/atomicfile"
)

// Directory layout (Capistrano / Deployer style), under Path:
//
//	releases/<version>-<utc timestamp>/   one folder per release, never changed once renamed in
//	releases/.<id>.json                    what the release was made from (name, version, sha256, failed)
//	releases/.tmp-<pid>-<id>/              an extraction in progress (removed when its process is gone)
//	shared/<path>                          files and folders linked into every release
//	current -> releases/<id>               the live release, replaced with rename(2)
const (
	releasesDir   = "releases"
	sharedDir     = "shared"
	currentLink   = "current"
	tmpPrefix     = ".tmp-"
	timestampForm = "20060102T150405Z"
)

var releaseIDRe = regexp.MustCompile(`^(.+)-(\d{8}T\d{6}Z)(?:\.(\d+))?$`)

// Directory is a server directory holding releases and the `current` symlink.
type Directory struct {
	// Path is the application's root folder.
	Path string
	// Shared lists paths (relative to the release) linked from <Path>/shared into
	// every new release, e.g. "storage" or ".env".
	Shared []string
	// Limits caps what one release archive may contain.
	Limits archive.Limits
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

var _ Target = (*Directory)(nil)

// NewDirectory returns the directory target rooted at path, which must be absolute.
func NewDirectory(path string, shared []string) (*Directory, error) {
	if err := ValidateDirectoryPath(path); err != nil {
		return nil, err
	}
	for _, s := range shared {
		if err := checkShared(s); err != nil {
			return nil, err
		}
	}
	return &Directory{Path: filepath.Clean(path), Shared: shared, Limits: archive.DefaultLimits()}, nil
}

// systemDirs are folders a directory target must never be: Remove and Prune
// delete what they hold, and `current` next to them would be a system path.
var systemDirs = map[string]bool{
	"/": true, "/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true, "/lib": true, "/lib32": true,
	"/lib64": true, "/opt": true, "/proc": true, "/root": true, "/run": true, "/sbin": true, "/srv": true, "/sys": true,
	"/tmp": true, "/usr": true, "/usr/bin": true, "/usr/lib": true, "/usr/local": true, "/usr/sbin": true, "/var": true,
	"/var/lib": true, "/var/log": true, "/var/www": true,
}

// ValidateDirectoryPath refuses a target path that is relative, or that is the
// root or a system directory itself (folders below them, like /srv/app, are fine).
func ValidateDirectoryPath(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("directory target path %q must be absolute, such as /srv/histologe", p)
	}
	if c := filepath.Clean(p); systemDirs[c] {
		return fmt.Errorf("directory target path %q is a system directory: use a folder of the application's own, such as %s", p, filepath.Join(c, "histologe"))
	}
	return nil
}

func checkShared(s string) error {
	c := filepath.Clean(s)
	if s == "" || filepath.IsAbs(s) || c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("shared path %q must be relative to the release and stay inside it", s)
	}
	return nil
}

// Describe implements Target.
func (d *Directory) Describe() string { return "directory " + d.Path }

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Directory) releasesPath() string { return filepath.Join(d.Path, releasesDir) }
func (d *Directory) metaPath(id string) string {
	return filepath.Join(d.releasesPath(), "."+id+".json")
}

// Exists tells whether the target folder holds a `current` symlink.
func (d *Directory) Exists() (bool, error) {
	_, err := os.Lstat(filepath.Join(d.Path, currentLink))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Current implements Target: it reads the `current` symlink.
func (d *Directory) Current(_ context.Context) (*Release, error) {
	link := filepath.Join(d.Path, currentLink)
	dest, err := os.Readlink(link)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (it must be a symbolic link to a release folder)", link, err)
	}
	if !filepath.IsAbs(dest) {
		dest = filepath.Join(d.Path, dest)
	}
	dest = filepath.Clean(dest)
	// Only <path>/releases/<id> is a release: a link elsewhere (even to a folder of
	// the same name, or of a sibling such as releases-evil/) or to a folder that is
	// gone is drift, reported with Problem (and no ID), never adopted.
	if !d.inReleases(dest) {
		return &Release{Problem: fmt.Sprintf("%s points at %s, outside %s", link, dest, d.releasesPath())}, nil
	}
	dest = filepath.Join(d.releasesPath(), filepath.Base(dest))
	st, err := os.Lstat(dest)
	if errors.Is(err, fs.ErrNotExist) {
		return &Release{Problem: fmt.Sprintf("%s points at %s, which no longer exists", link, dest)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s points to %s, which cannot be read: %w", link, dest, err)
	}
	if !st.IsDir() {
		// A symbolic link inside releases/ leads anywhere: not a release either.
		return &Release{Problem: fmt.Sprintf("%s points at %s, which is not a release folder", link, dest)}, nil
	}
	rel, err := d.release(filepath.Base(dest))
	if err != nil {
		return nil, err
	}
	rel.Path = dest
	if fi, err := os.Lstat(link); err == nil {
		rel.ActivatedAt = fi.ModTime().UTC()
	}
	switch {
	case rel.Unverified:
		rel.Problem = fmt.Sprintf("release %s (%s) went live at %s but its after_switch hooks and smoke test never finished (the deployment was interrupted)", rel.Version, rel.ID, rel.ActivatedAt.Format(time.RFC3339))
	case rel.Failed:
		rel.Problem = fmt.Sprintf("release %s (%s) is live although its deployment failed (%s)", rel.Version, rel.ID, rel.FailReason)
	}
	return rel, nil
}

// inReleases tells whether p names an entry of the releases folder itself:
// compared as clean paths, and else with symbolic links resolved on both sides
// (releases/ may be a link to another disk), never by prefix. Hidden entries
// (extractions in progress, metadata) are not releases.
func (d *Directory) inReleases(p string) bool {
	base := filepath.Base(p)
	if base == "." || base == ".." || base == string(filepath.Separator) || strings.HasPrefix(base, ".") {
		return false
	}
	parent, releases := filepath.Dir(p), filepath.Clean(d.releasesPath())
	if parent == releases {
		return true
	}
	rp, err1 := filepath.EvalSymlinks(parent)
	rr, err2 := filepath.EvalSymlinks(releases)
	return err1 == nil && err2 == nil && rp == rr
}

// release describes releases/<id>, from its metadata file or, for a folder made by
// hand, from its name.
func (d *Directory) release(id string) (*Release, error) {
	rel := &Release{ID: id, Path: filepath.Join(d.releasesPath(), id)}
	raw, err := os.ReadFile(d.metaPath(id))
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, rel); err != nil {
			return nil, fmt.Errorf("read release metadata %s: %w", d.metaPath(id), err)
		}
		rel.ID = id
	case errors.Is(err, fs.ErrNotExist):
		if m := releaseIDRe.FindStringSubmatch(id); m != nil {
			rel.Version = m[1]
			if t, err := time.Parse(timestampForm, m[2]); err == nil {
				rel.PreparedAt = t
			}
		} else {
			rel.Version = id
		}
	default:
		return nil, err
	}
	return rel, nil
}

// Find implements Target: a complete earlier release of the same bytes, newest
// first, preferring releases that never failed.
func (d *Directory) Find(_ context.Context, spec Spec) (*Prepared, error) {
	rels, err := d.list()
	if err != nil {
		return nil, err
	}
	var best *Release
	for i := range rels {
		r := &rels[i]
		if r.Version != spec.Version || r.SHA256 == "" || !strings.EqualFold(r.SHA256, spec.SHA256) {
			continue
		}
		if best == nil || (best.Failed && !r.Failed) || (best.Failed == r.Failed && r.PreparedAt.After(best.PreparedAt)) {
			best = r
		}
	}
	if best == nil {
		return nil, nil
	}
	return &Prepared{Release: *best, Dir: best.Path, Reused: true}, nil
}

// list returns the complete releases (folders with metadata), oldest first.
func (d *Directory) list() ([]Release, error) {
	entries, err := os.ReadDir(d.releasesPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Release
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		r, err := d.release(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].PreparedAt.Equal(out[j].PreparedAt) {
			return out[i].ID < out[j].ID
		}
		return out[i].PreparedAt.Before(out[j].PreparedAt)
	})
	return out, nil
}

// Releases lists the release folders, oldest first.
func (d *Directory) Releases(_ context.Context) ([]Release, error) { return d.list() }

// Prepare implements Target: it extracts r into releases/.tmp-<pid>-<id>, reads r
// to its end (which verifies the sha256), links the shared paths, writes the
// metadata and only then renames the folder to releases/<id>.
func (d *Directory) Prepare(ctx context.Context, spec Spec, r io.Reader) (*Prepared, error) {
	if err := os.MkdirAll(d.releasesPath(), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", d.releasesPath(), err)
	}
	now := d.now()
	id, err := d.newID(spec.Version, now)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(d.releasesPath(), tmpPrefix+strconv.Itoa(os.Getpid())+"-"+id)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("create extraction folder: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(tmp)
		}
	}()
	if _, err := archive.ExtractTarGz(ctx, r, tmp, d.Limits); err != nil {
		// Bytes that do not match their sha256 explain a bad archive best.
		if _, derr := io.Copy(io.Discard, r); derr != nil {
			return nil, fmt.Errorf("read %s@%s: %w (extraction stopped at: %v)", spec.Name, spec.Version, derr, err)
		}
		return nil, fmt.Errorf("extract %s@%s: %w", spec.Name, spec.Version, err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, fmt.Errorf("read %s@%s: %w", spec.Name, spec.Version, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	final := filepath.Join(d.releasesPath(), id)
	if err := d.linkShared(tmp, final); err != nil {
		return nil, err
	}
	rel := Release{ID: id, Name: spec.Name, Version: spec.Version, SHA256: strings.ToLower(spec.SHA256), GitCommit: spec.GitCommit, PreparedAt: now}
	if err := d.writeMeta(rel); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(d.metaPath(id))
		return nil, fmt.Errorf("move release into %s: %w", final, err)
	}
	ok = true
	rel.Path = final
	return &Prepared{Release: rel, Dir: final}, nil
}

// newID returns "<version>-<timestamp>", with a ".N" suffix when a release of the
// same version was prepared in the same second.
func (d *Directory) newID(version string, now time.Time) (string, error) {
	if version == "" || strings.ContainsAny(version, "/\\") || strings.HasPrefix(version, ".") {
		return "", fmt.Errorf("version %q cannot name a release folder", version)
	}
	base := version + "-" + now.Format(timestampForm)
	for n := 1; n < 1000; n++ {
		id := base
		if n > 1 {
			id = base + "." + strconv.Itoa(n)
		}
		if _, err := os.Lstat(filepath.Join(d.releasesPath(), id)); errors.Is(err, fs.ErrNotExist) {
			if _, err := os.Lstat(d.metaPath(id)); errors.Is(err, fs.ErrNotExist) {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("too many releases of %s in one second", version)
}

// linkShared replaces each shared path of the release in tmp by a symlink to
// <Path>/shared/<path>. A shared path missing from shared/ is seeded from the
// release's copy when it has one, else created as an empty folder.
func (d *Directory) linkShared(tmp, final string) error {
	for _, s := range d.Shared {
		s = filepath.Clean(s)
		src := filepath.Join(d.Path, sharedDir, s)
		inRelease := filepath.Join(tmp, s)
		if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
				return fmt.Errorf("create shared folder: %w", err)
			}
			if _, err := os.Lstat(inRelease); err == nil {
				if err := os.Rename(inRelease, src); err != nil {
					return fmt.Errorf("seed shared path %s: %w", s, err)
				}
			} else if err := os.Mkdir(src, 0o755); err != nil {
				return fmt.Errorf("create shared path %s: %w", s, err)
			}
		}
		if err := os.RemoveAll(inRelease); err != nil {
			return fmt.Errorf("replace %s by its shared link: %w", s, err)
		}
		if err := os.MkdirAll(filepath.Dir(inRelease), 0o755); err != nil {
			return err
		}
		// Relative to the final location, so the link still works after the rename.
		rel, err := filepath.Rel(filepath.Dir(filepath.Join(final, s)), src)
		if err != nil {
			return err
		}
		if err := os.Symlink(rel, inRelease); err != nil {
			return fmt.Errorf("link shared path %s: %w", s, err)
		}
	}
	return nil
}

// writeMeta replaces the release's metadata atomically and durably (synced
// before and after the rename): the unverified mark must survive a crash or a
// power cut that comes right after the switch.
func (d *Directory) writeMeta(rel Release) error {
	raw, err := json.MarshalIndent(rel, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(d.metaPath(rel.ID), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write release metadata: %w", err)
	}
	return nil
}

// marked reads the release that a mark is about; the release folder must be
// there, so that no mark is left for a release that is not.
func (d *Directory) marked(id string) (*Release, error) {
	if id == "" || !d.inReleases(filepath.Join(d.releasesPath(), id)) {
		return nil, fmt.Errorf("%q is not a release of %s", id, d.Describe())
	}
	if st, err := os.Lstat(filepath.Join(d.releasesPath(), id)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("release %s is not in %s", id, d.releasesPath())
	}
	return d.release(id)
}

// Discard implements Target.
func (d *Directory) Discard(_ context.Context, p *Prepared) error {
	if p == nil || p.Reused {
		return nil
	}
	if err := d.removeRelease(p.Release.ID); err != nil {
		return fmt.Errorf("discard release %s: %w", p.Release.ID, err)
	}
	return nil
}

// removeRelease renames the folder out of sight first, so a half-deleted
// release is never listed.
func (d *Directory) removeRelease(id string) error {
	dir := filepath.Join(d.releasesPath(), id)
	trash := filepath.Join(d.releasesPath(), tmpPrefix+strconv.Itoa(os.Getpid())+"-rm-"+id)
	if err := os.Rename(dir, trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Remove(d.metaPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(trash)
}

// Activate implements Target: a temporary symlink renamed over `current`.
func (d *Directory) Activate(_ context.Context, p *Prepared) error {
	return d.switchTo(p.Release.ID)
}

func (d *Directory) switchTo(id string) error {
	if _, err := os.Stat(filepath.Join(d.releasesPath(), id)); err != nil {
		return fmt.Errorf("release %s is not there: %w", id, err)
	}
	link := filepath.Join(d.Path, currentLink)
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("%s is not a symbolic link; move it away so releases can be switched atomically", link)
	}
	if err := atomicfile.Symlink(filepath.Join(releasesDir, id), link); err != nil {
		return fmt.Errorf("switch %s: %w", link, err)
	}
	return nil
}

// Restore implements Target: `current` goes back to the previous release folder,
// re-extracted from its artifact when it was deleted meanwhile. With no previous
// release, `current` is removed so the failed release stops serving.
func (d *Directory) Restore(ctx context.Context, previous *Release, open Opener) error {
	if previous == nil {
		err := os.Remove(filepath.Join(d.Path, currentLink))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(d.releasesPath(), previous.ID)); err == nil {
		return d.switchTo(previous.ID)
	}
	if open == nil || previous.Name == "" || previous.SHA256 == "" {
		return fmt.Errorf("release folder %s is gone and its artifact is unknown", previous.ID)
	}
	spec := Spec{Name: previous.Name, Version: previous.Version, SHA256: previous.SHA256, GitCommit: previous.GitCommit}
	rc, err := open(ctx, spec)
	if err != nil {
		return fmt.Errorf("reopen %s@%s: %w", spec.Name, spec.Version, err)
	}
	defer rc.Close()
	p, err := d.Prepare(ctx, spec, rc)
	if err != nil {
		return err
	}
	return d.Activate(ctx, p)
}

// MarkFailed implements Target.
func (d *Directory) MarkFailed(_ context.Context, release Release, reason string) error {
	rel, err := d.marked(release.ID)
	if err != nil {
		return err
	}
	// A failed deployment has finished: failed, no longer unverified. Replaced
	// stays, naming the release to go back to.
	rel.Failed, rel.FailReason, rel.Unverified = true, reason, false
	return d.writeMeta(*rel)
}

// MarkUnverified implements Target: the mark is in the release's metadata,
// written atomically before the switch.
func (d *Directory) MarkUnverified(_ context.Context, release Release, replaced *Release) error {
	rel, err := d.marked(release.ID)
	if err != nil {
		return err
	}
	rel.Unverified = true
	rel.Replaced = nil
	if replaced != nil && replaced.ID != "" {
		r := *replaced
		r.Replaced, r.Problem = nil, ""
		rel.Replaced = &r
	}
	return d.writeMeta(*rel)
}

// MarkVerified implements Target.
func (d *Directory) MarkVerified(_ context.Context, release Release) error {
	rel, err := d.marked(release.ID)
	if err != nil {
		return err
	}
	if !rel.Unverified && !rel.Failed && rel.Replaced == nil {
		return nil
	}
	rel.Unverified, rel.Failed, rel.FailReason, rel.Replaced = false, false, "", nil
	return d.writeMeta(*rel)
}

// Prune implements Target. Failed releases and releases in protect do not count
// towards keep; extraction folders left by processes that are gone are removed.
func (d *Directory) Prune(ctx context.Context, keep int, protect ...string) ([]string, error) {
	if keep < 1 {
		keep = 1
	}
	d.removeStaleTemp()
	rels, err := d.list()
	if err != nil {
		return nil, err
	}
	live, err := d.Current(ctx)
	if err != nil {
		return nil, err
	}
	keepIDs := map[string]bool{}
	for _, id := range protect {
		keepIDs[id] = true
	}
	if live != nil {
		keepIDs[live.ID] = true
	}
	var removed []string
	kept := 0
	for i := len(rels) - 1; i >= 0; i-- { // newest first
		r := rels[i]
		if r.Failed || keepIDs[r.ID] {
			if !r.Failed {
				kept++
			}
			continue
		}
		if kept < keep {
			kept++
			continue
		}
		if err := d.removeRelease(r.ID); err != nil {
			return removed, fmt.Errorf("prune release %s: %w", r.ID, err)
		}
		removed = append(removed, r.ID)
	}
	// Metadata whose folder is gone (a crash between the two writes).
	if entries, err := os.ReadDir(d.releasesPath()); err == nil {
		for _, e := range entries {
			n := e.Name()
			if !strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".json") || strings.HasPrefix(n, tmpPrefix) {
				continue
			}
			id := strings.TrimSuffix(strings.TrimPrefix(n, "."), ".json")
			if _, err := os.Lstat(filepath.Join(d.releasesPath(), id)); errors.Is(err, fs.ErrNotExist) {
				_ = os.Remove(filepath.Join(d.releasesPath(), n))
			}
		}
	}
	return removed, nil
}

// removeStaleTemp deletes extraction folders, temporary symlinks and metadata
// files whose process no longer runs (a deploy that was killed).
func (d *Directory) removeStaleTemp() {
	clean := func(dir, prefix string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			n := e.Name()
			var rest string
			switch {
			case strings.HasPrefix(n, prefix):
				rest = strings.TrimPrefix(n, prefix)
			case strings.Contains(n, ".json.tmp-"):
				_ = os.Remove(filepath.Join(dir, n)) // metadata is written under a lock-free rename; a leftover is garbage
				continue
			default:
				continue
			}
			pidStr, _, _ := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidStr)
			if err != nil || processAlive(pid) {
				continue
			}
			_ = os.RemoveAll(filepath.Join(dir, n))
		}
	}
	clean(d.releasesPath(), tmpPrefix)
	clean(d.Path, "."+currentLink+tmpPrefix)
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Remove implements Target: `current` first (the site stops), then the releases.
// The shared folder holds user data and stays.
func (d *Directory) Remove(_ context.Context) error {
	if err := os.Remove(filepath.Join(d.Path, currentLink)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	trash := filepath.Join(d.Path, "."+releasesDir+tmpPrefix+strconv.Itoa(os.Getpid())+"-"+randomHex())
	if err := os.Rename(d.releasesPath(), trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.RemoveAll(trash)
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
