// Package promotetest builds, for tests, the git history a promotion's
// descendant guard (require_descendant_of) is checked on, so that the promote
// package's tests and the provider's acceptance tests use the same one.
package promotetest

import (
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo/gitrepotest"
)

// History is a repository where main holds Base (what production runs) and
// Feature after it, while Side was committed on the branch "side", which left
// main before Base: Feature descends from Base, Side does not.
type History struct {
	Repo                *gitrepotest.Repo
	Base, Feature, Side string
}

// New builds the History in a temporary repository.
func New(t testing.TB) History {
	t.Helper()
	h := History{Repo: gitrepotest.New(t)}
	h.Repo.Commit("feat: first")
	h.Repo.Branch("side")
	h.Side = h.Repo.Commit("fix: a branch that forgot production")
	h.Repo.Checkout("main")
	h.Base = h.Repo.Commit("fix: what production runs")
	h.Feature = h.Repo.Commit("feat: next release")
	return h
}
