//lint:file-ignore SA1019 the simulator serves the deprecated fields and endpoints (datacenters, Deprecated, Traffic, FloatingIP) because the API document still has them and clients still read them

package hcloudsim

import (
	"net/http"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// listBody sorts, paginates and wraps items as {key: [...], "meta": {...}}.
func listBody[T any](key string, items []T, q map[string][]string, sk func(T) sortKey, sortable ...string) (int, any, *apiError) {
	if len(sortable) == 0 {
		sortable = []string{"id", "name"}
	}
	if err := sortItems(items, q, sk, sortable...); err != nil {
		return 0, nil, err
	}
	page, meta, err := paginate(items, q)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{key: page, "meta": meta}, nil
}

// matchName filters by the name query parameter when present.
func matchName(q map[string][]string, name string) bool {
	v, ok := q["name"]
	return !ok || len(v) == 0 || v[0] == name
}

func getLocations(s *Sim, c *call) (int, any, *apiError) {
	q := c.query()
	var out []schema.Location
	for _, l := range s.st.cat.locations {
		if matchName(q, l.Name) {
			out = append(out, l)
		}
	}
	return listBody("locations", out, q, func(l schema.Location) sortKey { return sortKey{id: l.ID, name: l.Name} })
}

func getLocation(s *Sim, c *call) (int, any, *apiError) {
	id, err := c.pathID("id")
	if err != nil {
		return 0, nil, err
	}
	for _, l := range s.st.cat.locations {
		if l.ID == id {
			return http.StatusOK, map[string]any{"location": l}, nil
		}
	}
	return 0, nil, notFound("location", id)
}

func getDatacenters(s *Sim, c *call) (int, any, *apiError) {
	q := c.query()
	var out []schema.Datacenter
	for _, d := range s.st.cat.datacenters {
		if matchName(q, d.Name) {
			out = append(out, d)
		}
	}
	status, body, err := listBody("datacenters", out, q, func(d schema.Datacenter) sortKey { return sortKey{id: d.ID, name: d.Name} })
	if err == nil {
		rec := map[string]int64{}
		for _, d := range s.st.cat.datacenters {
			rec[d.Location.Name] = d.ID
		}
		body.(map[string]any)["recommendation"] = rec["fsn1"]
	}
	return status, body, err
}

func getDatacenter(s *Sim, c *call) (int, any, *apiError) {
	id, err := c.pathID("id")
	if err != nil {
		return 0, nil, err
	}
	for _, d := range s.st.cat.datacenters {
		if d.ID == id {
			return http.StatusOK, map[string]any{"datacenter": d}, nil
		}
	}
	return 0, nil, notFound("datacenter", id)
}

func getServerTypes(s *Sim, c *call) (int, any, *apiError) {
	q := c.query()
	var out []schema.ServerType
	for _, st := range s.st.cat.serverTypes {
		if matchName(q, st.Name) {
			out = append(out, st)
		}
	}
	return listBody("server_types", out, q, func(st schema.ServerType) sortKey { return sortKey{id: st.ID, name: st.Name} })
}

func getServerType(s *Sim, c *call) (int, any, *apiError) {
	id, err := c.pathID("id")
	if err != nil {
		return 0, nil, err
	}
	if st, ok := s.st.cat.serverType(schema.IDOrName{ID: id}); ok {
		return http.StatusOK, map[string]any{"server_type": st}, nil
	}
	return 0, nil, notFound("server_type", id)
}

func getPricing(s *Sim, _ *call) (int, any, *apiError) {
	cat := s.st.cat
	zero := schema.Price{Net: "0.0000000000", Gross: "0.0000000000"}
	p := schema.Pricing{
		Currency:    cat.currency,
		VATRate:     cat.vatRate,
		Image:       schema.PricingImage{PricePerGBMonth: schema.Price{Net: "0.0110000000", Gross: "0.0110000000"}},
		FloatingIPs: []schema.PricingFloatingIPType{},
		PrimaryIPs:  []schema.PricingPrimaryIP{},
		Traffic:     schema.PricingTraffic{PricePerTB: schema.Price{Net: "1.0000000000", Gross: "1.0000000000"}},
		ServerBackup: schema.PricingServerBackup{
			Percentage: "20.00",
		},
		Volume:            schema.PricingVolume{PricePerGBPerMonth: schema.Price{Net: "0.0440000000", Gross: "0.0440000000"}},
		LoadBalancerTypes: []schema.PricingLoadBalancerType{},
	}
	p.FloatingIP.PriceMonthly = zero
	for _, st := range cat.serverTypes {
		p.ServerTypes = append(p.ServerTypes, schema.PricingServerType{ID: st.ID, Name: st.Name, Prices: st.Prices})
	}
	return http.StatusOK, map[string]any{"pricing": p}, nil
}
