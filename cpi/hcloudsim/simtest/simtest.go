// Package simtest starts the Hetzner Cloud API simulator for tests: on httptest, behind a validator that
// checks every response against Hetzner's OpenAPI document, with an hcloud-go client tuned for tests.
package simtest

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
)

// DefaultToken is the token Start uses when opts.Token is empty.
const DefaultToken = "test-token"

// Env is a running simulator.
type Env struct {
	Sim   *hcloudsim.Sim
	URL   string // API endpoint, ends in /v1
	Token string

	validator *ValidatingHandler
}

// Abandoned returns how many exchanges were not validated because the client had gone before the
// simulator answered (see ValidatingHandler).
func (e *Env) Abandoned() int { return e.validator.Abandoned() }

// Start serves a new simulator on httptest (127.0.0.1), wraps it in the Hetzner OpenAPI 3.1 response
// validator, and at t.Cleanup fails the test if any response did not validate. Exchanges the client
// abandoned before the simulator answered (a latency fault outliving the client's deadline) are not
// validated; Env.Abandoned counts them.
func Start(t testing.TB, opts hcloudsim.Options) *Env {
	t.Helper()
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	sim := hcloudsim.New(opts)
	v := newValidatingHandler(t, sim)
	srv := httptest.NewServer(v)
	t.Cleanup(func() {
		srv.Close()
		v.report(t)
	})
	return &Env{Sim: sim, URL: srv.URL + "/v1", Token: opts.Token, validator: v}
}

// Client returns an hcloud-go client for the simulator: the Env's token and endpoint, hcloud-go's default
// retry policy (5 retries) with zero backoff, and a 1 ms action poll interval. opts are applied last.
// With non-zero Delays every millisecond of a running action costs a poll against the rate limit: pass a
// slower hcloud.WithPollOpts or start the simulator with a larger RateLimit.
func (e *Env) Client(opts ...hcloud.ClientOption) *hcloud.Client {
	base := []hcloud.ClientOption{
		hcloud.WithToken(e.Token),
		hcloud.WithEndpoint(e.URL),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: func(int) time.Duration { return 0 }, MaxRetries: 5}),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(time.Millisecond)}),
	}
	return hcloud.NewClient(append(base, opts...)...)
}
