package hcloudsim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

// TestFaultsAsHcloudGoSeesThem injects each fault once on GET /v1/servers/{id} and checks what hcloud-go
// reports and how many requests it made: it retries conflict, rate_limit_exceeded, bad_gateway and
// timeout (so one injected fault costs one extra request and the call succeeds) and nothing else.
func TestFaultsAsHcloudGoSeesThem(t *testing.T) {
	tests := []struct {
		kind     hcloudsim.FaultKind
		code     hcloud.ErrorCode // "" = the call succeeds
		requests int
	}{
		{hcloudsim.FaultRateLimit, "", 2},
		{hcloudsim.FaultConflict, "", 2},
		{hcloudsim.FaultBadGateway, "", 2},
		{hcloudsim.FaultGatewayTimeout, "", 2},
		{hcloudsim.FaultInternal, hcloud.ErrorCodeServerError, 1},
		{hcloudsim.FaultUnavailable, hcloud.ErrorCode("unavailable"), 1},
		{hcloudsim.FaultLocked, hcloud.ErrorCodeLocked, 1},
		{hcloudsim.FaultResourceUnavailable, hcloud.ErrorCodeResourceUnavailable, 1},
		{hcloudsim.FaultLatency, "", 1},
		{hcloudsim.FaultCommitThenFail, "", 2},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			env := simtest.Start(t, hcloudsim.Options{})
			c := env.Client()
			ctx := testCtx(t)
			res, _, err := c.Server.Create(ctx, createOpts("f"))
			require.NoError(t, err)
			env.Sim.ResetRequests()
			env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodGet, Route: "/v1/servers/{id}", Kind: tt.kind, Times: 1, Latency: 20 * time.Millisecond})

			srv, _, err := c.Server.GetByID(ctx, res.Server.ID)
			switch {
			case tt.code != "":
				assert.True(t, hcloud.IsError(err, tt.code), "want %s, got %v", tt.code, err)
			default:
				require.NoError(t, err)
				require.NotNil(t, srv)
			}
			assert.Equal(t, tt.requests, env.Sim.Requests()["GET /v1/servers/{id}"])
			assert.Equal(t, 1, env.Sim.FaultsInjected()[tt.kind])
		})
	}
}

// TestCommitThenFailCreateMeetsUniquenessError: the create happens, the client sees 504 timeout, hcloud-go
// retries, and the retry meets 409 uniqueness_error, as against the real API.
func TestCommitThenFailCreateMeetsUniquenessError(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenFail, Times: 1})

	_, _, err := c.Server.Create(ctx, createOpts("once"))
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeUniquenessError), "%v", err)
	assert.Equal(t, 2, env.Sim.Requests()["POST /v1/servers"])
	var servers int
	for _, cr := range env.Sim.Created() {
		if cr.Kind == "server" {
			servers++
		}
	}
	assert.Equal(t, 1, servers, "created exactly once")
	srv, _, err := c.Server.GetByName(ctx, "once")
	require.NoError(t, err)
	assert.NotNil(t, srv)
}

func TestCommitThenFailDeleteMeetsNotFound(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("d"))
	require.NoError(t, err)
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodDelete, Route: "/v1/servers/{id}", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	_, _, err = c.Server.DeleteWithResult(ctx, res.Server)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeNotFound), "%v", err)
	assert.Empty(t, env.Sim.Snapshot().Servers)
}

// TestScriptedFaultsExhaustRetries: more faults than hcloud-go's 5 retries surface the error.
func TestScriptedFaultsExhaustRetries(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	env.Sim.AddFault(hcloudsim.Fault{Route: "/v1/server_types", Kind: hcloudsim.FaultBadGateway, Times: 6})
	_, err := c.ServerType.All(testCtx(t))
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeBadGateway), "%v", err)
	assert.Equal(t, 6, env.Sim.Requests()["GET /v1/server_types"])
	_, err = c.ServerType.All(testCtx(t))
	assert.NoError(t, err, "the script is spent")
}

func TestProbabilisticFaultsAreSeeded(t *testing.T) {
	fired := func(seed int64) int {
		sim := hcloudsim.New(hcloudsim.Options{Token: "T", Seed: seed})
		sim.AddFault(hcloudsim.Fault{Kind: hcloudsim.FaultInternal, Probability: 0.5})
		n := 0
		for range 200 {
			req, _ := http.NewRequest(http.MethodGet, "/v1/locations", nil)
			req.Header.Set("Authorization", "Bearer T")
			rec := newRecorder()
			sim.ServeHTTP(rec, req)
			if rec.Code == http.StatusInternalServerError {
				n++
			}
		}
		assert.Equal(t, n, sim.FaultsInjected()[hcloudsim.FaultInternal])
		return n
	}
	a, b := fired(7), fired(7)
	assert.Equal(t, a, b, "same seed, same faults")
	assert.Greater(t, a, 50)
	assert.Less(t, a, 150)
}

func TestFaultRulesMatchMethodAndRouteInOrder(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/locations", Kind: hcloudsim.FaultInternal, Probability: 1})
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodGet, Route: "/v1/locations", Kind: hcloudsim.FaultLocked, Probability: 1})
	env.Sim.AddFault(hcloudsim.Fault{Kind: hcloudsim.FaultInternal, Probability: 1})
	_, err := c.Location.All(ctx)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeLocked), "second rule wins: %v", err)
	_, err = c.ServerType.All(ctx)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeServerError), "catch-all: %v", err)
	env.Sim.ClearFaults()
	_, err = c.Location.All(ctx)
	assert.NoError(t, err)
}

func TestInvalidFaultsAreRefused(t *testing.T) {
	sim := hcloudsim.New(hcloudsim.Options{Token: "T"})
	for _, f := range []hcloudsim.Fault{
		{Kind: "explode"},
		{Kind: hcloudsim.FaultInternal, Probability: 2},
		{Kind: hcloudsim.FaultInternal, Times: -1},
		{Kind: hcloudsim.FaultLatency, Times: 1},
	} {
		assert.Error(t, f.Validate(), "%+v", f)
		assert.Error(t, sim.SetFaults([]hcloudsim.Fault{f}))
	}
	assert.Empty(t, sim.Faults())
}

// TestDropClosesTheConnection: the client gets no response at all. (Go's transport itself retries an
// idempotent request on a reused connection, so this uses a POST.)
func TestDropClosesTheConnection(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/ssh_keys", Kind: hcloudsim.FaultDrop, Times: 1})
	_, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k", PublicKey: newPublicKey(t)})
	require.Error(t, err)
	assert.False(t, hcloud.IsError(err), "a dropped connection is not an API error: %v", err)
	assert.Equal(t, 1, env.Sim.Requests()["POST /v1/ssh_keys"])
	assert.Empty(t, env.Sim.Created(), "a dropped request changes nothing")
	assert.Equal(t, 1, env.Sim.FaultsInjected()[hcloudsim.FaultDrop])
}

// TestActionErrorFault: the call succeeds, the action it started ends in error, and hcloud-go's WaitFor
// returns an ActionError.
func TestActionErrorFault(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/servers", Kind: hcloudsim.FaultActionError, Times: 1})
	res, _, err := c.Server.Create(ctx, createOpts("doomed"))
	require.NoError(t, err)
	assert.Equal(t, hcloud.ActionStatusRunning, res.Action.Status)
	err = c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...)
	var aerr hcloud.ActionError
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, "action_failed", aerr.Code)
	a, _, err := c.Action.GetByID(ctx, res.Action.ID)
	require.NoError(t, err)
	assert.Equal(t, hcloud.ActionStatusError, a.Status)
}
