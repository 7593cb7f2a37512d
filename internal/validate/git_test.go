package validate

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestGitRules(t *testing.T) {
	for _, good := range []string{"1.7.4", "master", "release/1.7", "v2.0rc1"} {
		if resp := run(GitRefName(), types.StringValue(good)); resp.Diagnostics.HasError() {
			t.Errorf("GitRefName refused %q: %v", good, resp.Diagnostics)
		}
	}
	for bad, detail := range map[string]string{"1.7..4": `contains ".."`, "-f": "option", "a b": "spaces", "x.lock": ".lock", "HEAD": "revision"} {
		resp := run(GitRefName(), types.StringValue(bad))
		if !resp.Diagnostics.HasError() {
			t.Errorf("GitRefName accepted %q", bad)
			continue
		}
		d := resp.Diagnostics[0]
		if d.Summary() != "Invalid git ref name" || !strings.Contains(d.Detail(), detail) {
			t.Errorf("GitRefName(%q) = %q: %q; want a detail with %q", bad, d.Summary(), d.Detail(), detail)
		}
	}
	if resp := run(GitRemote(), types.StringValue("ssh://git@example.org:2222/app.git")); resp.Diagnostics.HasError() {
		t.Errorf("GitRemote refused an SSH URL: %v", resp.Diagnostics)
	}
	resp := run(GitRemote(), types.StringValue("https://bot:tok3n@example.org/app.git"))
	if !resp.Diagnostics.HasError() || strings.Contains(resp.Diagnostics[0].Detail(), "tok3n") {
		t.Errorf("GitRemote with a password = %v; want a refusal that does not repeat it", resp.Diagnostics)
	}
}
