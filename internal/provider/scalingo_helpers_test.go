package provider

import (
	"fmt"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/acctest"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo/scalingotest"
)

// scalingoProviderBlock is the environment's provider block plus a scalingo block
// pointing every endpoint at the fake.
func scalingoProviderBlock(env *acctest.Env, fake *scalingotest.Server) string {
	return env.ProviderBlockWith(fmt.Sprintf(`  scalingo {
    api_token  = %q
    api_url    = %q
    auth_url   = %q
    db_api_url = %q
  }
`, fake.APIToken, fake.URL, fake.URL, fake.URL))
}

// fastScalingoPolling shortens polling for the duration of a test.
func fastScalingoPolling(t *testing.T) {
	old := scalingoPollInterval
	scalingoPollInterval = 10 * time.Millisecond
	t.Cleanup(func() { scalingoPollInterval = old })
}
