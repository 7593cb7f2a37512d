package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/releaseplan/terraform-provider-release/internal/notify"
	"github.com/releaseplan/terraform-provider-release/internal/store"
)

// openHTTPStore opens the artifact_store { http { ... } } store. It does not
// contact the server: configuration problems show up as errors of the first call.
func openHTTPStore(ctx context.Context, m *httpStoreModel) (store.Store, diag.Diagnostics) {
	var diags diag.Diagnostics
	at := path.Root("artifact_store").AtName("http")
	if m.URL.IsNull() || m.URL.ValueString() == "" {
		diags.AddAttributeError(at.AtName("url"), "Missing artifact store URL",
			"Set artifact_store.http.url to the repository's base URL, e.g. https://dav.example.org/releases.")
		return nil, diags
	}
	headers := map[string]string{}
	diags.Append(m.Headers.ElementsAs(ctx, &headers, false)...)
	if diags.HasError() {
		return nil, diags
	}
	st, err := store.NewHTTP(store.HTTPConfig{
		URL:      m.URL.ValueString(),
		Username: m.Username.ValueString(),
		Password: m.Password.ValueString(),
		Headers:  headers,
		CAFile:   m.CAFile.ValueString(),
		Insecure: m.Insecure.ValueBool(),
	})
	if err != nil {
		diags.AddAttributeError(at, "Unable to open the artifact store", err.Error())
		return nil, diags
	}
	return st, diags
}

// wireNotifications wraps the backend so that every history event that a webhook
// subscribed to is posted to it, whichever resource appends it. A failed post is a
// warning (see notify.Backend), never a failed operation.
func wireNotifications(data *providerData) diag.Diagnostics {
	var diags diag.Diagnostics
	if len(data.Webhooks) == 0 || data.Backend == nil {
		return diags
	}
	hooks := make([]notify.Webhook, 0, len(data.Webhooks))
	for _, w := range data.Webhooks {
		hooks = append(hooks, notify.Webhook{URL: w.URL, Events: w.Events})
	}
	n, err := notify.New(hooks, nil)
	if err != nil {
		diags.AddAttributeError(path.Root("notify"), "Invalid notify block", err.Error()+".")
		return diags
	}
	data.Notifier = n
	data.Backend = notify.Backend(data.Backend, n)
	return diags
}
