package scalingotest

import (
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
)

// ClientConfig returns a client configuration pointing each endpoint at its
// service of the fake, with the fake's rate limit and short retry waits so
// tests stay fast.
func (s *Server) ClientConfig() scalingo.ClientConfig {
	return scalingo.ClientConfig{
		APIToken:            s.APIToken,
		APIEndpoint:         s.URL,
		AuthEndpoint:        s.AuthURL,
		DatabaseAPIEndpoint: s.DatabaseAPIURL,
		UserAgent:           "terraform-provider-release-tests",
		RetryMax:            3,
		RetryWaitMin:        time.Millisecond,
		RetryWaitMax:        5 * time.Millisecond,
		RateLimit:           s.opts.RateLimit,
		RateWindow:          s.opts.RateWindow,
	}
}

// RateWindow is the window of the fake's rate limit.
func (s *Server) RateWindow() time.Duration { return s.opts.RateWindow }
