package shim_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

// TestRetryAfterFromTheCPI: a CPI error that may be retried is answered
// with Retry-After: the CPI's retry_after_seconds when it sends a positive
// one, else the shim's 1; an error that may not be retried has none,
// whatever the CPI sent.
func TestRetryAfterFromTheCPI(t *testing.T) {
	ts := startShim(t, shim.Options{})
	cases := []struct {
		mode       string
		status     int
		okToRetry  string
		retryAfter string
	}{
		{"error:RateLimited:after=37", http.StatusTooManyRequests, "true", "37"},
		{"error:RateLimited:after=3600", http.StatusTooManyRequests, "true", "3600"},
		{"error:RateLimited:after=2562048", http.StatusTooManyRequests, "true", "3600"}, // protocol.MaxRetryAfter
		{"error:Unavailable:after=99999999999", http.StatusServiceUnavailable, "true", "3600"},
		{"error:RateLimited", http.StatusTooManyRequests, "true", "1"},
		{"error:RateLimited:after=0", http.StatusTooManyRequests, "true", "1"},
		{"error:RateLimited:after=-5", http.StatusTooManyRequests, "true", "1"},
		{"error:Unavailable:after=12", http.StatusServiceUnavailable, "true", "12"},
		{"error:RateLimited:noretry:after=37", http.StatusTooManyRequests, "false", ""},
		{"error:NotFound:after=9", http.StatusNotFound, "false", ""},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			resp := ts.do(t, http.MethodPost, "/servers", `{"name":"a","region":"r","size":"s"}`, "Auth-Stub-Mode: "+c.mode)
			require.Equal(t, c.status, resp.Status, "%s", resp.Body)
			assert.Equal(t, c.okToRetry, resp.Header.Get("X-Cpi-Ok-To-Retry"))
			assert.Equal(t, c.retryAfter, resp.Header.Get("Retry-After"))
			assertErrorsBody(t, resp, "stub ")
			validateAgainstSpec(t, http.MethodPost, "/servers", resp)
		})
	}
}
