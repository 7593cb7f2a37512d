package store

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/releaseplan/terraform-provider-release/internal/capool"
	"github.com/releaseplan/terraform-provider-release/internal/ctxio"
)

// HTTPConfig configures an HTTP artifact store.
type HTTPConfig struct {
	// URL is the root of the repository, e.g. https://dav.example.org/releases or an
	// Artifactory generic repository https://artifactory.example.org/artifactory/releases.
	URL string
	// Username and Password are sent with HTTP basic authentication when Username is
	// set. The password never appears in errors or logs.
	Username string
	Password string
	// Headers are added to every request (e.g. an X-JFrog-Art-Api token).
	Headers map[string]string
	// CAFile is a PEM bundle trusted in addition to the system roots.
	CAFile string
	// Insecure skips TLS certificate verification (test servers only).
	Insecure bool
	// HTTPClient replaces the default client (its transport is used as is; CAFile
	// and Insecure are then ignored).
	HTTPClient *http.Client

	// MaxRetries is how many times a request that met a connection error or a 5xx
	// answer is tried again; 0 means 4, a negative value disables retries.
	MaxRetries int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between tries;
	// zero means 500ms and 10s.
	RetryWaitMin, RetryWaitMax time.Duration
}

// HTTP is a Store on a WebDAV server (nginx's dav and dav_ext modules, Apache
// mod_dav, ...) or an Artifactory generic repository, with the directory store's
// layout below URL (see layout.go), so both stores are interchangeable.
//
// Publication: the bytes are hashed first (streamed into a local temporary file
// unless the source is a regular file already), so a sha256 mismatch uploads
// nothing and the upload carries an X-Checksum-Sha256 header that Artifactory
// verifies. The bytes and metadata.json are uploaded under .tmp/put-<random>/ and
// that folder is then MOVEd onto <name>/<version>/ with "Overwrite: F", so an
// interrupted upload leaves no visible version and of two concurrent publishers
// exactly one wins. Servers without MOVE (405/501) get the bytes PUT in place and
// metadata.json last: a version is visible only once its metadata.json exists.
//
// Requests that meet a connection error or a 5xx answer are retried with an
// exponential backoff; 4xx answers never are.
type HTTP struct {
	base     *url.URL // always ends with "/"
	username string
	password string
	headers  map[string]string
	client   *retryablehttp.Client
	now      func() time.Time
}

var _ Store = (*HTTP)(nil)

// NewHTTP checks cfg and returns an HTTP store. It does not contact the server.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("artifact store url %q must be an absolute http:// or https:// URL", redactedURL(cfg.URL))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("artifact store url %s must not have a query or a fragment", u.Redacted())
	}
	username, password := cfg.Username, cfg.Password
	if u.User != nil {
		// Credentials in the URL are accepted, but kept out of every URL we print.
		if username == "" {
			username = u.User.Username()
			password, _ = u.User.Password()
		}
		u.User = nil
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""

	hc := cfg.HTTPClient
	if hc == nil {
		// Clone the default transport so that stores do not share TLS settings.
		tr := http.DefaultTransport.(*http.Transport).Clone() //nolint:forcetypeassert // the standard library sets an *http.Transport
		if cfg.CAFile != "" || cfg.Insecure {
			tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // explicit user choice
			if cfg.CAFile != "" {
				pool, err := capool.Load(cfg.CAFile)
				if err != nil {
					return nil, fmt.Errorf("the artifact store's ca_file: %w", err)
				}
				tlsCfg.RootCAs = pool
			}
			tr.TLSClientConfig = tlsCfg
		}
		hc = &http.Client{Transport: tr}
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = hc
	rc.Logger = nil
	rc.RetryMax = 4
	if cfg.MaxRetries > 0 {
		rc.RetryMax = cfg.MaxRetries
	} else if cfg.MaxRetries < 0 {
		rc.RetryMax = 0
	}
	rc.RetryWaitMin, rc.RetryWaitMax = 500*time.Millisecond, 10*time.Second
	if cfg.RetryWaitMin > 0 {
		rc.RetryWaitMin = cfg.RetryWaitMin
	}
	if cfg.RetryWaitMax > 0 {
		rc.RetryWaitMax = cfg.RetryWaitMax
	}
	rc.CheckRetry = retryPolicy
	// Keep the last answer so that errors can say what the server said.
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler

	headers := make(map[string]string, len(cfg.Headers))
	for k, v := range cfg.Headers {
		headers[k] = v
	}
	return &HTTP{base: u, username: username, password: password, headers: headers, client: rc, now: time.Now}, nil
}

// retryPolicy retries connection errors and 5xx answers (and 429), never other
// 4xx answers, and stops at once when the context ends.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err == nil && resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// URL returns the store's root URL without credentials.
func (s *HTTP) URL() string { return s.base.String() }

func (s *HTTP) url(rel string) string {
	u := *s.base
	u.Path = s.base.Path + strings.TrimPrefix(rel, "/")
	return u.String()
}

// destination is the Destination header of a MOVE: an absolute path (RFC 4918
// allows it), so that a TLS-terminating proxy in front of the server, which sees
// another scheme and host, accepts it.
func (s *HTTP) destination(rel string) string {
	u := url.URL{Path: s.base.Path + strings.TrimPrefix(rel, "/")}
	return u.EscapedPath()
}

// request performs one HTTP call with retries. body is nil, a []byte, or a
// retryablehttp.ReaderFunc that reopens the body for each try; size is its length.
func (s *HTTP) request(ctx context.Context, method, rel string, body any, size int64, hdr map[string]string) (*http.Response, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, method, s.url(rel), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, rel, err)
	}
	if size >= 0 && body != nil {
		req.ContentLength = size
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if s.username != "" {
		req.SetBasicAuth(s.username, s.password)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, s.url(rel), ctx.Err())
		}
		return nil, fmt.Errorf("%s %s: %w", method, s.url(rel), s.scrub(err))
	}
	return resp, nil
}

// scrub removes anything that could carry the password from a transport error.
func (s *HTTP) scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if s.password != "" {
		msg = strings.ReplaceAll(msg, s.password, "***")
	}
	return errors.New(msg)
}

// statusError turns an unexpected answer into an error that says what to check,
// without the password. It consumes and closes the body.
func (s *HTTP) statusError(resp *http.Response, what string) error {
	defer drain(resp)
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		if s.username == "" {
			return fmt.Errorf("%s: the artifact store %s answered 401 Unauthorized: it requires credentials; set username and password", what, s.base.Redacted())
		}
		return fmt.Errorf("%s: the artifact store %s answered 401 Unauthorized: it refused the credentials of user %q; check the username and password", what, s.base.Redacted(), s.username)
	case http.StatusForbidden:
		return fmt.Errorf("%s: the artifact store %s answered 403 Forbidden: the user %q may not do this; check its permissions on the repository", what, s.base.Redacted(), s.username)
	}
	return fmt.Errorf("%s: %s %s answered %s", what, resp.Request.Method, redactedURL(resp.Request.URL.String()), resp.Status)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// Put implements Store.
func (s *HTTP) Put(ctx context.Context, name, version string, r io.Reader, expectedSHA256 string, metadata map[string]string) (Object, error) {
	if err := validate(name, version); err != nil {
		return Object{}, err
	}
	expectedSHA256 = strings.ToLower(strings.TrimSpace(expectedSHA256))
	src, err := openSource(ctx, r)
	if err != nil {
		return Object{}, fmt.Errorf("read the bytes of %s@%s: %w", name, version, err)
	}
	defer src.close()
	if expectedSHA256 != "" && src.sum != expectedSHA256 {
		return Object{}, fmt.Errorf("%w: the bytes of %s@%s have sha256 %s, expected %s; nothing was published", ErrChecksumMismatch, name, version, src.sum, expectedSHA256)
	}

	// Immutability: the metadata of a published version decides.
	if existing, err := s.Stat(ctx, name, version); err == nil {
		return sameOrConflict(existing, src.sum)
	} else if !errors.Is(err, ErrNotFound) {
		return Object{}, err
	}

	obj := Object{Name: name, Version: version, SHA256: src.sum, Size: src.size, PublishedAt: s.now().UTC().Truncate(time.Second), Metadata: metadata}
	meta, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return Object{}, err
	}
	meta = append(meta, '\n')

	u := &upload{s: s, name: name, version: version, src: src, meta: meta}
	tmp := ".tmp/put-" + randomSuffix() + "/"
	if err := u.putData(ctx, tmp+dataFile); err != nil {
		s.cleanup(tmp)
		return Object{}, err
	}
	if err := u.putMeta(ctx, tmp+metadataFile); err != nil {
		s.cleanup(tmp)
		return Object{}, err
	}
	if existing, done, err := u.publish(ctx, tmp); done || err != nil {
		return existing, err
	}
	obj.URI = s.url(DataPath(name, version))
	return obj, nil
}

// upload is one Put's bytes and metadata on their way to the server.
type upload struct {
	s             *HTTP
	name, version string
	src           *source
	meta          []byte
}

func (u *upload) putData(ctx context.Context, rel string) error {
	resp, err := u.s.request(ctx, http.MethodPut, rel, u.src.body(), u.src.size, map[string]string{
		"X-Checksum-Sha256": u.src.sum,
		"Content-Type":      "application/octet-stream",
	})
	if err != nil {
		return fmt.Errorf("upload %s@%s: %w", u.name, u.version, err)
	}
	if resp.StatusCode/100 != 2 {
		return u.s.statusError(resp, "upload "+u.name+"@"+u.version)
	}
	drain(resp)
	return nil
}

func (u *upload) putMeta(ctx context.Context, rel string) error {
	resp, err := u.s.request(ctx, http.MethodPut, rel, u.meta, int64(len(u.meta)), map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return fmt.Errorf("upload the metadata of %s@%s: %w", u.name, u.version, err)
	}
	if resp.StatusCode/100 != 2 {
		return u.s.statusError(resp, "upload the metadata of "+u.name+"@"+u.version)
	}
	drain(resp)
	return nil
}

// publish moves the uploaded folder tmp to the version's place (MOVE with
// Overwrite: F), or, on a server without MOVE, uploads in place with the metadata
// last, as the commit. When someone published the version meanwhile, done is true
// and existing is that version (if it holds the same bytes).
func (u *upload) publish(ctx context.Context, tmp string) (existing Object, done bool, err error) {
	s, name, version := u.s, u.name, u.version
	s.mkcol(ctx, name+"/")
	final := ObjectDir(name, version) + "/"
	resp, err := s.request(ctx, "MOVE", tmp, nil, -1, map[string]string{"Destination": s.destination(final), "Overwrite": "F"})
	if err != nil {
		s.cleanup(tmp)
		return Object{}, true, fmt.Errorf("publish %s@%s: %w; nothing was published", name, version, err)
	}
	switch {
	case resp.StatusCode/100 == 2:
		drain(resp)
		return Object{}, false, nil
	case resp.StatusCode == http.StatusPreconditionFailed:
		// Someone published this version meanwhile: the same bytes are fine.
		drain(resp)
		s.cleanup(tmp)
		existing, err := s.Stat(ctx, name, version)
		if errors.Is(err, ErrNotFound) {
			return Object{}, true, fmt.Errorf("publish %s@%s: %s holds an incomplete version (no %s); delete that folder, then publish again", name, version, s.url(final), metadataFile)
		}
		if err != nil {
			return Object{}, true, err
		}
		existing, err = sameOrConflict(existing, u.src.sum)
		return existing, true, err
	case resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented:
		// No MOVE (e.g. Artifactory): PUT in place, metadata last, as the commit.
		drain(resp)
		s.cleanup(tmp)
		if err := u.putData(ctx, DataPath(name, version)); err != nil {
			return Object{}, true, err
		}
		return Object{}, false, u.putMeta(ctx, MetadataPath(name, version))
	default:
		err := s.statusError(resp, "publish "+name+"@"+version)
		s.cleanup(tmp)
		return Object{}, true, err
	}
}

func sameOrConflict(existing Object, sum string) (Object, error) {
	if !strings.EqualFold(existing.SHA256, sum) {
		return Object{}, fmt.Errorf("%w: %s has sha256 %s, the new bytes have %s; publish them under a new version", ErrConflict, existing.ID(), existing.SHA256, sum)
	}
	return existing, nil
}

// cleanup removes a temporary upload folder, best effort, even when the caller's
// context is already cancelled.
func (s *HTTP) cleanup(rel string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := s.request(ctx, http.MethodDelete, rel, nil, -1, nil); err == nil {
		drain(resp)
	}
}

// mkcol creates a collection; an existing one (405) or a server that creates
// folders by itself is fine: the MOVE that follows reports real problems.
func (s *HTTP) mkcol(ctx context.Context, rel string) {
	if resp, err := s.request(ctx, "MKCOL", rel, nil, -1, nil); err == nil {
		drain(resp)
	}
}

// source is the bytes to upload, hashed, re-readable for each try.
type source struct {
	f      *os.File
	off    int64
	size   int64
	sum    string
	remove bool
}

// openSource hashes r. A regular file is read in place (twice: hash, then upload);
// anything else is streamed into a temporary file while hashing.
func openSource(ctx context.Context, r io.Reader) (*source, error) {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			off, err := f.Seek(0, io.SeekCurrent)
			if err == nil {
				h := sha256.New()
				n, err := io.Copy(h, ctxio.Reader(ctx, io.NewSectionReader(f, off, st.Size()-off)))
				if err != nil {
					return nil, err
				}
				return &source{f: f, off: off, size: n, sum: hex.EncodeToString(h.Sum(nil))}, nil
			}
		}
	}
	tmp, err := os.CreateTemp("", "release-upload-*")
	if err != nil {
		return nil, fmt.Errorf("create a temporary file: %w", err)
	}
	src := &source{f: tmp, remove: true}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), ctxio.Reader(ctx, r))
	if err != nil {
		src.close()
		return nil, err
	}
	src.size, src.sum = n, hex.EncodeToString(h.Sum(nil))
	return src, nil
}

func (s *source) body() retryablehttp.ReaderFunc {
	return func() (io.Reader, error) { return io.NewSectionReader(s.f, s.off, s.size), nil }
}

func (s *source) close() {
	if s.remove {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}

// Get implements Store. The returned reader verifies the size and sha256 recorded
// at publication while it is read: corrupt bytes end in an error wrapping
// ErrChecksumMismatch instead of a clean EOF.
func (s *HTTP) Get(ctx context.Context, name, version string) (io.ReadCloser, Object, error) {
	obj, err := s.meta(ctx, name, version)
	if err != nil {
		return nil, Object{}, err
	}
	resp, err := s.request(ctx, http.MethodGet, DataPath(name, version), nil, -1, nil)
	if err != nil {
		return nil, Object{}, fmt.Errorf("download %s@%s: %w", name, version, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		drain(resp)
		return nil, Object{}, fmt.Errorf("%w: the bytes of %s@%s are missing", ErrCorrupt, name, version)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, Object{}, s.statusError(resp, "download "+name+"@"+version)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != obj.Size {
		drain(resp)
		return nil, Object{}, fmt.Errorf("%w: %s@%s is %d bytes, %d were published", ErrCorrupt, name, version, resp.ContentLength, obj.Size)
	}
	return verifyingBody{NewVerifyingReader(resp.Body, obj.SHA256, obj.Size), resp.Body}, obj, nil
}

type verifyingBody struct {
	io.Reader
	io.Closer
}

// meta reads metadata.json of name@version.
func (s *HTTP) meta(ctx context.Context, name, version string) (Object, error) {
	if err := validate(name, version); err != nil {
		return Object{}, err
	}
	resp, err := s.request(ctx, http.MethodGet, MetadataPath(name, version), nil, -1, nil)
	if err != nil {
		return Object{}, fmt.Errorf("read the metadata of %s@%s: %w", name, version, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		drain(resp)
		return Object{}, fmt.Errorf("%w: %s@%s", ErrNotFound, name, version)
	}
	if resp.StatusCode != http.StatusOK {
		return Object{}, s.statusError(resp, "read the metadata of "+name+"@"+version)
	}
	defer drain(resp)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Object{}, fmt.Errorf("read the metadata of %s@%s: %w", name, version, s.scrub(err))
	}
	var obj Object
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Object{}, fmt.Errorf("%w: metadata of %s@%s: %v", ErrCorrupt, name, version, err)
	}
	if obj.Name != name || obj.Version != version {
		return Object{}, fmt.Errorf("%w: the metadata at %s describes %s", ErrCorrupt, MetadataPath(name, version), obj.ID())
	}
	obj.URI = s.url(DataPath(name, version))
	return obj, nil
}

// Stat implements Store: the metadata, and the size of the stored bytes (HEAD).
func (s *HTTP) Stat(ctx context.Context, name, version string) (Object, error) {
	obj, err := s.meta(ctx, name, version)
	if err != nil {
		return Object{}, err
	}
	resp, err := s.request(ctx, http.MethodHead, DataPath(name, version), nil, -1, nil)
	if err != nil {
		return Object{}, fmt.Errorf("check the bytes of %s@%s: %w", name, version, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		drain(resp)
		return Object{}, fmt.Errorf("%w: the bytes of %s@%s are missing", ErrCorrupt, name, version)
	case resp.StatusCode/100 != 2:
		return Object{}, s.statusError(resp, "check the bytes of "+name+"@"+version)
	}
	drain(resp)
	if resp.ContentLength >= 0 && resp.ContentLength != obj.Size {
		return Object{}, fmt.Errorf("%w: %s@%s is %d bytes, %d were published", ErrCorrupt, name, version, resp.ContentLength, obj.Size)
	}
	return obj, nil
}

// Verify implements Store by downloading and hashing the bytes.
func (s *HTTP) Verify(ctx context.Context, name, version string) (Object, error) {
	rc, obj, err := s.Get(ctx, name, version)
	if err != nil {
		return Object{}, err
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, ctxio.Reader(ctx, rc)); err != nil {
		if errors.Is(err, ErrChecksumMismatch) {
			return Object{}, fmt.Errorf("%w: %s@%s: %v", ErrCorrupt, name, version, err)
		}
		return Object{}, fmt.Errorf("download %s@%s: %w", name, version, s.scrub(err))
	}
	return obj, nil
}

// List implements Store with a PROPFIND (Depth: 1) of <name>/.
func (s *HTTP) List(ctx context.Context, name string) ([]Object, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>`)
	resp, err := s.request(ctx, "PROPFIND", name+"/", body, int64(len(body)), map[string]string{"Depth": "1", "Content-Type": "application/xml"})
	if err != nil {
		return nil, fmt.Errorf("list the versions of %s: %w", name, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		drain(resp)
		return nil, nil
	}
	if resp.StatusCode != http.StatusMultiStatus {
		return nil, s.statusError(resp, "list the versions of "+name)
	}
	defer drain(resp)
	var ms struct {
		Responses []struct {
			Href       string `xml:"href"`
			Collection *struct {
			} `xml:"propstat>prop>resourcetype>collection"`
		} `xml:"response"`
	}
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&ms); err != nil {
		return nil, fmt.Errorf("list the versions of %s: unreadable PROPFIND answer: %w", name, err)
	}
	var folders []string
	for _, r := range ms.Responses {
		href := r.Href
		if u, err := url.Parse(href); err == nil {
			href = u.Path
		}
		if !strings.HasSuffix(href, "/") && r.Collection == nil {
			continue
		}
		// The listed folder itself comes back too: skip it by its path.
		if strings.TrimSuffix(href, "/") == s.base.Path+name {
			continue
		}
		folders = append(folders, path.Base(strings.TrimSuffix(href, "/")))
	}
	// A version without metadata is an incomplete upload of the fallback path.
	return published(folders, func(version string) (Object, error) { return s.meta(ctx, name, version) })
}

// Copy implements Store: the bytes are downloaded, hashed and published again
// under toVersion, only if they still match expectedSHA256.
func (s *HTTP) Copy(ctx context.Context, name, fromVersion, toVersion, expectedSHA256 string, metadata map[string]string) (Object, error) {
	return CopyVersion(ctx, s, name, fromVersion, toVersion, expectedSHA256, metadata)
}

// Delete implements Store. The version's folder is first moved out of the way, so
// readers never see a half-deleted artifact; servers without MOVE get a DELETE of
// metadata.json first (which hides the version), then of the folder.
func (s *HTTP) Delete(ctx context.Context, name, version string) error {
	if err := validate(name, version); err != nil {
		return err
	}
	dir := ObjectDir(name, version) + "/"
	trash := ".tmp/delete-" + randomSuffix() + "/"
	s.mkcol(ctx, ".tmp/")
	resp, err := s.request(ctx, "MOVE", dir, nil, -1, map[string]string{"Destination": s.destination(trash), "Overwrite": "F"})
	if err != nil {
		return fmt.Errorf("delete %s@%s: %w", name, version, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		drain(resp)
		return nil
	case resp.StatusCode/100 == 2:
		drain(resp)
		return s.deletePath(ctx, trash, name, version)
	case resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented:
		drain(resp)
		if err := s.deletePath(ctx, MetadataPath(name, version), name, version); err != nil {
			return err
		}
		return s.deletePath(ctx, dir, name, version)
	default:
		return s.statusError(resp, "delete "+name+"@"+version)
	}
}

func (s *HTTP) deletePath(ctx context.Context, rel, name, version string) error {
	resp, err := s.request(ctx, http.MethodDelete, rel, nil, -1, nil)
	if err != nil {
		return fmt.Errorf("delete %s@%s: %w", name, version, err)
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotFound {
		return s.statusError(resp, "delete "+name+"@"+version)
	}
	drain(resp)
	return nil
}

// redactedURL hides the password of a URL given by the user, even an unparsable one.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "@"); i >= 0 {
			if j := strings.Index(raw, "://"); j >= 0 && j < i {
				return raw[:j+3] + "***" + raw[i:]
			}
		}
		return raw
	}
	return u.Redacted()
}
