package catalog

import (
	"math"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

const bytesPerTB = 1 << 40

// FromHetzner converts the API's locations and server types. A type
// deprecated as a whole, or in one location, is retired there; a type
// whose location entry says it is not available is kept orderable (sold
// out is temporary; the API answers resource_unavailable).
func FromHetzner(asOf, source string, locations []*hcloud.Location, types []*hcloud.ServerType) *Model {
	m := &Model{AsOf: asOf, Source: source}
	for _, l := range locations {
		if l == nil {
			continue
		}
		m.Locations = append(m.Locations, Location{
			Name: l.Name, Description: l.Description, City: l.City, Country: l.Country,
			NetworkZone: string(l.NetworkZone),
		})
	}
	for _, t := range types {
		if t == nil {
			continue
		}
		st := ServerType{
			Name: t.Name, Category: t.Category, CPUType: string(t.CPUType),
			Architecture: string(t.Architecture), Cores: t.Cores,
			MemoryGB: math.Round(float64(t.Memory)*1000) / 1000, DiskGB: t.Disk,
			Retired: t.IsDeprecated(),
		}
		for _, pr := range t.Pricings {
			if pr.Location == nil {
				continue
			}
			p := Price{
				Location:  pr.Location.Name,
				HourlyNet: trimDecimal(pr.Hourly.Net), HourlyGross: trimDecimal(pr.Hourly.Gross),
				MonthlyNet: trimDecimal(pr.Monthly.Net), MonthlyGross: trimDecimal(pr.Monthly.Gross),
				TrafficTB: int(pr.IncludedTraffic / bytesPerTB),
				Retired:   st.Retired,
			}
			for _, tl := range t.Locations {
				if tl.Location != nil && tl.Location.Name == p.Location {
					p.Retired = p.Retired || tl.IsDeprecated()
					p.Unavailable = !tl.Available
				}
			}
			st.Prices = append(st.Prices, p)
		}
		m.ServerTypes = append(m.ServerTypes, st)
	}
	return m
}

// trimDecimal normalises "5.4900000000" to "5.49".
func trimDecimal(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
