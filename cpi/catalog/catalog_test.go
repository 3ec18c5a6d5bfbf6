package catalog_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

func fixtureModel(t *testing.T) *catalog.Model {
	data, err := os.ReadFile(repotest.RepoFile(t, repotest.CatalogFixturePath))
	require.NoError(t, err)
	var f struct {
		Locations   []schema.Location   `json:"locations"`
		ServerTypes []schema.ServerType `json:"server_types"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	var locs []*hcloud.Location
	for _, l := range f.Locations {
		locs = append(locs, hcloud.LocationFromSchema(l))
	}
	var types []*hcloud.ServerType
	for _, st := range f.ServerTypes {
		types = append(types, hcloud.ServerTypeFromSchema(st))
	}
	return catalog.FromHetzner("fixture", "fixture", locs, types)
}

// TestEmbeddedSnapshotCoversTheFixture: every location and every server
// type of the reference fixture is in the embedded snapshot, orderable
// where the fixture sells it (the snapshot is up to date).
func TestEmbeddedSnapshotCoversTheFixture(t *testing.T) {
	m, err := catalog.Embedded()
	require.NoError(t, err)
	fx := fixtureModel(t)
	for _, l := range fx.Locations {
		got, ok := m.Location(l.Name)
		require.True(t, ok, l.Name)
		require.Equal(t, l.NetworkZone, got.NetworkZone)
	}
	for _, st := range fx.ServerTypes {
		for _, p := range st.Prices {
			require.True(t, m.Orderable(p.Location, st.Name), "%s in %s", st.Name, p.Location)
			got, _ := m.ServerType(st.Name)
			gp, _ := got.PriceIn(p.Location)
			require.Equal(t, p.MonthlyGross, gp.MonthlyGross)
		}
	}
	// Withdrawn types stay listed, not orderable.
	for _, name := range []string{"cx22", "cx32", "cx42", "cx52"} {
		st, ok := m.ServerType(name)
		require.True(t, ok, name)
		require.True(t, st.Retired)
		require.False(t, m.Orderable("fsn1", name))
	}
	require.False(t, m.Orderable("nbg1", "cpx11"), "Gen1 CPX is retired in the EU")
	require.True(t, m.Orderable("ash", "cpx11"), "and still sold in the US")
}

func TestBuild(t *testing.T) {
	m, err := catalog.Embedded()
	require.NoError(t, err)
	regions := catalog.Build(m, catalog.Pricing{EURToUSD: 1.08, Gross: true})
	require.Len(t, regions, len(m.Locations))
	byID := map[string]protocol.Region{}
	for _, r := range regions {
		byID[r.ID] = r
		require.NotEmpty(t, r.Plans, r.ID)
		seen := map[string]bool{}
		for _, p := range r.Plans {
			require.False(t, seen[p.ID], "plan %s twice in %s", p.ID, r.ID)
			seen[p.ID] = true
			require.NotEmpty(t, p.Specs)
		}
	}
	fsn1 := byID["fsn1"]
	require.Equal(t, "Falkenstein DC Park 1", fsn1.Name)
	var planIDs []string
	for _, p := range fsn1.Plans {
		planIDs = append(planIDs, p.ID)
	}
	require.Equal(t, []string{"shared-x86-cost", "shared-arm", "shared-x86", "dedicated", "retired"}, planIDs)
	cx23 := fsn1.Plans[0].Specs[0]
	// 5.49 EUR a month gross at 1.08 $/EUR; 0.0088 EUR an hour.
	require.Equal(t, protocol.Spec{ID: "cx23", RAM: 4096, CPU: 2, Disk: 40, Transfer: 20, DollarsPerHr: 0.0095, DollarsPerMo: 5.93}, cx23)
	retired := fsn1.Plans[4]
	var ids []string
	for _, s := range retired.Specs {
		ids = append(ids, s.ID)
	}
	require.Subset(t, ids, []string{"cx22", "cpx11"})
	// The US regions have no CX at all and sell Gen1 CPX normally.
	for _, p := range byID["ash"].Plans {
		require.NotEqual(t, "shared-x86-cost", p.ID)
		require.NotEqual(t, "retired", p.ID)
	}
}

func TestPriceBasisAndRate(t *testing.T) {
	m := &catalog.Model{
		Locations: []catalog.Location{{Name: "x1", Description: "X", NetworkZone: "eu-central"}},
		ServerTypes: []catalog.ServerType{{Name: "t1", CPUType: "shared", Architecture: "x86", Cores: 1, MemoryGB: 0.5, DiskGB: 10,
			Prices: []catalog.Price{{Location: "x1", HourlyNet: "0.01", HourlyGross: "0.0119", MonthlyNet: "10", MonthlyGross: "11.9", TrafficTB: 1}}}},
	}
	net := catalog.Build(m, catalog.Pricing{EURToUSD: 2, Gross: false})[0].Plans[0].Specs[0]
	require.Equal(t, 0.02, net.DollarsPerHr)
	require.Equal(t, 20.0, net.DollarsPerMo)
	require.Equal(t, 512, net.RAM)
	gross := catalog.Build(m, catalog.Pricing{EURToUSD: 2, Gross: true})[0].Plans[0].Specs[0]
	require.Equal(t, 0.0238, gross.DollarsPerHr)
	require.Equal(t, 23.8, gross.DollarsPerMo)
}

func TestMergeKeepsWhatDisappeared(t *testing.T) {
	old := &catalog.Model{
		Locations: []catalog.Location{{Name: "a1", NetworkZone: "eu-central"}, {Name: "gone1", Description: "Gone", NetworkZone: "eu-central"}},
		ServerTypes: []catalog.ServerType{
			{Name: "small", Cores: 1, MemoryGB: 1, Prices: []catalog.Price{{Location: "a1"}, {Location: "gone1"}}},
			{Name: "oldtype", Cores: 2, MemoryGB: 2, Prices: []catalog.Price{{Location: "a1"}}},
		},
	}
	current := &catalog.Model{
		Locations:   []catalog.Location{{Name: "a1", NetworkZone: "eu-central"}},
		ServerTypes: []catalog.ServerType{{Name: "small", Cores: 1, MemoryGB: 1, Prices: []catalog.Price{{Location: "a1"}}}},
	}
	m := catalog.Merge(current, old)
	gone, ok := m.Location("gone1")
	require.True(t, ok)
	require.True(t, gone.Retired)
	require.True(t, m.Orderable("a1", "small"))
	require.False(t, m.Orderable("gone1", "small"))
	require.False(t, m.Orderable("a1", "oldtype"))
	regions := catalog.Build(m, catalog.Pricing{EURToUSD: 1})
	require.Equal(t, "Gone (retired)", regions[1].Name)
	require.Equal(t, "retired", regions[1].Plans[0].ID)
	require.Len(t, current.ServerTypes[0].Prices, 1, "inputs unchanged")
}

func TestAlternatives(t *testing.T) {
	m, err := catalog.Embedded()
	require.NoError(t, err)
	cx22, _ := m.ServerType("cx22")
	require.Equal(t, []string{"cx23", "cx33"}, m.Alternatives("fsn1", cx22, 2))
	cpx31, _ := m.ServerType("cpx31")
	alt := m.Alternatives("nbg1", cpx31, 3)
	require.Equal(t, "cpx32", alt[0])
}

func TestCache(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	c := &catalog.Cache{Dir: dir, Endpoint: "http://a/v1", TTL: time.Hour, Now: func() time.Time { return now }}
	m, fresh := c.Load()
	require.Nil(t, m)
	require.False(t, fresh)
	require.NoError(t, c.Store(&catalog.Model{Source: "live"}))
	m, fresh = c.Load()
	require.True(t, fresh)
	require.Equal(t, "live", m.Source)
	now = now.Add(2 * time.Hour)
	m, fresh = c.Load()
	require.NotNil(t, m, "stale entries are still returned")
	require.False(t, fresh)
	other := &catalog.Cache{Dir: dir, Endpoint: "http://b/v1", TTL: time.Hour}
	m, _ = other.Load()
	require.Nil(t, m, "one cache per endpoint")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk"), []byte("x"), 0o600))
}

// TestPlanIndexAgreesWithTheCatalog: meta reads its default plan from the
// snapshot's index; the index must say what Build lists.
func TestPlanIndexAgreesWithTheCatalog(t *testing.T) {
	m, err := catalog.Embedded()
	require.NoError(t, err)
	require.Equal(t, m.WithPlanIndex().PlanIndex, m.PlanIndex, "snapshot.json is stale: run scripts/update-catalog")
	listed := 0
	for _, r := range catalog.Build(m, catalog.Pricing{EURToUSD: 1}) {
		for _, p := range r.Plans {
			for _, s := range p.Specs {
				require.Equal(t, p.ID, catalog.EmbeddedPlan(r.ID, s.ID), "%s/%s", r.ID, s.ID)
				listed++
			}
		}
	}
	require.Len(t, m.PlanIndex, listed)
	require.Equal(t, "shared-x86-cost", catalog.EmbeddedPlan("nbg1", "cx23"))
	require.Equal(t, "retired", catalog.EmbeddedPlan("nbg1", "cx22"))
	require.Equal(t, "", catalog.EmbeddedPlan("ash", "cx23"), "not sold there")
	require.Equal(t, "", catalog.EmbeddedPlan("mars", "cx23"))
	require.Equal(t, "", catalog.EmbeddedPlan(`nbg1/cx23": "x`, ""), "no injection into the byte search")
	require.Equal(t, "", catalog.EmbeddedPlan("nbg1", "cx2"), "whole keys only")
}
