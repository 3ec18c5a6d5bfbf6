package cpi

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

// TestAddZoneSubnetAfterAConcurrentAdd: two orders for a zone the network
// lacks both read the network before either added the subnet; the second
// add_subnet meets invalid_input (overlap). Here the first order's add is
// done with the simulator's client, then this order adds with its stale
// read: it re-reads the network and goes on with the subnet that is there.
func TestAddZoneSubnetAfterAConcurrentAdd(t *testing.T) {
	ctx := context.Background()
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	_, rng, _ := net.ParseCIDR("10.0.0.0/16")
	_, eu, _ := net.ParseCIDR("10.0.0.0/24")
	stale, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "nanobox", IPRange: rng,
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: eu, NetworkZone: "eu-central"}}})
	require.NoError(t, err)
	subnet, ok := zoneSubnet("10.0.0.0/16", "us-east")
	require.True(t, ok)
	_, _, err = c.Network.AddSubnet(ctx, stale, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, IPRange: toIPNet(subnet), NetworkZone: "us-east"}})
	require.NoError(t, err)

	logs := &bytes.Buffer{}
	log := logrus.New()
	log.SetOutput(logs)
	project, err := statedir.Open(t.TempDir(), env.URL, env.Token)
	require.NoError(t, err)
	h := &Hetzner{client: c, cfg: config.Default(), log: log, state: newStateStore(project)}
	env.Sim.ResetRequests()
	zones, err := h.addZoneSubnet(ctx, stale, "us-east", subnet)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"eu-central", "us-east"}, zones)
	require.Equal(t, map[string]int{"POST /v1/networks/{id}/actions/add_subnet": 1, "GET /v1/networks/{id}": 1}, env.Sim.Requests())
	require.Contains(t, logs.String(), "has a subnet in us-east now")

	// A zone still without a subnet after the re-read: the add's error.
	_, err = h.addZoneSubnet(ctx, stale, "us-west", netipMust("10.0.0.0/18"))
	require.ErrorContains(t, err, "adding a subnet for us-west")
	require.ErrorContains(t, err, "invalid")
}

func netipMust(s string) netip.Prefix { return netip.MustParsePrefix(s) }
