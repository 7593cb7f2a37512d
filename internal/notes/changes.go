package notes

import (
	"context"
	"fmt"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
)

// Changes is what a release changes compared with the live one, by commit.
type Changes struct {
	// Added are the entries the new commit brings: git's live..new.
	Added []Entry
	// Removed are the entries of the live commit that the new one does not
	// contain (git's new..live): what a rollback takes away, or what a new
	// commit that does not descend from the live one leaves out.
	Removed []Entry
	// Descends tells whether the new commit descends from the live one (or is it).
	Descends bool
}

// Between reads the changes from the live commit to the new one in repo, a
// local clone. A shallow clone is refused (wrapping gitrepo.ErrShallow): it
// could miss commits and list fewer changes than the release makes.
func Between(ctx context.Context, repo, live, next string) (Changes, error) {
	shallow, err := gitrepo.IsShallow(ctx, repo)
	if err != nil {
		return Changes{}, err
	}
	if shallow {
		return Changes{}, fmt.Errorf("%s is a shallow clone, which may lack commits between %s and %s: %w", repo, short(live), short(next), gitrepo.ErrShallow)
	}
	var c Changes
	if c.Descends, err = gitrepo.IsAncestor(ctx, repo, live, next); err != nil {
		return Changes{}, err
	}
	added, err := gitrepo.Log(ctx, repo, live, next)
	if err != nil {
		return Changes{}, err
	}
	removed, err := gitrepo.Log(ctx, repo, next, live)
	if err != nil {
		return Changes{}, err
	}
	c.Added, c.Removed = FromCommits(added), FromCommits(removed)
	return c, nil
}

// Lines are the changes as a plan shows them, one entry a line, added ones
// first: "Features: api: add CSV export (#12)", then
// "Removed: Bug fixes: trim spaces (3f2a9c1)".
func (c Changes) Lines() []string {
	lines := make([]string, 0, len(c.Added)+len(c.Removed))
	for _, e := range c.Added {
		lines = append(lines, e.Line())
	}
	for _, e := range c.Removed {
		lines = append(lines, "Removed: "+e.Line())
	}
	return lines
}

// Line is the entry on one line, its section first: "Features: api: add CSV
// export (#12)", "Changes (BREAKING): drop the v1 API (!34)", "Bug fixes: trim
// spaces (3f2a9c1)" (the commit when no pull request names it).
func (e Entry) Line() string {
	s := e.Section
	if e.Breaking {
		s += " (BREAKING)"
	}
	s += ": "
	if e.Scope != "" {
		s += e.Scope + ": "
	}
	s += e.Subject
	switch {
	case e.PullRequestRef != "":
		s += " (" + e.PullRequestRef + ")"
	case e.Hash != "":
		s += " (" + short(e.Hash) + ")"
	}
	return s
}
