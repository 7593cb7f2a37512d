package scalingotest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"time"
)

// ---- variables, restarts, operations -----------------------------------------

var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (s *Server) variablesList(w http.ResponseWriter, _ *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"variables": append([]*variable{}, a.variables...)})
}

func (s *Server) upsertVariable(a *app, name, value string) *variable {
	for _, v := range a.variables {
		if v.Name == name {
			v.Value = value
			return v
		}
	}
	v := &variable{ID: s.id("var"), Name: name, Value: value}
	a.variables = append(a.variables, v)
	return v
}

func (s *Server) variablesSet(w http.ResponseWriter, r *http.Request, a *app) {
	var body struct {
		Variables []struct {
			Name  *string `json:"name"`
			Value *string `json:"value"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body"})
		return
	}
	if len(body.Variables) == 0 {
		unprocessable(w, "variables", "can't be blank")
		return
	}
	for _, v := range body.Variables {
		if v.Name == nil || *v.Name == "" {
			unprocessable(w, "name", "can't be blank")
			return
		}
		if !variableName.MatchString(*v.Name) {
			unprocessable(w, "name", "must only contain letters, digits and underscores, and not start with a digit")
			return
		}
		if v.Value == nil {
			unprocessable(w, "value", "can't be blank")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*variable{}
	for _, v := range body.Variables {
		out = append(out, s.upsertVariable(a, *v.Name, *v.Value))
	}
	writeJSON(w, http.StatusOK, map[string]any{"variables": out})
}

func (s *Server) variableUnset(w http.ResponseWriter, r *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	for i, v := range a.variables {
		if v.ID == id {
			a.variables = append(a.variables[:i], a.variables[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"resource": "variable", "error": "not found"})
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request, a *app) {
	var body struct {
		Scope []string `json:"scope"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body"})
			return
		}
	}
	for _, sc := range body.Scope {
		if sc != "web" && sc != "worker" && sc != "clock" {
			unprocessable(w, "scope", "container type "+sc+" does not exist")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st := s.appStatus(a); st {
	case "running":
	case "restarting":
		unprocessable(w, "app", "is restarting")
		return
	default:
		unprocessable(w, "app", "is not running (status "+st+")")
		return
	}
	op := &operation{id: s.id("op"), typ: "restart", createdAt: time.Now(), fail: a.failRestart, env: variablesMap(a.variables)}
	a.failRestart = ""
	a.operations[op.id] = op
	a.restarts++
	w.Header().Set("Location", s.URL+"/v1/apps/"+a.name+"/operations/"+op.id)
	writeJSON(w, http.StatusAccepted, map[string]any{})
}

func (s *Server) operationShow(w http.ResponseWriter, r *http.Request, a *app) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := a.operations[r.PathValue("id")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"resource": "operation", "error": "not found"})
		return
	}
	s.settle(a)
	st := s.operationStatus(op)
	res := map[string]any{"id": op.id, "app_id": a.id, "created_at": op.createdAt.Format(time.RFC3339Nano), "status": st, "type": op.typ}
	if o := op.oneOff; o != nil && st == "done" {
		res["start_one_off_data"] = map[string]string{"attach_url": s.RunURL + "/sessions/" + o.id, "container_id": o.id}
	}
	if st == "done" || st == "error" {
		res["finished_at"] = op.createdAt.Add(2 * s.opts.StepDuration).Format(time.RFC3339Nano)
	}
	if st == "error" {
		res["error"] = op.fail
	}
	writeJSON(w, http.StatusOK, map[string]any{"operation": res})
}
