package catalog

// Merge returns current with everything of known that current lacks added
// as retired: a location gone from the API stays listed as a retired
// region, a server type gone (or gone from one location) stays listed as a
// retired size there. current and known are not modified; the result has
// no PlanIndex.
func Merge(current, known *Model) *Model {
	out := &Model{AsOf: current.AsOf, Source: current.Source}
	out.Locations = append(out.Locations, current.Locations...)
	for _, l := range known.Locations {
		if _, ok := current.Location(l.Name); !ok {
			l.Retired = true
			out.Locations = append(out.Locations, l)
		}
	}
	for _, t := range current.ServerTypes {
		t.Prices = append([]Price(nil), t.Prices...)
		if old, ok := known.ServerType(t.Name); ok {
			for _, p := range old.Prices {
				if _, ok := t.PriceIn(p.Location); !ok {
					p.Retired = true
					t.Prices = append(t.Prices, p)
				}
			}
		}
		out.ServerTypes = append(out.ServerTypes, t)
	}
	for _, t := range known.ServerTypes {
		if _, ok := current.ServerType(t.Name); !ok {
			t.Retired = true
			t.Prices = append([]Price(nil), t.Prices...)
			for i := range t.Prices {
				t.Prices[i].Retired = true
			}
			out.ServerTypes = append(out.ServerTypes, t)
		}
	}
	return out
}
