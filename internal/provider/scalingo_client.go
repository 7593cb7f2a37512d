package provider

import (
	"context"
	"sync"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
)

// scalingoPollInterval is how often Scalingo deployments, operations and backups
// are polled. Tests shorten it.
var scalingoPollInterval = 3 * time.Second

// scalingoRateWindow is the window of Scalingo's rate limit (60 requests per
// minute per token), which every resource of a run shares through one client.
// Tests shorten it to their fake's.
var scalingoRateWindow = scalingo.DefaultRateWindow

// scalingoClients shares one client (and so one bearer token and one request
// budget) per configuration across the resources of a run; clients are only created when a scalingo block is
// used, so configurations without one never need a token.
var scalingoClients = struct {
	sync.Mutex
	m map[scalingoSettings]*scalingo.Client
}{m: map[scalingoSettings]*scalingo.Client{}}

// scalingoClient returns the client for the provider's scalingo settings.
func (d *providerData) scalingoClient(ctx context.Context) (*scalingo.Client, error) {
	if d == nil {
		return nil, errNotConfigured
	}
	s := d.Scalingo
	scalingoClients.Lock()
	defer scalingoClients.Unlock()
	if c, ok := scalingoClients.m[s]; ok {
		return c, nil
	}
	c, err := scalingo.New(ctx, scalingo.ClientConfig{
		APIToken:            s.APIToken,
		Region:              s.Region,
		APIEndpoint:         s.APIURL,
		AuthEndpoint:        s.AuthURL,
		DatabaseAPIEndpoint: s.DBAPIURL,
		UserAgent:           "terraform-provider-release/" + d.ProviderVersion,
		RateLimit:           scalingo.DefaultRateLimit,
		RateWindow:          scalingoRateWindow,
		// No Logger: the client is shared by every resource of the run, so retries
		// are logged with each request's own context (internal/logging), never
		// with the context of the resource that happened to create the client.
	})
	if err != nil {
		return nil, err
	}
	scalingoClients.m[s] = c
	return c, nil
}
