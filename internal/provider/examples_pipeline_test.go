package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
)

// examplesCLI runs the Terraform CLI on copies of the repository's examples with the
// provider of this checkout, built by the test and installed through dev overrides:
// the examples are exercised exactly as a user runs them, without any download.
type examplesCLI struct {
	t    *testing.T
	tf   string
	env  []string
	tree string // copy of examples/ and modules/
}

// newExamplesCLI builds the provider into a temporary folder, writes a CLI
// configuration with dev overrides for it and copies examples/ and modules/.
func newExamplesCLI(t *testing.T) *examplesCLI {
	t.Helper()
	acctest.PreCheck(t)
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	repo, tfrc := buildDevProvider(t)
	tree := t.TempDir()
	for _, dir := range []string{"examples", "modules"} {
		copyTree(t, filepath.Join(repo, dir), filepath.Join(tree, dir))
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+tfrc, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
	return &examplesCLI{t: t, tf: tf, env: env, tree: tree}
}

// copyTree copies the files of src into dst, leaving out what Terraform or a run in
// place leaves behind.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		switch d.Name() {
		case ".terraform", ".release", "dist":
			if d.IsDir() {
				return filepath.SkipDir
			}
		case ".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup":
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// run executes terraform in dir and returns its combined output and error.
func (c *examplesCLI) run(dir string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.tf, append(args, "-no-color")...)
	cmd.Dir = dir
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// apply runs terraform apply and fails the test when it fails.
func (c *examplesCLI) apply(dir string, vars ...string) string {
	c.t.Helper()
	out, err := c.run(dir, applyArgs(vars)...)
	if err != nil {
		c.t.Fatalf("terraform apply %s in %s: %v\n%s", strings.Join(vars, " "), filepath.Base(dir), err, out)
	}
	return out
}

// applyFails runs terraform apply and fails the test unless it fails with want.
func (c *examplesCLI) applyFails(dir, want string, vars ...string) string {
	c.t.Helper()
	out, err := c.run(dir, applyArgs(vars)...)
	if err == nil {
		c.t.Fatalf("terraform apply %s in %s succeeded, want an error with %q\n%s", strings.Join(vars, " "), filepath.Base(dir), want, out)
	}
	if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
		c.t.Fatalf("terraform apply %s in %s failed without %q:\n%s", strings.Join(vars, " "), filepath.Base(dir), want, out)
	}
	return out
}

func applyArgs(vars []string) []string {
	args := []string{"apply", "-auto-approve"}
	for _, v := range vars {
		args = append(args, "-var", v)
	}
	return args
}

// output reads one root output as a raw string.
func (c *examplesCLI) output(dir, name string) string {
	c.t.Helper()
	out, err := c.run(dir, "output", "-raw", name)
	if err != nil {
		c.t.Fatalf("terraform output %s in %s: %v\n%s", name, filepath.Base(dir), err, out)
	}
	return strings.TrimSpace(out)
}

// pipelineWorld is examples/pipeline copied with builds, a git history and a web
// server per environment.
type pipelineWorld struct {
	*examplesCLI
	dir     string // examples/pipeline in the copy
	repo    string
	commits map[string]string
	urls    map[string]string
}

func newPipelineWorld(t *testing.T) *pipelineWorld {
	c := newExamplesCLI(t)
	w := &pipelineWorld{examplesCLI: c, dir: filepath.Join(c.tree, "examples", "pipeline"), commits: map[string]string{}, urls: map[string]string{}}
	w.repo = t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = w.repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s (git is needed: scripts/test-deps.sh installs it)", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	// The identity is the repository's own: production's validation tags the release
	// (an annotated tag) in this clone, from the provider Terraform runs.
	git("config", "user.name", "ci")
	git("config", "user.email", "ci@example.org")
	// 1.0.0 → 1.1.0 → 1.2.0 (broken) on main; 1.3.0 on a branch made from 1.0.0, so it
	// does not descend from 1.1.0.
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		git("commit", "-q", "--allow-empty", "-m", "release "+v)
		w.commits[v] = git("rev-parse", "HEAD")
	}
	git("checkout", "-q", "-b", "old", w.commits["1.0.0"])
	git("commit", "-q", "--allow-empty", "-m", "release 1.3.0 from an old branch")
	w.commits["1.3.0"] = git("rev-parse", "HEAD")

	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"} {
		health := "ok\n"
		if v == "1.2.0" {
			health = "database connection refused\n"
		}
		w.build(v, health)
	}
	for _, env := range []string{"staging", "recette", "preprod", "production"} {
		site := filepath.Join(w.dir, ".release", "sites", env)
		srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(site, "current"))))
		t.Cleanup(srv.Close)
		w.urls[env] = srv.URL
		if out, err := c.run(w.envDir(env), "get"); err != nil {
			t.Fatalf("terraform get in %s: %v\n%s", env, err, out)
		}
	}
	return w
}

func (w *pipelineWorld) build(version, health string) {
	w.t.Helper()
	data := archivetest.TarGz(w.t, map[string]string{"index.html": "<h1>demo-app " + version + "</h1>\n", "health": health})
	dist := filepath.Join(w.dir, "dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dist, "app-"+version+".tar.gz"), data, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *pipelineWorld) envDir(env string) string { return filepath.Join(w.dir, "environments", env) }

// vars are the variables every apply of env gets: its URL, quick smoke tests.
func (w *pipelineWorld) vars(env, version string, more ...string) []string {
	v := []string{"app_version=" + version, "url=" + w.urls[env], "smoke_attempts=2", "smoke_interval=200ms"}
	switch env {
	case "staging":
		v = append(v, "git_commit="+w.commits[version])
	case "production":
		v = append(v, "repository="+w.repo)
	}
	return append(v, more...)
}

// serves returns the body of env's home page.
func (w *pipelineWorld) serves(env string) string {
	w.t.Helper()
	resp, err := http.Get(w.urls[env] + "/")
	if err != nil {
		w.t.Fatalf("GET %s: %v", env, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func (w *pipelineWorld) expectServing(env, version string) {
	w.t.Helper()
	if got, want := w.serves(env), "<h1>demo-app "+version+"</h1>"; got != want {
		w.t.Fatalf("%s serves %q, want %q", env, got, want)
	}
}

// throughPreprod takes version from the build to validated preprod.
func (w *pipelineWorld) throughPreprod(version string) {
	w.t.Helper()
	staging := w.envDir("staging")
	w.apply(staging, w.vars("staging", version)...)
	w.expectServing("staging", version)
	if got := w.output(staging, "lock_holder"); got == "" {
		w.t.Fatalf("staging should hold its lock until validated")
	}
	w.apply(staging, w.vars("staging", version, "validated=true")...)
	if got, want := w.output(staging, "promoted"), "demo-app@"+version+"-rc"; got != want {
		w.t.Fatalf("staging promoted %q, want %q", got, want)
	}
	for _, env := range []string{"recette", "preprod"} {
		w.apply(w.envDir(env), w.vars(env, version)...)
		w.expectServing(env, version)
		w.apply(w.envDir(env), w.vars(env, version, "validated=true")...)
	}
	if got, want := w.output(w.envDir("recette"), "promoted"), "demo-app@"+version; got != want {
		w.t.Fatalf("recette promoted %q, want %q", got, want)
	}
}

// TestExamplePipeline runs examples/pipeline as its README tells: two releases
// through the four environments, a broken build rolled back by the provider in
// staging, a build that does not descend from production refused, a freeze of
// production refusing a release until freeze_override lets it through, and a
// rollback of production by variable.
func TestExamplePipeline(t *testing.T) {
	w := newPipelineWorld(t)
	production := w.envDir("production")

	// 1.0.0: the first release, with the maintenance page up during the deploy.
	w.throughPreprod("1.0.0")
	w.apply(production, w.vars("production", "1.0.0", "maintenance=true")...)
	w.expectServing("production", "1.0.0")
	page := filepath.Join(w.dir, ".release", "sites", "production", "shared", "maintenance", "maintenance.html")
	if _, err := os.Stat(page); err != nil {
		t.Fatalf("maintenance should be on after the maintenance apply: %v", err)
	}
	if got := w.output(production, "clearance"); got != "demo-app@1.0.0+production" {
		t.Fatalf("clearance = %q", got)
	}
	if got := w.output(production, "lock_holder"); got == "" {
		t.Fatalf("production should hold its lock until validated")
	}
	w.apply(production, w.vars("production", "1.0.0", "validated=true")...)
	if _, err := os.Stat(page); !os.IsNotExist(err) {
		t.Fatalf("maintenance should be off after the next apply (stat: %v)", err)
	}
	if out, err := w.run(production, "plan", "-detailed-exitcode", "-var", "app_version=1.0.0", "-var", "url="+w.urls["production"],
		"-var", "smoke_attempts=2", "-var", "smoke_interval=200ms", "-var", "repository="+w.repo, "-var", "validated=true"); err != nil {
		t.Fatalf("production should plan no change once released: %v\n%s", err, out)
	}

	// 1.1.0: descends from 1.0.0; the backup of the live release is taken first.
	// Production is frozen (a window around now, declared in an apply of its own):
	// the plan of 1.1.0 is refused, freeze_override lets it through and the history
	// records the override; validating without freeze_window lifts the freeze.
	w.throughPreprod("1.1.0")
	now := time.Now().UTC()
	window := fmt.Sprintf(`freeze_window={ start = %q, end = %q, reason = "Year-end freeze" }`,
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	w.apply(production, w.vars("production", "1.0.0", "validated=true", window)...)
	freezeID := w.output(production, "freeze")
	if !strings.HasPrefix(freezeID, "freeze-") {
		t.Fatalf("freeze = %q, want the id of the stored window", freezeID)
	}
	planArgs := []string{"plan"}
	for _, v := range w.vars("production", "1.1.0", window) {
		planArgs = append(planArgs, "-var", v)
	}
	out, err := w.run(production, planArgs...)
	refusal := strings.Join(strings.Fields(strings.ReplaceAll(out, "│", " ")), " ")
	if err == nil || !strings.Contains(refusal, `production is frozen: "Year-end freeze" (release_freeze `+freezeID+`)`) ||
		!strings.Contains(refusal, "it can be released again at") {
		t.Fatalf("the plan of 1.1.0 into frozen production should be refused with the reason and when it ends (err %v):\n%s", err, out)
	}
	w.expectServing("production", "1.0.0")
	w.apply(production, w.vars("production", "1.1.0", window, "freeze_override=INC-4711 hotfix")...)
	w.expectServing("production", "1.1.0")
	w.apply(production, w.vars("production", "1.1.0", "validated=true")...)
	if got := w.output(production, "previous_version"); got != "1.0.0" {
		t.Fatalf("previous_version = %q, want 1.0.0", got)
	}
	if got := w.output(production, "backup_id"); !strings.HasPrefix(got, "demo-app-backup@1.0.0+") {
		t.Fatalf("backup_id = %q, want demo-app-backup@1.0.0+<time> (the data of 1.0.0)", got)
	}

	// 1.2.0 is broken: its smoke test fails in staging and the provider puts 1.1.0 back.
	w.applyFails(w.envDir("staging"), "The previous release 1.1.0-staging was restored", w.vars("staging", "1.2.0")...)
	w.expectServing("staging", "1.1.0")

	// 1.3.0 passes every environment but was built from a branch that lost 1.1.0:
	// production refuses it before anything changes there.
	w.throughPreprod("1.3.0")
	w.applyFails(production, "does not descend from", w.vars("production", "1.3.0", "maintenance=true")...)
	w.expectServing("production", "1.1.0")
	if _, err := os.Stat(page); !os.IsNotExist(err) {
		t.Fatalf("a refused release must not put the maintenance page up (stat: %v)", err)
	}

	// Rollback by variable: 1.0.0 was cleared for production before, so it goes back.
	w.apply(production, w.vars("production", "1.0.0")...)
	w.expectServing("production", "1.0.0")
	if got := w.output(production, "previous_version"); got != "1.1.0" {
		t.Fatalf("after the rollback previous_version = %q, want 1.1.0", got)
	}
	history, err := os.ReadFile(filepath.Join(w.dir, ".release", "state", "history", "production.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(history), `"kind":"deployed"`); n != 3 {
		t.Fatalf("production history has %d deployed events, want 3 (1.0.0, 1.1.0, rollback to 1.0.0):\n%s", n, history)
	}
	var overrides []string
	for _, line := range strings.Split(string(history), "\n") {
		if strings.Contains(line, `"kind":"freeze_overridden"`) {
			overrides = append(overrides, line)
		}
	}
	if len(overrides) != 1 || !strings.Contains(overrides[0], `"version":"1.1.0"`) ||
		!strings.Contains(overrides[0], `freeze_override \"INC-4711 hotfix\" let it through`) || !strings.Contains(overrides[0], freezeID) ||
		!strings.Contains(overrides[0], `"actor":"`) {
		t.Fatalf("production history should record one freeze override of 1.1.0 (its text, the window, the actor), got %q:\n%s", overrides, history)
	}
}

// buildDevProvider builds the provider into a temporary folder and writes a CLI
// configuration (tfrc) with dev overrides for it; repo is the repository's root.
func buildDevProvider(t *testing.T) (repo, tfrc string) {
	t.Helper()
	var err error
	repo, err = filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-release"), ".")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	tfrc = filepath.Join(bin, "dev.tfrc")
	cfg := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n    %q = %q\n  }\n  direct {}\n}\n",
		"registry.terraform.io/releaseplan/release", bin, "registry.opentofu.org/releaseplan/release", bin)
	if err := os.WriteFile(tfrc, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return repo, tfrc
}
