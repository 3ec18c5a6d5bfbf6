package nanobox_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func TestMeta(t *testing.T) {
	h := newHarness(t)
	var m protocol.Meta
	h.budget(0, func() { h.ok(h.callWith("", "meta"), &m) })
	require.Equal(t, "hetzner", m.ID)
	require.Equal(t, "Server", m.ServerNickName)
	require.Equal(t, "nbg1", m.DefaultRegion)
	require.Equal(t, "cx23", m.DefaultSize)
	require.Equal(t, "shared-x86-cost", m.DefaultPlan)
	require.True(t, m.CanReboot)
	require.True(t, m.CanRename)
	require.Equal(t, "eth1", m.InternalIface)
	require.Equal(t, "eth0", m.ExternalIface)
	require.Equal(t, "root", m.SSHUser)
	require.Equal(t, "key", m.SSHAuthMethod)
	require.Equal(t, "reference", m.SSHKeyMethod)
	require.Equal(t, 900, m.BootstrapTimeout)
	require.Equal(t, []protocol.CredentialField{{Key: "api-token", Label: "API Token"}}, m.CredentialFields)
	require.Contains(t, m.Instructions, "Read &amp; Write")
	keys := map[string]protocol.ConfigField{}
	for _, f := range m.ConfigFields {
		keys[f.Key] = f
		require.NotEmpty(t, f.Label)
		require.NotEmpty(t, f.Description)
	}
	require.True(t, keys["image"].Rebuild)
	require.Equal(t, "enum", keys["image"].Type)
	require.Equal(t, "ubuntu-24.04", keys["image"].Default)
	require.Len(t, keys["image"].Values, 4)
	require.False(t, keys["backups"].Rebuild)

	// The default plan is the default size's plan in the catalog.
	var regions []protocol.Region
	h.ok(h.callWith("", "catalog"), &regions)
	found := false
	for _, r := range regions {
		if r.ID != m.DefaultRegion {
			continue
		}
		for _, p := range r.Plans {
			for _, s := range p.Specs {
				if s.ID == m.DefaultSize {
					require.Equal(t, m.DefaultPlan, p.ID)
					found = true
				}
			}
		}
	}
	require.True(t, found)
}

func TestMetaWithOneNIC(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Network.Mode = config.NetworkNone })
	var m protocol.Meta
	h.ok(h.callWith("", "meta"), &m)
	require.Equal(t, "eth0", m.InternalIface)
	require.Equal(t, "", m.ExternalIface)
}

func TestCatalogEmbeddedWithoutToken(t *testing.T) {
	h := newHarness(t)
	var regions []protocol.Region
	h.budget(0, func() { h.ok(h.callWith("", "catalog"), &regions) })
	require.Len(t, regions, 6)
}

func TestCatalogLiveThenCached(t *testing.T) {
	h := newHarness(t)
	h.cfg.Token = h.token // the operator token
	var live []protocol.Region
	reqs := h.budget(2, func() { h.ok(h.callWith("", "catalog"), &live) })
	require.Equal(t, 1, reqs["GET /v1/locations"])
	require.Equal(t, 1, reqs["GET /v1/server_types"])
	require.NotEmpty(t, live)

	var cached []protocol.Region
	h.budget(0, func() { h.ok(h.callWith("", "catalog"), &cached) })
	require.Equal(t, live, cached)

	// After the TTL: live again.
	h.now = h.now.Add(2 * time.Hour)
	h.budget(2, func() { h.ok(h.callWith("", "catalog"), &cached) })
	require.Equal(t, 2, h.sim.Sim.TotalRequests())

	// Retired sizes stay listed in the live catalog too.
	retired := false
	for _, r := range live {
		for _, p := range r.Plans {
			if p.ID == "retired" {
				for _, s := range p.Specs {
					retired = retired || s.ID == "cx22"
				}
			}
		}
	}
	require.True(t, retired)
}

func TestCatalogFallsBackWhenTheAPIFails(t *testing.T) {
	h := newHarness(t)
	h.cfg.Token = h.token
	h.sim.Sim.AddFault(hcloudsim.Fault{Route: "/v1/server_types", Kind: hcloudsim.FaultInternal, Probability: 1})
	var regions []protocol.Region
	h.ok(h.callWith("", "catalog"), &regions)
	require.Len(t, regions, 6, "the embedded snapshot")
	require.Contains(t, h.logs.String(), "live catalog unavailable")

	h.cfg.Token = "wrong-token"
	h.ok(h.callWith("", "catalog"), &regions)
	require.Len(t, regions, 6)
}

func TestOrderServerValidatesWithTheCachedLiveCatalog(t *testing.T) {
	h := newHarness(t)
	h.cfg.Token = h.token
	h.ok(h.callWith("", "catalog"), nil)
	key := h.createKey()
	h.budget(0, func() { h.fails(h.order("web1", "nbg1", "cx22", key, nil), protocol.InvalidArguments, "retired") })
	h.ok(h.order("web1", "nbg1", "cx23", key, nil), nil)
}

// TestDeprecatedTypeInTheLiveCatalog: a type Hetzner deprecates in one
// location stays listed there in the retired plan, and order_server refuses
// it there (naming alternatives) while it stays orderable elsewhere.
func TestDeprecatedTypeInTheLiveCatalog(t *testing.T) {
	h := newHarness(t)
	h.cfg.Token = h.token
	require.NoError(t, h.sim.Sim.DeprecateServerType("cx33", "fsn1", time.Now().Add(-time.Hour), time.Now().Add(720*time.Hour)))
	var regions []protocol.Region
	h.ok(h.callWith("", "catalog"), &regions)
	plansOf := func(region, size string) []string {
		var out []string
		for _, r := range regions {
			if r.ID != region {
				continue
			}
			for _, p := range r.Plans {
				for _, s := range p.Specs {
					if s.ID == size {
						out = append(out, p.ID)
					}
				}
			}
		}
		return out
	}
	require.Equal(t, []string{"retired"}, plansOf("fsn1", "cx33"))
	require.Equal(t, []string{"shared-x86-cost"}, plansOf("nbg1", "cx33"))

	key := h.createKey()
	h.budget(0, func() {
		h.fails(h.order("web1", "fsn1", "cx33", key, nil), protocol.InvalidArguments, "retired in fsn1", "current alternatives: cx43")
	})
	h.ok(h.order("web1", "nbg1", "cx33", key, nil), nil)
}

// TestSoldOutTypeIsUnavailable: a type temporarily unavailable stays in its
// plan; Hetzner's resource_unavailable becomes a retryable Unavailable.
func TestSoldOutTypeIsUnavailable(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, h.sim.Sim.SetAvailability("cx23", "nbg1", false))
	key := h.createKey()
	e := h.fails(h.order("web1", "nbg1", "cx23", key, nil), protocol.Unavailable)
	require.True(t, e.OkToRetry)
	require.Empty(t, h.liveServers())
}
