package provider

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
	"github.com/releaseplan/terraform-provider-release/internal/gitrepo/gitrepotest"
)

// gitAcc is a clone with three commits on main, c1 ─ c2 ─ c3, pushed to a bare
// origin (a file:// URL), for the git resources' acceptance tests. The provider
// runs in the test process: its git reads no user configuration (Isolate).
type gitAcc struct {
	t          *testing.T
	env        *acctest.Env
	repo       *gitrepotest.Repo
	origin     string // the bare repository's path
	c1, c2, c3 string
}

func newGitAcc(t *testing.T) *gitAcc {
	t.Helper()
	gitrepotest.Isolate(t)
	r := gitrepotest.New(t)
	g := &gitAcc{t: t, env: acctest.NewEnv(t), repo: r}
	g.c1 = r.Commit("feat: first")
	g.c2 = r.Commit("fix: second")
	g.c3 = r.Commit("feat: third")
	g.origin = r.Bare(filepath.Join(t.TempDir(), "origin.git"))
	r.Git("remote", "add", "origin", "file://"+g.origin)
	r.Git("push", "-q", "origin", "main")
	return g
}

// onOrigin returns the commit ref names in origin, "" when it does not exist.
func (g *gitAcc) onOrigin(ref string) string {
	g.t.Helper()
	out, err := exec.Command("git", "--git-dir", g.origin, "rev-parse", "--verify", "--quiet", ref+"^{commit}").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// expectOnOrigin checks that ref names want in origin ("" for: does not exist).
func (g *gitAcc) expectOnOrigin(ref, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if got := g.onOrigin(ref); got != want {
			return fmt.Errorf("%s on origin is %q, want %q", ref, got, want)
		}
		return nil
	}
}

// otherClone is another developer's clone of origin, to change it behind
// Terraform's back.
func (g *gitAcc) otherClone() *gitrepotest.Repo {
	g.t.Helper()
	return g.repo.Clone("file://" + g.origin)
}

// pushTagByHand tags commit as name in another clone and pushes it, replacing any
// tag of that name on origin.
func (g *gitAcc) pushTagByHand(name, commit string) {
	g.t.Helper()
	o := g.otherClone()
	o.Git("tag", "-f", name, commit)
	o.Git("push", "-q", "-f", "origin", "refs/tags/"+name)
}

// sideEffect is a plan check that changes the world between plan and apply.
type sideEffect func()

func (f sideEffect) CheckPlan(context.Context, plancheck.CheckPlanRequest, *plancheck.CheckPlanResponse) {
	f()
}

// refResource is a git ref resource (typ: release_git_tag or release_git_branch)
// of the clone, with body (attribute lines, each ending with a newline).
func (g *gitAcc) refResource(typ, name, body string) string {
	return fmt.Sprintf(`
resource %q %q {
  repository = %q
%s}
`, typ, name, g.repo.Dir, body)
}

func (g *gitAcc) tagConfig(name, body string) string {
	return g.env.ProviderBlock() + g.refResource("release_git_tag", name, body)
}

// importStep imports the git ref name of the clone into addr (its id is
// "<repository>:<name>") and checks that the imported state is the applied one
// but for planned_action (which says it was imported) and ignore.
func (g *gitAcc) importStep(addr, name string, ignore ...string) resource.TestStep {
	return resource.TestStep{
		ResourceName:            addr,
		ImportState:             true,
		ImportStateId:           g.repo.Dir + ":" + name,
		ImportStateVerify:       true,
		ImportStateVerifyIgnore: append([]string{"planned_action"}, ignore...),
	}
}

func expectValue(addr, attr, want string) plancheck.PlanCheck {
	return plancheck.ExpectKnownValue(addr, tfjsonpath.New(attr), knownvalue.StringExact(want))
}

const notes174 = "# 1.7.4\n\n* fix: second\n"

func TestAccGitTagResource_annotatedAndLightweight(t *testing.T) {
	g := newGitAcc(t)
	config := g.tagConfig("v", fmt.Sprintf(`  name    = "1.7.4"
  commit  = %q
  message = %q
  remote  = "origin"
`, gitrepo.Short(g.c2), notes174)) + g.refResource("release_git_tag", "light", fmt.Sprintf("  name   = \"1.7.3\"\n  commit = %q\n", g.c1))
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// The plan shows the full hash of the abbreviated commit.
					expectValue("release_git_tag.v", "commit_sha", g.c2),
					expectValue("release_git_tag.v", "planned_action", "tag "+gitrepo.Short(g.c2)+" as 1.7.4 on origin"),
					expectValue("release_git_tag.v", "id", g.repo.Dir+":1.7.4"),
					expectValue("release_git_tag.light", "planned_action", "tag "+gitrepo.Short(g.c1)+" as 1.7.3 in the local clone"),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					g.expectOnOrigin("refs/tags/1.7.4", g.c2),
					g.expectOnOrigin("refs/tags/1.7.3", ""),
					func(*terraform.State) error {
						ctx := context.Background()
						v, err := gitrepo.LocalTag(ctx, g.repo.Dir, "1.7.4")
						if err != nil || !v.Annotated || v.Commit != g.c2 {
							return fmt.Errorf("local 1.7.4 = %+v, %v; want an annotated tag of %s", v, err, g.c2)
						}
						if msg, _ := gitrepo.TagMessage(ctx, g.repo.Dir, "1.7.4"); msg != notes174 {
							return fmt.Errorf("message of 1.7.4 = %q, want %q", msg, notes174)
						}
						if obj := g.repo.Git("ls-remote", "origin", "refs/tags/1.7.4"); !strings.HasPrefix(obj, v.Object) {
							return fmt.Errorf("origin's 1.7.4 is %q, want the tag object %s", obj, v.Object)
						}
						light, err := gitrepo.LocalTag(ctx, g.repo.Dir, "1.7.3")
						if err != nil || light.Annotated || light.Commit != g.c1 {
							return fmt.Errorf("local 1.7.3 = %+v, %v; want a lightweight tag of %s", light, err, g.c1)
						}
						return nil
					},
				),
			},
			emptyPlanStep(config),
			// The id names no remote (the clone's tag is read) and the commit as
			// its full hash.
			g.importStep("release_git_tag.v", "1.7.4", "remote", "commit"),
			g.importStep("release_git_tag.light", "1.7.3"),
		},
	})
}

func TestAccGitTagResource_existingTagRefusedUnlessForced(t *testing.T) {
	g := newGitAcc(t)
	g.pushTagByHand("1.7.4", g.c1)
	body := fmt.Sprintf(`  name   = "1.7.4"
  commit = %q
  remote = "origin"
`, g.c2)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      g.tagConfig("v", body),
				ExpectError: errorRe("Refusing to tag " + gitrepo.Short(g.c2) + " as 1.7.4 .*already points at " + g.c1 + ", not at " + g.c2 + ".*force = true"),
			},
			{
				PreConfig: func() {
					if got := g.onOrigin("refs/tags/1.7.4"); got != g.c1 {
						t.Fatalf("a refused tag moved on origin to %s", got)
					}
				},
				Config: g.tagConfig("v", body+"  force = true\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// A new resource: what is asked (the plan warns where the tag is now).
					expectValue("release_git_tag.v", "planned_action", "tag "+gitrepo.Short(g.c2)+" as 1.7.4 on origin, moving the tag if it exists (force)"),
					expectValue("release_git_tag.v", "commit_sha", g.c2),
				}},
				Check: g.expectOnOrigin("refs/tags/1.7.4", g.c2),
			},
		},
	})
}

func TestAccGitTagResource_drift(t *testing.T) {
	g := newGitAcc(t)
	body := fmt.Sprintf(`  name       = "1.7.4"
  commit     = %q
  remote     = "origin"
  on_destroy = "delete"
`, g.c2)
	const addr = "release_git_tag.v"
	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			if got := g.onOrigin("refs/tags/1.7.4"); got != "" {
				return fmt.Errorf("on_destroy = delete left 1.7.4 on origin at %s", got)
			}
			if _, err := gitrepo.LocalTag(context.Background(), g.repo.Dir, "1.7.4"); err == nil {
				return fmt.Errorf("on_destroy = delete left 1.7.4 in the clone")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{Config: g.tagConfig("v", body), Check: g.expectOnOrigin("refs/tags/1.7.4", g.c2)},
			{
				// Moved by hand on origin: the plan is not silent, it refuses to move
				// the tag back and names both commits (terraform plan -refresh-only
				// shows the drift alone: see TestExamplesApply)...
				PreConfig: func() { g.pushTagByHand("1.7.4", g.c1) },
				Config:    g.tagConfig("v", body),
				PlanOnly:  true,
				// (A plan without refresh finds the tag moved since the state was read.)
				ExpectError: errorRe("(already points at " + g.c1 + ", not at " + g.c2 + "|it named " + g.c2 + " and names " + g.c1 + " now)"),
			},
			{
				// ...and with force the plan moves it back from where refresh found it.
				Config: g.tagConfig("v", body+"  force = true\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("commit_sha"), knownvalue.StringExact(g.c2)),
					expectValue(addr, "planned_action", "move tag 1.7.4 from "+gitrepo.Short(g.c1)+" to "+gitrepo.Short(g.c2)+" on origin"),
				}},
				Check: g.expectOnOrigin("refs/tags/1.7.4", g.c2),
			},
			{
				// Deleted by hand on origin: it leaves the state and is tagged again.
				PreConfig: func() { g.otherClone().Git("push", "-q", "origin", ":refs/tags/1.7.4") },
				Config:    g.tagConfig("v", body),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
					expectValue(addr, "planned_action", "tag "+gitrepo.Short(g.c2)+" as 1.7.4 on origin"),
				}},
				Check: g.expectOnOrigin("refs/tags/1.7.4", g.c2),
			},
		},
	})
}

// A tag pushed on another commit between plan and apply is refused by the final plan
// Terraform makes at apply, naming both commits; nothing is moved.
func TestAccGitTagResource_concurrentPushRefused(t *testing.T) {
	g := newGitAcc(t)
	tag := func(commit string) string {
		return g.tagConfig("v", fmt.Sprintf("  name   = \"1.7.4\"\n  commit = %q\n  remote = \"origin\"\n  force  = true\n", commit))
	}
	refusals := &expectedFailures{want: []*regexp.Regexp{
		errorRe("Refusing to tag " + gitrepo.Short(g.c2) + " as 1.7.4 .*already points at " + g.c1 + ", not at " + g.c2),
		errorRe("tag 1.7.4 on origin changed since it was read for the plan: it named " + g.c1 + " and names " + g.c3 + " now. Nothing was changed"),
	}}
	accTest(t, resource.TestCase{
		ErrorCheck: refusals.check,
		Steps: []resource.TestStep{
			{
				// A new tag: someone pushes 1.7.4 on c1 meanwhile.
				Config: g.tagConfig("v", fmt.Sprintf("  name   = \"1.7.4\"\n  commit = %q\n  remote = \"origin\"\n", g.c2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectValue("release_git_tag.v", "planned_action", "tag "+gitrepo.Short(g.c2)+" as 1.7.4 on origin"),
					sideEffect(func() { g.pushTagByHand("1.7.4", g.c1) }),
				}},
			},
			{
				PreConfig: func() {
					if refusals.seen != 1 {
						t.Fatal("the apply of a tag pushed meanwhile on another commit did not fail")
					}
					if got := g.onOrigin("refs/tags/1.7.4"); got != g.c1 {
						t.Fatalf("1.7.4 on origin is %s after a refused apply, want %s left alone", got, g.c1)
					}
				},
				Config: tag(g.c1),
				Check:  g.expectOnOrigin("refs/tags/1.7.4", g.c1),
			},
			{
				// Moved with force: someone moves it to c3 meanwhile.
				Config: tag(g.c2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectValue("release_git_tag.v", "planned_action", "move tag 1.7.4 from "+gitrepo.Short(g.c1)+" to "+gitrepo.Short(g.c2)+" on origin"),
					sideEffect(func() { g.pushTagByHand("1.7.4", g.c3) }),
				}},
			},
		},
	})
	if refusals.seen != 2 {
		t.Fatal("the forced apply over a tag moved since the plan did not fail")
	}
	if got := g.onOrigin("refs/tags/1.7.4"); got != g.c3 {
		t.Fatalf("1.7.4 on origin is %s after a refused apply, want %s left alone", got, g.c3)
	}
}

// A new forced tag's plan cannot rely on where the tag is: moved meanwhile by
// someone else, the apply moves it from where it is then, as asked. Terraform
// never reports a provider bug.
func TestAccGitTagResource_newForcedTagMovedBetweenPlanAndApply(t *testing.T) {
	g := newGitAcc(t)
	g.pushTagByHand("1.7.4", g.c1)
	const addr = "release_git_tag.v"
	config := g.tagConfig("v", fmt.Sprintf("  name    = \"1.7.4\"\n  commit  = %q\n  message = \"Release 1.7.4\"\n  remote  = \"origin\"\n  force   = true\n", g.c2))
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectValue(addr, "planned_action", "tag "+gitrepo.Short(g.c2)+" as 1.7.4 on origin, moving the tag if it exists (force)"),
					expectValue(addr, "commit_sha", g.c2),
					sideEffect(func() { g.pushTagByHand("1.7.4", g.c3) }),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					g.expectOnOrigin("refs/tags/1.7.4", g.c2),
					resource.TestCheckResourceAttr(addr, "commit_sha", g.c2),
					func(*terraform.State) error {
						v, err := gitrepo.RemoteTag(context.Background(), g.repo.Dir, "origin", "1.7.4")
						if err != nil || !v.Annotated {
							return fmt.Errorf("1.7.4 on origin = %+v, %v; want the annotated tag", v, err)
						}
						return nil
					},
				),
			},
			emptyPlanStep(config),
		},
	})
}

// A commit given as a ref (not a hash) may name another commit at apply: the plan
// leaves commit_sha and planned_action unknown, and once applied the next plan is
// empty while the ref still names the tagged commit.
func TestAccGitTagResource_commitAsRef(t *testing.T) {
	g := newGitAcc(t)
	const addr = "release_git_tag.v"
	config := g.tagConfig("v", "  name   = \"1.7.4\"\n  commit = \"main\"\n  remote = \"origin\"\n")
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("commit_sha")),
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("planned_action")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					g.expectOnOrigin("refs/tags/1.7.4", g.c3),
					resource.TestCheckResourceAttr(addr, "planned_action", "tag "+gitrepo.Short(g.c3)+" as 1.7.4 on origin"),
				),
			},
			emptyPlanStep(config),
		},
	})
}

// expectedFailures is a TestCase.ErrorCheck for steps that must fail with errors
// of the provider's own, in order: it accepts a step's error only when it matches
// the next pattern and holds none of Terraform's messages for a provider bug
// ("Provider produced inconsistent final plan", "a bug in the provider").
type expectedFailures struct {
	want []*regexp.Regexp
	seen int
}

func (e *expectedFailures) check(err error) error {
	msg := err.Error()
	for _, bug := range []string{"Provider produced", "bug in the provider"} {
		if strings.Contains(msg, bug) {
			return fmt.Errorf("terraform reports a provider bug instead of the provider's refusal: %w", err)
		}
	}
	if e.seen >= len(e.want) || !e.want[e.seen].MatchString(msg) {
		return fmt.Errorf("unexpected error (%d expected so far): %w", e.seen, err)
	}
	e.seen++
	return nil
}

func TestAccGitTagResource_invalidName(t *testing.T) {
	g := newGitAcc(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:      g.tagConfig("v", fmt.Sprintf("  name   = \"1.7..4\"\n  commit = %q\n", g.c2)),
			PlanOnly:    true,
			ExpectError: errorRe(`Invalid git ref name.*"1.7..4" contains ".."`),
		}, {
			Config:      g.tagConfig("v", fmt.Sprintf("  name   = \"1.7.4\"\n  commit = %q\n  remote = \"https://bot:s3cret@example.org/app.git\"\n", g.c2)),
			PlanOnly:    true,
			ExpectError: errorRe(`Invalid git remote.*holds a password`),
		}},
	})
}

func TestSplitGitID(t *testing.T) {
	for id, want := range map[string][2]string{
		".:1.7.4":                {".", "1.7.4"},
		"/srv/git/app:release/1": {"/srv/git/app", "release/1"},
		`C:\src\app:master`:      {`C:\src\app`, "master"},
	} {
		repo, name, err := splitGitID(id, "tag")
		if err != nil || repo != want[0] || name != want[1] {
			t.Errorf("splitGitID(%q) = %q, %q, %v; want %q, %q", id, repo, name, err, want[0], want[1])
		}
	}
	for _, bad := range []string{"1.7.4", ":1.7.4", "repo:", "repo:a..b"} {
		if _, _, err := splitGitID(bad, "tag"); err == nil {
			t.Errorf("splitGitID(%q) accepted it", bad)
		}
	}
}
