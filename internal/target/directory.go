package target

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
	"github.com/releaseplan/terraform-provider-release/internal/host"
)

// Directory layout (Capistrano / Deployer style), under Path:
//
//	releases/<version>-<utc timestamp>/   one folder per release, never changed once renamed in
//	releases/.<id>.json                    what the release was made from (name, version, sha256, failed)
//	releases/.tmp-<pid>-<id>/              an extraction in progress on the local machine (removed by
//	                                       Prune when its process is gone)
//	releases/.tmp-at-<utc timestamp>-<random>-<id>/
//	                                       an upload and extraction in progress on a remote host, where
//	                                       no pid tells whether its deployment still runs: Prune removes
//	                                       it once it is older than staleRemoteTemp
//	shared/<path>                          files and folders linked into every release
//	current -> releases/<id>               the live release, replaced with rename(2)
//
// Paths are slash-separated: they name files on the host, which may not be the
// machine Terraform runs on.
const (
	releasesDir   = "releases"
	sharedDir     = "shared"
	currentLink   = "current"
	tmpPrefix     = ".tmp-"
	remoteTmpTag  = "at-"
	timestampForm = "20060102T150405Z"
)

// staleRemoteTemp is how old a remote host's temporary folder (named with the
// time it was made, see the layout) must be before Prune removes it: longer
// than any upload and extraction takes, as a deployment still running on
// another machine cannot be told apart from one that was killed.
const staleRemoteTemp = time.Hour

var releaseIDRe = regexp.MustCompile(`^(.+)-(\d{8}T\d{6}Z)(?:\.(\d+))?$`)

// Directory is a server directory holding releases and the `current` symlink,
// on the machine Terraform runs on or on a remote host.
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
	// Host is the machine Path is on; nil means host.Local{}. Every file the
	// target reads or changes goes through it.
	Host host.Host
}

var _ Target = (*Directory)(nil)

// NewDirectory returns the directory target rooted at path, which must be
// absolute, on the local machine (set Host for another).
func NewDirectory(p string, shared []string) (*Directory, error) {
	if err := ValidateDirectoryPath(p); err != nil {
		return nil, err
	}
	for _, s := range shared {
		if err := checkShared(s); err != nil {
			return nil, err
		}
	}
	return &Directory{Path: path.Clean(p), Shared: shared, Limits: archive.DefaultLimits()}, nil
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
	if !path.IsAbs(p) {
		return fmt.Errorf("directory target path %q must be absolute, such as /srv/histologe", p)
	}
	if c := path.Clean(p); systemDirs[c] {
		return fmt.Errorf("directory target path %q is a system directory: use a folder of the application's own, such as %s", p, path.Join(c, "histologe"))
	}
	return nil
}

func checkShared(s string) error {
	c := path.Clean(s)
	if s == "" || path.IsAbs(s) || c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("shared path %q must be relative to the release and stay inside it", s)
	}
	return nil
}

// host is where the directory is.
func (d *Directory) host() host.Host {
	if d.Host == nil {
		return host.Local{}
	}
	return d.Host
}

// local tells whether the directory is on the machine Terraform runs on.
func (d *Directory) local() bool {
	switch d.host().(type) {
	case host.Local, *host.Local:
		return true
	}
	return false
}

// Describe implements Target: "directory /srv/app", and "directory /srv/app on
// web1.example.org" on a remote host.
func (d *Directory) Describe() string {
	if d.local() {
		return "directory " + d.Path
	}
	return "directory " + d.Path + " on " + d.host().Name()
}

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Directory) releasesPath() string { return path.Join(d.Path, releasesDir) }
func (d *Directory) metaPath(id string) string {
	return path.Join(d.releasesPath(), "."+id+".json")
}

// tempName names a temporary entry (an extraction, a release on its way out)
// so that Prune can tell when it is stale: by the pid of this process on the
// local machine, by the time it was made on a remote host.
func (d *Directory) tempName(what string) string {
	if d.local() {
		return tmpPrefix + strconv.Itoa(os.Getpid()) + "-" + what
	}
	return tmpPrefix + remoteTmpTag + time.Now().UTC().Format(timestampForm) + "-" + randomHex() + "-" + what
}

// Exists tells whether the target folder holds a `current` symlink.
func (d *Directory) Exists(ctx context.Context) (bool, error) {
	_, err := d.host().Lstat(ctx, path.Join(d.Path, currentLink))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Current implements Target: it reads the `current` symlink.
func (d *Directory) Current(ctx context.Context) (*Release, error) {
	h := d.host()
	link := path.Join(d.Path, currentLink)
	dest, err := h.Readlink(ctx, link)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (it must be a symbolic link to a release folder)", link, err)
	}
	if !path.IsAbs(dest) {
		dest = path.Join(d.Path, dest)
	}
	dest = path.Clean(dest)
	// Only <path>/releases/<id> is a release: a link elsewhere (even to a folder of
	// the same name, or of a sibling such as releases-evil/) or to a folder that is
	// gone is drift, reported with Problem (and no ID), never adopted.
	if !d.inReleases(ctx, dest) {
		return &Release{Problem: fmt.Sprintf("%s points at %s, outside %s", link, dest, d.releasesPath())}, nil
	}
	dest = path.Join(d.releasesPath(), path.Base(dest))
	st, err := h.Lstat(ctx, dest)
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
	rel, err := d.release(ctx, path.Base(dest))
	if err != nil {
		return nil, err
	}
	rel.Path = dest
	if fi, err := h.Lstat(ctx, link); err == nil {
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
func (d *Directory) inReleases(ctx context.Context, p string) bool {
	base := path.Base(p)
	if base == "." || base == ".." || base == "/" || strings.HasPrefix(base, ".") {
		return false
	}
	parent, releases := path.Dir(p), path.Clean(d.releasesPath())
	if parent == releases {
		return true
	}
	rp, err1 := evalSymlinks(ctx, d.host(), parent)
	rr, err2 := evalSymlinks(ctx, d.host(), releases)
	return err1 == nil && err2 == nil && rp == rr
}

// evalSymlinks is filepath.EvalSymlinks for an absolute path on h.
func evalSymlinks(ctx context.Context, h host.Host, p string) (string, error) {
	resolved, rest := "/", strings.Split(p, "/")
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, c)
		fi, err := h.Lstat(ctx, next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		dest, err := h.Readlink(ctx, next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(dest) {
			resolved = "/"
		}
		rest = append(strings.Split(dest, "/"), rest...)
	}
	return resolved, nil
}

// release describes releases/<id>, from its metadata file or, for a folder made by
// hand, from its name.
func (d *Directory) release(ctx context.Context, id string) (*Release, error) {
	rel := &Release{ID: id, Path: path.Join(d.releasesPath(), id)}
	raw, err := d.host().ReadFile(ctx, d.metaPath(id))
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
func (d *Directory) Find(ctx context.Context, spec Spec) (*Prepared, error) {
	rels, err := d.list(ctx)
	if err != nil {
		return nil, err
	}
	var best *Release
	for i := range rels {
		r := &rels[i]
		if !r.holds(spec) {
			continue
		}
		if best == nil || (best.Failed && !r.Failed) || (best.Failed == r.Failed && r.PreparedAt.After(best.PreparedAt)) {
			best = r
		}
	}
	if best == nil {
		return nil, nil
	}
	return d.prepared(*best, true), nil
}

// holds tells whether rel was made from the bytes of spec.
func (rel *Release) holds(spec Spec) bool {
	return rel.Version == spec.Version && rel.SHA256 != "" && strings.EqualFold(rel.SHA256, spec.SHA256)
}

// prepared is rel, ready to go live on this directory's host.
func (d *Directory) prepared(rel Release, reused bool) *Prepared {
	return &Prepared{Release: rel, Dir: rel.Path, Hosts: []HostDir{{Host: d.host(), Dir: rel.Path}}, Reused: reused}
}

// list returns the complete releases (folders with metadata), oldest first.
func (d *Directory) list(ctx context.Context) ([]Release, error) {
	folders, err := host.Folders(ctx, d.host(), d.releasesPath())
	if err != nil {
		return nil, err
	}
	var out []Release
	for _, id := range folders {
		if strings.HasPrefix(id, ".") {
			continue
		}
		r, err := d.release(ctx, id)
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
func (d *Directory) Releases(ctx context.Context) ([]Release, error) { return d.list(ctx) }

// newID returns "<version>-<timestamp>", with a ".N" suffix when a release of the
// same version was prepared in the same second on any of dirs (one id for a
// release prepared on several hosts).
func newID(ctx context.Context, dirs []*Directory, version string, now time.Time, maxParallel int) (string, error) {
	if version == "" || strings.ContainsAny(version, "/\\") || strings.HasPrefix(version, ".") {
		return "", fmt.Errorf("version %q cannot name a release folder", version)
	}
	base := version + "-" + now.Format(timestampForm)
	for n := 1; n < 1000; n++ {
		id := base
		if n > 1 {
			id = base + "." + strconv.Itoa(n)
		}
		taken := make([]bool, len(dirs))
		errs := each(len(dirs), maxParallel, func(i int) error {
			var err error
			taken[i], err = dirs[i].taken(ctx, id, true)
			return err
		})
		if err := hostsError(dirs, errs, "look for a free release id"); err != nil {
			return "", err
		}
		if !slices.Contains(taken, true) {
			return id, nil
		}
	}
	return "", fmt.Errorf("too many releases of %s in one second", version)
}

// releaseID is the id and preparation time of a new release of version on
// dirs: those of again (a release prepared again from its artifact) when no
// folder of its id is there (its metadata, left, is the same release's), else
// a new id (newID) and now.
func releaseID(ctx context.Context, dirs []*Directory, version string, again *Release, now time.Time, maxParallel int) (string, time.Time, error) {
	if again != nil && again.ID != "" && !strings.ContainsAny(again.ID, "/\\") && !strings.HasPrefix(again.ID, ".") && again.Version == version {
		taken := make([]bool, len(dirs))
		errs := each(len(dirs), maxParallel, func(i int) error {
			var err error
			taken[i], err = dirs[i].taken(ctx, again.ID, false)
			return err
		})
		if err := hostsError(dirs, errs, "look for a free release id"); err != nil {
			return "", time.Time{}, err
		}
		if !slices.Contains(taken, true) {
			if !again.PreparedAt.IsZero() {
				now = again.PreparedAt.UTC()
			}
			return again.ID, now, nil
		}
	}
	id, err := newID(ctx, dirs, version, now, maxParallel)
	return id, now, err
}

// taken tells whether the release folder of id exists, or (withMeta) its
// metadata.
func (d *Directory) taken(ctx context.Context, id string, withMeta bool) (bool, error) {
	paths := []string{path.Join(d.releasesPath(), id)}
	if withMeta {
		paths = append(paths, d.metaPath(id))
	}
	for _, p := range paths {
		_, err := d.host().Lstat(ctx, p)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	return false, nil
}

// linkShared replaces each shared path of the release in tmp by a symlink to
// <Path>/shared/<path>. A shared path missing from shared/ is seeded from the
// release's copy when it has one, else created as an empty folder.
func (d *Directory) linkShared(ctx context.Context, tmp, final string) error {
	h := d.host()
	for _, s := range d.Shared {
		s = path.Clean(s)
		src := path.Join(d.Path, sharedDir, s)
		inRelease := path.Join(tmp, s)
		if _, err := h.Lstat(ctx, src); errors.Is(err, fs.ErrNotExist) {
			if err := h.MkdirAll(ctx, path.Dir(src), 0o755); err != nil {
				return fmt.Errorf("create shared folder: %w", err)
			}
			if _, err := h.Lstat(ctx, inRelease); err == nil {
				if err := h.Rename(ctx, inRelease, src); err != nil {
					return fmt.Errorf("seed shared path %s: %w", s, err)
				}
			} else if err := h.MkdirAll(ctx, src, 0o755); err != nil {
				return fmt.Errorf("create shared path %s: %w", s, err)
			}
		}
		if err := h.RemoveAll(ctx, inRelease); err != nil {
			return fmt.Errorf("replace %s by its shared link: %w", s, err)
		}
		if err := h.MkdirAll(ctx, path.Dir(inRelease), 0o755); err != nil {
			return err
		}
		// Relative to the final location, so the link still works after the rename.
		if err := h.Symlink(ctx, relativePath(path.Dir(path.Join(final, s)), src), inRelease); err != nil {
			return fmt.Errorf("link shared path %s: %w", s, err)
		}
	}
	return nil
}

// relativePath is the path of target from the folder from, both absolute and
// clean: what filepath.Rel gives, for slash-separated paths.
func relativePath(from, target string) string {
	split := func(p string) []string { return strings.FieldsFunc(p, func(r rune) bool { return r == '/' }) }
	f, t := split(from), split(target)
	common := 0
	for common < len(f) && common < len(t) && f[common] == t[common] {
		common++
	}
	parts := make([]string, 0, len(f)-common+len(t)-common)
	for range f[common:] {
		parts = append(parts, "..")
	}
	parts = append(parts, t[common:]...)
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, "/")
}

// writeMeta replaces the release's metadata atomically and durably (synced
// before and after the rename): the unverified mark must survive a crash or a
// power cut that comes right after the switch.
func (d *Directory) writeMeta(ctx context.Context, rel Release) error {
	raw, err := json.MarshalIndent(rel, "", "  ")
	if err != nil {
		return err
	}
	if err := d.host().WriteFile(ctx, d.metaPath(rel.ID), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write release metadata: %w", err)
	}
	return nil
}

// marked reads the release that a mark is about; the release folder must be
// there, so that no mark is left for a release that is not.
func (d *Directory) marked(ctx context.Context, id string) (*Release, error) {
	if id == "" || !d.inReleases(ctx, path.Join(d.releasesPath(), id)) {
		return nil, fmt.Errorf("%q is not a release of %s", id, d.Describe())
	}
	if st, err := d.host().Lstat(ctx, path.Join(d.releasesPath(), id)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("release %s is not in %s", id, d.releasesPath())
	}
	return d.release(ctx, id)
}

// Discard implements Target.
func (d *Directory) Discard(ctx context.Context, p *Prepared) error {
	if p == nil || p.Reused {
		return nil
	}
	if err := d.removeRelease(ctx, p.Release.ID); err != nil {
		return fmt.Errorf("discard release %s: %w", p.Release.ID, err)
	}
	return nil
}

// removeRelease renames the folder out of sight first, so a half-deleted
// release is never listed.
func (d *Directory) removeRelease(ctx context.Context, id string) error {
	h := d.host()
	dir := path.Join(d.releasesPath(), id)
	trash := path.Join(d.releasesPath(), d.tempName("rm-"+id))
	if err := h.Rename(ctx, dir, trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := h.Remove(ctx, d.metaPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return h.RemoveAll(ctx, trash)
}

// Activate implements Target: a temporary symlink renamed over `current`.
func (d *Directory) Activate(ctx context.Context, p *Prepared) error {
	return d.switchTo(ctx, p.Release.ID)
}

func (d *Directory) switchTo(ctx context.Context, id string) error {
	h := d.host()
	if _, err := h.Stat(ctx, path.Join(d.releasesPath(), id)); err != nil {
		return fmt.Errorf("release %s is not there: %w", id, err)
	}
	link := path.Join(d.Path, currentLink)
	if fi, err := h.Lstat(ctx, link); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("%s is not a symbolic link; move it away so releases can be switched atomically", link)
	}
	if err := h.Symlink(ctx, path.Join(releasesDir, id), link); err != nil {
		return fmt.Errorf("switch %s: %w", link, err)
	}
	return nil
}

// Restore implements Target: `current` goes back to the previous release folder,
// re-extracted from its artifact (under the same id when it is free) when it
// was deleted meanwhile. With no previous
// release, `current` is removed so the failed release stops serving.
func (d *Directory) Restore(ctx context.Context, previous *Release, open Opener) error {
	h := d.host()
	if previous == nil {
		err := h.Remove(ctx, path.Join(d.Path, currentLink))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if _, err := h.Stat(ctx, path.Join(d.releasesPath(), previous.ID)); err == nil {
		return d.switchTo(ctx, previous.ID)
	}
	id, err := rebuild(ctx, []*Directory{d}, previous, open, 1)
	if err != nil {
		return err
	}
	return d.switchTo(ctx, id)
}

// MarkFailed implements Target.
func (d *Directory) MarkFailed(ctx context.Context, release Release, reason string) error {
	rel, err := d.marked(ctx, release.ID)
	if err != nil {
		return err
	}
	// A failed deployment has finished: failed, no longer unverified. Replaced
	// stays, naming the release to go back to.
	rel.Failed, rel.FailReason, rel.Unverified = true, reason, false
	return d.writeMeta(ctx, *rel)
}

// MarkUnverified implements Target: the mark is in the release's metadata,
// written atomically before the switch.
func (d *Directory) MarkUnverified(ctx context.Context, release Release, replaced *Release) error {
	rel, err := d.marked(ctx, release.ID)
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
	return d.writeMeta(ctx, *rel)
}

// MarkVerified implements Target.
func (d *Directory) MarkVerified(ctx context.Context, release Release) error {
	rel, err := d.marked(ctx, release.ID)
	if err != nil {
		return err
	}
	if !rel.Unverified && !rel.Failed && rel.Replaced == nil {
		return nil
	}
	rel.Unverified, rel.Failed, rel.FailReason, rel.Replaced = false, false, "", nil
	return d.writeMeta(ctx, *rel)
}

// Remove implements Target: `current` first (the site stops), then the releases.
// The shared folder holds user data and stays.
func (d *Directory) Remove(ctx context.Context) error {
	h := d.host()
	if err := h.Remove(ctx, path.Join(d.Path, currentLink)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	trash := path.Join(d.Path, "."+releasesDir+d.tempName(randomHex()))
	if err := h.Rename(ctx, d.releasesPath(), trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return h.RemoveAll(ctx, trash)
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
