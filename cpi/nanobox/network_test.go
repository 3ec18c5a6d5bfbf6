package nanobox_test

import (
	"context"
	"net"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

const addSubnetRoute = "POST /v1/networks/{id}/actions/add_subnet"

// operatorNetwork creates the network "nanobox" (10.0.0.0/16) as an
// operator would in the console: unlabelled, with one eu-central subnet.
func (h *harness) operatorNetwork(euSubnet string) *hcloud.Network {
	h.t.Helper()
	_, rng, _ := net.ParseCIDR("10.0.0.0/16")
	_, eu, _ := net.ParseCIDR(euSubnet)
	n, _, err := h.client().Network.Create(context.Background(), hcloud.NetworkCreateOpts{Name: "nanobox", IPRange: rng,
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: eu, NetworkZone: "eu-central"}}})
	require.NoError(h.t, err)
	return n
}

// TestOrderAddsTheZonesSubnetToAnExistingNetwork: an order in a zone the
// existing network has no subnet in adds the zone's quarter of the range,
// also when the add's answer is lost after Hetzner applied it (the retried
// add meets invalid_input, overlap) or every answer is lost; afterwards
// orders in both zones are warm.
func TestOrderAddsTheZonesSubnetToAnExistingNetwork(t *testing.T) {
	cases := []struct {
		name   string
		faults int // commit_then_fail on add_subnet
		budget int // of the first order
	}{
		{"add answered", 0, 5}, // key, network, add_subnet, action, create
		{"first add's answer lost", 1, 7},
		{"every add's answer lost", 10, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			network := h.operatorNetwork("10.0.0.0/24")
			key := h.createKey()
			if tc.faults > 0 {
				h.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/networks/{id}/actions/add_subnet", Kind: hcloudsim.FaultCommitThenFail, Times: tc.faults})
			}
			var res protocol.IDResult
			reqs := h.budget(tc.budget, func() { h.ok(h.order("east1", "ash", "cpx11", key, nil), &res) })
			require.Positive(t, reqs[addSubnetRoute])
			if tc.faults > 0 {
				require.Positive(t, h.sim.Sim.FaultsInjected()[hcloudsim.FaultCommitThenFail])
				require.Contains(t, h.logs.String(), "has a subnet in us-east now")
			}

			st := h.sim.Sim.Snapshot()
			require.Len(t, st.Networks, 1, "the operator's network is used")
			require.Equal(t, network.ID, st.Networks[0].ID)
			var subnets []string
			for _, s := range st.Networks[0].Subnets {
				subnets = append(subnets, s.Type+" "+s.NetworkZone+" "+s.IPRange)
			}
			require.ElementsMatch(t, []string{"cloud eu-central 10.0.0.0/24", "cloud us-east 10.0.64.0/18"}, subnets, "exactly one subnet added")
			sv := h.simServer(res.ID)
			require.Len(t, sv.PrivateNet, 1)
			require.Equal(t, network.ID, sv.PrivateNet[0].Network)

			h.sim.Sim.ClearFaults()
			for _, o := range []struct{ name, region, size string }{{"east2", "ash", "cpx11"}, {"eu1", "nbg1", "cx23"}} {
				reqs := h.budget(3, func() { h.ok(h.order(o.name, o.region, o.size, key, nil), nil) })
				require.Zero(t, reqs[addSubnetRoute], o.name)
			}
		})
	}
}

// TestOrderRefusesWhenTheZonesRangeIsTaken: the quarter of the range
// reserved for the order's zone overlaps a subnet the operator made:
// Conflict, and nothing is changed or created.
func TestOrderRefusesWhenTheZonesRangeIsTaken(t *testing.T) {
	h := newHarness(t)
	h.operatorNetwork("10.0.64.0/20")
	key := h.createKey()
	reqs := h.budget(2, func() {
		e := h.fails(h.order("east1", "ash", "cpx11", key, nil), protocol.Conflict, "10.0.64.0/18", "us-east")
		require.False(t, e.OkToRetry)
	})
	require.Zero(t, reqs[addSubnetRoute])
	require.Empty(t, h.liveServers())
	require.Len(t, h.sim.Sim.Snapshot().Networks[0].Subnets, 1)
}
