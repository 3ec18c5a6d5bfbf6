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

// TestFirewallLabelSelectorReachesServers: a firewall applied through a label selector shows on every
// server with a public interface whose labels match, now and later (labels changed, servers created),
// and its applied_to lists those servers, as the API does.
func TestFirewallLabelSelectorReachesServers(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	nw := newNetwork(t, ctx, c)

	newServer := func(name, role string, public bool) *hcloud.Server {
		o := createOpts(name)
		o.Labels = map[string]string{"role": role}
		o.Networks = []*hcloud.Network{nw}
		if !public {
			o.PublicNet = &hcloud.ServerCreatePublicNet{}
		}
		res, _, err := c.Server.Create(ctx, o)
		require.NoError(t, err)
		require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))
		return res.Server
	}
	web := newServer("web", "web", true)
	db := newServer("db", "db", true)
	private := newServer("private", "web", false)

	port := "443"
	fw, _, err := c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{
		Name:    "web",
		Rules:   []hcloud.FirewallRule{{Direction: hcloud.FirewallRuleDirectionIn, Protocol: hcloud.FirewallRuleProtocolTCP, Port: &port, SourceIPs: []net.IPNet{*mustCIDR(t, "0.0.0.0/0")}}},
		ApplyTo: []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeLabelSelector, LabelSelector: &hcloud.FirewallResourceLabelSelector{Selector: "role=web"}}},
	})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, fw.Actions...))

	firewallsOf := func(s *hcloud.Server) []int64 {
		t.Helper()
		got, _, err := c.Server.GetByID(ctx, s.ID)
		require.NoError(t, err)
		require.NotNil(t, got)
		ids := []int64{}
		for _, f := range got.PublicNet.Firewalls {
			assert.Equal(t, hcloud.FirewallStatusApplied, f.Status)
			ids = append(ids, f.Firewall.ID)
		}
		return ids
	}
	selected := func() []int64 {
		t.Helper()
		got, _, err := c.Firewall.GetByID(ctx, fw.Firewall.ID)
		require.NoError(t, err)
		require.NotNil(t, got)
		ids := []int64{}
		for _, r := range got.AppliedTo {
			if r.Type == hcloud.FirewallResourceTypeLabelSelector {
				for _, a := range r.AppliedToResources {
					ids = append(ids, a.Server.ID)
				}
			}
		}
		return ids
	}
	id := fw.Firewall.ID

	assert.Equal(t, []int64{id}, firewallsOf(web))
	assert.Empty(t, firewallsOf(db), "labels do not match")
	assert.Empty(t, firewallsOf(private), "no public interface to filter")
	assert.Equal(t, []int64{web.ID}, selected())

	// Labels changed, and a server created later: the selector follows.
	_, _, err = c.Server.Update(ctx, db, hcloud.ServerUpdateOpts{Labels: map[string]string{"role": "web"}})
	require.NoError(t, err)
	late := newServer("late", "web", true)
	assert.Equal(t, []int64{id}, firewallsOf(db))
	assert.Equal(t, []int64{id}, firewallsOf(late))
	assert.Equal(t, []int64{web.ID, db.ID, late.ID}, selected())

	// Applied directly as well: listed once.
	acts, _, err := c.Firewall.ApplyResources(ctx, fw.Firewall, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: web.ID}}})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, acts...))
	assert.Equal(t, []int64{id}, firewallsOf(web))

	// A server the selector holds cannot be removed from the firewall by hand.
	_, _, err = c.Firewall.RemoveResources(ctx, fw.Firewall, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: db.ID}}})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeFirewallManagedByLabelSelector), "%v", err)
	assert.Equal(t, []int64{id}, firewallsOf(db), "a refused removal changes nothing")

	// Removing the selector takes the firewall off every server it selected.
	acts, _, err = c.Firewall.RemoveResources(ctx, fw.Firewall, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeLabelSelector, LabelSelector: &hcloud.FirewallResourceLabelSelector{Selector: "role=web"}}})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, acts...))
	assert.Empty(t, firewallsOf(db))
	assert.Empty(t, firewallsOf(late))
	assert.Equal(t, []int64{id}, firewallsOf(web), "still applied directly")
	assert.Empty(t, selected())
}
