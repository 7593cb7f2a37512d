package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/archive/archivetest"
	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/freeze"
	"github.com/releaseplan/terraform-provider-release/internal/nginxtest"
	"github.com/releaseplan/terraform-provider-release/internal/router"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// TestExamplesApply applies the README's short example and every example folder under
// examples/ that can run on one machine, each from an empty directory, the way a user
// who copies it does: `terraform get`, `terraform apply`, then `terraform plan
// -detailed-exitcode` must find nothing to change, then `terraform destroy`.
// Validation alone (scripts/test-examples.sh) let an example that fails on its first
// apply through: values unknown at plan time (a lock's token, an artifact's sha256)
// only meet the provider for real in an apply.
//
// What is changed in a copy, and only this:
//   - absolute paths of servers (/srv/..., /etc/nginx/...) become folders of the
//     copy, and fixed ports (127.0.0.1:8080, ...) become servers the test starts;
//   - the commands of a machine the test does not have (nginx run as a service with
//     sudo/systemctl) become the same nginx commands against an nginx the test starts;
//   - ids only a real run can know (a lock id, git commits) become the ones of this
//     run.
//
// Every rewrite names the exact text it replaces and fails when the example no longer
// contains it, so an edited example cannot silently escape its rewrite. The
// application's own tools that examples call in hooks (php, pg_dump) are stubs on PATH
// that log their arguments: the provider runs them, the test checks they ran.
//
// `terraform init` is not run: with the dev override of the release provider, init
// asks a registry for it; like scripts/test-modules.sh, `terraform get` installs the
// local modules and the provider comes from the override.
//
// Every example folder must be applied here, applied by another test
// (examplesAppliedElsewhere) or listed in examplesNotApplied with the reason.
func TestExamplesApply(t *testing.T) {
	h := newExampleHarness(t)
	cases := map[string]func(t *testing.T, w *exampleWorkspace){
		"README.md":                                        applyReadmeExample,
		"quickstart":                                       applyQuickstart,
		"blue-green":                                       applyBlueGreen,
		"data-sources/release_artifact":                    applyArtifactDataSource,
		"data-sources/release_environment":                 applyEnvironmentDataSource,
		"data-sources/release_history":                     applyHistoryDataSource,
		"data-sources/release_notes":                       applyReleaseNotesDataSource,
		"ephemeral-resources/release_environment_lock":     applyEphemeralLock,
		"functions/semver_bump":                            applyFunction("next_patch", "1.7.4"),
		"functions/semver_channel":                         applyFunction("release_candidate", "1.7.4-rc"),
		"functions/semver_compare":                         applyFunction("rc_is_older", "-1"),
		"resources/release_artifact":                       applyArtifactResource,
		"resources/release_blue_green_router":              applyBlueGreenRouter,
		"resources/release_deployment":                     applyDeploymentResource,
		"resources/release_environment_lock":               applyEnvironmentLock,
		"resources/release_environment_lock_force_release": applyForceRelease,
		"resources/release_git_branch":                     applyGitBranch,
		"resources/release_git_tag":                        applyGitTag,
		"resources/release_maintenance_mode":               applyMaintenanceMode,
		"resources/release_promotion":                      applyPromotion,
		"resources/release_version_block":                  applyVersionBlock,
		"resources/release_freeze":                         applyFreeze,
	}
	checkEveryExampleIsClassified(t, h.repo, cases)
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		run := cases[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t, h.workspace(t, name))
		})
	}
}

// examplesAppliedElsewhere are applied, through several applies each, by their own
// tests.
var examplesAppliedElsewhere = map[string]string{
	"pipeline/environments/staging":    "TestExamplePipeline (examples_pipeline_test.go)",
	"pipeline/environments/recette":    "TestExamplePipeline (examples_pipeline_test.go)",
	"pipeline/environments/preprod":    "TestExamplePipeline (examples_pipeline_test.go)",
	"pipeline/environments/production": "TestExamplePipeline (examples_pipeline_test.go)",
	"scalingo":                         "TestExampleScalingo (examples_scalingo_test.go), against the fake Scalingo API",
}

// examplesNotApplied cannot be applied on one machine, for the reason given.
var examplesNotApplied = map[string]string{
	"provider": "declares provider configurations only: with no resource, an apply configures no provider and " +
		"creates nothing, so it would prove nothing; the blocks it shows (http artifact store, postgres backend, " +
		"webhook) are applied by the acceptance tests of provider_integrations_test.go",
}

// checkEveryExampleIsClassified fails when a folder of examples/ with .tf files is
// neither applied here, applied elsewhere nor excluded with a reason.
func checkEveryExampleIsClassified(t *testing.T, repo string, cases map[string]func(*testing.T, *exampleWorkspace)) {
	t.Helper()
	root := filepath.Join(repo, "examples")
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || d.Name() == ".release") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".tf") {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			seen[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing examples/: %v", err)
	}
	for dir := range seen {
		_, applied := cases[dir]
		_, elsewhere := examplesAppliedElsewhere[dir]
		_, excluded := examplesNotApplied[dir]
		if !applied && !elsewhere && !excluded {
			t.Errorf("examples/%s is not applied by any test: add it to TestExamplesApply, or to examplesNotApplied with the reason it cannot run on one machine", dir)
		}
	}
	for dir := range cases {
		if dir != "README.md" && !seen[dir] {
			t.Errorf("TestExamplesApply applies examples/%s, which has no .tf file any more: remove the case", dir)
		}
	}
	for dir := range examplesAppliedElsewhere {
		if !seen[dir] {
			t.Errorf("examplesAppliedElsewhere lists examples/%s, which has no .tf file any more", dir)
		}
	}
	for dir := range examplesNotApplied {
		if !seen[dir] {
			t.Errorf("examplesNotApplied lists examples/%s, which has no .tf file any more", dir)
		}
	}
}

// exampleHarness holds what every example run shares: the provider of this checkout,
// built once, and a CLI configuration whose dev override points at it.
type exampleHarness struct {
	tf    string
	repo  string
	tfrc  string
	stubs string // php, pg_dump: the application's tools, logging their arguments
}

func newExampleHarness(t *testing.T) *exampleHarness {
	t.Helper()
	acctest.PreCheck(t)
	repo, tfrc := buildDevProvider(t)
	stubs := t.TempDir()
	for name, script := range map[string]string{
		"php":     "#!/bin/sh\nprintf 'php %s\\n' \"$*\" >> \"$EXAMPLE_STUB_LOG\"\n",
		"pg_dump": "#!/bin/sh\nprintf 'pg_dump %s\\n' \"$*\" >> \"$EXAMPLE_STUB_LOG\"\nprintf -- '-- dump of %s\\n' \"$*\"\n",
	} {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &exampleHarness{tf: os.Getenv("TF_ACC_TERRAFORM_PATH"), repo: repo, tfrc: tfrc, stubs: stubs}
}

// exampleWorkspace is one example copied into an empty directory (dir), with modules/
// two levels up as in the repository, so that ../../modules sources resolve.
type exampleWorkspace struct {
	t       *testing.T
	h       *exampleHarness
	dir     string
	env     []string
	stubLog string      // what the stubs on PATH were called with
	ssh     *exampleSSH // the fleets' deploy key and known_hosts, once an example uses SSH
}

// workspace copies examples/<name> (or the README's short example) into an empty
// directory. Documentation snippets come without a terraform block: the copy gets
// the provider's source, as a configuration using them has.
func (h *exampleHarness) workspace(t *testing.T, name string) *exampleWorkspace {
	t.Helper()
	tree := t.TempDir()
	copyTree(t, filepath.Join(h.repo, "modules"), filepath.Join(tree, "modules"))
	dir := filepath.Join(tree, "examples", filepath.FromSlash(name))
	if name == "README.md" {
		dir = filepath.Join(tree, "examples", "readme")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(readmeExample(t, h.repo)), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		copyTree(t, filepath.Join(h.repo, "examples", filepath.FromSlash(name)), dir)
	}
	w := &exampleWorkspace{t: t, h: h, dir: dir, stubLog: filepath.Join(tree, "stubs.log")}
	if !w.contains("required_providers") {
		w.write("zz_providers.tf", "terraform {\n  required_providers {\n    release = {\n      source = \"releaseplan/release\"\n    }\n  }\n}\n")
	}
	w.env = append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+h.tfrc, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1",
		"PATH="+h.stubs+string(os.PathListSeparator)+os.Getenv("PATH"),
		"EXAMPLE_STUB_LOG="+w.stubLog)
	return w
}

// readmeExample is the HCL of the README's "A short example" section: the first
// ```hcl block after that heading.
func readmeExample(t *testing.T, repo string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## A short example\n.*?\n```hcl\n(.*?)\n```\n").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no ```hcl block under \"## A short example\": the README's example is applied by this test; update readmeExample if the section was renamed")
	}
	return string(m[1]) + "\n"
}

func (w *exampleWorkspace) files() []string {
	w.t.Helper()
	files, err := filepath.Glob(filepath.Join(w.dir, "*.tf"))
	if err != nil || len(files) == 0 {
		w.t.Fatalf("no .tf file in %s (%v)", w.dir, err)
	}
	return files
}

func (w *exampleWorkspace) contains(s string) bool {
	for _, f := range w.files() {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// rewrite replaces every occurrence of from in the example's .tf files by to, and
// fails when there is none: the example changed and the rewrite must follow.
func (w *exampleWorkspace) rewrite(from, to string) {
	w.t.Helper()
	found := false
	for _, f := range w.files() {
		b, err := os.ReadFile(f)
		if err != nil {
			w.t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(from)) {
			continue
		}
		found = true
		if err := os.WriteFile(f, bytes.ReplaceAll(b, []byte(from), []byte(to)), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	if !found {
		w.t.Fatalf("the example no longer contains %q: update its rewrites in examples_apply_test.go", from)
	}
}

// path is an absolute path inside the workspace, its parent folders created.
func (w *exampleWorkspace) path(rel string) string {
	w.t.Helper()
	p := filepath.Join(w.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// mkdir creates a folder inside the workspace and returns its absolute path.
func (w *exampleWorkspace) mkdir(rel string) string {
	w.t.Helper()
	p := filepath.Join(w.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(p, 0o755); err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *exampleWorkspace) write(rel, content string) string {
	w.t.Helper()
	p := w.path(rel)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// appFiles are the files of a build of version: a home page and /health answering ok.
func appFiles(version string) map[string]string {
	return map[string]string{"index.html": "<h1>app " + version + "</h1>\n", "health": "ok\n"}
}

func (w *exampleWorkspace) targz(files map[string]string) []byte {
	w.t.Helper()
	return archivetest.TarGz(w.t, files)
}

// tarball writes a build of version at rel (e.g. dist/histologe.tar.gz).
func (w *exampleWorkspace) tarball(rel, version string) {
	w.t.Helper()
	if err := os.WriteFile(w.path(rel), w.targz(appFiles(version)), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// publish puts name@version into the embedded default store (./.release/artifacts),
// as an earlier pipeline run would have.
func (w *exampleWorkspace) publish(name, version string, metadata map[string]string) string {
	w.t.Helper()
	st, err := store.NewDirectory(w.path(".release/artifacts"))
	if err != nil {
		w.t.Fatal(err)
	}
	obj, err := st.Put(context.Background(), name, version, bytes.NewReader(w.targz(appFiles(version))), "", metadata)
	if err != nil {
		w.t.Fatalf("publishing %s@%s: %v", name, version, err)
	}
	return obj.SHA256
}

// backend opens the embedded default backend (./.release/state).
func (w *exampleWorkspace) backend() backend.Backend {
	w.t.Helper()
	b, err := backend.NewDirectory(w.path(".release/state"))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = b.Close() })
	return b
}

// serveCurrent serves <site>/current over HTTP like the site's web server and
// returns its base URL (http://127.0.0.1:<port>).
func (w *exampleWorkspace) serveCurrent(site string) string {
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(site, "current"))))
	w.t.Cleanup(srv.Close)
	return srv.URL
}

// serveHealth answers 200 "ok" on every path, for targets whose application the test
// does not run (a Scalingo app behind the fake API, an upstream of a router).
func (w *exampleWorkspace) serveHealth() string {
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write([]byte("ok\n")) }))
	w.t.Cleanup(srv.Close)
	return srv.URL
}

func hostPort(url string) string { return strings.TrimPrefix(url, "http://") }

// fakeScalingo points the provider at an in-process fake of the Scalingo API.
func (w *exampleWorkspace) fakeScalingo() *scalingotest.Server {
	fake := scalingotest.NewServer(w.t, scalingotest.Options{StepDuration: 5 * time.Millisecond})
	w.env = append(w.env, "SCALINGO_API_URL="+fake.URL, "SCALINGO_AUTH_URL="+fake.AuthURL,
		"SCALINGO_DB_API_URL="+fake.DatabaseAPIURL, "SCALINGO_API_TOKEN="+fake.APIToken)
	return fake
}

// git runs git in the workspace, which becomes the example's repository ".".
func (w *exampleWorkspace) git(args ...string) string {
	w.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=ci", "-c", "user.email=ci@example.org"}, args...)...)
	cmd.Dir = w.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("git %v: %v\n%s (git is needed: scripts/test-deps.sh installs it)", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (w *exampleWorkspace) stubCalls() string {
	b, _ := os.ReadFile(w.stubLog)
	return string(b)
}

// tf runs terraform in the workspace; it returns the output and the exit code
// (-1 when terraform could not run).
func (w *exampleWorkspace) tf(args ...string) (string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.h.tf, append(args, "-no-color")...)
	cmd.Dir = w.dir
	cmd.Env = w.env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return withoutOverrideWarning(string(out)), 0
	case errors.As(err, &exit):
		return withoutOverrideWarning(string(out)), exit.ExitCode()
	default:
		w.t.Fatalf("running terraform %s: %v", args[0], err)
		return "", -1
	}
}

// overrideWarning is the warning every command prints under dev overrides: expected
// here, and noise in a failure's output.
var overrideWarning = regexp.MustCompile(`(?s)\n?[│╷╵ ]*Warning: Provider development overrides are in effect.*?published\s*[│ ]*releases\.\n[│╷╵ ]*\n?`)

func withoutOverrideWarning(out string) string { return overrideWarning.ReplaceAllString(out, "\n") }

func withVars(args []string, vars []string) []string {
	for _, v := range vars {
		args = append(args, "-var", v)
	}
	return args
}

func (w *exampleWorkspace) mustTF(args ...string) string {
	w.t.Helper()
	out, code := w.tf(args...)
	if code != 0 {
		w.t.Fatalf("terraform %s in a copy of the example failed (exit %d):\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (w *exampleWorkspace) get() { w.t.Helper(); w.mustTF("get") }

func (w *exampleWorkspace) apply(vars ...string) string {
	w.t.Helper()
	return w.mustTF(withVars([]string{"apply", "-auto-approve"}, vars)...)
}

// converged fails unless a plan finds nothing to change (exit 0 of -detailed-exitcode).
func (w *exampleWorkspace) converged(vars ...string) {
	w.t.Helper()
	out, code := w.tf(withVars([]string{"plan", "-detailed-exitcode"}, vars)...)
	if code != 0 {
		w.t.Fatalf("the plan right after the apply is not empty (exit %d, 2 = changes): the example does not converge:\n%s", code, out)
	}
}

func (w *exampleWorkspace) destroy(vars ...string) {
	w.t.Helper()
	w.mustTF(withVars([]string{"destroy", "-auto-approve"}, vars)...)
}

func (w *exampleWorkspace) output(name string) string {
	w.t.Helper()
	return strings.TrimSpace(w.mustTF("output", "-raw", name))
}

// cycle is the whole story of an example meant to converge: apply from empty
// with vars, check (when not nil) what the apply did, an empty plan, destroy.
func (w *exampleWorkspace) cycle(check func(), vars ...string) {
	w.t.Helper()
	w.get()
	w.apply(vars...)
	if check != nil {
		check()
	}
	w.converged(vars...)
	w.destroy(vars...)
}

// expectOutput fails the test unless the root module's output name is want.
func (w *exampleWorkspace) expectOutput(name, want string) {
	w.t.Helper()
	if got := w.output(name); got != want {
		w.t.Fatalf("%s = %q, want %q", name, got, want)
	}
}

func (w *exampleWorkspace) expectFile(p, want string) {
	w.t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		w.t.Fatalf("after the apply: %v", err)
	}
	if !strings.Contains(string(b), want) {
		w.t.Fatalf("%s holds %q, want it to contain %q", p, b, want)
	}
}

// --- the examples -------------------------------------------------------------

// applyReadmeExample: the README's artifact, managed lock and deployment whose
// lock_token and sha256 are unknown until the lock and the artifact exist.
func applyReadmeExample(_ *testing.T, w *exampleWorkspace) {
	site := w.path("srv/histologe")
	w.rewrite(`"/srv/histologe"`, fmt.Sprintf("%q", site))
	w.rewrite("http://127.0.0.1:8080", w.serveCurrent(site))
	w.tarball("dist/histologe.tar.gz", "1.7.4-staging")
	w.cycle(func() {
		w.expectFile(filepath.Join(site, "current", "index.html"), "app 1.7.4-staging")
	})
}

func applyQuickstart(_ *testing.T, w *exampleWorkspace) {
	w.tarball("dist/app-1.0.0.tar.gz", "1.0.0")
	vars := []string{"app_version=1.0.0", "tarball=dist/app-1.0.0.tar.gz"}
	w.cycle(func() { w.expectOutput("artifact", "demo-app@1.0.0") }, vars...)
}

// applyBlueGreen runs the three applies of the example's header: blue, then green
// and the switch, then the rollback to blue.
func applyBlueGreen(t *testing.T, w *exampleWorkspace) {
	root := filepath.Join(w.dir, ".release", "blue-green")
	blue, green := w.serveCurrent(filepath.Join(root, "blue")), w.serveCurrent(filepath.Join(root, "green"))
	upstreams := fmt.Sprintf("upstreams={blue=%q,green=%q}", hostPort(blue), hostPort(green))
	w.tarball("dist/app-1.0.0.tar.gz", "1.0.0")
	w.tarball("dist/app-1.1.0.tar.gz", "1.1.0")
	v1 := []string{"app_version=1.0.0", "tarball=dist/app-1.0.0.tar.gz", upstreams}
	v2 := []string{"app_version=1.1.0", "tarball=dist/app-1.1.0.tar.gz", upstreams}
	w.get()
	w.apply(v1...)
	w.converged(v1...)
	live := filepath.Join(root, "live", "current", "index.html")
	w.expectFile(live, "app 1.0.0")
	w.apply(v2...)
	w.converged(v2...)
	w.expectFile(live, "app 1.1.0")
	rollback := append(v2, "rollback=true")
	w.apply(rollback...)
	w.converged(rollback...)
	w.expectFile(live, "app 1.0.0")
	v3 := w.canaryBehindNginx(blue, green, upstreams)
	w.destroy(v3...)
}

// canaryBehindNginx is the example's canary rollout: nginx (JSON access log)
// in front of the colours' servers takes over from the live symlink, 1.2.0 goes
// to green and takes 10%, 50%, then 100% of a client loop's requests, each step
// analysed; then the apply without canary_rollout makes green active.
func (w *exampleWorkspace) canaryBehindNginx(blue, green, upstreams string) []string {
	t := w.t
	confDir := w.mkdir("etc/nginx/conf.d")
	file := filepath.Join(confDir, "web-upstream.conf")
	seed := seedNginxRouter(t, file, "web", hostPort(blue), hostPort(green))
	accessLog := w.path("var/log/nginx/web.access.json")
	srv := nginxtest.Start(t, nginxtest.Config{
		HTTP: `log_format release_json escape=json '{"status":"$status","request_time":"$request_time","upstream_addr":"$upstream_addr"}';` +
			"\ninclude " + confDir + "/*.conf;",
		Server: "access_log " + accessLog + " release_json;\nlocation / { proxy_pass http://web; }",
	})
	// Short steps: the example's canary_* variables.
	w.write("terraform.tfvars", fmt.Sprintf("access_log = %q\nnginx = {\n  config_file = %q\n  upstream_name = \"web\"\n  reload_command = %q\n  test_command = %q\n}\n"+
		"canary_pause = \"1s\"\ncanary_window = \"1s\"\ncanary_min_requests = 5\n",
		accessLog, file, srv.ReloadCommand(), srv.TestCommand()))
	defer sendRequests(srv.URL("/"), 2*time.Millisecond)()
	nginxHas := func(active router.Colour, weight int) {
		t.Helper()
		st, err := seed.Read(context.Background())
		if err != nil || st.Active != active || st.Canary.Weight != weight {
			t.Fatalf("nginx routes %+v (%v), want %s with canary weight %d", st, err, active, weight)
		}
	}
	w.tarball("dist/app-1.2.0.tar.gz", "1.2.0")
	v3 := []string{"app_version=1.2.0", "tarball=dist/app-1.2.0.tar.gz", upstreams}
	rollout := append(v3, "canary_rollout=true")
	w.apply(rollout...)
	nginxHas(router.Blue, 100)
	if got := w.mustTF("output", "-json", "canary"); !strings.Contains(got, `"colour":"green"`) || !strings.Contains(got, `"weight":100`) {
		t.Fatalf("canary output after the rollout: %s", got)
	}
	w.converged(rollout...)
	w.apply(v3...)
	nginxHas(router.Green, 0)
	w.converged(v3...)
	return v3
}

func applyArtifactDataSource(_ *testing.T, w *exampleWorkspace) {
	w.publish("histologe", "1.7.4", map[string]string{"git_commit": "3f2a9c1"})
	w.cycle(func() { w.expectOutput("production_commit", "3f2a9c1") })
}

// applyElsewhere applies resources (HCL) as another configuration, in the
// workspace's folder dir, whose provider shares the workspace's artifact store
// and backend: what an earlier pipeline run would have left.
func (w *exampleWorkspace) applyElsewhere(dir, resources string) {
	w.t.Helper()
	main := w.write(dir+"/main.tf", fmt.Sprintf(`
terraform {
  required_providers {
    release = { source = "releaseplan/release" }
  }
}
provider "release" {
  artifact_store {
    directory { path = %q }
  }
  backend {
    directory { path = %q }
  }
}
`, w.path(".release/artifacts"), w.path(".release/state"))+resources)
	other := &exampleWorkspace{t: w.t, h: w.h, dir: filepath.Dir(main), env: w.env}
	other.apply()
}

// applyEnvironmentDataSource reads production after a deployment made outside this
// configuration, as an earlier pipeline run would have made it.
func applyEnvironmentDataSource(t *testing.T, w *exampleWorkspace) {
	w.publish("histologe", "1.7.4", map[string]string{"git_commit": "3f2a9c1"})
	site := w.path("srv/histologe")
	w.applyElsewhere("deployer", fmt.Sprintf(`
resource "release_deployment" "production" {
  environment = "production"
  artifact    = "histologe@1.7.4"
  directory { path = %q }
}
`, site))
	w.cycle(func() {
		if got := w.mustTF("output", "-json", "production"); !strings.Contains(got, `"version":"1.7.4"`) || !strings.Contains(got, `"git_commit":"3f2a9c1"`) {
			t.Fatalf("production output does not show 1.7.4 at 3f2a9c1: %s", got)
		}
	})
}

func applyHistoryDataSource(_ *testing.T, w *exampleWorkspace) {
	w.cycle(nil)
}

func applyReleaseNotesDataSource(t *testing.T, w *exampleWorkspace) {
	w.git("init", "-q", "-b", "main")
	w.git("commit", "-q", "--allow-empty", "-m", "feat: invoices")
	w.git("tag", "1.7.3")
	w.git("commit", "-q", "--allow-empty", "-m", "fix: rounding of invoice totals")
	w.git("commit", "-q", "--allow-empty", "-m", "feat!: new export format")
	w.git("tag", "1.7.4")
	w.cycle(func() {
		if got := w.output("release_notes"); !strings.Contains(got, "rounding of invoice totals") {
			t.Fatalf("release_notes does not tell the fix between 1.7.3 and 1.7.4:\n%s", got)
		}
	})
}

// applyStagingSite publishes histologe 1.7.4-staging, points the example's site
// at a folder of the workspace, applies, checks that the site serves the build
// and that nothing is left to change, then destroys.
func (w *exampleWorkspace) applyStagingSite() {
	w.t.Helper()
	w.publish("histologe", "1.7.4-staging", nil)
	site := w.path("srv/histologe")
	w.rewrite(`"/srv/histologe"`, fmt.Sprintf("%q", site))
	w.cycle(func() {
		w.expectFile(filepath.Join(site, "current", "index.html"), "app 1.7.4-staging")
	})
}

// applyEphemeralLock: a run lock whose token reaches the deployment write-only.
func applyEphemeralLock(t *testing.T, w *exampleWorkspace) {
	w.applyStagingSite()
	if l, err := w.backend().Inspect(context.Background(), "staging"); err == nil && l != nil {
		t.Fatalf("the run lock is still held after the runs ended: %+v", *l)
	}
}

func applyFunction(output, want string) func(*testing.T, *exampleWorkspace) {
	return func(_ *testing.T, w *exampleWorkspace) {
		w.cycle(func() { w.expectOutput(output, want) })
	}
}

func applyArtifactResource(_ *testing.T, w *exampleWorkspace) {
	w.tarball("dist/histologe.tar.gz", "1.7.4-staging")
	w.cycle(func() { w.expectOutput("artifact", "histologe@1.7.4-staging") })
}

// applyBlueGreenRouter: "web" behind an nginx the test runs, whose http {} includes
// the file the resource owns; "docs" switches a live symlink.
func applyBlueGreenRouter(t *testing.T, w *exampleWorkspace) {
	confDir := w.mkdir("etc/nginx/conf.d")
	srv := nginxtest.Start(t, nginxtest.Config{
		HTTP: fmt.Sprintf("include %s/*.conf;", confDir),
	})
	w.rewrite(`"/etc/nginx/conf.d/histologe-upstream.conf"`, fmt.Sprintf("%q", filepath.Join(confDir, "histologe-upstream.conf")))
	w.rewrite(`"nginx -t"`, fmt.Sprintf("%q", srv.TestCommand()))
	w.rewrite(`"nginx -s reload"`, fmt.Sprintf("%q", srv.ReloadCommand()))
	w.rewrite(`"127.0.0.1:8081"`, fmt.Sprintf("%q", hostPort(w.serveHealth())))
	w.rewrite(`"127.0.0.1:8082"`, fmt.Sprintf("%q", hostPort(w.serveHealth())))
	docs := w.path("srv/docs")
	for _, c := range []string{"blue", "green"} {
		w.write("srv/docs/"+c+"/public/index.html", c+"\n")
	}
	w.rewrite(`"/srv/docs"`, fmt.Sprintf("%q", docs))
	lbs := w.sshFleet("/etc/nginx/release", 2, `["lb1.example.org", "lb2.example.org"]`)
	w.cycle(func() {
		w.expectFile(filepath.Join(confDir, "histologe-upstream.conf"), "histologe")
		w.expectFile(filepath.Join(docs, "live", "public", "index.html"), "blue")
		w.expectOnHosts(lbs, "/etc/nginx/release/histologe-upstream.conf", "server 10.0.1.11:8080;")
		w.expectStubCall("sudo /usr/sbin/nginx -s reload")
	})
}

// applyDeploymentResource: the directory deployment with hooks, backup and smoke
// test, and the Scalingo deployment against the fake API.
func applyDeploymentResource(t *testing.T, w *exampleWorkspace) {
	site := w.path("srv/histologe")
	w.rewrite(`"/srv/histologe"`, fmt.Sprintf("%q", site))
	w.rewrite("http://127.0.0.1:8080", w.serveCurrent(site))
	w.rewrite("https://histologe.osc-fr1.scalingo.io", w.serveHealth())
	w.tarball("dist/histologe.tar.gz", "1.7.4-staging")
	w.publish("histologe", "1.7.4", nil)
	fake := w.fakeScalingo()
	fake.CreateApp("histologe")
	fake.AddAddon("histologe", "postgresql")
	web := w.sshFleet("/var/www/histologe", 2, `["web1.example.org", "web2.example.org:2222"]`)
	w.rewrite("http://{host}:8080/health", fmt.Sprintf("http://{host}:%d/health", w.serveFleetCurrent(web, "/var/www/histologe")))
	w.cycle(func() {
		w.expectFile(filepath.Join(site, "current", "index.html"), "app 1.7.4-staging")
		w.expectOnHosts(web, "/var/www/histologe/current/index.html", "app 1.7.4")
		w.expectStubCall("php bin/console doctrine:migrations:migrate --no-interaction (on " + web.Addr(0) + ")")
		for _, h := range web.Addrs() {
			w.expectStubCall("php bin/console cache:warmup (on " + h + ")")
		}
		w.expectStubCall("sudo systemctl reload php8.2-fpm")
		if out := w.mustTF("output", "-json", "hosts_live"); !strings.Contains(out, web.Addr(0)) || !strings.Contains(out, web.Addr(1)) {
			t.Fatalf("hosts_live = %s, want both hosts", out)
		}
		if got := fake.LiveVersion("histologe"); got != "1.7.4" {
			t.Fatalf("the Scalingo app runs %q, want 1.7.4", got)
		}
		log := w.stubCalls()
		for _, want := range []string{"php bin/console doctrine:migrations:migrate", "php bin/console cache:warmup"} {
			if !strings.Contains(log, want) {
				t.Fatalf("the hook %q did not run; commands run: %q", want, log)
			}
		}
	})
}

// applyEnvironmentLock: a lock held across applies whose token, unknown until the
// lock exists, fences the deployment.
func applyEnvironmentLock(_ *testing.T, w *exampleWorkspace) {
	w.applyStagingSite()
}

// applyForceRelease frees a lock a cancelled job left behind; the example's lock id
// is the one printed by a real "locked" error, so the copy gets this run's.
func applyForceRelease(t *testing.T, w *exampleWorkspace) {
	b := w.backend()
	l, err := b.Acquire(context.Background(), backend.AcquireRequest{Environment: "staging", Holder: "ci-job-4711", Reason: "release 1.7.4"})
	if err != nil {
		t.Fatal(err)
	}
	w.rewrite(`"0b7f5a8e-3c1d-4e2f-9a6b-5d4c3b2a1f00"`, fmt.Sprintf("%q", l.ID))
	w.cycle(func() {
		if cur, err := b.Inspect(context.Background(), "staging"); err != nil || cur != nil {
			t.Fatalf("the staging lock should be released: %+v, %v", cur, err)
		}
	})
}

// applyMaintenanceMode: Scalingo against the fake API, the nginx snippet included by
// an nginx the test runs, and the directory pages.
func applyMaintenanceMode(t *testing.T, w *exampleWorkspace) {
	snippets := w.mkdir("etc/nginx/snippets")
	srv := nginxtest.Start(t, nginxtest.Config{Server: fmt.Sprintf("include %s/*.conf;", snippets)})
	w.rewrite(`"/etc/nginx/snippets/histologe-maintenance.conf"`, fmt.Sprintf("%q", filepath.Join(snippets, "histologe-maintenance.conf")))
	w.rewrite(`"sudo systemctl reload nginx"`, fmt.Sprintf("%q", srv.ReloadCommand()))
	w.rewrite(`"sudo nginx -t -q"`, fmt.Sprintf("%q", srv.TestCommand()))
	shared := w.mkdir("srv/histologe/shared")
	w.rewrite(`"/srv/histologe/shared"`, fmt.Sprintf("%q", shared))
	fake := w.fakeScalingo()
	fake.CreateApp("histologe")
	lbs := w.sshFleet("/etc/nginx/release", 2, `["lb1.example.org", "lb2.example.org"]`)
	web := w.sshFleet("/var/www/histologe", 2, `["web1.example.org", "web2.example.org:2222"]`)
	for i := range web.Hosts {
		if err := os.MkdirAll(web.Local(i, "/var/www/histologe/shared"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w.get()
	w.apply()
	srv.WaitFor(t, "/", nil, http.StatusServiceUnavailable, "Maintenance in progress")
	w.expectFile(filepath.Join(shared, "maintenance.html"), "Maintenance tonight from 22:00")
	w.expectOnHosts(lbs, "/etc/nginx/release/histologe-maintenance.conf", "203.0.113.10")
	w.expectOnHosts(web, "/var/www/histologe/shared/maintenance.html", "Maintenance tonight from 22:00")
	w.expectStubCall("sudo /usr/sbin/nginx -t -q")
	w.converged()
	w.apply("maintenance=true")
	if got := fake.Variables("histologe")["MAINTENANCE_ENABLE"]; got != "1" {
		t.Fatalf("MAINTENANCE_ENABLE = %q with maintenance=true, want 1", got)
	}
	w.converged("maintenance=true")
	w.destroy("maintenance=true")
}

// applyPromotion: staging runs the bytes (deployed by an earlier run), production
// runs an older commit they descend from; the example promotes and deploys them to
// recette. The example's commit ids become commits of a repository made here.
func applyPromotion(t *testing.T, w *exampleWorkspace) {
	w.git("init", "-q", "-b", "main")
	w.git("commit", "-q", "--allow-empty", "-m", "feat: 1.7.3")
	old := w.git("rev-parse", "HEAD")
	w.git("commit", "-q", "--allow-empty", "-m", "fix: 1.7.4")
	head := w.git("rev-parse", "HEAD")
	w.rewrite(`git_commit = "3f2a9c1"`, fmt.Sprintf("git_commit = %q", head))
	w.tarball("dist/histologe.tar.gz", "1.7.4-staging")
	w.publish("histologe", "1.7.3", map[string]string{"git_commit": old})
	recette := w.path("srv/histologe-recette")
	w.rewrite(`"/srv/histologe-recette"`, fmt.Sprintf("%q", recette))

	// The earlier runs: 1.7.3 in production, the staging bytes published and live in
	// staging, from the same tarball and metadata the example publishes.
	w.applyElsewhere("earlier", fmt.Sprintf(`
resource "release_artifact" "app" {
  name     = "histologe"
  version  = "1.7.4-staging"
  source   = %q
  metadata = { git_commit = %q }
}
resource "release_deployment" "staging" {
  environment = "staging"
  artifact    = release_artifact.app.id
  directory { path = %q }
}
resource "release_deployment" "production" {
  environment = "production"
  artifact    = "histologe@1.7.3"
  directory { path = %q }
}
`, w.path("dist/histologe.tar.gz"), head, w.path("srv/histologe-staging"), w.path("srv/histologe")))

	w.cycle(func() {
		w.expectFile(filepath.Join(recette, "current", "index.html"), "app 1.7.4-staging")
	})
}

func applyVersionBlock(t *testing.T, w *exampleWorkspace) {
	w.cycle(nil)
}

// gitOrigin makes the workspace a clone with the commits of messages on main, its
// identity in its own configuration (the provider's git tags as it), and a bare
// origin, returned with the commits; main is pushed to origin at its first commit.
func (w *exampleWorkspace) gitOrigin(messages ...string) (origin string, commits []string) {
	w.t.Helper()
	w.git("init", "-q", "-b", "main")
	w.git("config", "user.name", "ci")
	w.git("config", "user.email", "ci@example.org")
	for _, m := range messages {
		w.git("commit", "-q", "--allow-empty", "-m", m)
		commits = append(commits, w.git("rev-parse", "HEAD"))
	}
	origin = filepath.Join(w.t.TempDir(), "origin.git")
	w.git("init", "-q", "--bare", origin)
	w.git("remote", "add", "origin", origin)
	w.git("push", "-q", "origin", commits[0]+":refs/heads/main")
	return origin, commits
}

// onOrigin is what ref names in the bare repository origin ("" when missing).
func (w *exampleWorkspace) onOrigin(origin, ref string) string {
	out, err := exec.Command("git", "--git-dir", origin, "rev-parse", "--verify", "--quiet", ref+"^{commit}").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// refreshOnlyShows fails unless terraform plan -refresh-only reports want among the
// changes made outside Terraform (exit 2 of -detailed-exitcode).
func (w *exampleWorkspace) refreshOnlyShows(want ...string) {
	w.t.Helper()
	out, code := w.tf("plan", "-refresh-only", "-detailed-exitcode")
	if code != 2 {
		w.t.Fatalf("terraform plan -refresh-only exit %d, want 2 (drift found):\n%s", code, out)
	}
	for _, s := range want {
		if !strings.Contains(out, s) {
			w.t.Fatalf("terraform plan -refresh-only does not show %q:\n%s", s, out)
		}
	}
}

// applyGitTag: the released commit tagged, annotated, on origin; a tag moved by hand
// shows in a refresh-only plan and is refused, both commits named, by a plan (and so
// by terraform refresh and destroy, which plan too) until it is put back; destroy
// leaves the tag.
func applyGitTag(t *testing.T, w *exampleWorkspace) {
	origin, c := w.gitOrigin("feat: invoices", "fix: rounding of invoice totals")
	w.rewrite(`commit = "3f2a9c1"`, fmt.Sprintf("commit = %q", c[1]))
	w.get()
	w.apply()
	if got := w.onOrigin(origin, "refs/tags/1.7.4"); got != c[1] {
		t.Fatalf("1.7.4 on origin names %q, want %s", got, c[1])
	}
	if msg := w.git("for-each-ref", "--format=%(objecttype) %(contents:subject)", "refs/tags/1.7.4"); msg != "tag histologe 1.7.4" {
		t.Fatalf("1.7.4 in the clone is %q, want an annotated tag with the notes", msg)
	}
	if got, want := w.output("tagged"), "tag "+c[1][:7]+" as 1.7.4 on origin"; got != want {
		t.Fatalf("tagged = %q, want %q", got, want)
	}
	w.converged()

	// Moved by hand on origin: refresh-only shows it; a plan refuses to move it back.
	w.git("tag", "-f", "1.7.4", c[0])
	w.git("push", "-q", "-f", "origin", "refs/tags/1.7.4")
	w.refreshOnlyShows("release_git_tag.release has changed", c[1]+`" -> "`+c[0])
	out, code := w.tf("plan")
	if code != 1 || !strings.Contains(out, "already points at") || !strings.Contains(out, c[0]) || !strings.Contains(out, c[1]) {
		t.Fatalf("the plan over a tag moved by hand (exit %d) does not refuse naming both commits:\n%s", code, out)
	}
	// Put back where the release was tagged, the plan is empty again; destroy leaves it.
	w.git("tag", "-f", "1.7.4", c[1])
	w.git("push", "-q", "-f", "origin", "refs/tags/1.7.4")
	w.converged()
	w.destroy()
	if got := w.onOrigin(origin, "refs/tags/1.7.4"); got != c[1] {
		t.Fatalf("destroy changed 1.7.4 on origin to %q; on_destroy = keep leaves it at %s", got, c[1])
	}
}

// applyGitBranch: main on origin moved forward to the released commit; a main that
// moved on shows in a refresh-only plan, and the plan is empty (it contains the
// commit); destroy leaves the branch.
func applyGitBranch(t *testing.T, w *exampleWorkspace) {
	origin, c := w.gitOrigin("feat: invoices", "fix: rounding of invoice totals", "feat: export")
	w.rewrite(`commit = "3f2a9c1"`, fmt.Sprintf("commit = %q", c[1]))
	w.get()
	w.apply()
	if got := w.onOrigin(origin, "refs/heads/main"); got != c[1] {
		t.Fatalf("main on origin is at %q, want %s", got, c[1])
	}
	if got, want := w.output("moved"), "move main on origin to "+c[1][:7]+" (fast-forward only; refused if it is not)"; got != want {
		t.Fatalf("moved = %q, want %q", got, want)
	}
	w.converged()

	// The next merge is pushed: main moved on, still containing the released commit.
	w.git("push", "-q", "origin", c[2]+":refs/heads/main")
	w.refreshOnlyShows("release_git_branch.main has changed", c[1]+`" -> "`+c[2])
	w.converged()
	w.destroy()
	if got := w.onOrigin(origin, "refs/heads/main"); got != c[2] {
		t.Fatalf("destroy moved main on origin to %q; it leaves it at %s", got, c[2])
	}
}

// applyFreeze applies both freezes, checks that the backend holds them, that
// the recurring one covers the weekend in Paris and that the plan converges.
func applyFreeze(t *testing.T, w *exampleWorkspace) {
	w.get()
	w.apply()
	w.converged()
	list, err := w.backend().ListFreezes(context.Background())
	if err != nil || len(list) != 2 {
		t.Fatalf("freezes in the backend: %+v, %v", list, err)
	}
	for _, f := range list {
		s, err := freeze.Compile(f)
		if err != nil {
			t.Fatalf("stored freeze %s: %v", f.ID, err)
		}
		paris, _ := time.LoadLocation("Europe/Paris")
		saturday := time.Date(2026, 6, 6, 12, 0, 0, 0, paris)
		christmas := time.Date(2026, 12, 25, 12, 0, 0, 0, paris)
		switch f.Reason {
		case "No weekend releases":
			if _, ok := s.ActiveAt(saturday); !ok || !s.Applies("preproduction") {
				t.Errorf("the weekend freeze does not cover Saturday in preproduction: %+v", f)
			}
		case "End-of-year freeze":
			if _, ok := s.ActiveAt(christmas); !ok || s.Applies("preproduction") {
				t.Errorf("the year-end freeze: %+v", f)
			}
		default:
			t.Errorf("unexpected freeze %+v", f)
		}
	}
	w.destroy()
	if list, _ := w.backend().ListFreezes(context.Background()); len(list) != 0 {
		t.Fatalf("freezes left after destroy: %+v", list)
	}
}
