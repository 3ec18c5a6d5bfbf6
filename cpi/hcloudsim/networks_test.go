package hcloudsim_test

import (
	"net"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

func TestNetworksFirewallsPlacementGroups(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)

	nw, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{
		Name: "nanobox", IPRange: mustCIDR(t, "10.0.0.0/16"), Labels: map[string]string{"nanobox": "true"},
		Subnets: []hcloud.NetworkSubnet{
			{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.1.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral},
			{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.2.0/24"), NetworkZone: hcloud.NetworkZoneUSEast},
		},
	})
	require.NoError(t, err)
	require.Len(t, nw.Subnets, 2)
	assert.Equal(t, net.ParseIP("10.0.1.1").String(), nw.Subnets[0].Gateway.String())

	bad := []hcloud.NetworkCreateOpts{
		{Name: "nanobox", IPRange: mustCIDR(t, "10.1.0.0/16")}, // name taken
		{Name: "public", IPRange: mustCIDR(t, "8.8.0.0/16")},   // not private
		{Name: "outside", IPRange: mustCIDR(t, "10.2.0.0/16"), Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.3.0.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral}}},
	}
	for _, o := range bad {
		_, _, err := c.Network.Create(ctx, o)
		assert.Error(t, err, o.Name)
	}

	byLabel, err := c.Network.AllWithOpts(ctx, hcloud.NetworkListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "nanobox=true"}})
	require.NoError(t, err)
	require.Len(t, byLabel, 1)
	got, _, err := c.Network.GetByName(ctx, "nanobox")
	require.NoError(t, err)
	require.NotNil(t, got)

	// Two servers get distinct addresses; a US server lands in the US subnet.
	var ips []string
	for _, spec := range []struct{ name, loc string }{{"a", "nbg1"}, {"b", "nbg1"}, {"c", "ash"}} {
		o := createOpts(spec.name)
		o.Location = &hcloud.Location{Name: spec.loc}
		if spec.loc == "ash" {
			o.ServerType = &hcloud.ServerType{Name: "cpx11"}
		}
		o.Networks = []*hcloud.Network{nw}
		res, _, err := c.Server.Create(ctx, o)
		require.NoError(t, err)
		require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))
		s, _, err := c.Server.GetByID(ctx, res.Server.ID)
		require.NoError(t, err)
		require.Len(t, s.PrivateNet, 1)
		ips = append(ips, s.PrivateNet[0].IP.String())
	}
	assert.Equal(t, []string{"10.0.1.2", "10.0.1.3", "10.0.2.2"}, ips)

	// Firewalls: create with a rule and a server, apply to another, list.
	servers, err := c.Server.All(ctx)
	require.NoError(t, err)
	port := "22"
	fw, _, err := c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{
		Name:    "ssh",
		Rules:   []hcloud.FirewallRule{{Direction: hcloud.FirewallRuleDirectionIn, Protocol: hcloud.FirewallRuleProtocolTCP, Port: &port, SourceIPs: []net.IPNet{*mustCIDR(t, "0.0.0.0/0")}}},
		ApplyTo: []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: servers[0].ID}}},
	})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, fw.Actions...))
	acts, _, err := c.Firewall.ApplyResources(ctx, fw.Firewall, []hcloud.FirewallResource{
		{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: servers[1].ID}},
		{Type: hcloud.FirewallResourceTypeLabelSelector, LabelSelector: &hcloud.FirewallResourceLabelSelector{Selector: "nanobox=true"}},
	})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, acts...))
	_, _, err = c.Firewall.ApplyResources(ctx, fw.Firewall, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: servers[1].ID}}})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeFirewallAlreadyApplied), "%v", err)
	fws, err := c.Firewall.All(ctx)
	require.NoError(t, err)
	require.Len(t, fws, 1)
	assert.Len(t, fws[0].AppliedTo, 3)
	s0, _, err := c.Server.GetByID(ctx, servers[0].ID)
	require.NoError(t, err)
	require.Len(t, s0.PublicNet.Firewalls, 1)
	assert.Equal(t, fw.Firewall.ID, s0.PublicNet.Firewalls[0].Firewall.ID)

	// Rules can be replaced; the firewall can be removed again, then deleted.
	port80 := "80"
	acts, _, err = c.Firewall.SetRules(ctx, fw.Firewall, hcloud.FirewallSetRulesOpts{Rules: []hcloud.FirewallRule{{Direction: hcloud.FirewallRuleDirectionIn, Protocol: hcloud.FirewallRuleProtocolTCP, Port: &port80, SourceIPs: []net.IPNet{*mustCIDR(t, "0.0.0.0/0")}}}})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, acts...))
	_, err = c.Firewall.Delete(ctx, fw.Firewall)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeResourceInUse), "still applied: %v", err)
	// What a GET shows under a label selector (applied_to_resources) is not part of a request: the API
	// refuses it.
	_, _, err = c.Firewall.RemoveResources(ctx, fw.Firewall, fws[0].AppliedTo)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "%v", err)
	removeFrom := append([]hcloud.FirewallResource(nil), fws[0].AppliedTo...)
	for i := range removeFrom {
		removeFrom[i].AppliedToResources = nil
	}
	acts, _, err = c.Firewall.RemoveResources(ctx, fw.Firewall, removeFrom)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, acts...))
	s0, _, err = c.Server.GetByID(ctx, servers[0].ID)
	require.NoError(t, err)
	assert.Empty(t, s0.PublicNet.Firewalls)
	_, err = c.Firewall.Delete(ctx, fw.Firewall)
	require.NoError(t, err)

	// Placement groups: create at server creation time, list.
	pg, _, err := c.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: "spread", Type: hcloud.PlacementGroupTypeSpread, Labels: map[string]string{"nanobox": "true"}})
	require.NoError(t, err)
	o := createOpts("pg-member")
	o.PlacementGroup = pg.PlacementGroup
	res, _, err := c.Server.Create(ctx, o)
	require.NoError(t, err)
	require.NotNil(t, res.Server.PlacementGroup)
	pgs, err := c.PlacementGroup.AllWithOpts(ctx, hcloud.PlacementGroupListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "nanobox"}})
	require.NoError(t, err)
	require.Len(t, pgs, 1)
	assert.Equal(t, []int64{res.Server.ID}, pgs[0].Servers)
	_, _, err = c.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: "spread", Type: hcloud.PlacementGroupTypeSpread})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeUniquenessError), "%v", err)

	// Every kind of object was recorded once.
	kinds := map[string]int{}
	for _, cr := range env.Sim.Created() {
		kinds[cr.Kind]++
	}
	assert.Equal(t, map[string]int{"network": 1, "server": 4, "firewall": 1, "placement_group": 1}, kinds)
}

func TestCatalogWithHcloudGo(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	locs, err := c.Location.All(ctx)
	require.NoError(t, err)
	assert.Len(t, locs, 6)
	types, err := c.ServerType.All(ctx)
	require.NoError(t, err)
	assert.Len(t, types, 25)
	cx23, _, err := c.ServerType.GetByName(ctx, "cx23")
	require.NoError(t, err)
	require.NotNil(t, cx23)
	require.NotEmpty(t, cx23.Pricings)
	assert.Equal(t, "5.4900000000", cx23.Pricings[0].Monthly.Net)
	require.NotEmpty(t, cx23.Locations)
	dcs, err := c.Datacenter.All(ctx) //lint:ignore SA1019 the simulator still serves the deprecated endpoint
	require.NoError(t, err)
	assert.Len(t, dcs, 6)
	imgs, err := c.Image.AllWithOpts(ctx, hcloud.ImageListOpts{Type: []hcloud.ImageType{hcloud.ImageTypeSystem}, Architecture: []hcloud.Architecture{hcloud.ArchitectureX86}})
	require.NoError(t, err)
	var names []string
	for _, im := range imgs {
		names = append(names, im.Name)
	}
	assert.Subset(t, names, []string{"ubuntu-22.04", "ubuntu-24.04", "debian-12", "debian-13"})
	pricing, _, err := c.Pricing.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, "EUR", pricing.Image.PerGBMonth.Currency)
	assert.Len(t, pricing.ServerTypes, 25)
}

func TestDeleteNetworkDetachesServers(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw := newNetwork(t, ctx, c)
	o := createOpts("member")
	o.Networks = []*hcloud.Network{nw}
	res, _, err := c.Server.Create(ctx, o)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))

	_, err = c.Network.Delete(ctx, nw)
	require.NoError(t, err)
	gone, _, err := c.Network.GetByID(ctx, nw.ID)
	require.NoError(t, err)
	assert.Nil(t, gone)
	srv, _, err := c.Server.GetByID(ctx, res.Server.ID)
	require.NoError(t, err)
	require.NotNil(t, srv, "the server stays")
	assert.Empty(t, srv.PrivateNet, "and is detached")
}
