package cpi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/budget"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// TestRateLimitedCarriesTheDelay: the one mapping of hcloud errors gives a
// RateLimited error the wait the 429 asks for (its Retry-After, else the
// time its RateLimit headers say one request refills), whether Hetzner's
// body was JSON or not; a budget refusal carries its own wait; other
// errors carry none.
func TestRateLimitedCarriesTheDelay(t *testing.T) {
	cases := []struct {
		name                  string
		status                int
		json                  bool
		limit, remaining      int
		reset                 time.Duration
		retryAfter            string
		wantType              protocol.ErrorType
		wantMin, wantMaxDelay int
	}{
		{"Hetzner's bucket", 429, true, 3600, 0, time.Hour, "", protocol.RateLimited, 1, 2},
		{"a slow bucket", 429, true, 4, 0, 40 * time.Minute, "", protocol.RateLimited, 598, 600},
		{"Retry-After wins", 429, true, 4, 0, 40 * time.Minute, "42", protocol.RateLimited, 42, 42},
		{"no JSON body", 429, false, 4, 0, 40 * time.Minute, "", protocol.RateLimited, 598, 600},
		{"Retry-After past the bound", 429, true, 4, 0, 40 * time.Minute, "99999999", protocol.RateLimited, 3600, 3600},
		{"a reset centuries away", 429, true, 3600, 0, 200 * 365 * 24 * time.Hour, "", protocol.RateLimited, 3600, 3600},
		{"no headers at all", 429, true, 0, 0, 0, "", protocol.RateLimited, 0, 0},
		{"not a rate limit", 503, true, 4, 0, 40 * time.Minute, "", protocol.Unavailable, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tc.limit > 0 {
					w.Header().Set("RateLimit-Limit", strconv.Itoa(tc.limit))
					w.Header().Set("RateLimit-Remaining", strconv.Itoa(tc.remaining))
					w.Header().Set("RateLimit-Reset", strconv.FormatInt(time.Now().Add(tc.reset).Unix(), 10))
				}
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				code := "rate_limit_exceeded"
				if tc.status != 429 {
					code = "unavailable"
				}
				if tc.json {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"error":{"code":"` + code + `","message":"m","details":null}}`))
			}))
			defer srv.Close()
			client := hcloud.NewClient(hcloud.WithToken("t"), hcloud.WithEndpoint(srv.URL),
				hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(0), MaxRetries: 0}))
			_, resp, err := client.Location.GetByID(context.Background(), 1)
			require.Error(t, err)
			pe := CloudError("op", resp, err)
			require.Equal(t, tc.wantType, pe.Type, pe.Message)
			require.GreaterOrEqual(t, pe.RetryAfterSeconds, tc.wantMin)
			require.LessOrEqual(t, pe.RetryAfterSeconds, tc.wantMaxDelay)
		})
	}

	refused := CloudError("op", nil, &budget.ExhaustedError{RetryAfter: 90 * time.Second})
	require.Equal(t, protocol.RateLimited, refused.Type)
	require.Equal(t, 90, refused.RetryAfterSeconds)
	require.Contains(t, refused.Message, "not sent")
	farOff := CloudError("op", nil, &budget.ExhaustedError{RetryAfter: 30 * 24 * time.Hour})
	require.Equal(t, int(protocol.MaxRetryAfter/time.Second), farOff.RetryAfterSeconds, "every wait is bounded by the one constant")
}
