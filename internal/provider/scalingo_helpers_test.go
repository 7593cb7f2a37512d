package provider

import (
	"fmt"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
)

// scalingoProviderBlock is the environment's provider block plus a scalingo block
// pointing each endpoint at its service of the fake. The provider's request
// budget takes the fake's rate window.
func scalingoProviderBlock(env *acctest.Env, fake *scalingotest.Server) string {
	scalingoRateWindow = fake.RateWindow()
	return env.ProviderBlockWith(fmt.Sprintf(`  scalingo {
    api_token  = %q
    api_url    = %q
    auth_url   = %q
    db_api_url = %q
  }
`, fake.APIToken, fake.URL, fake.AuthURL, fake.DatabaseAPIURL))
}

// fastScalingoPolling shortens polling for the duration of a test.
func fastScalingoPolling(t *testing.T) {
	old, oldWindow := scalingoPollInterval, scalingoRateWindow
	scalingoPollInterval = 10 * time.Millisecond
	t.Cleanup(func() { scalingoPollInterval, scalingoRateWindow = old, oldWindow })
}
