package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

func TestAccHistoryDataSource(t *testing.T) {
	env := acctest.NewEnv(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	b := env.Backend(t)
	for i, ev := range []backend.Event{
		{Environment: "staging", Kind: backend.KindDeployed, Name: "app", Version: "1.0.0", SHA256: "s1", Actor: "alice", LockToken: 3},
		{Kind: backend.KindPromoted, Name: "app", Version: "1.0.0-rc", Detail: "promoted from 1.0.0"},
		{Environment: "production", Kind: backend.KindDeployed, Name: "app", Version: "1.0.0-rc", GitCommit: "c1"},
		{Environment: "production", Kind: backend.KindDeployed, Name: "worker", Version: "2.0.0"},
	} {
		ev.Time = t0.Add(time.Duration(i) * time.Minute)
		if err := b.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	ev := func(version, kind string) knownvalue.Check {
		return knownvalue.ObjectPartial(map[string]knownvalue.Check{"version": knownvalue.StringExact(version), "kind": knownvalue.StringExact(kind)})
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      env.ProviderBlock() + "\ndata \"release_history\" \"bad\" {\n  kinds = [\"deploy\"]\n}\n",
				ExpectError: errorRe(`value must be one of`),
			},
			{
				Config:      env.ProviderBlock() + "\ndata \"release_history\" \"bad\" {\n  limit = -1\n}\n",
				ExpectError: errorRe(`at least 0`),
			},
			{
				Config: env.ProviderBlock() + `
data "release_history" "app" {
  name = "app"
}

data "release_history" "prod" {
  environment = "production"
  limit       = 1
}

data "release_history" "deploys" {
  name  = "app"
  kinds = ["deployed"]
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.release_history.app", tfjsonpath.New("events"), knownvalue.ListExact([]knownvalue.Check{
						ev("1.0.0-rc", "deployed"), ev("1.0.0-rc", "promoted"), ev("1.0.0", "deployed"),
					})),
					statecheck.ExpectKnownValue("data.release_history.app", tfjsonpath.New("events").AtSliceIndex(2), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"time":        knownvalue.StringExact("2026-03-01T10:00:00Z"),
						"environment": knownvalue.StringExact("staging"),
						"kind":        knownvalue.StringExact("deployed"),
						"name":        knownvalue.StringExact("app"),
						"version":     knownvalue.StringExact("1.0.0"),
						"sha256":      knownvalue.StringExact("s1"),
						"git_commit":  knownvalue.StringExact(""),
						"actor":       knownvalue.StringExact("alice"),
						"lock_token":  knownvalue.Int64Exact(3),
						"detail":      knownvalue.StringExact(""),
						"run":         knownvalue.StringExact(""),
					})),
					statecheck.ExpectKnownValue("data.release_history.prod", tfjsonpath.New("events"), knownvalue.ListExact([]knownvalue.Check{ev("2.0.0", "deployed")})),
					statecheck.ExpectKnownValue("data.release_history.deploys", tfjsonpath.New("events"), knownvalue.ListSizeExact(2)),
				},
			},
		},
	})
}

// TestAccHistoryDataSource_ciRun: in a GitHub Actions job, with no actor set,
// the history records the job's user and workflow as the actor, and the run's
// URL; release_history shows both.
func TestAccHistoryDataSource_ciRun(t *testing.T) {
	for k, v := range map[string]string{
		"RELEASE_ACTOR": "", "GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat", "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/histologe", "GITHUB_WORKFLOW": "release",
	} {
		t.Setenv(k, v)
	}
	env := acctest.NewEnv(t)
	cfg := env.ProviderBlock() + `
resource "release_version_block" "bad" {
  name    = "app"
  version = "1.0.0"
  reason  = "corrupts invoices"
}
`
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				Config: cfg + `
data "release_history" "all" {
  kinds = ["blocked"]
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.release_history.all", tfjsonpath.New("events").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"actor": knownvalue.StringExact("octocat via GitHub Actions (acme/histologe: release)"),
						"run":   knownvalue.StringExact("https://github.com/acme/histologe/actions/runs/4242"),
					})),
					statecheck.ExpectKnownValue("release_version_block.bad", tfjsonpath.New("blocked_by"), knownvalue.StringExact("octocat via GitHub Actions (acme/histologe: release)")),
				},
			},
		},
	})
}

// TestWebhookShowsTheRun: a webhook message of an event appended in a CI run
// names the run.
func TestWebhookShowsTheRun(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		got <- body.Text
	}))
	t.Cleanup(srv.Close)
	be := acctest.NewBackend(t)
	d := &providerData{Backend: be, Run: "https://gitlab.example.org/acme/app/-/jobs/88231", Webhooks: []webhookSettings{{URL: srv.URL}}}
	if diags := wireNotifications(d); diags.HasError() {
		t.Fatal(diags)
	}
	d.Backend = withRun(d.Backend, d.Run)
	if err := d.Backend.Append(context.Background(), backend.Event{Environment: "production", Kind: backend.KindDeployed, Name: "app", Version: "1.1.0", Actor: "mgarcia via GitLab CI"}); err != nil {
		t.Fatal(err)
	}
	select {
	case text := <-got:
		if !strings.Contains(text, "by mgarcia via GitLab CI") || !strings.Contains(text, "run https://gitlab.example.org/acme/app/-/jobs/88231") {
			t.Fatalf("webhook text %q does not name the actor and the run", text)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook message")
	}
	evs, _ := be.History(context.Background(), backend.HistoryQuery{})
	if len(evs) != 1 || evs[0].Run != d.Run {
		t.Fatalf("recorded %+v, want the run", evs)
	}
}
