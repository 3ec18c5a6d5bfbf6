package specvalidate_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim/specvalidate"
)

// load loads the repository's copy of the document.
func load(t *testing.T) *specvalidate.Validator {
	t.Helper()
	v, err := specvalidate.Load("testdata/hetzner-cloud-openapi.json")
	require.NoError(t, err)
	return v
}

// serve runs one request through a fresh simulator and returns the exchange.
func serve(t *testing.T, method, path, body string) specvalidate.Exchange {
	t.Helper()
	sim := hcloudsim.New(hcloudsim.Options{Token: "T"})
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer T")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	return specvalidate.Exchange{Request: req, RequestBody: []byte(body), Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// TestSpecValidatorRejectsWhatTheDocumentForbids proves the validator really checks 3.1 schemas: each
// tampered exchange must fail, and the untampered one must pass.
func TestSpecValidatorRejectsWhatTheDocumentForbids(t *testing.T) {
	v := load(t)
	ctx := context.Background()

	good := serve(t, http.MethodGet, "/v1/server_types/114", "")
	require.Equal(t, http.StatusOK, good.Status)
	require.NoError(t, v.Check(ctx, good))

	tests := []struct {
		name   string
		tamper func(ex *specvalidate.Exchange)
	}{
		{"id as a string", func(ex *specvalidate.Exchange) {
			ex.Body = []byte(strings.Replace(string(ex.Body), `"id":114`, `"id":"114"`, 1))
		}},
		{"required field missing", func(ex *specvalidate.Exchange) {
			ex.Body = []byte(strings.Replace(string(ex.Body), `"name":"cx23",`, ``, 1))
		}},
		{"null where not nullable", func(ex *specvalidate.Exchange) {
			ex.Body = []byte(strings.Replace(string(ex.Body), `"cores":2`, `"cores":null`, 1))
		}},
		{"undocumented status", func(ex *specvalidate.Exchange) { ex.Status = http.StatusAccepted }},
		{"error body without code", func(ex *specvalidate.Exchange) {
			ex.Status = http.StatusNotFound
			ex.Body = []byte(`{"error":{"message":"x","details":null}}`)
		}},
		{"not JSON content type", func(ex *specvalidate.Exchange) {
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
	v := load(t)
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
	v := load(t)
	body := `{"name":"a","server_type":114,"image":161547269,"location":2,"ssh_keys":[]}`
	ex := serve(t, http.MethodPost, "/v1/servers", body)
	require.Equal(t, http.StatusCreated, ex.Status, string(ex.Body))
	assert.NoError(t, v.Check(context.Background(), ex))
}

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// getAndAbandon sends GET url and cancels it once arrived says the handler has it; it returns the client's error.
func getAndAbandon(t *testing.T, url, token string, arrived func() bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, "the request to reach the handler", arrived)
	cancel()
	return <-done
}

// TestValidatorSkipsExchangesTheClientAbandoned: an exchange whose client had gone before the handler wrote
// (a latency fault outliving the client, or a slow handler answering too late) is counted, not validated;
// a handler that answers a waiting client with nothing is still reported.
func TestValidatorSkipsExchangesTheClientAbandoned(t *testing.T) {
	v := load(t)
	sim := hcloudsim.New(hcloudsim.Options{Token: "T"})
	sim.AddFault(hcloudsim.Fault{Method: http.MethodGet, Route: "/v1/locations", Kind: hcloudsim.FaultLatency, Latency: time.Hour, Times: 1})
	var lateArrived atomic.Bool
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/pricing": // a genuine bug: 200 with no body and no Content-Type to a waiting client
			return
		case "/v1/datacenters": // slow: answers, badly, only after the client has gone
			lateArrived.Store(true)
			<-r.Context().Done()
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("too late"))
			return
		}
		sim.ServeHTTP(w, r)
	})
	h := specvalidate.NewHandler(v, next)
	srv := httptest.NewServer(h)
	defer srv.Close()

	err := getAndAbandon(t, srv.URL+"/v1/locations", "T", func() bool { return sim.Requests()["GET /v1/locations"] == 1 })
	require.ErrorIs(t, err, context.Canceled)
	waitFor(t, "the latency exchange to be counted", func() bool { return h.Abandoned() == 1 })

	err = getAndAbandon(t, srv.URL+"/v1/datacenters", "T", lateArrived.Load)
	require.ErrorIs(t, err, context.Canceled)
	waitFor(t, "the late exchange to be counted", func() bool { return h.Abandoned() == 2 })
	assert.Empty(t, h.Failures(), "abandoned exchanges are not validated")

	for _, path := range []string{"/v1/pricing", "/v1/server_types/114"} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer T")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	failures := h.Failures()
	require.Len(t, failures, 1, "the empty answer to a waiting client is reported, the good one is not")
	assert.Contains(t, failures[0], "GET /v1/pricing")
	assert.Equal(t, 2, h.Abandoned())
}

// TestDocumentHasEveryRoute: the repository's copy of the document has an operation for every route the
// simulator serves, so no exchange escapes validation as "route not in the document".
func TestDocumentHasEveryRoute(t *testing.T) {
	raw, err := os.ReadFile("testdata/hetzner-cloud-openapi.json")
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	param := regexp.MustCompile(`\{[^}]*\}`)
	ops := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			ops[strings.ToUpper(method)+" "+param.ReplaceAllString(path, "{}")] = true
		}
	}
	routes := hcloudsim.Routes()
	require.NotEmpty(t, routes)
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		key := method + " " + param.ReplaceAllString(strings.TrimPrefix(path, "/v1"), "{}")
		assert.True(t, ops[key], "%s is not in testdata/hetzner-cloud-openapi.json: regenerate it (see testdata/README.md)", r)
	}
}

// TestSpecValidatorAcceptsHcloudGoNulls: hcloud-go sends create_image's unset type and description as null,
// which the API takes as absent; any other type is still checked against the enum.
func TestSpecValidatorAcceptsHcloudGoNulls(t *testing.T) {
	v := load(t)
	sim := hcloudsim.New(hcloudsim.Options{Token: "T"})
	send := func(method, path, body string) specvalidate.Exchange {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer T")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		return specvalidate.Exchange{Request: req, RequestBody: []byte(body), Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	}
	created := send(http.MethodPost, "/v1/servers", `{"name":"a","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1"}`)
	require.Equal(t, http.StatusCreated, created.Status, string(created.Body))
	var res struct{ Server struct{ ID int64 } }
	require.NoError(t, json.Unmarshal(created.Body, &res))
	path := "/v1/servers/" + strconv.FormatInt(res.Server.ID, 10) + "/actions/create_image"

	ex := send(http.MethodPost, path, `{"type":null,"description":null}`)
	require.Equal(t, http.StatusCreated, ex.Status, string(ex.Body))
	assert.NoError(t, v.Check(context.Background(), ex))
	ex.RequestBody = []byte(`{"type":"app","description":null}`)
	assert.Error(t, v.Check(context.Background(), ex), "the type enum still holds")
}
