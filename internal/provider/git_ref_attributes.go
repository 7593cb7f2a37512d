package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/releaseplan/terraform-provider-release/internal/validate"
)

// gitRefAttributes are the attributes release_git_tag and release_git_branch
// share: the id, the clone, the ref's name (kind "tag" or "branch", example
// "1.7.4"), the commit and the remote, whose descriptions say what the type
// does with them. own adds the type's other attributes.
func gitRefAttributes(kind, example, commitDesc, remoteDesc string, own map[string]schema.Attribute) map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{
		"id": schema.StringAttribute{
			MarkdownDescription: "`<repository>:<name>`.",
			Computed:            true,
			PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"repository": schema.StringAttribute{
			MarkdownDescription: "Path of the local clone (relative paths start from the directory Terraform runs in), e.g. `.`.",
			Required:            true,
			Validators:          []validator.String{validate.NotBlank("Missing repository", "Set repository to the path of a git clone, e.g. \".\".")},
			PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
		},
		"name": schema.StringAttribute{
			MarkdownDescription: "The " + kind + "'s name, e.g. `" + example + "`: a valid git ref name (see `git check-ref-format`).",
			Required:            true,
			Validators:          []validator.String{validate.GitRefName()},
			PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
		},
		"commit": schema.StringAttribute{
			MarkdownDescription: commitDesc,
			Required:            true,
			Validators:          []validator.String{validate.NotBlank("Missing commit", "Set commit to the hash of the released commit.")},
		},
		"remote": schema.StringAttribute{
			MarkdownDescription: remoteDesc,
			Optional:            true,
			Validators:          []validator.String{validate.GitRemote()},
		},
	}
	for name, a := range own {
		attrs[name] = a
	}
	return attrs
}
