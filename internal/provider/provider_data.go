package provider

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/notify"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// providerData is what every resource, data source and ephemeral resource receives.
type providerData struct {
	Store   store.Store
	Backend backend.Backend
	// Notifier posts history events to the notify block's webhooks; nil without any.
	// Backend already announces what is appended through it (see notify.Backend);
	// announceRecorded uses it for events a backend records by itself.
	Notifier *notify.Notifier
	// Actor names who performs the changes in history and default lock holders.
	Actor string
	// Run is the CI run this Terraform run belongs to (history.Run.Ref), recorded
	// in every history event; empty outside CI.
	Run string
	// VerifyOnRead re-hashes stored artifacts on refresh instead of checking sizes.
	VerifyOnRead bool
	Scalingo     scalingoSettings
	Webhooks     []webhookSettings
	// SSH is the provider's ssh block: defaults of every resource's ssh block
	// (see sshConfigs). Its values may be unknown while planning.
	SSH sshDefaults
	// ProviderVersion is the build version, for user agents.
	ProviderVersion string
}

// errNotConfigured is the error of an operation run before the provider is
// configured (for example while Terraform evaluates a configuration too early).
var errNotConfigured = errors.New("the release provider is not configured yet: its backend and artifact store are unknown; this is a bug in the provider or a configuration evaluated too early, apply again")

// providerDataFrom is every Configure method's way to take the provider's data: it
// returns nil (without error) before the provider is configured.
func providerDataFrom(pd any, diags *diag.Diagnostics) *providerData {
	if pd == nil {
		return nil
	}
	d, ok := pd.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("Expected *providerData, got %T. Please report this issue to the provider developers.", pd))
		return nil
	}
	return d
}

// configured is the one guard of the operations that need the configured provider:
// it reports an error on diags and returns false when d is not configured.
func configured(d *providerData, diags *diag.Diagnostics) bool {
	if d != nil && d.Backend != nil {
		return true
	}
	diags.AddError("Provider not configured", sentenceCase(errNotConfigured.Error())+".")
	return false
}

// sentenceCase capitalises the first letter of an ASCII message, unless its
// first word is an attribute name (time_zone), which keeps its spelling.
func sentenceCase(s string) string {
	first, _, _ := strings.Cut(s, " ")
	if s != "" && s[0] >= 'a' && s[0] <= 'z' && !strings.Contains(first, "_") {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
