package simtest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim/simtest"
)

// serve runs one request through a fresh simulator and returns the exchange.
func serve(t *testing.T, method, path, body string) simtest.Exchange {
	t.Helper()
	sim := hcloudsim.New(hcloudsim.Options{Token: "T"})
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer T")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	return simtest.Exchange{Request: req, RequestBody: []byte(body), Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// TestSpecValidatorRejectsWhatTheDocumentForbids proves the validator really checks 3.1 schemas: each
// tampered exchange must fail, and the untampered one must pass.
func TestSpecValidatorRejectsWhatTheDocumentForbids(t *testing.T) {
	v, err := simtest.DefaultSpecValidator()
	require.NoError(t, err)
	ctx := context.Background()

	good := serve(t, http.MethodGet, "/v1/server_types/114", "")
	require.Equal(t, http.StatusOK, good.Status)
	require.NoError(t, v.Check(ctx, good))

	tests := []struct {
		name   string
		tamper func(ex *simtest.Exchange)
	}{
		{"id as a string", func(ex *simtest.Exchange) {
			ex.Body = []byte(strings.Replace(string(ex.Body), `"id":114`, `"id":"114"`, 1))
		}},
		{"required field missing", func(ex *simtest.Exchange) {
			ex.Body = []byte(strings.Replace(string(ex.Body), `"name":"cx23",`, ``, 1))
		}},
		{"null where not nullable", func(ex *simtest.Exchange) {
			ex.Body = []byte(strings.Replace(string(ex.Body), `"cores":2`, `"cores":null`, 1))
		}},
		{"undocumented status", func(ex *simtest.Exchange) { ex.Status = http.StatusAccepted }},
		{"error body without code", func(ex *simtest.Exchange) {
			ex.Status = http.StatusNotFound
			ex.Body = []byte(`{"error":{"message":"x","details":null}}`)
		}},
		{"not JSON content type", func(ex *simtest.Exchange) {
			ex.Header = http.Header{"Content-Type": []string{"text/plain"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, string(good.Body), `"id":114`)
			ex := good
			ex.Header = good.Header.Clone()
			ex.Body = append([]byte(nil), good.Body...)
			tt.tamper(&ex)
			assert.Error(t, v.Check(ctx, ex))
		})
	}
}

func TestSpecValidatorChecksSuccessfulRequests(t *testing.T) {
	v, err := simtest.DefaultSpecValidator()
	require.NoError(t, err)
	ctx := context.Background()
	pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGXzCXBuqGrnwWEUfXz9y4p6c0eY9GJAKj1Hs4VwDmSZ a@b"

	ok := serve(t, http.MethodPost, "/v1/ssh_keys", `{"name":"k","public_key":"`+pub+`"}`)
	require.Equal(t, http.StatusCreated, ok.Status, string(ok.Body))
	assert.NoError(t, v.Check(ctx, ok))

	// Pretend the simulator accepted a body the document rejects (name of the wrong type).
	bad := ok
	bad.RequestBody = []byte(`{"name":7,"public_key":"` + pub + `"}`)
	assert.Error(t, v.Check(ctx, bad))
}

func TestSpecValidatorAcceptsIntegerIDOrName(t *testing.T) {
	v, err := simtest.DefaultSpecValidator()
	require.NoError(t, err)
	body := `{"name":"a","server_type":114,"image":161547269,"location":2,"ssh_keys":[]}`
	ex := serve(t, http.MethodPost, "/v1/servers", body)
	require.Equal(t, http.StatusCreated, ex.Status, string(ex.Body))
	assert.NoError(t, v.Check(context.Background(), ex))
}
