package hcloudsim

import (
	"net"
	"net/http"
	"slices"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// firewallView renders f; each label_selector resource lists the servers it selects now
// (applied_to_resources), as the API does.
func (st *state) firewallView(f *schema.Firewall) schema.Firewall {
	out := *f
	out.Labels = copyLabels(f.Labels)
	out.Rules = append([]schema.FirewallRule{}, f.Rules...)
	out.AppliedTo = make([]schema.FirewallResource, 0, len(f.AppliedTo))
	for _, r := range f.AppliedTo {
		if r.Type == "label_selector" && r.LabelSelector != nil {
			sel := *r.LabelSelector
			r.LabelSelector = &sel
			r.AppliedToResources = []schema.FirewallResource{}
			for _, id := range st.selectedServers(sel.Selector) {
				r.AppliedToResources = append(r.AppliedToResources, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: id}})
			}
		}
		out.AppliedTo = append(out.AppliedTo, r)
	}
	return out
}

// selectedServers returns, in ID order, the servers a firewall label selector applies to: those whose
// labels match and which have a public interface (a firewall filters only public traffic).
func (st *state) selectedServers(selector string) []int64 {
	sel, err := parseLabelSelector(selector)
	if err != nil {
		return nil // selectors are checked when applied
	}
	var ids []int64
	for _, id := range sortedKeys(st.servers) {
		sv := st.servers[id]
		if (sv.ipv4 != nil || sv.ipv6 != nil) && sel.matches(sv.s.Labels) {
			ids = append(ids, id)
		}
	}
	return ids
}

// selectorFirewalls returns, in ID order, the firewalls applied to sv through a label selector and not
// directly.
func (st *state) selectorFirewalls(sv *server) []schema.ServerFirewall {
	if sv.ipv4 == nil && sv.ipv6 == nil {
		return nil
	}
	var out []schema.ServerFirewall
	for _, id := range sortedKeys(st.firewalls) {
		if slices.ContainsFunc(sv.s.PublicNet.Firewalls, func(x schema.ServerFirewall) bool { return x.ID == id }) {
			continue
		}
		for _, r := range st.firewalls[id].AppliedTo {
			if r.Type != "label_selector" || r.LabelSelector == nil {
				continue
			}
			if sel, err := parseLabelSelector(r.LabelSelector.Selector); err == nil && sel.matches(sv.s.Labels) {
				out = append(out, schema.ServerFirewall{ID: id, Status: "applied"})
				break
			}
		}
	}
	return out
}

func getFirewalls(s *Sim, c *call) (int, any, *apiError) {
	q := c.query()
	sel, err := selectorFromQuery(q)
	if err != nil {
		return 0, nil, err
	}
	var out []schema.Firewall
	for _, id := range sortedKeys(s.st.firewalls) {
		f := s.st.firewalls[id]
		if matchName(q, f.Name) && sel.matches(f.Labels) {
			out = append(out, s.st.firewallView(f))
		}
	}
	return listBody("firewalls", out, q, func(f schema.Firewall) sortKey { return sortKey{id: f.ID, name: f.Name, created: f.Created} }, "id", "name", "created")
}

func (s *Sim) firewallByPath(c *call) (*schema.Firewall, *apiError) {
	return byPath(c, s.st.firewalls, "firewall")
}

func getFirewall(s *Sim, c *call) (int, any, *apiError) {
	f, err := s.firewallByPath(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"firewall": s.st.firewallView(f)}, nil
}

func checkRules(rules []schema.FirewallRuleRequest) ([]schema.FirewallRule, *apiError) {
	out := []schema.FirewallRule{}
	for _, r := range rules {
		if r.Direction != "in" && r.Direction != "out" {
			return nil, invalidField("rules", "direction must be in or out")
		}
		if !slices.Contains([]string{"tcp", "udp", "icmp", "esp", "gre"}, r.Protocol) {
			return nil, invalidField("rules", "invalid protocol")
		}
		if (r.Protocol == "tcp" || r.Protocol == "udp") && (r.Port == nil || *r.Port == "") {
			return nil, invalidField("rules", "port is required for tcp and udp")
		}
		ips := r.SourceIPs
		if r.Direction == "out" {
			ips = r.DestinationIPs
		}
		if len(ips) == 0 {
			return nil, invalidField("rules", "source_ips (in) or destination_ips (out) are required")
		}
		for _, ip := range append(append([]string{}, r.SourceIPs...), r.DestinationIPs...) {
			if _, _, err := net.ParseCIDR(ip); err != nil {
				return nil, invalidField("rules", "invalid CIDR "+ip)
			}
		}
		out = append(out, schema.FirewallRule{
			Direction: r.Direction, SourceIPs: append([]string{}, r.SourceIPs...), DestinationIPs: append([]string{}, r.DestinationIPs...),
			Protocol: r.Protocol, Port: r.Port, Description: r.Description,
		})
	}
	return out, nil
}

// resolveApplyTo checks apply_to entries: servers must exist and have a public interface.
func (s *Sim) resolveApplyTo(res []schema.FirewallResource) ([]*server, []schema.FirewallResource, *apiError) {
	var servers []*server
	var selectors []schema.FirewallResource
	for _, r := range res {
		if r.AppliedToResources != nil {
			return nil, nil, invalidField("apply_to", "applied_to_resources is not allowed in a request")
		}
		switch r.Type {
		case "server":
			if r.Server == nil {
				return nil, nil, invalidField("apply_to", "server is required for type server")
			}
			sv, ok := s.st.servers[r.Server.ID]
			if !ok {
				return nil, nil, newError("firewall_resource_not_found", "server %d not found", r.Server.ID)
			}
			if sv.ipv4 == nil && sv.ipv6 == nil {
				return nil, nil, newError("private_net_only_server", "server %d has no public interface", sv.s.ID)
			}
			servers = append(servers, sv)
		case "label_selector":
			if r.LabelSelector == nil {
				return nil, nil, invalidField("apply_to", "label_selector is required for type label_selector")
			}
			if _, err := parseLabelSelector(r.LabelSelector.Selector); err != nil {
				return nil, nil, invalidField("apply_to", err.Error())
			}
			selectors = append(selectors, schema.FirewallResource{Type: "label_selector", LabelSelector: r.LabelSelector})
		default:
			return nil, nil, invalidField("apply_to", "type must be server or label_selector")
		}
	}
	return servers, selectors, nil
}

func createFirewall(s *Sim, c *call) (int, any, *apiError) {
	var req schema.FirewallCreateRequest
	if err := c.decodeStrict(&req); err != nil {
		return 0, nil, err
	}
	if err := validName("name", req.Name); err != nil {
		return 0, nil, err
	}
	labels, err := validLabels(req.Labels)
	if err != nil {
		return 0, nil, err
	}
	rules, err := checkRules(req.Rules)
	if err != nil {
		return 0, nil, err
	}
	servers, selectors, err := s.resolveApplyTo(req.ApplyTo)
	if err != nil {
		if err.Code == "firewall_resource_not_found" {
			err.Status = http.StatusUnprocessableEntity // as POST /firewalls documents it
		}
		return 0, nil, err
	}
	for _, f := range s.st.firewalls {
		if f.Name == req.Name {
			return 0, nil, notUnique("name", "firewall name is already used")
		}
	}
	f := &schema.Firewall{ID: s.st.newID(), Name: req.Name, Labels: labels, Created: c.now.UTC().Truncate(1e9), Rules: rules, AppliedTo: []schema.FirewallResource{}}
	s.st.firewalls[f.ID] = f
	s.record("firewall", f.ID, f.Name, c.now)
	actions := s.applyFirewallTo(c, f, servers, selectors)
	if len(rules) > 0 || len(actions) == 0 {
		ac := s.st.newAction(c.now, "set_firewall_rules", s.opts.Delays.Action, schema.ActionResourceReference{ID: f.ID, Type: "firewall"})
		actions = append([]schema.Action{ac.runningView()}, actions...)
	}
	return http.StatusCreated, map[string]any{"firewall": s.st.firewallView(f), "actions": actions}, nil
}

// applyFirewallTo applies f and returns one apply_firewall action per resource.
func (s *Sim) applyFirewallTo(c *call, f *schema.Firewall, servers []*server, selectors []schema.FirewallResource) []schema.Action {
	actions := []schema.Action{}
	fwRef := schema.ActionResourceReference{ID: f.ID, Type: "firewall"}
	for _, sv := range servers {
		applyFirewall(sv, f)
		ac := s.st.newAction(c.now, "apply_firewall", s.opts.Delays.Action, fwRef, serverRef(sv.s.ID))
		actions = append(actions, ac.runningView())
	}
	for _, sel := range selectors {
		f.AppliedTo = append(f.AppliedTo, sel)
		ac := s.st.newAction(c.now, "apply_firewall", s.opts.Delays.Action, fwRef)
		actions = append(actions, ac.runningView())
	}
	return actions
}

func applyFirewallToResources(s *Sim, c *call) (int, any, *apiError) {
	f, err := s.firewallByPath(c)
	if err != nil {
		return 0, nil, err
	}
	var req schema.FirewallActionApplyToResourcesRequest
	if err := c.decodeStrict(&req); err != nil {
		return 0, nil, err
	}
	if len(req.ApplyTo) == 0 {
		return 0, nil, invalidField("apply_to", "is required")
	}
	servers, selectors, err := s.resolveApplyTo(req.ApplyTo)
	if err != nil {
		return 0, nil, err
	}
	for _, sv := range servers {
		for _, fw := range sv.s.PublicNet.Firewalls {
			if fw.ID == f.ID {
				return 0, nil, newError("firewall_already_applied", "firewall %d is already applied to server %d", f.ID, sv.s.ID)
			}
		}
	}
	return http.StatusCreated, map[string]any{"actions": s.applyFirewallTo(c, f, servers, selectors)}, nil
}

func deleteFirewall(s *Sim, c *call) (int, any, *apiError) {
	f, err := s.firewallByPath(c)
	if err != nil {
		return 0, nil, err
	}
	if len(f.AppliedTo) > 0 {
		return 0, nil, newError("resource_in_use", "firewall %d is still applied to resources", f.ID)
	}
	delete(s.st.firewalls, f.ID)
	return http.StatusNoContent, nil, nil
}

func removeFirewallFromResources(s *Sim, c *call) (int, any, *apiError) {
	f, err := s.firewallByPath(c)
	if err != nil {
		return 0, nil, err
	}
	var req schema.FirewallActionRemoveFromResourcesRequest
	if err := c.decodeStrict(&req); err != nil {
		return 0, nil, err
	}
	if len(req.RemoveFrom) == 0 {
		return 0, nil, invalidField("remove_from", "is required")
	}
	// Check everything first: a bad entry changes nothing.
	for _, r := range req.RemoveFrom {
		if r.AppliedToResources != nil {
			return 0, nil, invalidField("remove_from", "applied_to_resources is not allowed in a request")
		}
		if slices.ContainsFunc(f.AppliedTo, func(a schema.FirewallResource) bool { return sameFirewallResource(a, r) }) {
			continue
		}
		if r.Type == "server" && r.Server != nil {
			if sv, ok := s.st.servers[r.Server.ID]; ok && slices.ContainsFunc(s.st.selectorFirewalls(sv), func(x schema.ServerFirewall) bool { return x.ID == f.ID }) {
				return 0, nil, newError("firewall_managed_by_label_selector", "firewall %d is applied to server %d through a label selector and cannot be removed from it manually", f.ID, sv.s.ID)
			}
		}
		return 0, nil, newError("firewall_already_removed", "firewall %d is not applied to that resource", f.ID)
	}
	actions := []schema.Action{}
	fwRef := schema.ActionResourceReference{ID: f.ID, Type: "firewall"}
	for _, r := range req.RemoveFrom {
		f.AppliedTo = slices.DeleteFunc(f.AppliedTo, func(a schema.FirewallResource) bool { return sameFirewallResource(a, r) })
		refs := []schema.ActionResourceReference{fwRef}
		if r.Type == "server" && r.Server != nil {
			if sv, ok := s.st.servers[r.Server.ID]; ok {
				sv.s.PublicNet.Firewalls = slices.DeleteFunc(sv.s.PublicNet.Firewalls, func(x schema.ServerFirewall) bool { return x.ID == f.ID })
				refs = append(refs, serverRef(sv.s.ID))
			}
		}
		ac := s.st.newAction(c.now, "remove_firewall", s.opts.Delays.Action, refs...)
		actions = append(actions, ac.runningView())
	}
	return http.StatusCreated, map[string]any{"actions": actions}, nil
}

func sameFirewallResource(a, b schema.FirewallResource) bool {
	if a.Type != b.Type {
		return false
	}
	switch a.Type {
	case "server":
		return a.Server != nil && b.Server != nil && a.Server.ID == b.Server.ID
	case "label_selector":
		return a.LabelSelector != nil && b.LabelSelector != nil && a.LabelSelector.Selector == b.LabelSelector.Selector
	}
	return false
}

func setFirewallRules(s *Sim, c *call) (int, any, *apiError) {
	f, err := s.firewallByPath(c)
	if err != nil {
		return 0, nil, err
	}
	var req schema.FirewallActionSetRulesRequest
	if err := c.decodeStrict(&req); err != nil {
		return 0, nil, err
	}
	rules, err := checkRules(req.Rules)
	if err != nil {
		return 0, nil, err
	}
	f.Rules = rules
	fwRef := schema.ActionResourceReference{ID: f.ID, Type: "firewall"}
	actions := []schema.Action{s.st.newAction(c.now, "set_firewall_rules", s.opts.Delays.Action, fwRef).runningView()}
	for _, r := range f.AppliedTo {
		if r.Type == "server" && r.Server != nil {
			ac := s.st.newAction(c.now, "apply_firewall", s.opts.Delays.Action, fwRef, serverRef(r.Server.ID))
			actions = append(actions, ac.runningView())
		}
	}
	return http.StatusCreated, map[string]any{"actions": actions}, nil
}

// updateFirewall changes the name (unique) and the labels; unknown fields are invalid_input, as the
// request schema forbids them.
func updateFirewall(s *Sim, c *call) (int, any, *apiError) {
	f, err := s.firewallByPath(c)
	if err != nil {
		return 0, nil, err
	}
	var req schema.FirewallUpdateRequest
	if err := c.decodeStrict(&req); err != nil {
		return 0, nil, err
	}
	taken := takenBy(s.st.firewalls, f.ID, func(o *schema.Firewall) string { return o.Name })
	labels, err := nameUpdate{validName, taken, "firewall name is already used"}.checkUpdate(req.Name, req.Labels)
	if err != nil {
		return 0, nil, err
	}
	if labels != nil {
		f.Labels = labels
	}
	if req.Name != nil {
		f.Name = *req.Name
	}
	return http.StatusOK, map[string]any{"firewall": s.st.firewallView(f)}, nil
}
