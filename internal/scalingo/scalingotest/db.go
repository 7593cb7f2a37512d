package scalingotest

import (
	"net/http"
	"time"
)

// ---- addons and the database API ---------------------------------------------

func (s *Server) addonsList(w http.ResponseWriter, _ *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, id := range a.addons {
		ad := s.addons[id]
		out = append(out, map[string]any{"id": ad.id, "app_id": a.id, "resource_id": a.name + "-" + ad.provider,
			"status": "running", "addon_provider": map[string]string{"id": ad.provider, "name": ad.provider}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"addons": out})
}

func (s *Server) addonToken(w http.ResponseWriter, r *http.Request, a *app) {
	s.mu.Lock()
	ad, ok := s.addons[r.PathValue("id")]
	s.mu.Unlock()
	if !ok || ad.app != a {
		writeJSON(w, http.StatusNotFound, map[string]string{"resource": "addon", "error": "not found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"addon": map[string]string{"token": s.issue("addon:" + ad.id)}})
}

func (s *Server) backupJSON(ad *addon, b *backup) map[string]any {
	st := s.backupStatus(b)
	size := 0
	if st == "done" {
		size = 4096
	}
	return map[string]any{"id": b.id, "created_at": b.createdAt.Format(time.RFC3339Nano), "started_at": b.createdAt.Format(time.RFC3339Nano),
		"name": b.createdAt.UTC().Format("20060102150405") + "_" + ad.app.name, "size": size, "status": st,
		"database_id": ad.id, "method": "manual"}
}

// withDatabase finds the database {id} of the request and runs next with it,
// holding the server's lock.
func (s *Server) withDatabase(next func(w http.ResponseWriter, r *http.Request, ad *addon)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		ad, ok := s.addons[r.PathValue("id")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"resource": "database", "error": "not found"})
			return
		}
		next(w, r, ad)
	}
}

func (s *Server) backupCreate(w http.ResponseWriter, _ *http.Request, ad *addon) {
	b := &backup{id: s.id("bkp"), createdAt: time.Now(), fail: ad.failBackup}
	ad.failBackup = false
	ad.backups = append(ad.backups, b)
	writeJSON(w, http.StatusCreated, map[string]any{"database_backup": s.backupJSON(ad, b)})
}

func (s *Server) backupList(w http.ResponseWriter, _ *http.Request, ad *addon) {
	out := []map[string]any{}
	for i := len(ad.backups) - 1; i >= 0; i-- {
		out = append(out, s.backupJSON(ad, ad.backups[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"database_backups": out})
}
