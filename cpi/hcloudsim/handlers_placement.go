package hcloudsim

import (
	"net/http"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func placementGroupView(p *schema.PlacementGroup) schema.PlacementGroup {
	out := *p
	out.Labels = copyLabels(p.Labels)
	out.Servers = append([]int64{}, p.Servers...)
	return out
}

func getPlacementGroups(s *Sim, c *call) (int, any, *apiError) {
	q := c.query()
	sel, err := selectorFromQuery(q)
	if err != nil {
		return 0, nil, err
	}
	if err := checkEnum(q, "type", "spread"); err != nil {
		return 0, nil, err
	}
	var out []schema.PlacementGroup
	for _, id := range sortedKeys(s.st.placementGroups) {
		p := s.st.placementGroups[id]
		if !matchName(q, p.Name) || !sel.matches(p.Labels) {
			continue
		}
		out = append(out, placementGroupView(p))
	}
	return listBody("placement_groups", out, q, func(p schema.PlacementGroup) sortKey { return sortKey{id: p.ID, name: p.Name, created: p.Created} }, "id", "name", "created")
}

func getPlacementGroup(s *Sim, c *call) (int, any, *apiError) {
	p, err := byPath(c, s.st.placementGroups, "placement_group")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"placement_group": placementGroupView(p)}, nil
}

func createPlacementGroup(s *Sim, c *call) (int, any, *apiError) {
	var req schema.PlacementGroupCreateRequest
	if err := c.decode(&req); err != nil {
		return 0, nil, err
	}
	if err := validName("name", req.Name); err != nil {
		return 0, nil, err
	}
	if req.Type != "spread" {
		return 0, nil, invalidField("type", "must be spread")
	}
	labels, err := validLabels(req.Labels)
	if err != nil {
		return 0, nil, err
	}
	for _, p := range s.st.placementGroups {
		if p.Name == req.Name {
			return 0, nil, notUnique("name", "placement group name is already used")
		}
	}
	p := &schema.PlacementGroup{ID: s.st.newID(), Name: req.Name, Labels: labels, Created: c.now.UTC().Truncate(1e9), Servers: []int64{}, Type: req.Type}
	s.st.placementGroups[p.ID] = p
	s.record("placement_group", p.ID, p.Name, c.now)
	return http.StatusCreated, map[string]any{"placement_group": placementGroupView(p), "action": nil}, nil
}

func deletePlacementGroup(s *Sim, c *call) (int, any, *apiError) {
	p, err := byPath(c, s.st.placementGroups, "placement_group")
	if err != nil {
		return 0, nil, err
	}
	for _, sid := range p.Servers {
		if sv, ok := s.st.servers[sid]; ok {
			sv.s.PlacementGroup = nil
		}
	}
	delete(s.st.placementGroups, p.ID)
	return http.StatusNoContent, nil, nil
}

// updatePlacementGroup changes the name (unique) and the labels.
func updatePlacementGroup(s *Sim, c *call) (int, any, *apiError) {
	p, err := byPath(c, s.st.placementGroups, "placement_group")
	if err != nil {
		return 0, nil, err
	}
	var req schema.PlacementGroupUpdateRequest
	if err := c.decode(&req); err != nil {
		return 0, nil, err
	}
	taken := takenBy(s.st.placementGroups, p.ID, func(o *schema.PlacementGroup) string { return o.Name })
	labels, err := nameUpdate{validName, taken, "placement group name is already used"}.checkUpdate(req.Name, req.Labels)
	if err != nil {
		return 0, nil, err
	}
	if labels != nil {
		p.Labels = labels
	}
	if req.Name != nil {
		p.Name = *req.Name
	}
	return http.StatusOK, map[string]any{"placement_group": placementGroupView(p)}, nil
}
