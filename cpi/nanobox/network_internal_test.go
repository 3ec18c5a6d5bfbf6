package nanobox

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

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

func TestZoneSubnets(t *testing.T) {
	for zone, want := range map[string]string{
		"eu-central": "10.0.0.0/18", "us-east": "10.0.64.0/18", "us-west": "10.0.128.0/18", "ap-southeast": "10.0.192.0/18",
	} {
		got, ok := zoneSubnet("10.0.0.0/16", zone)
		require.True(t, ok)
		require.Equal(t, want, got.String())
	}
	got, ok := zoneSubnet("172.16.4.0/24", "us-west")
	require.True(t, ok)
	require.Equal(t, "172.16.4.128/26", got.String())
	_, ok = zoneSubnet("10.0.0.0/16", "moon-1")
	require.False(t, ok)
}

func TestIDMessagesQuoteWholeCharacters(t *testing.T) {
	_, err := parseID("query_server", "server", "a"+strings.Repeat("é", 30)) // byte 40 is inside a character
	require.Error(t, err)
	require.True(t, utf8.ValidString(err.Error()), err.Error())
	require.Contains(t, err.Error(), `"a`+strings.Repeat("é", 19)+`..."`)
}
