package provider

import (
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// unknownConfiguration handles a provider configuration that holds values not
// known until the apply (a backend path or DSN, a token, taken from a resource
// that is not created yet). The provider opens its store and backend when
// Terraform plans, to read what is live and what is locked: a plan made with a
// default in place of the unknown value would be a plan against another backend.
// So a Terraform that can defer is told to defer this provider's changes, and
// any other gets one error per unknown value, naming it. It returns false when
// the configuration is fully known and Configure may go on.
func unknownConfiguration(req provider.ConfigureRequest, resp *provider.ConfigureResponse) bool {
	unknown := unknownPaths(req.Config.Raw)
	if len(unknown) == 0 {
		return false
	}
	if req.ClientCapabilities.DeferralAllowed {
		resp.Deferred = &provider.Deferred{Reason: provider.DeferredReasonProviderConfigUnknown}
		return true
	}
	for _, p := range unknown {
		resp.Diagnostics.AddAttributeError(p, "Provider configuration not known at plan time",
			describePath(p)+" is not known until the apply: it comes from a resource that is not created yet. "+
				"The provider opens its artifact store, backend and connections when Terraform plans, to read what is live and what is locked, "+
				"so each of its settings must be known then. Set it from a variable or a value known before the plan, "+
				"or create its source first (terraform apply -target=<that resource>), then plan again.")
	}
	return true
}

// unknownPaths lists the paths of the values of v that are not known, outermost
// first; the elements of a set are named by the set.
func unknownPaths(v tftypes.Value) []path.Path {
	var out []path.Path
	_ = tftypes.Walk(v, func(p *tftypes.AttributePath, v tftypes.Value) (bool, error) {
		if v.IsKnown() {
			return true, nil
		}
		out = append(out, frameworkPath(p))
		return false, nil
	})
	return out
}

// frameworkPath turns a terraform-plugin-go attribute path into the framework's.
func frameworkPath(p *tftypes.AttributePath) path.Path {
	out := path.Empty()
	for _, step := range p.Steps() {
		switch s := step.(type) {
		case tftypes.AttributeName:
			out = out.AtName(string(s))
		case tftypes.ElementKeyInt:
			out = out.AtListIndex(int(s))
		case tftypes.ElementKeyString:
			out = out.AtMapKey(string(s))
		default: // a set element: name its set
			return out
		}
	}
	return out
}

// describePath writes p as a user writes it in HCL: backend.directory.path,
// without the list indexes of single blocks.
func describePath(p path.Path) string {
	var parts []string
	for _, s := range p.Steps() {
		switch s := s.(type) {
		case path.PathStepAttributeName:
			parts = append(parts, string(s))
		case path.PathStepElementKeyString:
			parts = append(parts, `["`+string(s)+`"]`)
		}
	}
	if len(parts) == 0 {
		return "The provider's configuration"
	}
	return strings.ReplaceAll(strings.Join(parts, "."), `.["`, `["`)
}
