// Package simtest starts the Hetzner Cloud API simulator for tests: on httptest, behind a validator that
// checks every response against Hetzner's OpenAPI document (the repository's trimmed copy, see package
// cpi/hcloudsim/specvalidate), with an hcloud-go client tuned for tests. It is test-only: being internal
// to cpi/, no production code outside cpi/ can import it, and none inside does.
package simtest

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim/specvalidate"
)

// DefaultToken is the token Start uses when opts.Token is empty.
const DefaultToken = "test-token"

// SpecRelPath is the repository's copy of Hetzner's OpenAPI document, relative to the repository root.
const SpecRelPath = "cpi/hcloudsim/specvalidate/testdata/hetzner-cloud-openapi.json"

// Env is a running simulator.
type Env struct {
	Sim   *hcloudsim.Sim
	URL   string // API endpoint, ends in /v1
	Token string

	validator *specvalidate.Handler
}

// Abandoned returns how many exchanges were not validated because the client had gone before the
// simulator answered (see specvalidate.Handler).
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
	v, err := DefaultValidator()
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	h := specvalidate.NewHandler(v, sim)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		for _, f := range h.Failures() {
			t.Errorf("simulator exchange does not match the Hetzner OpenAPI document: %s", f)
		}
	})
	return &Env{Sim: sim, URL: srv.URL + "/v1", Token: opts.Token, validator: h}
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

var (
	defaultOnce      sync.Once
	defaultValidator *specvalidate.Validator
	defaultErr       error
)

// DefaultValidator loads the document at SpecRelPath once per process.
func DefaultValidator() (*specvalidate.Validator, error) {
	defaultOnce.Do(func() {
		path, err := SpecPath()
		if err != nil {
			defaultErr = err
			return
		}
		defaultValidator, defaultErr = specvalidate.Load(path)
	})
	return defaultValidator, defaultErr
}

// SpecPath returns the path of the repository's copy of Hetzner's OpenAPI document, found by walking up
// from the working directory (go test runs in the package's directory) to go.mod.
func SpecPath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("simtest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(SpecRelPath)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("simtest: go.mod not found above the working directory")
		}
		dir = parent
	}
}
