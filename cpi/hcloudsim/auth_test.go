package hcloudsim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim/specvalidate"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func TestAuthAsTheAPI(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{ReadOnlyToken: "ro"})
	ctx := testCtx(t)

	_, err := env.Client(hcloud.WithToken("wrong")).Location.All(ctx)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeUnauthorized), "%v", err)

	ro := env.Client(hcloud.WithToken("ro"))
	_, err = ro.Location.All(ctx)
	assert.NoError(t, err, "a read-only token reads")
	_, _, err = ro.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k", PublicKey: newPublicKey(t)})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeForbidden), "%v", err)
	assert.Empty(t, env.Sim.Created())

	for _, h := range []string{"", "Bearer", "Bearer ", "Basic dGVzdC10b2tlbg==", "bearer test-token"} {
		req, err := http.NewRequest(http.MethodGet, env.URL+"/locations", nil)
		require.NoError(t, err)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "header %q", h)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.Equal(t, "unauthorized", body.Error.Code)
		assert.NotContains(t, body.Error.Message, "test-token", "never echo a token")
	}
}

func TestRateLimitAsTheAPI(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{RateLimit: 3, RateRefill: time.Hour})
	c := env.Client(hcloud.WithRetryOpts(hcloud.RetryOpts{MaxRetries: 0}))
	ctx := testCtx(t)
	for i := range 3 {
		_, resp, err := c.Location.List(ctx, hcloud.LocationListOpts{})
		require.NoError(t, err)
		assert.Equal(t, "3", resp.Header.Get("RateLimit-Limit"))
		assert.Equal(t, strconv.Itoa(2-i), resp.Header.Get("RateLimit-Remaining"))
		reset, err := strconv.ParseInt(resp.Header.Get("RateLimit-Reset"), 10, 64)
		require.NoError(t, err)
		assert.Greater(t, reset, time.Now().Unix(), "reset is when the bucket is full again")
	}
	_, resp, err := c.Location.List(ctx, hcloud.LocationListOpts{})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeRateLimitExceeded), "%v", err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "0", resp.Header.Get("RateLimit-Remaining"))

	// hcloud-go retries rate_limit_exceeded: with 5 retries the call costs 6 requests, all refused.
	env.Sim.ResetRequests()
	_, err = env.Client().Location.All(ctx)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeRateLimitExceeded), "%v", err)
	assert.Equal(t, 6, env.Sim.TotalRequests())
}

func TestRateLimitRefills(t *testing.T) {
	sim := hcloudsim.New(hcloudsim.Options{Token: "T", RateLimit: 2, RateRefill: 20 * time.Millisecond})
	do := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/locations", nil)
		req.Header.Set("Authorization", "Bearer T")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		return rec
	}
	require.Equal(t, http.StatusOK, do().Code)
	require.Equal(t, http.StatusOK, do().Code)
	require.Equal(t, http.StatusTooManyRequests, do().Code)
	deadline := time.Now().Add(5 * time.Second)
	for do().Code != http.StatusOK {
		require.True(t, time.Now().Before(deadline), "the bucket never refilled")
		time.Sleep(5 * time.Millisecond) // polling a condition
	}
}

func TestErrorsCarryJSONAndDocumentedStatus(t *testing.T) {
	sim := hcloudsim.New(hcloudsim.Options{Token: "T"})
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1/servers/42", "", 404, "not_found"},
		{"GET", "/v1/servers/abc", "", 422, "invalid_input"},
		{"GET", "/v1/nothing", "", 404, "not_found"},
		{"POST", "/v1/servers", "{", 400, "json_error"},
		{"POST", "/v1/servers", "", 400, "json_error"},
		{"POST", "/v1/servers", `{"name":1}`, 400, "json_error"},
		{"POST", "/v1/ssh_keys", `{"name":"","public_key":""}`, 422, "invalid_input"},
		{"GET", "/v1/servers?page=0", "", 422, "invalid_input"},
		{"GET", "/v1/servers?sort=colour", "", 422, "invalid_input"},
		{"GET", "/v1/actions", "", 422, "invalid_input"},
		{"GET", "/v1/actions?id=x", "", 422, "invalid_input"},
		{"PUT", "/v1/locations", "{}", 405, "method_not_allowed"},
		{"PATCH", "/v1/servers/1", "{}", 405, "method_not_allowed"},
		{"GET", "/v1/servers?status=bogus", "", 422, "invalid_input"},
		{"GET", "/v1/servers?sort=", "", 422, "invalid_input"},
		{"GET", "/v1/images?architecture=sparc", "", 422, "invalid_input"},
		{"POST", "/v1/ssh_keys", "null", 400, "json_error"},
		{"POST", "/v1/ssh_keys", `["x"]`, 400, "json_error"},
		{"POST", "/v1/ssh_keys", `{"name":null,"public_key":"x"}`, 422, "invalid_input"},
		{"POST", "/v1/networks", `{"name":"n","ip_range":"10.0.0.0/16","colour":"red"}`, 422, "invalid_input"},
		{"GET", "/v1/servers//actions", "", 404, "not_found"},
		{"GET", "/v2/servers", "", 404, "not_found"},
		{"GET", "/", "", 404, "not_found"},
	}
	v, err := simtest.DefaultValidator()
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer T")
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			assert.Equal(t, tt.status, rec.Code)
			ex := specvalidate.Exchange{Request: req, RequestBody: []byte(tt.body), Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
			assert.NoError(t, v.Check(context.Background(), ex))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body map[string]map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
			assert.Equal(t, tt.code, body["error"]["code"])
			assert.Contains(t, body["error"], "details")
			if strings.HasPrefix(tt.path, "/v1/") {
				assert.NotEmpty(t, rec.Header().Get("RateLimit-Remaining"))
			}
		})
	}
	assert.Empty(t, sim.Created())
}
