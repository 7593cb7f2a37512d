package gitrepo

import "testing"

func TestPullRequest(t *testing.T) {
	tests := []struct {
		subject, body string
		n             int
		title         string
	}{
		{"Merge pull request #12 from acme/feature", "feat: export\n\nmore", 12, "feat: export"},
		{"Merge pull request #7 from acme/empty", "", 7, ""},
		{"Merge branch 'gl' into 'main'", "fix: crash\n\nSee merge request acme/app!34", 34, "fix: crash"},
		{"Merge branch 'gl' into 'main'", "See merge request !5", 5, ""},
		{"Merge branch 'gl' into 'main'", "a local merge, no request", 0, ""},
		{"Merge branch 'develop'", "", 0, ""},
		{"feat: export (#56)", "", 56, "feat: export"},
		{"fix: issue #56", "", 0, ""},
		{"chore: plain", "See merge request acme/app!3", 0, ""},
	}
	for _, tt := range tests {
		n, title := pullRequest(tt.subject, tt.body)
		if n != tt.n || title != tt.title {
			t.Errorf("pullRequest(%q, %q) = %d, %q; want %d, %q", tt.subject, tt.body, n, title, tt.n, tt.title)
		}
	}
}
