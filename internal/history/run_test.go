package history_test

import (
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/history"
)

func TestDetectRun(t *testing.T) {
	cases := []struct {
		name           string
		env            map[string]string
		actor, ref     string
		system, runID  string
		pipelineWanted string
	}{
		{"GitHub Actions", map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat", "GITHUB_TRIGGERING_ACTOR": "hubot", "GITHUB_RUN_ID": "1658821493",
			"GITHUB_RUN_ATTEMPT": "2", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/histologe", "GITHUB_WORKFLOW": "deploy",
		}, "hubot via GitHub Actions (acme/histologe: deploy)", "https://github.com/acme/histologe/actions/runs/1658821493/attempts/2",
			"GitHub Actions", "1658821493", "acme/histologe: deploy"},
		{"GitHub Actions first attempt", map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat", "GITHUB_RUN_ID": "7", "GITHUB_RUN_ATTEMPT": "1",
			"GITHUB_SERVER_URL": "https://ghe.example.org/", "GITHUB_REPOSITORY": "acme/app",
		}, "octocat via GitHub Actions (acme/app)", "https://ghe.example.org/acme/app/actions/runs/7", "GitHub Actions", "7", "acme/app"},
		{"GitLab CI", map[string]string{
			"GITLAB_CI": "true", "CI": "true", "GITLAB_USER_LOGIN": "mgarcia", "CI_PROJECT_PATH": "acme/histologe", "CI_PIPELINE_ID": "1042",
			"CI_JOB_NAME": "deploy:production", "CI_JOB_ID": "88231", "CI_JOB_URL": "https://gitlab.example.org/acme/histologe/-/jobs/88231",
			"CI_PIPELINE_URL": "https://gitlab.example.org/acme/histologe/-/pipelines/1042",
		}, "mgarcia via GitLab CI (acme/histologe: pipeline 1042: deploy:production)", "https://gitlab.example.org/acme/histologe/-/jobs/88231",
			"GitLab CI", "88231", "acme/histologe: pipeline 1042: deploy:production"},
		{"Jenkins", map[string]string{
			"JENKINS_URL": "https://ci.example.org/", "BUILD_NUMBER": "57", "BUILD_TAG": "jenkins-histologe-deploy-57", "JOB_NAME": "histologe/deploy",
			"BUILD_URL": "https://ci.example.org/job/histologe/job/deploy/57/", "BUILD_USER_ID": "jdupont",
		}, "jdupont via Jenkins (histologe/deploy)", "https://ci.example.org/job/histologe/job/deploy/57/", "Jenkins", "jenkins-histologe-deploy-57", "histologe/deploy"},
		{"Jenkins without the build user plugin nor a URL", map[string]string{
			"JENKINS_URL": "https://ci.example.org/", "BUILD_NUMBER": "57", "JOB_NAME": "deploy",
		}, "Jenkins (deploy)", "Jenkins run 57", "Jenkins", "57", "deploy"},
		{"HCP Terraform", map[string]string{
			"TFC_RUN_ID": "run-CKuwsxMGgMd4W7Ui", "TFC_WORKSPACE_NAME": "prod-load-balancers", "TFC_WORKSPACE_SLUG": "acme-corp/prod-load-balancers",
		}, "HCP Terraform (acme-corp/prod-load-balancers)", "HCP Terraform run run-CKuwsxMGgMd4W7Ui", "HCP Terraform", "run-CKuwsxMGgMd4W7Ui", "acme-corp/prod-load-balancers"},
		{"no CI", map[string]string{"CI": "true", "HOME": "/root"}, "", "", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := history.DetectRun(func(k string) string { return c.env[k] })
			if r.System != c.system || r.ID != c.runID || r.Pipeline != c.pipelineWanted {
				t.Errorf("DetectRun = %+v, want system %q, id %q, pipeline %q", r, c.system, c.runID, c.pipelineWanted)
			}
			if got := r.Actor(); got != c.actor {
				t.Errorf("Actor() = %q, want %q", got, c.actor)
			}
			if got := r.Ref(); got != c.ref {
				t.Errorf("Ref() = %q, want %q", got, c.ref)
			}
			if r.Detected() != (c.system != "") {
				t.Errorf("Detected() = %v", r.Detected())
			}
		})
	}
}
