package scalingotest

import (
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
)

// ClientConfig returns a client configuration pointing every endpoint at the fake,
// with short retry waits so tests stay fast.
func (s *Server) ClientConfig() scalingo.ClientConfig {
	return scalingo.ClientConfig{
		APIToken:            s.APIToken,
		APIEndpoint:         s.URL,
		AuthEndpoint:        s.URL,
		DatabaseAPIEndpoint: s.URL,
		UserAgent:           "terraform-provider-release-tests",
		RetryMax:            3,
		RetryWaitMin:        time.Millisecond,
		RetryWaitMax:        5 * time.Millisecond,
	}
}
