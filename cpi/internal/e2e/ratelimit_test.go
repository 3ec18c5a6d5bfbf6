package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// TestSpentBudgetAnswers429WithRetryAfter drains the project's bucket
// through the shim and the real CPI, then: a write is refused before it is
// sent (the simulator counts no request), answered 429 with a Retry-After
// derived from the reset time the CPI recorded; a read that Hetzner itself
// answers 429 gets its Retry-After from that answer's RateLimit headers.
// The bucket (6 requests, one back every 20 minutes) cannot refill during
// the test, so the wait for one request is 1200 s.
func TestSpentBudgetAnswers429WithRetryAfter(t *testing.T) {
	const limit, refill = 6, 20 * time.Minute
	a := startAdapterWith(t, hcloudsim.Options{RateLimit: limit, RateRefill: refill})

	status, body := a.call(t, http.MethodPost, "/keys", "/keys", fmt.Sprintf(`{"id": "budget-1", "key": %q}`, publicKey(t)), a.token)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var key protocol.IDResult
	require.NoError(t, json.Unmarshal(body, &key))
	for i := 0; a.sim.Sim.TotalRequests() < limit; i++ {
		require.Less(t, i, 2*limit, "the bucket should be spent by now: %v", a.sim.Sim.Requests())
		status, body = a.call(t, http.MethodGet, "/keys/"+key.ID, "/keys/{id}", "", a.token)
		if status != http.StatusCreated {
			require.Equal(t, http.StatusTooManyRequests, status, "%s", body)
		}
	}
	wantWait := refill.Seconds()
	a.sim.Sim.ResetRequests()

	// The write: refused by the CPI, never sent.
	status, hdr, body := a.callWithHeaders(t, http.MethodPost, "/keys", "/keys", fmt.Sprintf(`{"id": "budget-2", "key": %q}`, publicKey(t)), a.token)
	require.Equal(t, http.StatusTooManyRequests, status, "%s", body)
	assert.Equal(t, "RateLimited", hdr.Get("X-Cpi-Error-Type"))
	assert.Equal(t, "true", hdr.Get("X-Cpi-Ok-To-Retry"))
	assert.InDelta(t, wantWait, retryAfter(t, hdr), 5, "one request refills in %s", refill)
	assert.Contains(t, string(body), "not sent")
	assert.Zero(t, a.sim.Sim.TotalRequests(), "the refused write reached the API: %v", a.sim.Sim.Requests())

	// What the simulator itself says: the bucket is full again at Reset,
	// so one request is back after (Reset - now) / Limit.
	resetIn := simResetIn(t, a)
	assert.InDelta(t, resetIn/limit, retryAfter(t, hdr), 5, "Retry-After is derived from RateLimit-Reset (%.0f s away)", resetIn)
	a.sim.Sim.ResetRequests()

	// A read is sent; Hetzner's 429 gives the wait.
	status, hdr, body = a.callWithHeaders(t, http.MethodGet, "/keys/"+key.ID, "/keys/{id}", "", a.token)
	require.Equal(t, http.StatusTooManyRequests, status, "%s", body)
	assert.InDelta(t, wantWait, retryAfter(t, hdr), 5)
	assert.Positive(t, a.sim.Sim.Requests()["GET /v1/ssh_keys/{id}"], "the read was sent")
}

// retryAfter reads a Retry-After of whole seconds, at least 1.
func retryAfter(t *testing.T, h http.Header) float64 {
	t.Helper()
	n, err := strconv.Atoi(h.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", h.Get("Retry-After"))
	require.GreaterOrEqual(t, n, 1)
	return float64(n)
}

// simResetIn asks the simulator for its RateLimit-Reset (one more request,
// answered 429) and returns the seconds until it.
func simResetIn(t *testing.T, a *adapter) float64 {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.sim.URL+"/locations", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	reset, err := strconv.ParseInt(resp.Header.Get("RateLimit-Reset"), 10, 64)
	require.NoError(t, err)
	return time.Until(time.Unix(reset, 0)).Seconds()
}

// TestMetricsShowTheWindowInForce: the shim's /metrics serves the polling
// window the CPI's last response set, beside the budget: the configured
// window while the bucket is full enough, the widest once it is spent.
func TestMetricsShowTheWindowInForce(t *testing.T) {
	const limit = 6
	a := startAdapterWith(t, hcloudsim.Options{RateLimit: limit, RateRefill: 20 * time.Minute})
	status, body := a.call(t, http.MethodPost, "/keys", "/keys", fmt.Sprintf(`{"id": "window-1", "key": %q}`, publicKey(t)), a.token)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var key protocol.IDResult
	require.NoError(t, json.Unmarshal(body, &key))
	require.Regexp(t, `(?m)^nanobox_cpi_polling_window_seconds\{project="[0-9a-f]+"\} 1$`, metricsOf(t, a))

	for i := 0; a.sim.Sim.TotalRequests() < limit; i++ {
		require.Less(t, i, 2*limit, "the bucket should be spent by now: %v", a.sim.Sim.Requests())
		a.call(t, http.MethodGet, "/keys/"+key.ID, "/keys/{id}", "", a.token)
	}
	metrics := metricsOf(t, a)
	require.Regexp(t, `(?m)^nanobox_cpi_polling_window_seconds\{project="[0-9a-f]+"\} 10$`, metrics, "polling.low_budget_window_ms")
	require.Regexp(t, `(?m)^nanobox_cpi_rate_limit_remaining\{project="[0-9a-f]+"\} 0$`, metrics)
}

func metricsOf(t *testing.T, a *adapter) string {
	t.Helper()
	resp, err := http.Get(a.url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(data)
}
