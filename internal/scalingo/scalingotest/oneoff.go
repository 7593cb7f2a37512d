package scalingotest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// OneOff scripts what a one-off command does in the fake.
type OneOff struct {
	// Output is written to the attached stream, line by line.
	Output string
	// ExitCode is what GET <attach_url>/wait gives once the output is written.
	ExitCode int
	// Hang: after its output, the command sends nothing more; the fake stops it
	// after Options.OneOffInactivity and /wait answers 408, as Scalingo does.
	Hang bool
}

// OneOffInfo describes a one-off container for assertions.
type OneOffInfo struct {
	Command  string
	Env      map[string]string
	Size     string
	Detached bool
	// LiveVersion is the git_ref the app ran when the one-off started.
	LiveVersion string
	// Attached: a client connected to its attach URL.
	Attached bool
	// Finished, ExitCode and TimedOut tell how it ended.
	Finished bool
	ExitCode int
	TimedOut bool
}

type oneOff struct {
	id, label string
	app       *app
	info      OneOffInfo
	script    OneOff
	done      chan struct{}
}

// SetOneOff scripts the one-off command (exactly as sent) on app. A command
// not scripted prints "command not found" and exits with 127.
func (s *Server) SetOneOff(appName, command string, o OneOff) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustApp(appName).scripts[command] = o
}

// OneOffs returns the one-off containers started on app, oldest first.
func (s *Server) OneOffs(appName string) []OneOffInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustApp(appName)
	out := make([]OneOffInfo, 0, len(a.oneOffs))
	for _, o := range a.oneOffs {
		i := o.info
		i.Env = copyMap(i.Env)
		out = append(out, i)
	}
	return out
}

var oneOffSizes = map[string]bool{"S": true, "M": true, "L": true, "XL": true, "2XL": true}

// run is POST /v1/apps/:app/run: a one-off container starts through a
// start-one-off operation; attached ones wait for a client on their attach URL.
func (s *Server) run(w http.ResponseWriter, r *http.Request, a *app) {
	var body struct {
		Command  string            `json:"command"`
		Env      map[string]string `json:"env"`
		Size     string            `json:"size"`
		Detached bool              `json:"detached"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body"})
		return
	}
	if strings.TrimSpace(body.Command) == "" {
		unprocessable(w, "command", "can't be blank")
		return
	}
	if body.Size != "" && !oneOffSizes[body.Size] {
		unprocessable(w, "size", "is not a container size ("+body.Size+")")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.appStatus(a); st != "running" && st != "restarting" {
		unprocessable(w, "app", "is not running (status "+st+")")
		return
	}
	script, ok := a.scripts[body.Command]
	if !ok {
		script = OneOff{Output: "bash: " + strings.Fields(body.Command)[0] + ": command not found\n", ExitCode: 127}
	}
	env := variablesMap(a.variables)
	for k, v := range body.Env {
		env[k] = v
	}
	o := &oneOff{id: s.id("one-off"), app: a, script: script, done: make(chan struct{}),
		info: OneOffInfo{Command: body.Command, Env: env, Size: orDefault(body.Size, "M"), Detached: body.Detached, LiveVersion: s.liveVersion(a)}}
	o.label = "one-off-" + o.id[len(o.id)-4:]
	a.oneOffs = append(a.oneOffs, o)
	s.sessions[o.id] = o
	op := &operation{id: s.id("op"), typ: "start-one-off", createdAt: time.Now(), oneOff: o}
	a.operations[op.id] = op
	res := map[string]any{
		"container":     map[string]any{"id": o.id, "label": o.label, "type": "one-off", "size": map[string]string{"name": o.info.Size}},
		"operation_url": s.URL + "/v1/apps/" + a.name + "/operations/" + op.id,
	}
	if !body.Detached {
		res["attach_url"] = s.RunURL + "/sessions/" + o.id
	}
	writeJSON(w, http.StatusOK, res)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// runRoutes is the run service: CONNECT /sessions/:id streams the output of an
// attached one-off, GET /sessions/:id/wait gives its exit code.
func (s *Server) runRoutes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, wait := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/sessions/"), "/wait")
		s.mu.Lock()
		o, ok := s.sessions[id]
		s.mu.Unlock()
		_, tok, basic := r.BasicAuth()
		scope, valid := s.verify(tok)
		switch {
		case !basic || !valid || scope != "user":
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid credentials"})
		case !ok || !strings.HasPrefix(r.URL.Path, "/sessions/"):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown session"})
		case wait && r.Method == http.MethodGet:
			s.oneOffWait(w, r, o)
		case !wait && r.Method == http.MethodConnect:
			s.oneOffAttach(w, o)
		default:
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use CONNECT to attach, GET .../wait for the exit code"})
		}
	})
}

// oneOffAttach runs the scripted command on the hijacked connection.
func (s *Server) oneOffAttach(w http.ResponseWriter, o *oneOff) {
	s.mu.Lock()
	already := o.info.Attached
	o.info.Attached = true
	s.mu.Unlock()
	if already {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "a client is already attached"})
		return
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\n\r\n")
	_ = buf.Flush()
	for _, line := range strings.SplitAfter(o.script.Output, "\n") {
		if line == "" {
			continue
		}
		_, _ = buf.WriteString(line)
		_ = buf.Flush()
		time.Sleep(time.Millisecond)
	}
	timedOut := false
	if o.script.Hang {
		select {
		case <-time.After(s.opts.OneOffInactivity):
			timedOut = true
		case <-s.quit:
		}
	}
	s.mu.Lock()
	o.info.Finished, o.info.TimedOut = true, timedOut
	if !timedOut {
		o.info.ExitCode = o.script.ExitCode
	}
	s.mu.Unlock()
	close(o.done)
}

// oneOffWait answers the exit code once the one-off ended, 408 when it was
// stopped for inactivity.
func (s *Server) oneOffWait(w http.ResponseWriter, r *http.Request, o *oneOff) {
	select {
	case <-o.done:
	case <-r.Context().Done():
		return
	case <-s.quit:
		return
	}
	s.mu.Lock()
	timedOut, code := o.info.TimedOut, o.info.ExitCode
	s.mu.Unlock()
	if timedOut {
		writeJSON(w, http.StatusRequestTimeout, map[string]string{"error": "timeout"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"exit_code": code})
}
