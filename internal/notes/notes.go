// Package notes turns the commits between two releases into release notes:
// entries grouped into Features, Bug fixes and Changes by their conventional
// commit prefix (feat, fix, ...), merged pull requests told by their titles, and a
// markdown rendering ready for a release page or a changelog.
package notes

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
)

// Section titles, in the order they are rendered.
const (
	SectionFeatures = "Features"
	SectionFixes    = "Bug fixes"
	SectionChanges  = "Changes"
)

// Sections lists the section titles in rendering order.
func Sections() []string { return []string{SectionFeatures, SectionFixes, SectionChanges} }

// Entry is one line of the release notes.
type Entry struct {
	// Section is SectionFeatures, SectionFixes or SectionChanges.
	Section string
	// Type is the conventional commit type, lower-cased ("feat", "docs"), or ""
	// for a message without a prefix; Scope the parenthesised scope, if any.
	Type  string
	Scope string
	// Subject is the description without the prefix.
	Subject string
	// Hash is the commit (or merge commit) the entry comes from.
	Hash   string
	Author string
	// Breaking is set by "type!:" or a "BREAKING CHANGE:" footer.
	Breaking bool
	// PullRequest is the merged pull or merge request number, 0 when none;
	// PullRequestRef its written form ("#12", "!12").
	PullRequest    int
	PullRequestRef string
}

var (
	conventional = regexp.MustCompile(`^([A-Za-z][\w-]*)(?:\(([^()]*)\))?(!)?:\s+(\S.*)$`)
	breakingNote = regexp.MustCompile(`(?m)^BREAKING[ -]CHANGE:`)
)

// Classify parses a conventional commit title ("feat(api)!: add export") and
// body. A title without a conventional prefix gives type "" and the title as
// subject.
func Classify(title, body string) (typ, scope, subject string, breaking bool) {
	title = strings.TrimSpace(title)
	breaking = breakingNote.MatchString(body)
	m := conventional.FindStringSubmatch(title)
	if m == nil {
		return "", "", title, breaking
	}
	return strings.ToLower(m[1]), strings.TrimSpace(m[2]), strings.TrimSpace(m[4]), breaking || m[3] == "!"
}

// SectionOf maps a conventional type to its section.
func SectionOf(typ string) string {
	switch typ {
	case "feat", "feature":
		return SectionFeatures
	case "fix", "bugfix", "hotfix":
		return SectionFixes
	default:
		return SectionChanges
	}
}

// FromCommits makes the entries of a gitrepo.Log (newest first, full history, not
// only first parents): a merged pull request becomes one entry with its title and
// the commits it brought in are left out; merge commits that name no pull request
// ("Merge branch 'develop'") are left out and the commits they merged kept.
// Entries come grouped by section in Sections order, in log order within each.
func FromCommits(commits []gitrepo.Commit) []Entry {
	inRange := make(map[string]gitrepo.Commit, len(commits))
	for _, c := range commits {
		inRange[c.Hash] = c
	}
	absorbed := map[string]bool{}
	for _, c := range commits {
		if !c.IsMerge() || c.PullRequestTitle == "" {
			continue
		}
		// The pull request's commits: reachable from the merged side, not from
		// the main side, within the range.
		main := reachable(inRange, c.Parents[:1])
		for h := range reachable(inRange, c.Parents[1:]) {
			if !main[h] {
				absorbed[h] = true
			}
		}
	}
	var entries []Entry
	for _, c := range commits {
		if absorbed[c.Hash] {
			continue
		}
		if c.IsMerge() && c.PullRequestTitle == "" {
			continue
		}
		typ, scope, subject, breaking := Classify(c.Title(), c.Body)
		entries = append(entries, Entry{
			Section: SectionOf(typ), Type: typ, Scope: scope, Subject: subject,
			Hash: c.Hash, Author: c.Author, Breaking: breaking,
			PullRequest: c.PullRequest, PullRequestRef: c.PullRequestRef,
		})
	}
	rank := map[string]int{}
	for i, s := range Sections() {
		rank[s] = i
	}
	slices.SortStableFunc(entries, func(a, b Entry) int { return rank[a.Section] - rank[b.Section] })
	return entries
}

func reachable(set map[string]gitrepo.Commit, from []string) map[string]bool {
	seen := map[string]bool{}
	stack := slices.Clone(from)
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c, ok := set[h]
		if !ok || seen[h] {
			continue
		}
		seen[h] = true
		stack = append(stack, c.Parents...)
	}
	return seen
}

// CompareURL fills a template's {from} and {to} placeholders, e.g.
// "https://github.com/acme/app/compare/{from}...{to}". An empty template gives "".
func CompareURL(template, from, to string) string {
	if template == "" {
		return ""
	}
	return strings.NewReplacer("{from}", from, "{to}", to).Replace(template)
}

// Release is what Markdown renders.
type Release struct {
	Version string
	// Date is shown as YYYY-MM-DD (UTC); the zero time leaves it out.
	Date    time.Time
	Entries []Entry
	// CompareURL, when set, ends the notes as the "Full Changelog" link.
	CompareURL string
}

// Markdown renders the notes:
//
//	# 1.7.4 (2024-03-01)
//
//	## Features
//
//	* **api:** add CSV export (#12) (3f2a9c1)
//
//	## Bug fixes
//	...
//
//	**Full Changelog**: https://github.com/acme/app/compare/1.7.3...1.7.4
//
// Empty sections are left out; breaking changes are marked **BREAKING**.
func Markdown(r Release) string {
	var b strings.Builder
	b.WriteString("# " + r.Version)
	if !r.Date.IsZero() {
		b.WriteString(" (" + r.Date.UTC().Format(time.DateOnly) + ")")
	}
	b.WriteString("\n")
	if len(r.Entries) == 0 {
		b.WriteString("\nNo changes.\n")
	}
	for _, section := range Sections() {
		first := true
		for _, e := range r.Entries {
			if e.Section != section {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n## %s\n\n", section)
				first = false
			}
			b.WriteString("* " + entryLine(e) + "\n")
		}
	}
	if r.CompareURL != "" {
		fmt.Fprintf(&b, "\n**Full Changelog**: %s\n", r.CompareURL)
	}
	return b.String()
}

func entryLine(e Entry) string {
	var b strings.Builder
	if e.Breaking {
		b.WriteString("**BREAKING** ")
	}
	if e.Scope != "" {
		b.WriteString("**" + e.Scope + ":** ")
	}
	b.WriteString(e.Subject)
	if e.PullRequestRef != "" {
		b.WriteString(" (" + e.PullRequestRef + ")")
	}
	if e.Hash != "" {
		b.WriteString(" (" + short(e.Hash) + ")")
	}
	return b.String()
}

func short(hash string) string {
	if len(hash) > 7 {
		return hash[:7]
	}
	return hash
}
