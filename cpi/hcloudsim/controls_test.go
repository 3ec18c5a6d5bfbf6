package hcloudsim_test

import (
	"context"
	"errors"
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
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

// TestCapacityGoneBetweenCommitAndAnswer: the create is carried out, the size then
// sells out in that location, the answer is 504; hcloud-go retries and its final error is
// resource_unavailable, while the server exists and bills.
func TestCapacityGoneBetweenCommitAndAnswer(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenCapacityGone, Times: 1})

	_, _, err := c.Server.Create(ctx, createOpts("lost-1"))
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeResourceUnavailable), "%v", err)
	assert.Equal(t, 2, env.Sim.Requests()["POST /v1/servers"], "the 504 was retried once")
	srv, _, err := c.Server.GetByName(ctx, "lost-1")
	require.NoError(t, err)
	require.NotNil(t, srv, "the server was created")

	st, _, err := c.ServerType.GetByName(ctx, "cx23")
	require.NoError(t, err)
	for _, l := range st.Locations {
		assert.Equal(t, l.Location.Name != "nbg1", l.Available, "cx23 in %s", l.Location.Name)
	}
	_, _, err = c.Server.Create(ctx, createOpts("lost-2"))
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeResourceUnavailable), "%v", err)
	o := createOpts("elsewhere")
	o.Location = &hcloud.Location{Name: "fsn1"}
	_, _, err = c.Server.Create(ctx, o)
	assert.NoError(t, err, "other locations still have the size")
	assert.Equal(t, 1, env.Sim.FaultsInjected()[hcloudsim.FaultCommitThenCapacityGone])
}

// TestCapacityGoneFaultOnAnotherRouteIsCommitThenFail: without a server created, nothing sells out.
func TestCapacityGoneFaultOnAnotherRouteIsCommitThenFail(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("a"))
	require.NoError(t, err)
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPut, Route: "/v1/servers/{id}", Kind: hcloudsim.FaultCommitThenCapacityGone, Times: 1})
	_, _, err = c.Server.Update(ctx, res.Server, hcloud.ServerUpdateOpts{Name: "b"})
	require.NoError(t, err, "hcloud-go retried the 504")
	_, _, err = c.Server.Create(ctx, createOpts("c"))
	assert.NoError(t, err, "cx23 in nbg1 is still available")
}

// TestLatencyIsAddedToEveryRequest: with a latency, a client whose deadline is shorter gets nothing and the
// request is not served; the admin control changes it at run time.
func TestLatencyIsAddedToEveryRequest(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{Latency: time.Hour})
	c := env.Client(hcloud.WithRetryOpts(hcloud.RetryOpts{MaxRetries: 0}))
	assert.Equal(t, time.Hour, env.Sim.Latency())

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := c.Location.List(short, hcloud.LocationListOpts{})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Zero(t, env.Sim.TotalRequests(), "a request abandoned during the latency is not served")

	admin := env.Sim.AdminHandler()
	assert.Equal(t, http.StatusNoContent, adminCall(t, admin, http.MethodPost, "/_sim/latency", `{"latency":"30ms"}`).Code)
	rec := adminCall(t, admin, http.MethodGet, "/_sim/latency", "")
	assert.JSONEq(t, `{"latency":"30ms"}`, rec.Body.String())
	start := time.Now()
	_, _, err = c.Location.List(testCtx(t), hcloud.LocationListOpts{})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "the latency is a lower bound of the round trip")

	for _, bad := range []string{`{"latency":"-1s"}`, `{"latency":"soon"}`, `{"latency":"1s","x":1}`} {
		assert.GreaterOrEqual(t, adminCall(t, admin, http.MethodPost, "/_sim/latency", bad).Code, 400, bad)
	}
	assert.Equal(t, 30*time.Millisecond, env.Sim.Latency(), "a bad value changes nothing")
}

// TestRateLimitHeadersOnEveryResponse: every /v1 answer, success, error or injected fault, carries the
// bucket's RateLimit-Limit, -Remaining and -Reset; the default bucket is 3600 refilled one per second.
func TestRateLimitHeadersOnEveryResponse(t *testing.T) {
	sim := hcloudsim.New(hcloudsim.Options{Token: "T", RateRefill: time.Hour})
	sim.AddFault(hcloudsim.Fault{Method: http.MethodGet, Route: "/v1/pricing", Kind: hcloudsim.FaultInternal, Times: 1})
	tests := []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"success", "GET", "/v1/locations", "T", "", 200},
		{"unauthorized", "GET", "/v1/locations", "wrong", "", 401},
		{"unknown route", "GET", "/v1/nothing", "T", "", 404},
		{"method not allowed", "PATCH", "/v1/locations", "T", "", 405},
		{"invalid input", "POST", "/v1/volumes", "T", `{"name":"a","size":1,"location":"nbg1"}`, 422},
		{"injected fault", "GET", "/v1/pricing", "T", "", 500},
		{"body too large", "POST", "/v1/servers", "T", strings.Repeat("x", 2<<20), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+tt.token)
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			assert.Equal(t, "3600", rec.Header().Get("RateLimit-Limit"))
			remaining, err := strconv.Atoi(rec.Header().Get("RateLimit-Remaining"))
			require.NoError(t, err)
			assert.Less(t, remaining, 3600)
			reset, err := strconv.ParseInt(rec.Header().Get("RateLimit-Reset"), 10, 64)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, reset, time.Now().Unix())
		})
	}

	// Refilled one per second: a full bucket less one is full again within a second.
	one := hcloudsim.New(hcloudsim.Options{Token: "T"})
	req := httptest.NewRequest(http.MethodGet, "/v1/locations", nil)
	req.Header.Set("Authorization", "Bearer T")
	rec := httptest.NewRecorder()
	before := time.Now().Unix()
	one.ServeHTTP(rec, req)
	assert.Equal(t, "3599", rec.Header().Get("RateLimit-Remaining"))
	reset, err := strconv.ParseInt(rec.Header().Get("RateLimit-Reset"), 10, 64)
	require.NoError(t, err)
	assert.LessOrEqual(t, reset, time.Now().Unix()+1)
	assert.GreaterOrEqual(t, reset, before)
}

// TestSetLabelsRelabelsMidRun: an owner's relabelling (Nanobox=false on a network) through the admin
// control shows in the API at once, costs no API request, and refuses bad input without a change.
func TestSetLabelsRelabelsMidRun(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "n", IPRange: mustCIDR(t, "10.0.0.0/16"), Labels: map[string]string{"Nanobox": "true"}})
	require.NoError(t, err)
	env.Sim.ResetRequests()

	admin := env.Sim.AdminHandler()
	body := `{"kind":"network","id":` + strconv.FormatInt(nw.ID, 10) + `,"labels":{"Nanobox":"false"}}`
	require.Equal(t, http.StatusNoContent, adminCall(t, admin, http.MethodPost, "/_sim/labels", body).Code)
	assert.Zero(t, env.Sim.TotalRequests(), "the control is not an API request")
	got, _, err := c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"Nanobox": "false"}, got.Labels)

	for _, tt := range []struct {
		body   string
		status int
	}{
		{`{"kind":"network","id":999999,"labels":{}}`, http.StatusNotFound},
		{`{"kind":"planet","id":1,"labels":{}}`, http.StatusUnprocessableEntity},
		{`{"kind":"network","id":` + strconv.FormatInt(nw.ID, 10) + `,"labels":{"-bad":"x"}}`, http.StatusUnprocessableEntity},
	} {
		assert.Equal(t, tt.status, adminCall(t, admin, http.MethodPost, "/_sim/labels", tt.body).Code, tt.body)
	}
	got, _, err = c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"Nanobox": "false"}, got.Labels, "refusals change nothing")

	vol, _, err := c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "v", Size: 10, Location: &hcloud.Location{Name: "nbg1"}})
	require.NoError(t, err)
	require.NoError(t, env.Sim.SetLabels("volume", vol.Volume.ID, map[string]string{"Nanobox": "false"}))
	v, _, err := c.Volume.GetByID(ctx, vol.Volume.ID)
	require.NoError(t, err)
	assert.Equal(t, "false", v.Labels["Nanobox"])
}

func adminCall(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+simtest.DefaultToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRelabelThroughTheAPI: placement groups and firewalls take new names and labels with PUT, as servers,
// SSH keys, networks, volumes and images do; a taken name is uniqueness_error.
func TestRelabelThroughTheAPI(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	pg, _, err := c.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: "pg", Type: hcloud.PlacementGroupTypeSpread, Labels: map[string]string{"Nanobox": "true"}})
	require.NoError(t, err)
	_, _, err = c.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: "taken", Type: hcloud.PlacementGroupTypeSpread})
	require.NoError(t, err)
	got, _, err := c.PlacementGroup.Update(ctx, pg.PlacementGroup, hcloud.PlacementGroupUpdateOpts{Labels: map[string]string{"Nanobox": "false"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"Nanobox": "false"}, got.Labels)
	assert.Equal(t, "pg", got.Name)
	_, _, err = c.PlacementGroup.Update(ctx, pg.PlacementGroup, hcloud.PlacementGroupUpdateOpts{Name: "taken"})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeUniquenessError), "%v", err)

	fw, _, err := c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "fw", Labels: map[string]string{"Nanobox": "true"}})
	require.NoError(t, err)
	gotFW, _, err := c.Firewall.Update(ctx, fw.Firewall, hcloud.FirewallUpdateOpts{Name: "fw-2", Labels: map[string]string{"Nanobox": "false"}})
	require.NoError(t, err)
	assert.Equal(t, "fw-2", gotFW.Name)
	assert.Equal(t, map[string]string{"Nanobox": "false"}, gotFW.Labels)
	status, body := rawCall(t, env, http.MethodPut, "/firewalls/"+strconv.FormatInt(fw.Firewall.ID, 10), `{"colour":"red"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "the request schema forbids unknown fields: %s", body)
}
