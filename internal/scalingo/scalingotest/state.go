package scalingotest

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// ---- state machines ----------------------------------------------------------

// deploymentState returns the status reached by now and the output so far.
func (s *Server) deploymentState(d *deployment) (string, string) {
	step := int(time.Since(d.createdAt) / s.opts.StepDuration)
	var out strings.Builder
	fmt.Fprintf(&out, "-----> Deployment %s of %s (git_ref %s)\n", d.id, d.app.name, d.gitRef)
	if d.byHand {
		out.WriteString("-----> Pushed by hand\n")
		step = 4
	}
	fail := d.fail
	if d.fetchErr != "" {
		fail = "build-error"
	}
	if step < 1 {
		return "queued", out.String()
	}
	if fail == "aborted" {
		out.WriteString(" !     Deployment aborted by a user\n")
		return "aborted", out.String()
	}
	out.WriteString("-----> Fetching source code\n")
	if d.fetchErr != "" {
		fmt.Fprintf(&out, " !     %s\n", d.fetchErr)
		if step < 2 {
			return "building", out.String()
		}
		out.WriteString(" !     Build failed\n")
		return "build-error", out.String()
	}
	fmt.Fprintf(&out, "       %d bytes received, %d files\n-----> Building with the buildpack\n", len(d.source), len(d.files))
	if step < 2 {
		return "building", out.String()
	}
	if fail == "build-error" {
		out.WriteString(" !     ERROR: composer install failed (exit status 1)\n !     Build failed\n")
		return "build-error", out.String()
	}
	out.WriteString(" Build complete, shipping your container...\n")
	if step < 3 {
		return "pushing", out.String()
	}
	out.WriteString(" Waiting for your application to boot...\n")
	if fail == "hook-error" {
		out.WriteString(" !     postdeploy hook failed: php bin/console doctrine:migrations:migrate exited with 1\n")
	}
	if step < 4 {
		return "starting", out.String()
	}
	switch fail {
	case "":
		fmt.Fprintf(&out, " <-- https://%s.osc-fr1.scalingo.io -->\n", d.app.name)
		return "success", out.String()
	case "crashed-error":
		out.WriteString(" !     Your application crashed while booting: web-1 exited with status 255\n")
	case "timeout-error":
		out.WriteString(" !     Your application did not bind to $PORT within 60 seconds\n")
	}
	return fail, out.String()
}

func (s *Server) operationStatus(op *operation) string {
	return s.jobStatus(op.createdAt, op.fail != "")
}

func (s *Server) backupStatus(b *backup) string {
	return s.jobStatus(b.createdAt, b.fail)
}

// jobStatus is the status of an operation or a backup created at createdAt:
// pending for a step, running for the next, then done, or error when failed.
func (s *Server) jobStatus(createdAt time.Time, failed bool) string {
	step := int(time.Since(createdAt) / s.opts.StepDuration)
	switch {
	case step < 1:
		return "pending"
	case step < 2:
		return "running"
	case failed:
		return "error"
	}
	return "done"
}

// appStatus is the app's status: stopped when scaled to zero, restarting while
// a restart operation runs, running once a deployment succeeded, deploying
// while its first deployment runs, new before.
func (s *Server) appStatus(a *app) string {
	if a.stopped {
		return "stopped"
	}
	for _, op := range a.operations {
		if st := s.operationStatus(op); op.typ == "restart" && st != "done" && st != "error" {
			return "restarting"
		}
	}
	status := "new"
	for _, d := range a.deployments {
		switch st, _ := s.deploymentState(d); st {
		case "success":
			return "running"
		case "queued", "building", "pushing", "starting":
			status = "deploying"
		}
	}
	return status
}

// settle applies the environment of finished restarts and successful deployments
// in the order they happened.
func (s *Server) settle(a *app) {
	type ev struct {
		at  time.Time
		env map[string]string
	}
	var evs []ev
	for _, op := range a.operations {
		if !op.applied && op.typ == "restart" && s.operationStatus(op) == "done" {
			op.applied = true
			evs = append(evs, ev{op.createdAt, op.env})
		}
	}
	for _, d := range a.deployments {
		if st, _ := s.deploymentState(d); !d.applied && st == "success" {
			d.applied = true
			evs = append(evs, ev{d.createdAt, d.env})
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	for _, e := range evs {
		a.runningEnv = e.env
	}
}
