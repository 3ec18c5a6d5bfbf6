package hcloudsim_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

func ips(ss ...string) []net.IP {
	out := make([]net.IP, 0, len(ss))
	for _, s := range ss {
		out = append(out, net.ParseIP(s))
	}
	return out
}

func ipStrings(in []net.IP) []string {
	out := []string{}
	for _, ip := range in {
		out = append(out, ip.String())
	}
	return out
}

// privateNet returns the server's attachment to network id (its address and alias IPs).
func privateNet(t *testing.T, ctx context.Context, c *hcloud.Client, serverID, networkID int64) (string, []string) {
	t.Helper()
	srv, _, err := c.Server.GetByID(ctx, serverID)
	require.NoError(t, err)
	require.NotNil(t, srv)
	for _, pn := range srv.PrivateNet {
		if pn.Network.ID == networkID {
			return pn.IP.String(), ipStrings(pn.Aliases)
		}
	}
	t.Fatalf("server %d is not attached to network %d", serverID, networkID)
	return "", nil
}

// TestAttachToNetworkAliasIPsAndIPRange drives attach_to_network and change_alias_ips as `hcloud server
// attach-to-network --ip --alias-ips` and `hcloud server change-alias-ips` send them: alias IPs are kept,
// an ip_range picks the subnet, and every address is unique in the network.
func TestAttachToNetworkAliasIPsAndIPRange(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw := newNetwork(t, ctx, c) // 10.0.0.0/16, subnet 10.0.1.0/24 in eu-central
	act, _, err := c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.2.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral,
	}})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	other := newOtherNetwork(t, ctx, c)

	servers := map[string]*hcloud.Server{}
	for _, name := range []string{"a", "b", "c", "d"} {
		res, _, err := c.Server.Create(ctx, createOpts(name))
		require.NoError(t, err)
		require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))
		servers[name] = res.Server
	}

	attach := func(name string, opts hcloud.ServerAttachToNetworkOpts) error {
		opts.Network = nw
		act, _, err := c.Server.AttachToNetwork(ctx, servers[name], opts)
		if err == nil {
			err = c.Action.WaitFor(ctx, act)
		}
		return err
	}
	require.NoError(t, attach("a", hcloud.ServerAttachToNetworkOpts{IP: net.ParseIP("10.0.1.10"), AliasIPs: ips("10.0.1.2", "10.0.1.3")}))
	ip, aliases := privateNet(t, ctx, c, servers["a"].ID, nw.ID)
	assert.Equal(t, "10.0.1.10", ip)
	assert.Equal(t, []string{"10.0.1.2", "10.0.1.3"}, aliases, "the alias IPs are kept")

	refused := []struct {
		name string
		opts hcloud.ServerAttachToNetworkOpts
		code hcloud.ErrorCode
	}{
		{"address taken as an alias", hcloud.ServerAttachToNetworkOpts{IP: net.ParseIP("10.0.1.3")}, hcloud.ErrorCodeIPNotAvailable},
		{"alias taken as an address", hcloud.ServerAttachToNetworkOpts{AliasIPs: ips("10.0.1.10")}, hcloud.ErrorCodeIPNotAvailable},
		{"alias outside the subnet", hcloud.ServerAttachToNetworkOpts{AliasIPs: ips("10.0.9.1")}, hcloud.ErrorCodeInvalidInput},
		{"alias given twice", hcloud.ServerAttachToNetworkOpts{AliasIPs: ips("10.0.1.20", "10.0.1.20")}, hcloud.ErrorCodeInvalidInput},
		{"alias equal to the address", hcloud.ServerAttachToNetworkOpts{IP: net.ParseIP("10.0.1.21"), AliasIPs: ips("10.0.1.21")}, hcloud.ErrorCodeInvalidInput},
		{"ip_range naming no subnet", hcloud.ServerAttachToNetworkOpts{IPRange: mustCIDR(t, "10.0.3.0/24")}, hcloud.ErrorCodeInvalidInput},
		{"ip outside the ip_range", hcloud.ServerAttachToNetworkOpts{IPRange: mustCIDR(t, "10.0.2.0/24"), IP: net.ParseIP("10.0.1.30")}, hcloud.ErrorCodeInvalidInput},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			err := attach("b", tc.opts)
			require.Error(t, err)
			assert.True(t, hcloud.IsError(err, tc.code), "got %v", err)
			srv, _, gerr := c.Server.GetByID(ctx, servers["b"].ID)
			require.NoError(t, gerr)
			assert.Empty(t, srv.PrivateNet, "a refused attach changes nothing")
		})
	}

	require.NoError(t, attach("b", hcloud.ServerAttachToNetworkOpts{}))
	ip, aliases = privateNet(t, ctx, c, servers["b"].ID, nw.ID)
	assert.Equal(t, "10.0.1.4", ip, "the first address no server uses, aliases included")
	assert.Empty(t, aliases)

	require.NoError(t, attach("c", hcloud.ServerAttachToNetworkOpts{IPRange: mustCIDR(t, "10.0.2.0/24"), AliasIPs: ips("10.0.2.9")}))
	ip, aliases = privateNet(t, ctx, c, servers["c"].ID, nw.ID)
	assert.Equal(t, "10.0.2.2", ip, "ip_range picks the subnet")
	assert.Equal(t, []string{"10.0.2.9"}, aliases)

	require.NoError(t, attach("d", hcloud.ServerAttachToNetworkOpts{IP: net.ParseIP("10.0.2.5")}))
	ip, _ = privateNet(t, ctx, c, servers["d"].ID, nw.ID)
	assert.Equal(t, "10.0.2.5", ip, "an ip of another subnet of the zone picks that subnet")

	change := func(name string, network *hcloud.Network, aliases []net.IP) error {
		act, _, err := c.Server.ChangeAliasIPs(ctx, servers[name], hcloud.ServerChangeAliasIPsOpts{Network: network, AliasIPs: aliases})
		if err == nil {
			err = c.Action.WaitFor(ctx, act)
		}
		return err
	}
	require.NoError(t, change("a", nw, ips("10.0.1.3", "10.0.1.11")))
	_, aliases = privateNet(t, ctx, c, servers["a"].ID, nw.ID)
	assert.Equal(t, []string{"10.0.1.3", "10.0.1.11"}, aliases, "change_alias_ips replaces the aliases")
	require.NoError(t, change("a", nw, []net.IP{}))
	_, aliases = privateNet(t, ctx, c, servers["a"].ID, nw.ID)
	assert.Empty(t, aliases)

	err = change("b", nw, ips("10.0.1.10"))
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeIPNotAvailable), "another server's address: %v", err)
	err = change("c", nw, ips("10.0.1.50"))
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "outside the subnet of the server's address: %v", err)
	err = change("b", other, ips("10.9.1.5"))
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeServerNotAttachedToNetwork), "not attached: %v", err)
	_, aliases = privateNet(t, ctx, c, servers["b"].ID, nw.ID)
	assert.Empty(t, aliases, "a refused change changes nothing")
}

// newOtherNetwork creates 10.9.0.0/16 with one eu-central subnet 10.9.1.0/24.
func newOtherNetwork(t *testing.T, ctx context.Context, c *hcloud.Client) *hcloud.Network {
	t.Helper()
	nw, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{
		Name: "other", IPRange: mustCIDR(t, "10.9.0.0/16"),
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.9.1.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral}},
	})
	require.NoError(t, err)
	return nw
}

// TestUnservedRoutesAreNotFound: an endpoint of the API the simulator does not serve answers 404 not_found
// naming it (as `hcloud server change-type` or `hcloud iso list` would meet), never 405 for an action.
func TestUnservedRoutesAreNotFound(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("web"))
	require.NoError(t, err)

	_, _, err = c.Server.ChangeType(ctx, res.Server, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: "cx33"}})
	require.Error(t, err)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeNotFound), "got %v", err)
	assert.Contains(t, err.Error(), "does not serve POST /v1/servers/")

	_, err = c.ISO.All(ctx)
	require.Error(t, err)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeNotFound), "got %v", err)
	assert.True(t, strings.Contains(err.Error(), "does not serve GET /v1/isos"), "got %v", err)
}
