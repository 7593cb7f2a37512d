package scalingo

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/iocount"
)

// MaxArchiveSize is the largest source archive Scalingo accepts: 300 MiB.
const MaxArchiveSize = 300 << 20

// gitRefPattern is what an image tag accepts: Scalingo tags the image it builds
// with the deployment's git_ref.
var gitRefPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidGitRef checks that ref can be a deployment's git_ref, which Scalingo uses
// as an image tag: letters, digits, "_", "." and "-", not starting with "." or
// "-", at most 128 characters (so no "+" of semver build metadata).
func ValidGitRef(ref string) error {
	if gitRefPattern.MatchString(ref) {
		return nil
	}
	why := "it may only hold letters, digits, '_', '.' and '-', not start with '.' or '-', and be at most 128 characters long"
	switch {
	case strings.Contains(ref, "+"):
		why = "it holds a '+' (semver build metadata), which an image tag cannot"
	case strings.HasPrefix(ref, "-") || strings.HasPrefix(ref, "."):
		why = "it starts with '" + ref[:1] + "', which an image tag cannot"
	}
	return fmt.Errorf("version %q cannot be deployed to Scalingo: its git_ref becomes an image tag and %s; publish the release under a version without it", ref, why)
}

// ArchiveInfo is what InspectArchive found in a tar.gz.
type ArchiveInfo struct {
	// Size is the size of the compressed archive.
	Size int64
	// TopLevel lists the top-level entries, folders with a trailing "/".
	TopLevel []string
}

// OneFolder reports whether the archive holds a single top-level folder, as
// Scalingo requires.
func (a ArchiveInfo) OneFolder() bool {
	return len(a.TopLevel) == 1 && strings.HasSuffix(a.TopLevel[0], "/")
}

// InspectArchive reads a tar.gz to its end and lists its top-level entries.
func InspectArchive(r io.Reader) (ArchiveInfo, error) {
	cr := &iocount.Reader{R: r}
	info, err := inspect(cr)
	if _, cerr := io.Copy(io.Discard, cr); err == nil && cerr != nil {
		err = cerr
	}
	info.Size = cr.N
	return info, err
}

func inspect(r io.Reader) (ArchiveInfo, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return ArchiveInfo{}, fmt.Errorf("the release is not a tar.gz archive, which Scalingo needs: %w", err)
	}
	tr := tar.NewReader(zr)
	tops := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ArchiveInfo{}, fmt.Errorf("the release is not a readable tar.gz archive: %w", err)
		}
		name := entryName(h)
		if name == "" {
			continue
		}
		top, _, nested := strings.Cut(name, "/")
		if nested || h.Typeflag == tar.TypeDir {
			top += "/"
		}
		tops[top] = true
	}
	return ArchiveInfo{TopLevel: slices.Sorted(maps.Keys(tops))}, nil
}

// entryName is the entry's path without "./" or "/" in front ("" for the root
// and for headers that are no entries).
func entryName(h *tar.Header) string {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return ""
	}
	name := strings.TrimLeft(strings.TrimPrefix(h.Name, "./"), "/")
	name = strings.TrimSuffix(name, "/")
	if name == "." {
		return ""
	}
	return name
}

// WrapArchive streams the tar.gz src into dst with every entry moved under
// folder, so that a flat archive becomes one Scalingo accepts. It returns the
// size written.
func WrapArchive(dst io.Writer, src io.Reader, folder string) (int64, error) {
	zr, err := gzip.NewReader(src)
	if err != nil {
		return 0, err
	}
	cw := &iocount.Writer{W: dst}
	zw := gzip.NewWriter(cw)
	tw := tar.NewWriter(zw)
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: folder + "/", Mode: 0o755, ModTime: now}); err != nil {
		return 0, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		name := entryName(h)
		if name == "" {
			continue
		}
		h.Name = path.Join(folder, name)
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if h.Typeflag == tar.TypeLink {
			h.Linkname = path.Join(folder, strings.TrimLeft(strings.TrimPrefix(h.Linkname, "./"), "/"))
		}
		if err := tw.WriteHeader(h); err != nil {
			return 0, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return cw.N, nil
}

// CheckArchiveSize refuses an archive larger than Scalingo accepts.
func CheckArchiveSize(size int64) error {
	if size > MaxArchiveSize {
		return fmt.Errorf("the archive is %d MiB and Scalingo accepts archives of at most 300 MiB: make the release smaller (leave dependencies to the build)", size>>20)
	}
	return nil
}

// CheckSourceURL refuses a source_url that Scalingo's build machines cannot
// download: not http(s), credentials in the URL (they would be stored with the
// deployment), or a host on loopback, private, link-local or unspecified
// addresses (a literal address, localhost, or a name resolving only to such
// addresses).
func CheckSourceURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("the artifact store gives no http(s) URL for Scalingo to download the source from")
	}
	if u.User != nil {
		return fmt.Errorf("the artifact URL %s://%s%s carries credentials, which Scalingo would keep with the deployment: use a store URL that needs none (pre-signed) or upload the bytes (source_url_from_store = false)", u.Scheme, u.Hostname(), u.Path)
	}
	host := u.Hostname()
	lower := strings.ToLower(host)
	if lower == "localhost" || strings.HasSuffix(lower, ".localhost") {
		return unreachable(u, "localhost")
	}
	if ip := net.ParseIP(host); ip != nil {
		if private(ip) {
			return unreachable(u, ip.String()+" is a loopback, private or link-local address")
		}
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(rctx, host)
	if err != nil || len(addrs) == 0 {
		return nil // resolvable elsewhere, perhaps: the build machines will say
	}
	for _, a := range addrs {
		if !private(a.IP) {
			return nil
		}
	}
	return unreachable(u, host+" resolves only to loopback, private or link-local addresses")
}

func private(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified()
}

func unreachable(u *url.URL, why string) error {
	return fmt.Errorf("the build machines of Scalingo download source_url themselves and cannot reach %s://%s (%s): use an artifact store reachable from the internet, or upload the bytes (source_url_from_store = false)", u.Scheme, u.Host, why)
}
