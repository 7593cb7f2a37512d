package provider

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
)

func TestAccEnvironmentDataSource(t *testing.T) {
	env := acctest.NewEnv(t)
	const addr = "data.release_environment.prod"
	config := env.ProviderBlock() + `
data "release_environment" "prod" {
  environment = "production"
}
`
	at := func(v string) knownvalue.Check { return knownvalue.StringExact(v) }
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      config + "\ndata \"release_environment\" \"bad\" {\n  environment = \"../etc\"\n}\n",
				ExpectError: errorRe(`Invalid environment name`),
			},
			{
				// Nothing deployed: empty strings, so they can feed other attributes.
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), at("")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("git_commit"), at("")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("deployed_at"), at("")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("healthy"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("lock_token"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("last_event"), knownvalue.Null()),
				},
			},
			{
				// 1.0.1 failed its smoke test and 1.0.0 was restored; the lock is still held.
				PreConfig: func() {
					b := env.Backend(t)
					ctx := context.Background()
					for _, ev := range []backend.Event{
						{Time: t0, Environment: "production", Kind: backend.KindDeployed, Name: "app", Version: "1.0.0", SHA256: "sha-100", GitCommit: "c100", Actor: "alice"},
						{Time: t0.Add(time.Hour), Environment: "production", Kind: backend.KindFailed, Name: "app", Version: "1.0.1", Actor: "bob", Detail: "smoke test answered 502"},
						{Time: t0.Add(time.Hour), Environment: "production", Kind: backend.KindRolledBack, Name: "app", Version: "1.0.0", SHA256: "sha-100", GitCommit: "c100", Actor: "bob", Detail: "restored app@1.0.0 after app@1.0.1 failed"},
					} {
						if err := b.Append(ctx, ev); err != nil {
							t.Fatal(err)
						}
					}
					if _, err := b.Acquire(ctx, backend.AcquireRequest{Environment: "production", Holder: "ci-job-4711"}); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("name"), at("app")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), at("1.0.0")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("artifact"), at("app@1.0.0")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("sha256"), at("sha-100")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("git_commit"), at("c100")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("deployed_at"), at("2026-03-01T11:00:00Z")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("deployed_by"), at("bob")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("healthy"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("lock_holder"), at("ci-job-4711")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("lock_token"), knownvalue.Int64Exact(1)),
					// The lock is the newest event; it does not change what runs.
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("last_event").AtMapKey("kind"), at("lock_acquired")),
				},
			},
		},
	})
}
