package catalog

import (
	"cmp"
	"maps"
	"math"
	"slices"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Pricing says how EUR prices become the catalog's dollars.
type Pricing struct {
	EURToUSD float64 // dollars per euro
	Gross    bool    // VAT included (gross) or not (net)
}

// Build returns the Nanobox catalog of m: one region per location (retired
// ones too, named so), each with its plans in a fixed order and each plan's
// specs smallest first. Sizes that can no longer be ordered in a region are
// listed in that region's "retired" plan under their unchanged id.
func Build(m *Model, pr Pricing) []protocol.Region {
	regions := make([]protocol.Region, 0, len(m.Locations))
	types := slices.Clone(m.ServerTypes)
	slices.SortStableFunc(types, compareTypes)
	for _, l := range m.Locations {
		name := l.Description
		if name == "" {
			name = l.Name
		}
		if l.Retired {
			name += " (retired)"
		}
		plans := map[string]*protocol.Plan{}
		order := map[string]int{}
		for _, t := range types {
			p, ok := t.PriceIn(l.Name)
			if !ok {
				continue
			}
			plan := PlanOf(t)
			if l.Retired || t.Retired || p.Retired {
				plan = RetiredPlan
			}
			pl := plans[plan.ID]
			if pl == nil {
				pl = &protocol.Plan{ID: plan.ID, Name: plan.Name, Specs: []protocol.Spec{}}
				plans[plan.ID] = pl
				order[plan.ID] = plan.order
			}
			pl.Specs = append(pl.Specs, spec(t, p, pr))
		}
		ids := slices.SortedFunc(maps.Keys(plans), func(a, b string) int {
			return cmp.Or(cmp.Compare(order[a], order[b]), cmp.Compare(a, b))
		})
		region := protocol.Region{ID: l.Name, Name: name, Plans: make([]protocol.Plan, 0, len(ids))}
		for _, id := range ids {
			region.Plans = append(region.Plans, *plans[id])
		}
		regions = append(regions, region)
	}
	return regions
}

func spec(t ServerType, p Price, pr Pricing) protocol.Spec {
	hourly, monthly := p.HourlyNet, p.MonthlyNet
	if pr.Gross {
		hourly, monthly = p.HourlyGross, p.MonthlyGross
	}
	return protocol.Spec{
		ID:           t.Name,
		RAM:          int(math.Round(t.MemoryGB * 1024)),
		CPU:          t.Cores,
		Disk:         t.DiskGB,
		Transfer:     p.TrafficTB,
		DollarsPerHr: round(parseEUR(hourly)*pr.EURToUSD, 5),
		DollarsPerMo: round(parseEUR(monthly)*pr.EURToUSD, 2),
	}
}

func round(f float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(f*p) / p
}
