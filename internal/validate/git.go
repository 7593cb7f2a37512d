package validate

import (
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/releaseplan/terraform-provider-release/internal/gitrepo"
)

// GitRefName accepts a tag or branch name git accepts (git check-ref-format
// --allow-onelevel), without a leading '-' and other than HEAD (gitrepo.CheckRefName).
func GitRefName() validator.String {
	return String("value must be a valid git tag or branch name (see git check-ref-format)",
		"Invalid git ref name", gitrepo.CheckRefName)
}

// GitRemote accepts a git remote (a configured remote's name, a path or a URL)
// that holds no password (gitrepo.CheckRemote).
func GitRemote() validator.String {
	return String("value must be a configured remote's name, a path or a URL, without a password",
		"Invalid git remote", gitrepo.CheckRemote)
}
