package scalingotest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ---- apps, sources, deployments ----------------------------------------------

func (s *Server) appJSON(a *app) map[string]any {
	return map[string]any{"id": a.id, "name": a.name, "created_at": a.createdAt.Format(time.RFC3339),
		"url": "https://" + a.name + ".osc-fr1.scalingo.io", "status": s.appStatus(a)}
}

func (s *Server) appShow(w http.ResponseWriter, _ *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"app": s.appJSON(a)})
}

func (s *Server) sourcesCreate(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	src := &source{id: s.id("src"), uploadToken: randomHex(16), downloadToken: randomHex(16), createdAt: time.Now()}
	s.sources[src.id] = src
	s.mu.Unlock()
	base := s.StorageURL + "/sources/" + src.id
	writeJSON(w, http.StatusCreated, map[string]any{"source": map[string]string{
		"upload_url": base + "?token=" + src.uploadToken, "download_url": base + "?token=" + src.downloadToken}})
}

func (s *Server) sourceUpload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	src, ok := s.sources[r.PathValue("id")]
	s.mu.Unlock()
	if !ok || r.URL.Query().Get("token") != src.uploadToken {
		http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
		return
	}
	if time.Since(src.createdAt) > s.opts.SourceTTL {
		http.Error(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", http.StatusForbidden)
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxArchiveSize+1<<20))
	if err != nil {
		http.Error(w, "upload interrupted", http.StatusBadRequest)
		return
	}
	if r.ContentLength >= 0 && int64(len(data)) != r.ContentLength {
		http.Error(w, "body shorter than Content-Length", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	src.data, src.uploaded = data, true
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *Server) sourceDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	src, ok := s.sources[r.PathValue("id")]
	s.mu.Unlock()
	if !ok || r.URL.Query().Get("token") != src.downloadToken || !src.uploaded {
		http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/x-gzip")
	_, _ = w.Write(src.data)
}

// fetch downloads a deployment's source the way Scalingo's build machines do
// (from the source URL itself, never from the client), then checks the archive.
func (s *Server) fetch(sourceURL string) ([]byte, map[string]string, string) {
	if !strings.HasPrefix(sourceURL, "http://") && !strings.HasPrefix(sourceURL, "https://") {
		return nil, nil, "Fail to fetch source code: unsupported URL scheme"
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(sourceURL)
	if err != nil {
		return nil, nil, "Fail to fetch source code: the URL cannot be reached from Scalingo's build machines"
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, "Fail to fetch source code: " + resp.Status
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, s.opts.MaxArchiveSize+1))
	if int64(len(data)) > s.opts.MaxArchiveSize {
		return nil, nil, fmt.Sprintf("The archive is larger than %d bytes, the largest Scalingo accepts", s.opts.MaxArchiveSize)
	}
	files, problem := archiveFiles(data)
	return data, files, problem
}

// archiveFiles reads a tar.gz that must hold one top-level folder, and returns
// its regular files by path under that folder.
func archiveFiles(data []byte) (map[string]string, string) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, "Fail to extract the archive: gzip: invalid header"
	}
	tr := tar.NewReader(zr)
	tops := map[string]bool{}
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "Fail to extract the archive: " + err.Error()
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		if name == "" || name == "." {
			continue
		}
		top, rest, _ := strings.Cut(name, "/")
		if rest == "" && h.Typeflag != tar.TypeDir {
			tops[top+" (a file)"] = true
			continue
		}
		tops[top] = true
		if h.Typeflag == tar.TypeReg && rest != "" {
			b, _ := io.ReadAll(io.LimitReader(tr, 1<<20))
			files[rest] = string(b)
		}
	}
	if len(tops) != 1 {
		names := slices.Sorted(maps.Keys(tops))
		return nil, fmt.Sprintf("Invalid archive: it must hold a single top-level folder with the code, it holds %d top-level entries (%s)", len(tops), strings.Join(names, ", "))
	}
	for t := range tops {
		if strings.HasSuffix(t, " (a file)") {
			return nil, "Invalid archive: it must hold a single top-level folder with the code, it holds the file " + strings.TrimSuffix(t, " (a file)")
		}
	}
	return files, ""
}

// gitRefPattern is what an image tag accepts: git_ref becomes one.
var gitRefPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func (s *Server) deploymentsCreate(w http.ResponseWriter, r *http.Request, a *app) {
	var body struct {
		Deployment *struct {
			GitRef    *string `json:"git_ref"`
			SourceURL string  `json:"source_url"`
		} `json:"deployment"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body"})
		return
	}
	if body.Deployment == nil {
		unprocessable(w, "deployment", "is missing")
		return
	}
	if strings.TrimSpace(body.Deployment.SourceURL) == "" {
		unprocessable(w, "source_url", "can't be blank")
		return
	}
	if ref := body.Deployment.GitRef; ref != nil && !gitRefPattern.MatchString(*ref) {
		unprocessable(w, "git_ref", "is invalid: it is used as an image tag (letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128 characters)")
		return
	}
	data, files, fetchErr := s.fetch(body.Deployment.SourceURL)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &deployment{id: s.id("dep"), app: a, sourceURL: body.Deployment.SourceURL, source: data, files: files, fetchErr: fetchErr,
		createdAt: time.Now(), fail: a.failDeploy, env: variablesMap(a.variables)}
	if body.Deployment.GitRef != nil {
		d.gitRef = *body.Deployment.GitRef
	}
	a.stopped = false
	a.failDeploy = ""
	a.deployments = append(a.deployments, d)
	writeJSON(w, http.StatusCreated, map[string]any{"deployment": s.deploymentJSON(d)})
}

func (s *Server) deploymentJSON(d *deployment) map[string]any {
	st, _ := s.deploymentState(d)
	return map[string]any{
		"id": d.id, "app_id": d.app.id, "created_at": d.createdAt.Format(time.RFC3339Nano), "status": st,
		"git_ref": d.gitRef, "duration": int(time.Since(d.createdAt).Seconds()),
		"pusher": map[string]string{"username": "release", "email": "release@example.org"},
		"links":  map[string]string{"output": s.URL + "/v1/apps/" + d.app.name + "/deployments/" + d.id + "/output"},
	}
}

func (s *Server) findDeployment(w http.ResponseWriter, r *http.Request, a *app) *deployment {
	id := r.PathValue("id")
	for _, d := range a.deployments {
		if d.id == id {
			return d
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"resource": "deployment", "error": "not found"})
	return nil
}

func (s *Server) deploymentsList(w http.ResponseWriter, r *http.Request, a *app) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if page < 1 {
		page = 1
	}
	if perPage < 1 || perPage > 50 {
		perPage = 20
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]map[string]any, 0, len(a.deployments))
	for i := len(a.deployments) - 1; i >= 0; i-- {
		all = append(all, s.deploymentJSON(a.deployments[i]))
	}
	total := (len(all) + perPage - 1) / perPage
	from := min((page-1)*perPage, len(all))
	to := min(from+perPage, len(all))
	next := 0
	if page < total {
		next = page + 1
	}
	writeJSON(w, http.StatusOK, map[string]any{"deployments": all[from:to], "meta": map[string]any{"pagination": map[string]any{
		"prev_page": page - 1, "current_page": page, "next_page": next, "total_pages": total, "total_count": len(all)}}})
}

func (s *Server) deploymentShow(w http.ResponseWriter, r *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.findDeployment(w, r, a); d != nil {
		writeJSON(w, http.StatusOK, map[string]any{"deployment": s.deploymentJSON(d)})
	}
}

func (s *Server) deploymentOutput(w http.ResponseWriter, r *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.findDeployment(w, r, a); d != nil {
		_, out := s.deploymentState(d)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, out)
	}
}
