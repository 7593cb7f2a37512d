package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
)

// TestExampleScalingo applies examples/scalingo as documented, against the fake
// Scalingo API given through SCALINGO_API_URL, SCALINGO_AUTH_URL, SCALINGO_DB_API_URL
// and SCALINGO_API_TOKEN: staging deploys the build, validation promotes the same
// bytes, production gets them with a database backup under maintenance, its
// release variables and its one-off command, then the maintenance ends.
func TestExampleScalingo(t *testing.T) {
	c := newExamplesCLI(t)
	fake := scalingotest.NewServer(t, scalingotest.Options{StepDuration: 5 * time.Millisecond})
	fake.CreateApp("histologe-staging")
	fake.CreateApp("histologe")
	db := fake.AddAddon("histologe", "postgresql")
	fake.SetVariable("histologe", "OWNED_ELSEWHERE", "keep")
	fake.SetOneOff("histologe", "php bin/console app:migrate-signalements", scalingotest.OneOff{Output: "[OK] 12 signalements migrated\n"})
	c.env = append(c.env,
		"SCALINGO_API_URL="+fake.URL, "SCALINGO_AUTH_URL="+fake.AuthURL, "SCALINGO_DB_API_URL="+fake.DatabaseAPIURL,
		"SCALINGO_API_TOKEN="+fake.APIToken)

	dir := filepath.Join(c.tree, "examples", "scalingo")
	data := archivetest.TarGz(t, map[string]string{"index.php": "<?php echo 'histologe 1.8.0';\n"})
	if err := os.MkdirAll(filepath.Join(dir, "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dist", "histologe-1.8.0.tar.gz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := c.run(dir, "get"); err != nil {
		t.Fatalf("terraform get: %v\n%s", err, out)
	}
	// No smoke test: the fake serves no application.
	base := []string{"app_version=1.8.0", "git_commit=3f2a9c1", "smoke_url="}

	c.apply(dir, base...)
	if got := fake.LiveVersion("histologe-staging"); got != "1.8.0-staging" {
		t.Fatalf("histologe-staging runs %q, want 1.8.0-staging", got)
	}

	release := append(base, "validated=true", "production_version=1.8.0",
		`production_variables={FEATURE_SIGNALEMENT_V2="1"}`, `production_secrets={SENTRY_DSN="https://k3y@sentry.example.org/1"}`)
	out := c.apply(dir, append(release, "maintenance=true")...)
	if strings.Contains(out, "k3y") {
		t.Fatalf("the secret is in terraform's output:\n%s", out)
	}
	ds := fake.Deployments("histologe")
	if env := ds[len(ds)-1].Env; env["FEATURE_SIGNALEMENT_V2"] != "1" || env["SENTRY_DSN"] != "https://k3y@sentry.example.org/1" || env["OWNED_ELSEWHERE"] != "keep" {
		t.Fatalf("production started with %v", env)
	}
	if oo := fake.OneOffs("histologe"); len(oo) != 1 || oo[0].LiveVersion != "1.8.0" || oo[0].ExitCode != 0 {
		t.Fatalf("one-offs on production: %+v, want the migration run once on 1.8.0", oo)
	}
	if got := fake.LiveVersion("histologe"); got != "1.8.0" {
		t.Fatalf("histologe runs %q, want 1.8.0", got)
	}
	if got := fake.Variables("histologe")["MAINTENANCE_ENABLE"]; got != "1" {
		t.Fatalf("MAINTENANCE_ENABLE = %q during the release, want 1", got)
	}
	if got, backups := c.output(dir, "production_backup"), fake.Backups(db); len(backups) != 1 || got == "" {
		t.Fatalf("production should take one database backup before the deployment and record it: backup_id %q, %d backups", got, len(backups))
	}

	c.apply(dir, release...)
	if got := fake.Variables("histologe")["MAINTENANCE_ENABLE"]; got != "0" {
		t.Fatalf("MAINTENANCE_ENABLE = %q after the release, want 0", got)
	}
	if n := len(fake.Deployments("histologe")); n != 1 {
		t.Fatalf("production was deployed %d times, want once (ending maintenance must not redeploy)", n)
	}
}
