package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// Scalingo deploys to a Scalingo app: the verified bytes are uploaded through
// /v1/sources (or the artifact's own URL is passed when SourceURLFromStore is set),
// then a deployment is created with git_ref = version and followed until it ends.
// The archive must hold one top-level folder (a flat archive is wrapped in one
// before the upload) and weigh at most 300 MiB, and the version must be a valid
// git_ref; Prepare checks all three before anything changes. Variables, when
// set, are written in one request before the deployment starts, so that its
// containers start with them, and put back when it fails or is rolled back.
// A failed Scalingo deployment leaves the previous containers running, so a failed
// Activate changes nothing. The live release is the last successful deployment.
type Scalingo struct {
	Client *scalingo.Client
	App    string
	// Name is the artifact name deployed to the app, to name the live release.
	Name string
	// Store, when set, gives the sha256 and git commit of the live version and the
	// artifact URL for SourceURLFromStore.
	Store store.Store
	// SourceURLFromStore passes the artifact's http(s) URI to Scalingo instead of
	// uploading the bytes (they are still read and verified first).
	SourceURLFromStore bool
	// PollInterval is how often the deployment is polled (default 3s).
	PollInterval time.Duration
	// TempDir holds the verified bytes between Prepare and Activate (default os.TempDir()).
	TempDir string
	// Variables are set on the app before the deployment (names not listed are
	// left alone). Their values are never logged.
	Variables map[string]string
	// OneOffSize and OneOffTimeout apply to RunOneOff (defaults: the app's
	// size, 10 minutes).
	OneOffSize    string
	OneOffTimeout time.Duration

	mu    sync.Mutex
	files map[*Prepared]string
	// saved holds what the variables were before the last successful Activate,
	// for Restore to put back.
	saved *savedVariables
}

var _ Target = (*Scalingo)(nil)

// Describe implements Target.
func (s *Scalingo) Describe() string { return "Scalingo app " + s.App }

// Current implements Target: the git_ref of the app's last successful deployment.
func (s *Scalingo) Current(ctx context.Context) (*Release, error) {
	d, err := s.Client.LastSuccessfulDeployment(ctx, s.App, 0)
	if scalingo.IsNotFound(err) {
		return nil, fmt.Errorf("%w: Scalingo app %s", ErrNotFound, s.App)
	}
	if err != nil || d == nil {
		return nil, err
	}
	rel := &Release{ID: d.ID, Name: s.Name, Version: d.GitRef}
	if d.CreatedAt != nil {
		rel.PreparedAt, rel.ActivatedAt = *d.CreatedAt, *d.CreatedAt
	}
	if s.Store != nil && s.Name != "" && d.GitRef != "" {
		if obj, err := s.Store.Stat(ctx, s.Name, d.GitRef); err == nil {
			rel.SHA256, rel.GitCommit = obj.SHA256, obj.Metadata["git_commit"]
		}
	}
	return rel, nil
}

// Find implements Target: Scalingo keeps no prepared release to reuse.
func (s *Scalingo) Find(context.Context, Spec) (*Prepared, error) { return nil, nil }

// Prepare implements Target: the bytes are read to their end (which verifies them)
// into a temporary file, checked against Scalingo's rules and, when flat, wrapped
// in one top-level folder; nothing on Scalingo changes yet.
func (s *Scalingo) Prepare(ctx context.Context, spec Spec, r io.Reader) (*Prepared, error) {
	p := &Prepared{Release: Release{Name: spec.Name, Version: spec.Version, SHA256: spec.SHA256, GitCommit: spec.GitCommit, PreparedAt: time.Now().UTC()}}
	if err := scalingo.ValidGitRef(spec.Version); err != nil {
		_, _ = io.Copy(io.Discard, r)
		return nil, err
	}
	if s.SourceURLFromStore {
		info, err := scalingo.InspectArchive(r)
		if err != nil {
			return nil, err
		}
		if !info.OneFolder() {
			return nil, fmt.Errorf("%s@%s holds %s at its top level, and Scalingo needs one folder: with source_url_from_store the archive goes to Scalingo as it is, so publish it with one top-level folder or upload the bytes", spec.Name, spec.Version, describeTops(info.TopLevel))
		}
		return p, scalingo.CheckArchiveSize(info.Size)
	}
	file, err := s.writeTemp(r)
	if err != nil {
		return nil, err
	}
	if file, err = s.conform(file, spec.Name+"-"+spec.Version); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.files == nil {
		s.files = map[*Prepared]string{}
	}
	s.files[p] = file
	s.mu.Unlock()
	logging.Info(ctx, "the release is ready for Scalingo", "app", s.App, logging.Version, spec.Version)
	return p, nil
}

func (s *Scalingo) writeTemp(r io.Reader) (string, error) {
	f, err := os.CreateTemp(s.TempDir, "release-scalingo-*.tar.gz")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// conform checks the archive in file and returns a file Scalingo accepts: file
// itself, or a copy wrapped in folder when it is flat. file is removed on error
// or when replaced.
func (s *Scalingo) conform(file, folder string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	info, err := scalingo.InspectArchive(f)
	f.Close()
	if err == nil && info.OneFolder() {
		err = scalingo.CheckArchiveSize(info.Size)
	}
	if err != nil || info.OneFolder() {
		if err != nil {
			os.Remove(file)
		}
		return file, err
	}
	defer os.Remove(file)
	src, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp(s.TempDir, "release-scalingo-*.tar.gz")
	if err != nil {
		return "", err
	}
	size, err := scalingo.WrapArchive(dst, src, folder)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = scalingo.CheckArchiveSize(size)
	}
	if err != nil {
		os.Remove(dst.Name())
		return "", err
	}
	return dst.Name(), nil
}

func describeTops(tops []string) string {
	switch len(tops) {
	case 0:
		return "nothing"
	case 1:
		return "only the file " + tops[0]
	}
	if len(tops) > 5 {
		return fmt.Sprintf("%d entries (%s, ...)", len(tops), strings.Join(tops[:5], ", "))
	}
	return fmt.Sprintf("%d entries (%s)", len(tops), strings.Join(tops, ", "))
}

// Discard implements Target.
func (s *Scalingo) Discard(_ context.Context, p *Prepared) error {
	s.mu.Lock()
	file := s.files[p]
	delete(s.files, p)
	s.mu.Unlock()
	if file != "" {
		return os.Remove(file)
	}
	return nil
}

// sourceURL uploads the prepared bytes (fresh pre-signed URLs last 10 minutes) or
// returns the artifact's own URL.
func (s *Scalingo) sourceURL(ctx context.Context, rel Release, file string) (string, error) {
	if s.SourceURLFromStore {
		if s.Store == nil {
			return "", errors.New("source_url_from_store needs an artifact store")
		}
		obj, err := s.Store.Stat(ctx, rel.Name, rel.Version)
		if err != nil {
			return "", err
		}
		if err := s.CheckSourceURL(ctx, obj.URI); err != nil {
			return "", fmt.Errorf("%s@%s: %w", rel.Name, rel.Version, err)
		}
		return obj.URI, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("the verified bytes are gone: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	logging.Info(ctx, "uploading the release to Scalingo", "app", s.App, logging.Version, rel.Version, "bytes", st.Size())
	return s.Client.SourcesUploadArchive(ctx, f, st.Size())
}

// deploy creates a deployment of rel and waits for its end.
func (s *Scalingo) deploy(ctx context.Context, rel Release, file string) (*scalingo.Deployment, error) {
	url, err := s.sourceURL(ctx, rel, file)
	if err != nil {
		return nil, err
	}
	ref := rel.Version
	d, err := s.Client.DeploymentsCreate(ctx, s.App, &scalingo.DeploymentsCreateParams{GitRef: &ref, SourceURL: url})
	if err != nil {
		return nil, err
	}
	logging.Info(ctx, "Scalingo deployment created", "app", s.App, "deployment", d.ID, "git_ref", ref)
	return s.Client.WaitDeployment(ctx, s.App, d.ID, s.interval(), func(d *scalingo.Deployment) {
		logging.Info(ctx, "Scalingo deployment status", "app", s.App, "deployment", d.ID, "status", string(d.Status))
	})
}

// Activate implements Target. The variables are set first; when the deployment
// fails, Scalingo keeps the previous containers and the variables are put back:
// the error carries the end of the deployment output.
func (s *Scalingo) Activate(ctx context.Context, p *Prepared) error {
	saved, err := s.setVariables(ctx)
	if err != nil {
		return err
	}
	if err := s.activate(ctx, p); err != nil {
		if rerr := s.putBack(context.WithoutCancel(ctx), saved); rerr != nil {
			return fmt.Errorf("%w; putting the variables back failed as well: %v", err, rerr)
		}
		if saved != nil {
			return fmt.Errorf("%w (the variables %s were put back as they were)", err, strings.Join(saved.names(), ", "))
		}
		return err
	}
	s.mu.Lock()
	s.saved = saved
	s.mu.Unlock()
	return nil
}

// activate deploys the prepared release and waits for its end.
func (s *Scalingo) activate(ctx context.Context, p *Prepared) error {
	s.mu.Lock()
	file := s.files[p]
	s.mu.Unlock()
	d, err := s.deploy(ctx, p.Release, file)
	if d != nil {
		p.Release.ID = d.ID
	}
	if err != nil {
		return err
	}
	p.Release.ActivatedAt = time.Now().UTC()
	_ = s.Discard(ctx, p)
	return nil
}

// Restore implements Target by putting the variables back as they were before
// the last Activate, then deploying the previous version's artifact again.
// A Scalingo app cannot serve nothing: with no previous release the failed one
// stays live and Restore says so.
func (s *Scalingo) Restore(ctx context.Context, previous *Release, open Opener) error {
	if previous == nil {
		return fmt.Errorf("nothing was live on %s before, and a Scalingo app cannot be left without a release: scale it down (scalingo --app %s scale web:0) if it must stop serving", s.App, s.App)
	}
	if previous.Name == "" || previous.SHA256 == "" {
		return fmt.Errorf("the previous release %q of %s is not an artifact of the store (deployed by hand?), so it cannot be deployed again from verified bytes", previous.Version, s.App)
	}
	s.mu.Lock()
	saved := s.saved
	s.saved = nil
	s.mu.Unlock()
	if err := s.putBack(ctx, saved); err != nil {
		return fmt.Errorf("putting the variables of %s back: %w", s.App, err)
	}
	rc, err := open(ctx, Spec{Name: previous.Name, Version: previous.Version, SHA256: previous.SHA256, GitCommit: previous.GitCommit})
	if err != nil {
		return fmt.Errorf("open %s@%s: %w", previous.Name, previous.Version, err)
	}
	p, err := s.Prepare(ctx, Spec{Name: previous.Name, Version: previous.Version, SHA256: previous.SHA256, GitCommit: previous.GitCommit}, rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("read %s@%s: %w", previous.Name, previous.Version, err)
	}
	defer func() { _ = s.Discard(context.WithoutCancel(ctx), p) }()
	logging.Info(ctx, "redeploying the previous release", "app", s.App, logging.Version, previous.Version)
	return s.activate(ctx, p)
}

// RunOneOff runs command in a one-off container of the app, attached, and
// waits for its exit (OneOffTimeout, default 10 minutes). A non-zero exit is
// an error holding the command's last output lines.
func (s *Scalingo) RunOneOff(ctx context.Context, command string) error {
	timeout := s.OneOffTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	logging.Info(ctx, "running a one-off command", "app", s.App, "command", command)
	_, err := s.Client.RunAttached(ctx, scalingo.RunOpts{App: s.App, Command: []string{command}, Size: s.OneOffSize}, nil, s.interval())
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("the one-off command `%s` on %s did not finish within %s (one_off_timeout): %w", command, s.App, timeout, err)
	}
	if err == nil {
		logging.Info(ctx, "one-off command done", "app", s.App, "command", command)
	}
	return err
}

func (s *Scalingo) interval() time.Duration {
	if s.PollInterval <= 0 {
		return 3 * time.Second
	}
	return s.PollInterval
}

// MarkFailed implements Target: Scalingo keeps the deployment history itself.
func (s *Scalingo) MarkFailed(context.Context, Release, string) error { return nil }

// MarkUnverified implements Target, and records nothing: a Scalingo deployment
// has no file beside it to carry the mark, and the only writable places of an
// app, its environment variables, belong to the application (and are checked
// with each release), so writing a mark there would change what the app runs
// with. Current therefore reports the last successful Scalingo deployment as
// sound even when the smoke test that followed it was interrupted; callers that
// must know keep their own record of a deployment that did not finish (the
// history of the backend: a deployment with no deployed or rolled_back event).
func (s *Scalingo) MarkUnverified(context.Context, Release, *Release) error { return nil }

// MarkVerified implements Target (see MarkUnverified).
func (s *Scalingo) MarkVerified(context.Context, Release) error { return nil }

// Prune implements Target: there is nothing to prune on Scalingo.
func (s *Scalingo) Prune(context.Context, int, ...string) ([]string, error) { return nil, nil }

// Remove implements Target: the app and its deployments are left as they are
// (deleting an app is out of scope).
func (s *Scalingo) Remove(context.Context) error { return nil }

// CheckSourceURL refuses an artifact URL Scalingo's build machines cannot
// download (see scalingo.CheckSourceURL).
func (s *Scalingo) CheckSourceURL(ctx context.Context, uri string) error {
	return scalingo.CheckSourceURL(ctx, uri)
}
