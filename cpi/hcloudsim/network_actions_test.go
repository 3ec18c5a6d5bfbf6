package hcloudsim_test

import (
	"context"
	"errors"
	"net"
	"net/http"
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

// newNetwork creates 10.0.0.0/16 with one eu-central subnet 10.0.1.0/24.
func newNetwork(t *testing.T, ctx context.Context, c *hcloud.Client) *hcloud.Network {
	t.Helper()
	nw, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{
		Name: "nanobox", IPRange: mustCIDR(t, "10.0.0.0/16"),
		Routes:  []hcloud.NetworkRoute{{Destination: mustCIDR(t, "10.0.200.0/24"), Gateway: net.ParseIP("10.0.1.5")}},
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.1.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral}},
	})
	require.NoError(t, err)
	return nw
}

// getStatus GETs path below the API endpoint and returns the status.
func getStatus(t *testing.T, env *simtest.Env, path string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, env.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+env.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func subnetRanges(nw *hcloud.Network) []string {
	out := []string{}
	for _, s := range nw.Subnets {
		out = append(out, string(s.NetworkZone)+" "+s.IPRange.String())
	}
	return out
}

func TestAddSubnetWithHcloudGo(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw := newNetwork(t, ctx, c)

	act, _, err := c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.2.0/24"), NetworkZone: hcloud.NetworkZoneUSEast,
	}})
	require.NoError(t, err)
	assert.Equal(t, "add_subnet", act.Command)
	assert.Equal(t, hcloud.ActionStatusRunning, act.Status, "the answer that starts an action shows it running")
	require.Len(t, act.Resources, 1)
	assert.Equal(t, nw.ID, act.Resources[0].ID)
	assert.Equal(t, hcloud.ActionResourceTypeNetwork, act.Resources[0].Type)
	require.NoError(t, c.Action.WaitFor(ctx, act))

	// Without ip_range the API picks the first free /24.
	act, _, err = c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneUSWest,
	}})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))

	got, _, err := c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, []string{"eu-central 10.0.1.0/24", "us-east 10.0.2.0/24", "us-west 10.0.0.0/24"}, subnetRanges(got))
	assert.Equal(t, "10.0.2.1", got.Subnets[1].Gateway.String())

	// The action belongs to the network: found under it, not under another network.
	other, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "other", IPRange: mustCIDR(t, "10.9.0.0/16")})
	require.NoError(t, err)
	aid := strconv.FormatInt(act.ID, 10)
	assert.Equal(t, http.StatusOK, getStatus(t, env, "/networks/"+strconv.FormatInt(nw.ID, 10)+"/actions/"+aid))
	assert.Equal(t, http.StatusOK, getStatus(t, env, "/networks/actions/"+aid))
	assert.Equal(t, http.StatusNotFound, getStatus(t, env, "/networks/"+strconv.FormatInt(other.ID, 10)+"/actions/"+aid))
	assert.Equal(t, http.StatusNotFound, getStatus(t, env, "/servers/actions/"+aid))
	assert.Equal(t, 2, env.Sim.Requests()["POST /v1/networks/{id}/actions/add_subnet"])

	bad := []struct {
		name  string
		sub   hcloud.NetworkSubnet
		field string
	}{
		{"overlaps a subnet", hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.1.128/25"), NetworkZone: hcloud.NetworkZoneAPSouthEast}, "ip_range"},
		{"contains a subnet", hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.0.0/22"), NetworkZone: hcloud.NetworkZoneAPSouthEast}, "ip_range"},
		{"overlaps a route", hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.200.0/25"), NetworkZone: hcloud.NetworkZoneAPSouthEast}, "ip_range"},
		{"outside the network", hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.1.0.0/24"), NetworkZone: hcloud.NetworkZoneAPSouthEast}, "ip_range"},
		{"larger than the network", hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.0.0/15"), NetworkZone: hcloud.NetworkZoneAPSouthEast}, "ip_range"},
		{"smaller than /30", hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.9.0/31"), NetworkZone: hcloud.NetworkZoneAPSouthEast}, "ip_range"},
		{"unknown zone", hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.9.0/24"), NetworkZone: "mars-north"}, "network_zone"},
		{"unknown type", hcloud.NetworkSubnet{Type: "galactic", IPRange: mustCIDR(t, "10.0.9.0/24"), NetworkZone: hcloud.NetworkZoneAPSouthEast}, "type"},
		{"vswitch without its id", hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeVSwitch, IPRange: mustCIDR(t, "10.0.9.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral}, "vswitch_id"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: tt.sub})
			var herr hcloud.Error
			require.True(t, errors.As(err, &herr), "%v", err)
			assert.Equal(t, hcloud.ErrorCodeInvalidInput, herr.Code)
			details, ok := herr.Details.(hcloud.ErrorDetailsInvalidInput)
			require.True(t, ok, "%#v", herr.Details)
			require.Len(t, details.Fields, 1)
			assert.Equal(t, tt.field, details.Fields[0].Name)
			again, _, err := c.Network.GetByID(ctx, nw.ID)
			require.NoError(t, err)
			assert.Equal(t, subnetRanges(got), subnetRanges(again), "a refused subnet changes nothing")
		})
	}

	_, _, err = c.Network.AddSubnet(ctx, &hcloud.Network{ID: 999999}, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneAPSouthEast,
	}})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeNotFound), "%v", err)
}

func TestAddSubnetFillsTheNetwork(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "small", IPRange: mustCIDR(t, "192.168.7.0/24")})
	require.NoError(t, err)
	act, _, err := c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneEUCentral}})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	_, _, err = c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneUSEast}})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "no free /24 left: %v", err)
	got, _, err := c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"eu-central 192.168.7.0/24"}, subnetRanges(got))
}

func TestDeleteSubnetWithHcloudGo(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw := newNetwork(t, ctx, c)
	act, _, err := c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.2.0/24"), NetworkZone: hcloud.NetworkZoneUSEast,
	}})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))

	o := createOpts("member")
	o.Networks = []*hcloud.Network{nw}
	res, _, err := c.Server.Create(ctx, o)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))

	del := func(r string) error {
		act, _, err := c.Network.DeleteSubnet(ctx, nw, hcloud.NetworkDeleteSubnetOpts{Subnet: hcloud.NetworkSubnet{IPRange: mustCIDR(t, r)}})
		if err != nil {
			return err
		}
		assert.Equal(t, "delete_subnet", act.Command)
		return c.Action.WaitFor(ctx, act)
	}
	// The eu-central subnet holds the server's address: the API answers service_error, which hcloud-go does
	// not retry.
	env.Sim.ResetRequests()
	err = del("10.0.1.0/24")
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeServiceError), "%v", err)
	assert.Equal(t, 1, env.Sim.TotalRequests(), "not retried")
	err = del("10.0.9.0/24")
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "no such subnet: %v", err)
	got, _, err := c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"eu-central 10.0.1.0/24", "us-east 10.0.2.0/24"}, subnetRanges(got), "refusals change nothing")

	require.NoError(t, del("10.0.2.0/24"))
	// Once the server is detached, its subnet can go too.
	act, _, err = c.Server.DetachFromNetwork(ctx, res.Server, hcloud.ServerDetachFromNetworkOpts{Network: nw})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	require.NoError(t, del("10.0.1.0/24"))
	got, _, err = c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Subnets)
}

func TestChangeIPRangeWithHcloudGo(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw := newNetwork(t, ctx, c)
	for _, tt := range []struct{ to, why string }{
		{"10.0.0.0/17", "shrinks"},
		{"10.2.0.0/15", "moves the start"},
		{"10.0.0.0/7", "leaves RFC 1918"},
	} {
		_, _, err := c.Network.ChangeIPRange(ctx, nw, hcloud.NetworkChangeIPRangeOpts{IPRange: mustCIDR(t, tt.to)})
		assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "%s %s: %v", tt.to, tt.why, err)
	}
	act, _, err := c.Network.ChangeIPRange(ctx, nw, hcloud.NetworkChangeIPRangeOpts{IPRange: mustCIDR(t, "10.0.0.0/15")})
	require.NoError(t, err)
	assert.Equal(t, "change_ip_range", act.Command)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	got, _, err := c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.0/15", got.IPRange.String())
	// The grown range takes subnets it could not before.
	act, _, err = c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.1.0.0/24"), NetworkZone: hcloud.NetworkZoneUSEast,
	}})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
}

// TestNetworkActionsAuthFaultsAndConflicts: a read-only token is refused, faults apply to the routes, a
// failed action fails WaitFor, and a second change while one runs meets 409 conflict.
func TestNetworkActionsAuthFaultsAndConflicts(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{ReadOnlyToken: "ro", Delays: hcloudsim.Delays{Action: time.Hour}})
	c := env.Client()
	ctx := testCtx(t)
	nw := newNetwork(t, ctx, c)
	us := hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.2.0/24"), NetworkZone: hcloud.NetworkZoneUSEast}}

	ro := env.Client(hcloud.WithToken("ro"))
	_, _, err := ro.Network.AddSubnet(ctx, nw, us)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeForbidden), "%v", err)
	_, _, err = ro.Network.DeleteSubnet(ctx, nw, hcloud.NetworkDeleteSubnetOpts{Subnet: nw.Subnets[0]})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeForbidden), "%v", err)

	// One scripted bad_gateway: hcloud-go retries, the second attempt adds the subnet.
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/networks/{id}/actions/add_subnet", Kind: hcloudsim.FaultBadGateway, Times: 1})
	env.Sim.ResetRequests()
	act, _, err := c.Network.AddSubnet(ctx, nw, us)
	require.NoError(t, err)
	assert.Equal(t, 2, env.Sim.Requests()["POST /v1/networks/{id}/actions/add_subnet"])
	assert.Equal(t, 1, env.Sim.FaultsInjected()[hcloudsim.FaultBadGateway])

	// The action runs for an hour: another change of the network is a conflict (retried by hcloud-go, so
	// here without retries), a change of another network is not.
	noRetry := env.Client(hcloud.WithRetryOpts(hcloud.RetryOpts{MaxRetries: 0}))
	_, _, err = noRetry.Network.DeleteSubnet(ctx, nw, hcloud.NetworkDeleteSubnetOpts{Subnet: hcloud.NetworkSubnet{IPRange: mustCIDR(t, "10.0.2.0/24")}})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeConflict), "%v", err)
	got, _, err := c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.Len(t, got.Subnets, 2)
	other, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "other", IPRange: mustCIDR(t, "10.1.0.0/16")})
	require.NoError(t, err)
	_, _, err = noRetry.Network.AddSubnet(ctx, other, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.1.2.0/24"), NetworkZone: hcloud.NetworkZoneUSEast,
	}})
	require.NoError(t, err)
	running, _, err := c.Action.GetByID(ctx, act.ID)
	require.NoError(t, err)
	assert.Equal(t, hcloud.ActionStatusRunning, running.Status)
}

func TestNetworkActionErrorAndCommitThenFail(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw := newNetwork(t, ctx, c)

	env.Sim.AddFault(hcloudsim.Fault{Route: "/v1/networks/{id}/actions/delete_subnet", Kind: hcloudsim.FaultActionError, Times: 1})
	act, _, err := c.Network.DeleteSubnet(ctx, nw, hcloud.NetworkDeleteSubnetOpts{Subnet: nw.Subnets[0]})
	require.NoError(t, err)
	var aerr hcloud.ActionError
	assert.True(t, errors.As(c.Action.WaitFor(ctx, act), &aerr))

	// commit_then_fail: the subnet is added, the client sees 504 timeout, retries, and the retry meets the
	// subnet it added: invalid_input, exactly as against the real API.
	env.Sim.AddFault(hcloudsim.Fault{Route: "/v1/networks/{id}/actions/add_subnet", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	_, _, err = c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.2.0/24"), NetworkZone: hcloud.NetworkZoneUSEast,
	}})
	require.Error(t, err)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "%v", err)
	assert.True(t, strings.Contains(err.Error(), "overlaps"), "%v", err)
	got, _, err := c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"us-east 10.0.2.0/24"}, subnetRanges(got))
}

// TestNetworkActionBodiesAsTheDocument: the request schemas forbid unknown fields and require their
// fields; malformed JSON is json_error.
func TestNetworkActionBodiesAsTheDocument(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	ctx := testCtx(t)
	nw := newNetwork(t, ctx, env.Client())
	base := env.URL + "/networks/" + strconv.FormatInt(nw.ID, 10) + "/actions/"
	tests := []struct {
		action, body, code string
	}{
		{"add_subnet", `{"type":"cloud","network_zone":"us-east","ip_range":"10.0.2.0/24","extra":1}`, "invalid_input"},
		{"add_subnet", `{"network_zone":"us-east"}`, "invalid_input"},
		{"add_subnet", `{"type":"cloud"}`, "invalid_input"},
		{"add_subnet", `{"type":"cloud","network_zone":"us-east","ip_range":"banana"}`, "invalid_input"},
		{"add_subnet", `{"type":"cloud","network_zone":"us-east","ip_range":"fd00::/64"}`, "invalid_input"},
		{"add_subnet", `{"type":"cloud",`, "json_error"},
		{"add_subnet", ``, "json_error"},
		{"delete_subnet", `{}`, "invalid_input"},
		{"delete_subnet", `{"ip_range":"10.0.1.0/24","x":true}`, "invalid_input"},
		{"delete_subnet", `{"ip_range":7}`, "json_error"},
		{"change_ip_range", `{}`, "invalid_input"},
		{"change_ip_range", `{"ip_range":"10.0.0.0/15","y":1}`, "invalid_input"},
	}
	for _, tt := range tests {
		t.Run(tt.action+" "+tt.body, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+tt.action, strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+env.Token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			want := map[string]int{"invalid_input": http.StatusUnprocessableEntity, "json_error": http.StatusBadRequest}[tt.code]
			assert.Equal(t, want, resp.StatusCode)
		})
	}
	got, _, err := env.Client().Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"eu-central 10.0.1.0/24"}, subnetRanges(got))
	assert.Equal(t, "10.0.0.0/16", got.IPRange.String())
}

// TestNetworkRoutesAndProtectionWithHcloudGo drives add_route, delete_route and change_protection as `hcloud
// network add-route/remove-route/enable-protection` send them.
func TestNetworkRoutesAndProtectionWithHcloudGo(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw := newNetwork(t, ctx, c) // 10.0.0.0/16, subnet 10.0.1.0/24, route 10.0.200.0/24 via 10.0.1.5
	route := func(dst, gw string) hcloud.NetworkRoute {
		return hcloud.NetworkRoute{Destination: mustCIDR(t, dst), Gateway: net.ParseIP(gw)}
	}
	routes := func() []string {
		got, _, err := c.Network.GetByID(ctx, nw.ID)
		require.NoError(t, err)
		out := []string{}
		for _, r := range got.Routes {
			out = append(out, r.Destination.String()+" via "+r.Gateway.String())
		}
		return out
	}

	act, _, err := c.Network.AddRoute(ctx, nw, hcloud.NetworkAddRouteOpts{Route: route("10.100.1.0/24", "10.0.1.1")})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	assert.Equal(t, []string{"10.0.200.0/24 via 10.0.1.5", "10.100.1.0/24 via 10.0.1.1"}, routes())

	refused := []struct {
		name  string
		route hcloud.NetworkRoute
	}{
		{"destination overlaps a subnet", route("10.0.1.0/26", "10.0.1.1")},
		{"destination overlaps a route", route("10.100.0.0/16", "10.0.1.1")},
		{"public destination", route("8.8.8.0/24", "10.0.1.1")},
		{"destination covers 172.31.1.1", route("172.31.0.0/16", "10.0.1.1")},
		{"gateway outside the network", route("10.101.0.0/24", "192.168.0.1")},
		{"gateway is the network's first address", route("10.101.0.0/24", "10.0.0.0")},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Network.AddRoute(ctx, nw, hcloud.NetworkAddRouteOpts{Route: tc.route})
			assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "got %v", err)
		})
	}
	assert.Len(t, routes(), 2, "refused routes change nothing")

	act, _, err = c.Network.DeleteRoute(ctx, nw, hcloud.NetworkDeleteRouteOpts{Route: route("10.0.200.0/24", "10.0.1.5")})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	assert.Equal(t, []string{"10.100.1.0/24 via 10.0.1.1"}, routes())
	_, _, err = c.Network.DeleteRoute(ctx, nw, hcloud.NetworkDeleteRouteOpts{Route: route("10.0.200.0/24", "10.0.1.5")})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "a route that is not there: %v", err)

	act, _, err = c.Network.ChangeProtection(ctx, nw, hcloud.NetworkChangeProtectionOpts{Delete: hcloud.Ptr(true)})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	got, _, err := c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.True(t, got.Protection.Delete)
	_, err = c.Network.Delete(ctx, nw)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeProtected), "got %v", err)

	act, _, err = c.Network.ChangeProtection(ctx, nw, hcloud.NetworkChangeProtectionOpts{Delete: hcloud.Ptr(false)})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	_, err = c.Network.Delete(ctx, nw)
	require.NoError(t, err)
}
