package scalingo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// App is the part of an application the client uses.
type App struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// Source is a temporary upload/download location for a tarball.
type Source struct {
	UploadURL   string `json:"upload_url"`
	DownloadURL string `json:"download_url"`
}

// DeploymentStatus is the state of a deployment.
type DeploymentStatus string

// Deployment statuses. Queued, building, pushing and starting are transient; every
// other status is final and only success means the new code runs.
const (
	StatusQueued       DeploymentStatus = "queued"
	StatusBuilding     DeploymentStatus = "building"
	StatusPushing      DeploymentStatus = "pushing"
	StatusStarting     DeploymentStatus = "starting"
	StatusSuccess      DeploymentStatus = "success"
	StatusAborted      DeploymentStatus = "aborted"
	StatusBuildError   DeploymentStatus = "build-error"
	StatusCrashedError DeploymentStatus = "crashed-error"
	StatusTimeoutError DeploymentStatus = "timeout-error"
	StatusHookError    DeploymentStatus = "hook-error"
)

// IsFinishedString reports whether status is final.
func IsFinishedString(status DeploymentStatus) bool {
	switch status {
	case StatusQueued, StatusBuilding, StatusPushing, StatusStarting:
		return false
	}
	return true
}

// Deployment is one deployment of an app.
type Deployment struct {
	ID        string           `json:"id"`
	AppID     string           `json:"app_id"`
	CreatedAt *time.Time       `json:"created_at"`
	Status    DeploymentStatus `json:"status"`
	GitRef    string           `json:"git_ref"`
	Duration  int              `json:"duration"`
	Links     *DeploymentLinks `json:"links"`
}

// DeploymentLinks points at a deployment's output.
type DeploymentLinks struct {
	Output string `json:"output"`
}

// IsFinished reports whether the deployment reached a final status.
func (d *Deployment) IsFinished() bool { return IsFinishedString(d.Status) }

// HasFailed reports whether the deployment finished in any status but success.
func (d *Deployment) HasFailed() bool { return d.IsFinished() && d.Status != StatusSuccess }

// DeploymentsCreateParams starts a deployment from a tarball URL.
type DeploymentsCreateParams struct {
	GitRef    *string `json:"git_ref,omitempty"`
	SourceURL string  `json:"source_url"`
}

// PaginationOpts selects a page of a list.
type PaginationOpts struct {
	Page    int
	PerPage int
}

// PaginationMeta describes the page returned.
type PaginationMeta struct {
	PrevPage    int `json:"prev_page"`
	CurrentPage int `json:"current_page"`
	NextPage    int `json:"next_page"`
	TotalPages  int `json:"total_pages"`
	TotalCount  int `json:"total_count"`
}

// Variable is an environment variable of an app.
type Variable struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Variables is a list of variables.
type Variables []*Variable

// Get returns the variable named name, or nil.
func (vs Variables) Get(name string) *Variable {
	for _, v := range vs {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Operation is an asynchronous action on an app (restart, scale).
type Operation struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at"`
	Status     string    `json:"status"` // pending, running, done, error
	Type       string    `json:"type"`
	Error      string    `json:"error"`
	// StartOneOffData is set on a done start-one-off operation.
	StartOneOffData OperationStartOneOffData `json:"start_one_off_data"`
}

// OperationStartOneOffData says where to attach to a one-off container.
type OperationStartOneOffData struct {
	AttachURL   string `json:"attach_url"`
	ContainerID string `json:"container_id"`
}

// Operation types the client follows.
const (
	OperationTypeRestart     = "restart"
	OperationTypeStartOneOff = "start-one-off"
)

// Operation statuses.
const (
	OperationStatusPending = "pending"
	OperationStatusRunning = "running"
	OperationStatusDone    = "done"
	OperationStatusError   = "error"
)

// AppsRestartParams restricts a restart to some container types; nil restarts all.
type AppsRestartParams struct {
	Scope []string `json:"scope,omitempty"`
}

// AddonProvider names the kind of an addon ("postgresql", "mysql", "redis", ...).
type AddonProvider struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Addon is an addon attached to an app.
type Addon struct {
	ID            string         `json:"id"`
	AppID         string         `json:"app_id"`
	ResourceID    string         `json:"resource_id"`
	Status        string         `json:"status"`
	AddonProvider *AddonProvider `json:"addon_provider"`
}

// BackupStatus is the state of a database backup.
type BackupStatus string

// Backup statuses; pending, scheduled and running are transient.
const (
	BackupStatusScheduled BackupStatus = "scheduled"
	BackupStatusPending   BackupStatus = "pending"
	BackupStatusRunning   BackupStatus = "running"
	BackupStatusDone      BackupStatus = "done"
	BackupStatusError     BackupStatus = "error"
)

// Backup is a database backup.
type Backup struct {
	ID         string       `json:"id"`
	CreatedAt  time.Time    `json:"created_at"`
	StartedAt  time.Time    `json:"started_at"`
	Name       string       `json:"name"`
	Size       uint64       `json:"size"`
	Status     BackupStatus `json:"status"`
	DatabaseID string       `json:"database_id"`
	Method     string       `json:"method"`
}

func appPath(app string, parts ...string) string {
	p := "/v1/apps/" + url.PathEscape(app)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// AppsShow returns an app; a missing app is a *NotFoundError.
func (c *Client) AppsShow(ctx context.Context, app string) (*App, error) {
	return doObject[App](ctx, c, apiRequest{method: http.MethodGet, base: c.apiURL, path: appPath(app)}, "app", "an app", nil)
}

// SourcesCreate asks for a pre-signed upload URL and the matching download URL
// (201). The upload URL is valid 10 minutes: create the source just before the
// upload.
func (c *Client) SourcesCreate(ctx context.Context) (*Source, error) {
	return doObject(ctx, c, apiRequest{method: http.MethodPost, base: c.apiURL, path: "/v1/sources",
		expected: []int{http.StatusOK, http.StatusCreated}}, "source", "upload_url/download_url",
		func(s *Source) bool { return s.UploadURL != "" && s.DownloadURL != "" })
}

// SourcesUpload PUTs a gzip tarball to a pre-signed upload URL. body is read again
// from its start on retries.
func (c *Client) SourcesUpload(ctx context.Context, uploadURL string, body io.ReadSeeker, size int64) error {
	u, err := url.Parse(uploadURL)
	if err != nil {
		return errors.New("invalid source upload URL")
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPut, uploadURL, body)
	if err != nil {
		return errors.New("invalid source upload request")
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/x-gzip")
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(http.MethodPut, u.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return newRequestFailedError(resp, http.MethodPut, u.Path)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return nil
}

// SourcesUploadArchive creates a source, uploads body to it and returns the
// download URL to give DeploymentsCreate.
func (c *Client) SourcesUploadArchive(ctx context.Context, body io.ReadSeeker, size int64) (string, error) {
	src, err := c.SourcesCreate(ctx)
	if err != nil {
		return "", err
	}
	if err := c.SourcesUpload(ctx, src.UploadURL, body, size); err != nil {
		return "", err
	}
	return src.DownloadURL, nil
}

// DeploymentsCreate starts a deployment of the tarball at params.SourceURL, which
// Scalingo's build machines download (not the machine running the client). A
// git_ref that cannot be an image tag is refused before any request
// (ValidGitRef).
func (c *Client) DeploymentsCreate(ctx context.Context, app string, params *DeploymentsCreateParams) (*Deployment, error) {
	if params.GitRef != nil {
		if err := ValidGitRef(*params.GitRef); err != nil {
			return nil, err
		}
	}
	return doObject(ctx, c, apiRequest{method: http.MethodPost, base: c.apiURL, path: appPath(app, "deployments"),
		// 201 (go-scalingo), though the reference page says 200: both are accepted.
		body: map[string]any{"deployment": params}, expected: []int{http.StatusCreated, http.StatusOK}},
		"deployment", "a deployment", func(d *Deployment) bool { return d.ID != "" })
}

// Deployment returns one deployment.
func (c *Client) Deployment(ctx context.Context, app, id string) (*Deployment, error) {
	return doObject[Deployment](ctx, c, apiRequest{method: http.MethodGet, base: c.apiURL, path: appPath(app, "deployments", id)}, "deployment", "a deployment", nil)
}

// DeploymentList returns the first page of an app's deployments, newest first.
func (c *Client) DeploymentList(ctx context.Context, app string) ([]*Deployment, error) {
	ds, _, err := c.DeploymentListWithPagination(ctx, app, PaginationOpts{})
	return ds, err
}

// DeploymentListWithPagination returns one page of an app's deployments, newest first.
func (c *Client) DeploymentListWithPagination(ctx context.Context, app string, opts PaginationOpts) ([]*Deployment, PaginationMeta, error) {
	q := url.Values{}
	if opts.Page > 0 {
		q.Set("page", strconv.Itoa(opts.Page))
	}
	if opts.PerPage > 0 {
		q.Set("per_page", strconv.Itoa(opts.PerPage))
	}
	var res struct {
		Deployments []*Deployment `json:"deployments"`
		Meta        struct {
			Pagination PaginationMeta `json:"pagination"`
		} `json:"meta"`
	}
	if _, err := c.do(ctx, apiRequest{method: http.MethodGet, base: c.apiURL, path: appPath(app, "deployments"), query: q}, &res); err != nil {
		return nil, PaginationMeta{}, err
	}
	return res.Deployments, res.Meta.Pagination, nil
}

// LastSuccessfulDeployment walks the deployments from the newest and returns the
// first one in status success, or nil when the app never deployed successfully.
// It looks at most maxPages pages of 50.
func (c *Client) LastSuccessfulDeployment(ctx context.Context, app string, maxPages int) (*Deployment, error) {
	if maxPages <= 0 {
		maxPages = 10
	}
	for page := 1; page <= maxPages; page++ {
		ds, meta, err := c.DeploymentListWithPagination(ctx, app, PaginationOpts{Page: page, PerPage: 50})
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.Status == StatusSuccess {
				return d, nil
			}
		}
		if meta.NextPage == 0 || meta.NextPage <= page || len(ds) == 0 {
			return nil, nil
		}
	}
	return nil, nil
}

// DeploymentLogs returns the build and start output of a deployment (at most 1 MiB,
// the end kept when longer).
func (c *Client) DeploymentLogs(ctx context.Context, app, id string) (string, error) {
	resp, err := c.send(ctx, apiRequest{method: http.MethodGet, base: c.apiURL, path: appPath(app, "deployments", id, "output")})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	const limit = 1 << 20
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", appPath(app, "deployments", id, "output"), err)
	}
	if len(b) > limit {
		b = b[len(b)-limit:]
	}
	return string(b), nil
}

// VariablesList returns the environment variables of an app.
func (c *Client) VariablesList(ctx context.Context, app string) (Variables, error) {
	var res struct {
		Variables Variables `json:"variables"`
	}
	if _, err := c.do(ctx, apiRequest{method: http.MethodGet, base: c.apiURL, path: appPath(app, "variables")}, &res); err != nil {
		return nil, err
	}
	return res.Variables, nil
}

// VariableMultipleSet creates or updates several variables at once (by name). It
// does not restart the app.
func (c *Client) VariableMultipleSet(ctx context.Context, app string, variables Variables) (Variables, error) {
	payload := make([]map[string]string, 0, len(variables))
	for _, v := range variables {
		payload = append(payload, map[string]string{"name": v.Name, "value": v.Value})
	}
	var res struct {
		Variables Variables `json:"variables"`
	}
	if _, err := c.do(ctx, apiRequest{method: http.MethodPut, base: c.apiURL, path: appPath(app, "variables"),
		body: map[string]any{"variables": payload}, expected: []int{http.StatusOK, http.StatusCreated}}, &res); err != nil {
		return nil, err
	}
	return res.Variables, nil
}

// VariableUnset deletes a variable by id.
func (c *Client) VariableUnset(ctx context.Context, app, id string) error {
	_, err := c.do(ctx, apiRequest{method: http.MethodDelete, base: c.apiURL, path: appPath(app, "variables", id),
		expected: []int{http.StatusNoContent, http.StatusOK}}, nil)
	return err
}

// AppsRestart restarts an app's containers and returns the id of the restart
// operation (from the Location header), to follow with OperationsShow.
func (c *Client) AppsRestart(ctx context.Context, app string, params *AppsRestartParams) (string, error) {
	if params == nil {
		params = &AppsRestartParams{}
	}
	resp, err := c.do(ctx, apiRequest{method: http.MethodPost, base: c.apiURL, path: appPath(app, "restart"),
		body: params, expected: []int{http.StatusAccepted}}, nil)
	if err != nil {
		return "", err
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("POST %s: answer without a Location header", appPath(app, "restart"))
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("POST %s: invalid Location header", appPath(app, "restart"))
	}
	id := path.Base(u.Path)
	if id == "" || id == "." || id == "/" || !strings.Contains(u.Path, "/operations/") {
		return "", fmt.Errorf("POST %s: Location %q does not name an operation", appPath(app, "restart"), u.Path)
	}
	return id, nil
}

// OperationsShow returns an operation of an app.
func (c *Client) OperationsShow(ctx context.Context, app, id string) (*Operation, error) {
	return doObject[Operation](ctx, c, apiRequest{method: http.MethodGet, base: c.apiURL, path: appPath(app, "operations", id)}, "operation", "an operation", nil)
}

// AddonsList returns the addons of an app.
func (c *Client) AddonsList(ctx context.Context, app string) ([]*Addon, error) {
	var res struct {
		Addons []*Addon `json:"addons"`
	}
	if _, err := c.do(ctx, apiRequest{method: http.MethodGet, base: c.apiURL, path: appPath(app, "addons")}, &res); err != nil {
		return nil, err
	}
	return res.Addons, nil
}

// FindAddon returns the addon whose id, resource id or provider id (e.g.
// "postgresql") is ref. A provider matching several addons is an error.
func (c *Client) FindAddon(ctx context.Context, app, ref string) (*Addon, error) {
	addons, err := c.AddonsList(ctx, app)
	if err != nil {
		return nil, err
	}
	var byProvider []*Addon
	for _, a := range addons {
		if a.ID == ref || (a.ResourceID != "" && a.ResourceID == ref) {
			return a, nil
		}
		if a.AddonProvider != nil && (strings.EqualFold(a.AddonProvider.ID, ref) || strings.EqualFold(a.AddonProvider.Name, ref)) {
			byProvider = append(byProvider, a)
		}
	}
	switch len(byProvider) {
	case 1:
		return byProvider[0], nil
	case 0:
		names := make([]string, 0, len(addons))
		for _, a := range addons {
			p := "?"
			if a.AddonProvider != nil {
				p = a.AddonProvider.ID
			}
			names = append(names, a.ID+" ("+p+")")
		}
		return nil, fmt.Errorf("app %s has no addon %q; its addons: %s", app, ref, orDefault(strings.Join(names, ", "), "none"))
	default:
		return nil, fmt.Errorf("app %s has %d %s addons: give the addon id instead", app, len(byProvider), ref)
	}
}

// AddonToken returns a bearer token for the database API of one addon.
func (c *Client) AddonToken(ctx context.Context, app, addonID string) (string, error) {
	type addonToken struct {
		Token string `json:"token"`
	}
	a, err := doObject(ctx, c, apiRequest{method: http.MethodPost, base: c.apiURL, path: appPath(app, "addons", addonID, "token"),
		expected: []int{http.StatusOK, http.StatusCreated}}, "addon", "a token", func(a *addonToken) bool { return a.Token != "" })
	if err != nil {
		return "", err
	}
	return a.Token, nil
}

func (c *Client) addonBearer(ctx context.Context, app, addonID string) (string, error) {
	key := app + "/" + addonID
	c.mu.Lock()
	ct, ok := c.addonTokens[key]
	c.mu.Unlock()
	if ok && c.now().Add(tokenRefreshMargin).Before(ct.exp) {
		return ct.token, nil
	}
	tok, err := c.AddonToken(ctx, app, addonID)
	if err != nil {
		return "", err
	}
	exp, ok := jwtExpiry(tok)
	if !ok {
		exp = c.now().Add(time.Hour)
	}
	c.mu.Lock()
	c.addonTokens[key] = cachedToken{token: tok, exp: exp}
	c.mu.Unlock()
	return tok, nil
}

func dbPath(addonID string, parts ...string) string {
	p := "/api/databases/" + url.PathEscape(addonID)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// BackupCreate starts a manual backup of an addon's database. The backup runs
// asynchronously: follow it with WaitBackup.
func (c *Client) BackupCreate(ctx context.Context, app, addonID string) (*Backup, error) {
	return doObject(ctx, c, apiRequest{method: http.MethodPost, base: c.dbAPIURL, path: dbPath(addonID, "backups"),
		auth: "addon:" + app + "/" + addonID, expected: []int{http.StatusCreated, http.StatusOK}},
		"database_backup", "a backup", func(b *Backup) bool { return b.ID != "" })
}

// BackupList returns the backups of an addon's database, newest first.
func (c *Client) BackupList(ctx context.Context, app, addonID string) ([]Backup, error) {
	var res struct {
		Backups []Backup `json:"database_backups"`
	}
	if _, err := c.do(ctx, apiRequest{method: http.MethodGet, base: c.dbAPIURL, path: dbPath(addonID, "backups"),
		auth: "addon:" + app + "/" + addonID}, &res); err != nil {
		return nil, err
	}
	return res.Backups, nil
}

// BackupShow returns one backup, found in the list (the documented endpoint).
func (c *Client) BackupShow(ctx context.Context, app, addonID, backupID string) (*Backup, error) {
	bs, err := c.BackupList(ctx, app, addonID)
	if err != nil {
		return nil, err
	}
	for i := range bs {
		if bs[i].ID == backupID {
			return &bs[i], nil
		}
	}
	return nil, &RequestFailedError{Code: http.StatusNotFound, Method: http.MethodGet, Endpoint: dbPath(addonID, "backups", backupID),
		APIError: &NotFoundError{Resource: "backup", Err: "not found"}}
}
