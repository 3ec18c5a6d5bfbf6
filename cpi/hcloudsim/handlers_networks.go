package hcloudsim

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func networkView(n *schema.Network) schema.Network {
	out := *n
	out.Labels = copyLabels(n.Labels)
	out.Subnets = append([]schema.NetworkSubnet{}, n.Subnets...)
	out.Routes = append([]schema.NetworkRoute{}, n.Routes...)
	out.Servers = append([]int64{}, n.Servers...)
	out.LoadBalancers = []int64{}
	return out
}

func getNetworks(s *Sim, c *call) (int, any, *apiError) {
	q := c.query()
	sel, err := selectorFromQuery(q)
	if err != nil {
		return 0, nil, err
	}
	var out []schema.Network
	for _, id := range sortedKeys(s.st.networks) {
		n := s.st.networks[id]
		if matchName(q, n.Name) && sel.matches(n.Labels) {
			out = append(out, networkView(n))
		}
	}
	return listBody("networks", out, q, func(n schema.Network) sortKey { return sortKey{id: n.ID, name: n.Name, created: n.Created} }, "id", "name", "created")
}

func (s *Sim) networkByPath(c *call) (*schema.Network, *apiError) {
	return byPath(c, s.st.networks, "network")
}

func getNetwork(s *Sim, c *call) (int, any, *apiError) {
	n, err := s.networkByPath(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"network": networkView(n)}, nil
}

var networkZones = []string{"eu-central", "us-east", "us-west", "ap-southeast"}

func createNetwork(s *Sim, c *call) (int, any, *apiError) {
	var req schema.NetworkCreateRequest
	if err := c.decodeStrict(&req); err != nil {
		return 0, nil, err
	}
	if err := validName("name", req.Name); err != nil {
		return 0, nil, err
	}
	_, rng, perr := net.ParseCIDR(req.IPRange)
	if perr != nil || rng.IP.To4() == nil || !privateRange(rng) {
		return 0, nil, invalidField("ip_range", "must be a private IPv4 range (RFC 1918) in CIDR notation")
	}
	if ones, _ := rng.Mask.Size(); ones > 24 {
		return 0, nil, invalidField("ip_range", "must be at least a /24")
	}
	labels, err := validLabels(req.Labels)
	if err != nil {
		return 0, nil, err
	}
	for _, r := range req.Routes {
		if _, _, e := net.ParseCIDR(r.Destination); e != nil || net.ParseIP(r.Gateway) == nil {
			return 0, nil, invalidField("routes", "invalid route")
		}
	}
	var subnets []schema.NetworkSubnet
	for _, sub := range req.Subnets {
		checked, p := checkSubnet(rng, sub, subnets, req.Routes)
		if p != nil {
			return 0, nil, invalidField("subnets", p.msg)
		}
		subnets = append(subnets, checked)
	}
	for _, n := range s.st.networks {
		if n.Name == req.Name {
			return 0, nil, notUnique("name", "network name is already used")
		}
	}
	n := &schema.Network{
		ID: s.st.newID(), Name: req.Name, Created: c.now.UTC().Truncate(1e9), IPRange: rng.String(),
		Subnets: subnets, Routes: append([]schema.NetworkRoute{}, req.Routes...), Servers: []int64{},
		LoadBalancers: []int64{}, Labels: labels, ExposeRoutesToVSwitch: req.ExposeRoutesToVSwitch,
	}
	if n.Subnets == nil {
		n.Subnets = []schema.NetworkSubnet{}
	}
	s.st.networks[n.ID] = n
	s.record("network", n.ID, n.Name, c.now)
	return http.StatusCreated, map[string]any{"network": networkView(n)}, nil
}

// subnetProblem says which request field makes a subnet invalid, and why.
type subnetProblem struct{ field, msg string }

// minSubnetOnes is the smallest subnet the API accepts: "Minimum network size is /30".
const minSubnetOnes = 30

// checkSubnet validates a subnet of network range rng against the existing subnets and the routes, and
// returns it with its range in canonical form and its gateway (the range's first host) filled in.
func checkSubnet(rng *net.IPNet, sub schema.NetworkSubnet, existing []schema.NetworkSubnet, routes []schema.NetworkRoute) (schema.NetworkSubnet, *subnetProblem) {
	switch sub.Type {
	case "cloud", "server":
	case "vswitch":
		if sub.VSwitchID <= 0 {
			return sub, &subnetProblem{"vswitch_id", "is required for subnets of type vswitch"}
		}
	case "":
		return sub, &subnetProblem{"type", "is required"}
	default:
		return sub, &subnetProblem{"type", "must be cloud, server or vswitch"}
	}
	if !slices.Contains(networkZones, sub.NetworkZone) {
		return sub, &subnetProblem{"network_zone", "unknown network zone " + strconv.Quote(sub.NetworkZone)}
	}
	_, sn, err := net.ParseCIDR(sub.IPRange)
	if err != nil || sn.IP.To4() == nil {
		return sub, &subnetProblem{"ip_range", "must be an IPv4 range in CIDR notation"}
	}
	if msg := subnetRangeProblem(rng, sn, existing, routes); msg != "" {
		return sub, &subnetProblem{"ip_range", msg}
	}
	sub.IPRange = sn.String()
	gw := sn.IP.To4()
	sub.Gateway = net.IPv4(gw[0], gw[1], gw[2], gw[3]+1).String()
	return sub, nil
}

// subnetRangeProblem says why sn cannot be a subnet of the network range rng next to the existing subnets
// and route destinations, or returns "".
func subnetRangeProblem(rng, sn *net.IPNet, existing []schema.NetworkSubnet, routes []schema.NetworkRoute) string {
	so, _ := sn.Mask.Size()
	ro, _ := rng.Mask.Size()
	if !rng.Contains(sn.IP) || so < ro {
		return fmt.Sprintf("subnet %s must lie within the network's ip_range %s", sn, rng)
	}
	if so > minSubnetOnes {
		return fmt.Sprintf("subnet %s is smaller than the minimum /%d", sn, minSubnetOnes)
	}
	for _, e := range existing {
		if _, en, _ := net.ParseCIDR(e.IPRange); en != nil && overlaps(en, sn) {
			return fmt.Sprintf("subnet %s overlaps the subnet %s", sn, en)
		}
	}
	for _, r := range routes {
		if _, dn, _ := net.ParseCIDR(r.Destination); dn != nil && overlaps(dn, sn) {
			return fmt.Sprintf("subnet %s overlaps the destination %s of a route", sn, dn)
		}
	}
	return ""
}

func overlaps(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

func updateNetwork(s *Sim, c *call) (int, any, *apiError) {
	n, err := s.networkByPath(c)
	if err != nil {
		return 0, nil, err
	}
	var req schema.NetworkUpdateRequest
	if err := c.decodeStrict(&req); err != nil {
		return 0, nil, err
	}
	taken := takenBy(s.st.networks, n.ID, func(o *schema.Network) string { return o.Name })
	labels, err := nameUpdate{validName, taken, "network name is already used"}.checkUpdate(optionalName(req.Name), req.Labels)
	if err != nil {
		return 0, nil, err
	}
	if req.Name != "" {
		n.Name = req.Name
	}
	if labels != nil {
		n.Labels = labels
	}
	if req.ExposeRoutesToVSwitch != nil {
		n.ExposeRoutesToVSwitch = *req.ExposeRoutesToVSwitch
	}
	return http.StatusOK, map[string]any{"network": networkView(n)}, nil
}

// deleteNetwork deletes a network unless it is protected; servers attached to it are detached, as the API
// documents ("Attached resources will be detached automatically").
func deleteNetwork(s *Sim, c *call) (int, any, *apiError) {
	n, err := s.networkByPath(c)
	if err != nil {
		return 0, nil, err
	}
	if n.Protection.Delete {
		return 0, nil, newError("protected", "network %d is protected against deletion", n.ID)
	}
	// "Attached resources will be detached automatically."
	for _, id := range n.Servers {
		if sv, ok := s.st.servers[id]; ok {
			sv.s.PrivateNet = slices.DeleteFunc(sv.s.PrivateNet, func(pn schema.ServerPrivateNet) bool { return pn.Network == n.ID })
		}
	}
	delete(s.st.networks, n.ID)
	delete(s.st.busyUntil, n.ID)
	return http.StatusNoContent, nil, nil
}
