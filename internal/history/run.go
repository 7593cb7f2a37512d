package history

import (
	"strings"
)

// Run is the CI run a Terraform run happens in, from the environment variables
// its CI system documents: who started it, which pipeline, which run.
type Run struct {
	// System is "GitHub Actions", "GitLab CI", "Jenkins" or "HCP Terraform".
	System string
	// User started the run (empty when the system does not say).
	User string
	// Pipeline names the workflow, project or job that runs.
	Pipeline string
	// ID is the run's id in System; URL is where to see it (empty when unknown).
	ID, URL string
}

// Detected tells whether a CI system was recognised.
func (r Run) Detected() bool { return r.System != "" }

// Actor names who made the change in the history when the provider's actor is
// not set: "octocat via GitHub Actions (acme/app: deploy)", or "HCP Terraform
// (acme-corp/production)" when the system does not say who started the run.
func (r Run) Actor() string {
	if !r.Detected() {
		return ""
	}
	s := r.System
	if r.User != "" {
		s = r.User + " via " + s
	}
	if r.Pipeline != "" {
		s += " (" + r.Pipeline + ")"
	}
	return s
}

// Ref is what history events record of the run: its URL, else the system and
// run id ("Jenkins run 42").
func (r Run) Ref() string {
	switch {
	case r.URL != "":
		return r.URL
	case r.ID != "":
		return r.System + " run " + r.ID
	}
	return ""
}

// DetectRun recognises the CI system from its documented environment
// variables, read through getenv (os.Getenv, or a map in tests). The zero Run
// means none was recognised.
func DetectRun(getenv func(string) string) Run {
	v := func(k string) string { return strings.TrimSpace(getenv(k)) }
	switch {
	case v("GITHUB_ACTIONS") == "true":
		r := Run{System: "GitHub Actions", User: firstSet(v("GITHUB_TRIGGERING_ACTOR"), v("GITHUB_ACTOR")), ID: v("GITHUB_RUN_ID")}
		r.Pipeline = joinSet(": ", v("GITHUB_REPOSITORY"), v("GITHUB_WORKFLOW"))
		if server, repo := v("GITHUB_SERVER_URL"), v("GITHUB_REPOSITORY"); server != "" && repo != "" && r.ID != "" {
			r.URL = strings.TrimSuffix(server, "/") + "/" + repo + "/actions/runs/" + r.ID
			if a := v("GITHUB_RUN_ATTEMPT"); a != "" && a != "1" {
				r.URL += "/attempts/" + a
			}
		}
		return r
	case v("GITLAB_CI") == "true":
		return Run{System: "GitLab CI", User: v("GITLAB_USER_LOGIN"),
			Pipeline: joinSet(": ", v("CI_PROJECT_PATH"), "pipeline "+v("CI_PIPELINE_ID"), v("CI_JOB_NAME")),
			ID:       v("CI_JOB_ID"), URL: firstSet(v("CI_JOB_URL"), v("CI_PIPELINE_URL"))}
	case v("TFC_RUN_ID") != "":
		// HCP Terraform names the run and its workspace, not who queued it, nor
		// its host (app.terraform.io or a Terraform Enterprise instance).
		return Run{System: "HCP Terraform", ID: v("TFC_RUN_ID"), Pipeline: firstSet(v("TFC_WORKSPACE_SLUG"), v("TFC_WORKSPACE_NAME"))}
	case v("JENKINS_URL") != "" && v("BUILD_NUMBER") != "":
		return Run{System: "Jenkins", User: v("BUILD_USER_ID"), Pipeline: v("JOB_NAME"),
			ID: firstSet(v("BUILD_TAG"), v("BUILD_NUMBER")), URL: v("BUILD_URL")}
	}
	return Run{}
}

func firstSet(values ...string) string {
	for _, s := range values {
		if s != "" {
			return s
		}
	}
	return ""
}

// joinSet joins the values that are set; a value ending in a space (a label
// whose value is missing) counts as unset.
func joinSet(sep string, values ...string) string {
	var set []string
	for _, s := range values {
		if s != "" && !strings.HasSuffix(s, " ") {
			set = append(set, s)
		}
	}
	return strings.Join(set, sep)
}
