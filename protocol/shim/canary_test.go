package shim_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/redact"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

// TestCanary_TokenNeverLeaks sends a unique token in Auth-Api-Token
// through every kind of call, including a CPI that echoes it into its
// stderr, its log and its error message, and one that echoes the whole
// request into its result, then searches every response, the debug log and
// /metrics for it.
func TestCanary_TokenNeverLeaks(t *testing.T) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	canary := "canary-" + hex.EncodeToString(b[:])
	ts := startShim(t, shim.Options{})

	var responses strings.Builder
	record := func(resp response) {
		for name, values := range resp.Header {
			responses.WriteString(name + ": " + strings.Join(values, ",") + "\n")
		}
		responses.Write(resp.Body)
		responses.WriteString("\n")
	}
	modes := []string{"ok", "leak", "echo-request", "echo-env", "garbage", "crash", "exit3", "error:Unauthorized", "unknown-type"}
	headerNames := []string{"Auth-Api-Token", "AUTH-API-TOKEN", "auth-api-token"}
	calls := 0
	for _, mode := range modes {
		for i, rr := range []struct{ verb, path, body string }{
			{http.MethodPost, "/verify", ""},
			{http.MethodGet, "/servers/1", ""},
			{http.MethodPost, "/keys", `{"id": "k", "key": "ssh-ed25519 AAAA"}`},
		} {
			resp := ts.do(t, rr.verb, rr.path, rr.body, headerNames[i]+": "+canary, "Auth-Stub-Mode: "+mode, "Auth-Stub-Dir: "+t.TempDir())
			record(resp)
			calls++
		}
	}
	// Shim-side refusals with the token attached.
	record(ts.do(t, http.MethodPost, "/keys", `{"broken`, "Auth-Api-Token: "+canary))
	record(ts.do(t, http.MethodPut, "/keys", "", "Auth-Api-Token: "+canary))
	record(ts.do(t, http.MethodGet, "/nowhere/"+"x", "", "Auth-Api-Token: "+canary))
	record(ts.do(t, http.MethodGet, "/healthz", "", "Auth-Api-Token: "+canary))
	record(ts.do(t, http.MethodGet, "/openapi.json", "", "Auth-Api-Token: "+canary))
	metrics := ts.do(t, http.MethodGet, "/metrics", "", "Auth-Api-Token: "+canary)
	require.Equal(t, http.StatusOK, metrics.Status)

	logs := ts.Logs.String()
	require.Greater(t, calls, 20)
	// The leak mode did write the token to stderr and its log: the shim
	// saw it and redacted it.
	assert.Contains(t, logs, "stderr sees:")
	assert.Contains(t, logs, "api-token="+redact.Placeholder)
	assert.Contains(t, responses.String(), "rejected credentials")

	assert.NotContains(t, responses.String(), canary, "a response carries the token")
	assert.NotContains(t, logs, canary, "the log carries the token")
	assert.NotContains(t, string(metrics.Body), canary, "the metrics carry the token")
	assert.NotContains(t, strings.ToLower(logs), "auth-api-token", "the log names an Auth header")
}

// TestCanary_RequestIDHoldingACredentialIsReplaced: an X-Request-Id that
// equals, contains or starts like a credential of the request is neither
// echoed nor logged nor passed to the CPI; a generated id takes its place.
func TestCanary_RequestIDHoldingACredentialIsReplaced(t *testing.T) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	canary := "canary-" + hex.EncodeToString(b[:])
	ts := startShim(t, shim.Options{})
	for _, id := range []string{canary, "req-" + canary + "-1", canary[:16]} {
		t.Run(id[:5], func(t *testing.T) {
			resp := ts.do(t, http.MethodGet, "/servers/1", "", "Auth-Api-Token: "+canary, "X-Request-Id: "+id)
			require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
			got := resp.Header.Get(shim.RequestIDHeader)
			assert.Len(t, got, 32, "a generated id")
			assert.NotContains(t, got, canary[:12])
			assert.NotContains(t, ts.Logs.String(), canary[:12], "the log carries the credential")
		})
	}
	t.Run("an id without a credential is kept", func(t *testing.T) {
		resp := ts.do(t, http.MethodGet, "/servers/1", "", "Auth-Api-Token: "+canary, "X-Request-Id: req-42")
		assert.Equal(t, "req-42", resp.Header.Get(shim.RequestIDHeader))
	})
}
