package provider

import (
	"context"
	"fmt"
	"os"
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

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
	"github.com/releaseplan/terraform-provider-release/internal/sshtest"
)

func (g *gitAcc) branchConfig(name, body string) string {
	return g.env.ProviderBlock() + g.refResource("release_git_branch", name, body)
}

func masterOn(commit string) string {
	return fmt.Sprintf("  name   = \"master\"\n  commit = %q\n  remote = \"origin\"\n", commit)
}

// setOriginMaster points master on origin at commit, as a push by someone else.
func (g *gitAcc) setOriginMaster(commit string) {
	g.t.Helper()
	g.repo.Git("push", "-q", "-f", "origin", commit+":refs/heads/master")
}

// pushOnMaster commits on top of origin's master from another clone and pushes it,
// returning the new commit.
func (g *gitAcc) pushOnMaster(message string) string {
	g.t.Helper()
	o := g.otherClone()
	o.Checkout("master")
	c := o.Commit(message)
	o.Git("push", "-q", "origin", "master")
	return c
}

const masterAddr = "release_git_branch.master"

// planValueFunc is plancheck.ExpectKnownValue with the value known only when the
// check runs (a commit made by the step's PreConfig).
func planValueFunc(addr, attr string, want func() string) plancheck.PlanCheck {
	return lazyPlanValue{addr: addr, attr: attr, want: want}
}

type lazyPlanValue struct {
	addr, attr string
	want       func() string
}

func (c lazyPlanValue) CheckPlan(ctx context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	plancheck.ExpectKnownValue(c.addr, tfjsonpath.New(c.attr), knownvalue.StringExact(c.want())).CheckPlan(ctx, req, resp)
}

func TestAccGitBranchResource_fastForward(t *testing.T) {
	g := newGitAcc(t)
	g.setOriginMaster(g.c1)
	config := g.branchConfig("master", masterOn(gitrepo.Short(g.c3))) +
		g.refResource("release_git_branch", "local", fmt.Sprintf("  name   = \"release/1.7\"\n  commit = %q\n", g.c2))
	accTest(t, resource.TestCase{
		CheckDestroy: g.expectOnOrigin("refs/heads/master", g.c3), // destroy leaves branches alone
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// A new resource: the plan says what is asked, and where the
					// branch is now is read by the apply.
					expectValue(masterAddr, "planned_action", "move master on origin to "+gitrepo.Short(g.c3)+" (fast-forward only; refused if it is not)"),
					plancheck.ExpectUnknownValue(masterAddr, tfjsonpath.New("previous_sha")),
					plancheck.ExpectUnknownValue(masterAddr, tfjsonpath.New("commit_sha")),
					expectValue(masterAddr, "id", g.repo.Dir+":master"),
					expectValue("release_git_branch.local", "planned_action", "move release/1.7 to "+gitrepo.Short(g.c2)+" (fast-forward only; refused if it is not)"),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					g.expectOnOrigin("refs/heads/master", g.c3),
					resource.TestCheckResourceAttr(masterAddr, "previous_sha", g.c1),
					resource.TestCheckResourceAttr(masterAddr, "commit_sha", g.c3),
					resource.TestCheckNoResourceAttr("release_git_branch.local", "previous_sha"),
					g.expectOnOrigin("refs/heads/release/1.7", ""),
					func(*terraform.State) error {
						if tip := g.repo.Git("rev-parse", "refs/heads/release/1.7"); tip != g.c2 {
							return fmt.Errorf("release/1.7 in the clone is at %s, want %s", tip, g.c2)
						}
						return nil
					},
				),
			},
			emptyPlanStep(config),
			// A created branch had no previous tip; the import reads the tip.
			g.importStep("release_git_branch.local", "release/1.7", "previous_sha"),
		},
	})
}

func TestAccGitBranchResource_nonFastForwardRefused(t *testing.T) {
	g := newGitAcc(t)
	g.setOriginMaster(g.c2)
	g.repo.Checkout(g.c1)
	g.repo.Branch("hotfix")
	fix := g.repo.Commit("fix: hotfix on the old release")
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config:      g.branchConfig("master", masterOn(fix)),
				ExpectError: errorRe("Refusing to move branch master on origin to " + gitrepo.Short(fix) + ".*master on origin is at " + g.c2 + ", which is not an ancestor of " + fix + ".*not a fast-forward"),
			},
			{
				Config:      g.branchConfig("master", masterOn(g.c3)+"  fast_forward = false\n"),
				PlanOnly:    true,
				ExpectError: errorRe("Only fast-forward moves are supported"),
			},
			{
				Config:      g.branchConfig("master", masterOn(g.c3)+"  on_destroy = \"delete\"\n"),
				PlanOnly:    true,
				ExpectError: errorRe(`Branches are never deleted.*only "keep" is accepted`),
			},
		},
	})
	if got := g.onOrigin("refs/heads/master"); got != g.c2 {
		t.Fatalf("master on origin moved to %s after a refused plan", got)
	}
}

// A push to the branch between plan and apply is refused by the final plan Terraform
// makes at apply, naming the tip planned over and the tip now; nothing is pushed.
func TestAccGitBranchResource_concurrentPushRefused(t *testing.T) {
	g := newGitAcc(t)
	g.setOriginMaster(g.c1)
	var theirs string
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: g.branchConfig("master", masterOn(g.c2)), Check: g.expectOnOrigin("refs/heads/master", g.c2)},
			{
				Config: g.branchConfig("master", masterOn(g.c3)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectValue(masterAddr, "planned_action", "move master on origin from "+gitrepo.Short(g.c2)+" to "+gitrepo.Short(g.c3)+" (fast-forward, 1 commit)"),
					sideEffect(func() { theirs = g.pushOnMaster("feat: theirs") }),
				}},
				ExpectError: errorRe("master on origin moved since it was read for the plan: it was at " + g.c2 + " and is at [0-9a-f]{40} now.*Nothing was changed"),
			},
		},
	})
	if got := g.onOrigin("refs/heads/master"); got != theirs || theirs == "" {
		t.Fatalf("master on origin is at %s, want their commit %q left alone", got, theirs)
	}
}

// A branch that moved on past the released commit (the next merges) shows as drift
// (refresh reads the new tip) and the plan is empty: the branch already contains the
// commit. A commit the branch contains is planned as kept, saying so; a new
// resource over a branch already past its commit is kept too, and the next plan is
// empty. A deleted branch is created again.
func TestAccGitBranchResource_movedOnShowsDrift(t *testing.T) {
	g := newGitAcc(t)
	g.setOriginMaster(g.c1)
	config := g.branchConfig("master", masterOn(g.c2))
	var next string
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: config, Check: g.expectOnOrigin("refs/heads/master", g.c2)},
			{
				PreConfig: func() { next = g.pushOnMaster("feat: next") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(masterAddr, plancheck.ResourceActionNoop),
				}},
				Check: func(s *terraform.State) error {
					if err := g.expectOnOrigin("refs/heads/master", next)(s); err != nil {
						return err
					}
					return resource.TestCheckResourceAttr(masterAddr, "commit_sha", next)(s)
				},
			},
			{
				Config: g.branchConfig("master", masterOn(g.c1)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(masterAddr, plancheck.ResourceActionUpdate),
					planValueFunc(masterAddr, "planned_action", func() string {
						return "keep master on origin at " + gitrepo.Short(next) + ": it already contains " + gitrepo.Short(g.c1) + " (2 commits ahead)"
					}),
					planValueFunc(masterAddr, "commit_sha", func() string { return next }),
				}},
				Check: func(s *terraform.State) error { return g.expectOnOrigin("refs/heads/master", next)(s) },
			},
			{
				// A new resource over a branch already past its commit.
				Config: g.branchConfig("again", masterOn(g.c2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("release_git_branch.again", plancheck.ResourceActionCreate),
				}},
				Check: func(s *terraform.State) error {
					if err := g.expectOnOrigin("refs/heads/master", next)(s); err != nil {
						return err
					}
					return resource.TestCheckResourceAttr("release_git_branch.again", "commit_sha", next)(s)
				},
			},
			emptyPlanStep(g.branchConfig("again", masterOn(g.c2))),
			{
				// Deleted on origin: it leaves the state and is created again.
				PreConfig: func() { g.otherClone().Git("push", "-q", "origin", ":refs/heads/master") },
				Config:    g.branchConfig("again", masterOn(g.c2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("release_git_branch.again", plancheck.ResourceActionCreate),
					expectValue("release_git_branch.again", "planned_action", "move master on origin to "+gitrepo.Short(g.c2)+" (fast-forward only; refused if it is not)"),
				}},
				Check: g.expectOnOrigin("refs/heads/master", g.c2),
			},
		},
	})
}

// TestAccGitTagAndBranchOverSSH tags and moves master on a remote reached over SSH
// (a bare repository on a test sshd), with the key and known_hosts given to git
// through GIT_SSH_COMMAND, as a CI job's git configuration would.
func TestAccGitTagAndBranchOverSSH(t *testing.T) {
	g := newGitAcc(t)
	f := sshtest.Start(t, 1, sshtest.Root("/srv/release-git"))
	bare := f.Local(0, "/srv/release-git/app.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", g.origin, bare).CombinedOutput(); err != nil {
		t.Fatalf("git clone --bare: %v: %s", err, out)
	}
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(key, f.ClientKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	port := f.Hosts[0].Port
	t.Setenv("GIT_SSH_COMMAND", fmt.Sprintf("ssh -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes -p %d",
		key, f.KnownHostsFile(), port))
	url := fmt.Sprintf("ssh://root@127.0.0.1:%d/srv/release-git/app.git", port)
	onSSH := func(ref, want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			out, _ := exec.Command("git", "--git-dir", bare, "rev-parse", "--verify", "--quiet", ref+"^{commit}").Output()
			if got := strings.TrimSpace(string(out)); got != want {
				return fmt.Errorf("%s on the SSH remote is %q, want %q", ref, got, want)
			}
			return nil
		}
	}
	config := g.env.ProviderBlock() + fmt.Sprintf(`
resource "release_git_tag" "v" {
  repository = %[1]q
  name       = "1.7.4"
  commit     = %[2]q
  message    = "Release 1.7.4"
  remote     = %[3]q
}

resource "release_git_branch" "main" {
  repository = %[1]q
  name       = "main"
  commit     = %[4]q
  remote     = %[3]q
}
`, g.repo.Dir, g.c2, url, g.c3)
	g.repo.Git("push", "-q", "-f", url, g.c1+":refs/heads/main")
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectValue("release_git_tag.v", "planned_action", "tag "+gitrepo.Short(g.c2)+" as 1.7.4 on "+url),
					expectValue("release_git_branch.main", "planned_action", "move main on "+url+" to "+gitrepo.Short(g.c3)+" (fast-forward only; refused if it is not)"),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(onSSH("refs/tags/1.7.4", g.c2), onSSH("refs/heads/main", g.c3),
					resource.TestCheckResourceAttr("release_git_branch.main", "previous_sha", g.c1)),
			},
			emptyPlanStep(config),
		},
	})
}

// The released commit usually comes from another resource (an artifact's metadata,
// a module's output): unknown at plan, the hashes and actions are planned unknown,
// the apply tags and moves, and the next plan is empty.
func TestAccGitTagAndBranch_unknownCommit(t *testing.T) {
	g := newGitAcc(t)
	g.setOriginMaster(g.c1)
	config := g.env.ProviderBlock() + fmt.Sprintf(`
resource "terraform_data" "release" {
  input = %[2]q
}

resource "release_git_tag" "v" {
  repository = %[1]q
  name       = "1.7.4"
  commit     = terraform_data.release.output
  message    = "Release 1.7.4"
  remote     = "origin"
}

resource "release_git_branch" "master" {
  repository = %[1]q
  name       = "master"
  commit     = terraform_data.release.output
  remote     = "origin"
}
`, g.repo.Dir, g.c3)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue("release_git_tag.v", tfjsonpath.New("commit_sha")),
					plancheck.ExpectUnknownValue("release_git_tag.v", tfjsonpath.New("planned_action")),
					plancheck.ExpectUnknownValue(masterAddr, tfjsonpath.New("previous_sha")),
					plancheck.ExpectUnknownValue(masterAddr, tfjsonpath.New("planned_action")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					g.expectOnOrigin("refs/tags/1.7.4", g.c3),
					g.expectOnOrigin("refs/heads/master", g.c3),
					resource.TestCheckResourceAttr("release_git_tag.v", "planned_action", "tag "+gitrepo.Short(g.c3)+" as 1.7.4 on origin"),
					resource.TestCheckResourceAttr(masterAddr, "planned_action", "move master on origin to "+gitrepo.Short(g.c3)+" (fast-forward only; refused if it is not)"),
					resource.TestCheckResourceAttr(masterAddr, "previous_sha", g.c1),
				),
			},
			emptyPlanStep(config),
		},
	})
}

// A new resource's plan cannot rely on where the branch is: when the tip moves
// between plan and apply, the apply moves the branch forward from where it is
// then, or the final plan refuses, naming both commits, a move that is no longer a
// fast-forward. Terraform never reports a provider bug.
func TestAccGitBranchResource_newResourceTipMovesBetweenPlanAndApply(t *testing.T) {
	g := newGitAcc(t)
	g.setOriginMaster(g.c1)
	g.repo.Git("push", "-q", "origin", g.c1+":refs/heads/stable")
	master := g.branchConfig("master", masterOn(g.c3))
	stable := master + g.refResource("release_git_branch", "stable", fmt.Sprintf("  name   = \"stable\"\n  commit = %q\n  remote = \"origin\"\n", g.c3))
	refusal := &expectedFailures{want: []*regexp.Regexp{errorRe("Refusing to move branch stable on origin to " + gitrepo.Short(g.c3) +
		".*stable on origin is at [0-9a-f]{40}, which is not an ancestor of " + g.c3 + ".*not a fast-forward")}}
	var theirs string
	accTest(t, resource.TestCase{
		ErrorCheck: refusal.check,
		Steps: []resource.TestStep{
			{
				// The tip moves forward, still behind the commit: the apply moves it on.
				Config: master,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectValue(masterAddr, "planned_action", "move master on origin to "+gitrepo.Short(g.c3)+" (fast-forward only; refused if it is not)"),
					sideEffect(func() { g.setOriginMaster(g.c2) }),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					g.expectOnOrigin("refs/heads/master", g.c3),
					resource.TestCheckResourceAttr(masterAddr, "previous_sha", g.c2),
					resource.TestCheckResourceAttr(masterAddr, "commit_sha", g.c3),
				),
			},
			{
				// Someone pushes on stable: the move would drop their commit.
				Config: stable,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectValue("release_git_branch.stable", "planned_action", "move stable on origin to "+gitrepo.Short(g.c3)+" (fast-forward only; refused if it is not)"),
					sideEffect(func() {
						o := g.otherClone()
						o.Checkout("stable")
						theirs = o.Commit("fix: theirs")
						o.Git("push", "-q", "origin", "stable")
					}),
				}},
			},
			{
				PreConfig: func() {
					if refusal.seen != 1 {
						t.Fatal("the apply over a moved stable did not fail")
					}
					if got := g.onOrigin("refs/heads/stable"); got != theirs || theirs == "" {
						t.Fatalf("stable on origin is at %s, want their commit %q left alone", got, theirs)
					}
				},
				Config:           master,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}
