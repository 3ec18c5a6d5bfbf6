package hcloudsim

import (
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// networkAction is one POST /networks/{id}/actions/<name>: it validates the body and changes the network,
// and returns the action's command. It changes nothing when it returns an error.
type networkAction func(s *Sim, c *call, n *schema.Network) (command string, err *apiError)

// networkActions is the method table of the simulated network actions.
var networkActions = map[string]networkAction{
	"add_subnet":        addSubnet,
	"delete_subnet":     deleteSubnet,
	"change_ip_range":   changeIPRange,
	"add_route":         addRoute,
	"delete_route":      deleteRoute,
	"change_protection": changeNetworkProtection,
}

// serveNetworkAction runs the named action: 404 for an unknown network, 409 conflict while another action of
// the network runs (as the API documents: "If a change is currently being performed on this Network, a error
// response with code conflict will be returned"). The change is applied at once; the action reports success
// after Delays.Action.
func serveNetworkAction(act networkAction) handlerFunc {
	return func(s *Sim, c *call) (int, any, *apiError) {
		n, err := s.networkByPath(c)
		if err != nil {
			return 0, nil, err
		}
		if c.now.Before(s.st.busyUntil[n.ID]) {
			return 0, nil, newError("conflict", "network %d is being changed by another action, please retry", n.ID)
		}
		command, err := act(s, c, n)
		if err != nil {
			return 0, nil, err
		}
		ac := s.st.newAction(c.now, command, s.opts.Delays.Action, schema.ActionResourceReference{ID: n.ID, Type: "network"})
		if ac.doneAt.After(s.st.busyUntil[n.ID]) {
			s.st.busyUntil[n.ID] = ac.doneAt
		}
		return http.StatusCreated, map[string]any{"action": ac.runningView()}, nil
	}
}

// addSubnet serves add_subnet. Without ip_range the subnet gets the network's first free /24, as the API
// documents. A range outside the network, smaller than /30, or overlapping another subnet or a route
// destination is invalid_input.
func addSubnet(s *Sim, c *call, n *schema.Network) (string, *apiError) {
	var req schema.NetworkActionAddSubnetRequest
	if err := c.decodeStrict(&req); err != nil {
		return "", err
	}
	_, rng, err := net.ParseCIDR(n.IPRange)
	if err != nil {
		return "", newError("server_error", "network %d has an unreadable ip_range", n.ID)
	}
	sub := schema.NetworkSubnet{Type: req.Type, IPRange: req.IPRange, NetworkZone: req.NetworkZone, VSwitchID: req.VSwitchID}
	if sub.IPRange == "" && req.Type != "" && slices.Contains(networkZones, req.NetworkZone) {
		free := firstFree24(rng, n.Subnets, n.Routes)
		if free == nil {
			return "", invalidField("ip_range", "the network's ip_range "+rng.String()+" has no free /24 left; give an ip_range")
		}
		sub.IPRange = free.String()
	}
	checked, p := checkSubnet(rng, sub, n.Subnets, n.Routes)
	if p != nil {
		return "", invalidField(p.field, p.msg)
	}
	n.Subnets = append(n.Subnets, checked)
	return "add_subnet", nil
}

// firstFree24 returns the first /24 of rng that overlaps no subnet and no route destination, or nil.
func firstFree24(rng *net.IPNet, subnets []schema.NetworkSubnet, routes []schema.NetworkRoute) *net.IPNet {
	ones, _ := rng.Mask.Size()
	if ones > 24 {
		return nil
	}
	base := ipv4Uint(rng.IP)
	for i := uint32(0); i < 1<<uint(24-ones); i++ {
		cand := &net.IPNet{IP: uint32IPv4(base + i<<8), Mask: net.CIDRMask(24, 32)}
		if subnetRangeProblem(rng, cand, subnets, routes) == "" {
			return cand
		}
	}
	return nil
}

func ipv4Uint(ip net.IP) uint32 {
	v := ip.To4()
	return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
}

func uint32IPv4(x uint32) net.IP {
	return net.IPv4(byte(x>>24), byte(x>>16), byte(x>>8), byte(x)).To4()
}

// deleteSubnet serves delete_subnet. A subnet that still holds a server's address cannot be deleted: the
// API answers service_error "cannot remove subnet because servers are attached to it" (the code and
// message the real API gives; the document only says such subnets "can not be deleted").
func deleteSubnet(s *Sim, c *call, n *schema.Network) (string, *apiError) {
	var req schema.NetworkActionDeleteSubnetRequest
	if err := c.decodeStrict(&req); err != nil {
		return "", err
	}
	if req.IPRange == "" {
		return "", invalidField("ip_range", "is required")
	}
	_, sn, err := net.ParseCIDR(req.IPRange)
	if err != nil || sn.IP.To4() == nil {
		return "", invalidField("ip_range", "must be an IPv4 range in CIDR notation")
	}
	i := slices.IndexFunc(n.Subnets, func(sub schema.NetworkSubnet) bool { return sub.IPRange == sn.String() })
	if i < 0 {
		return "", invalidField("ip_range", "the network has no subnet "+sn.String())
	}
	for _, sv := range s.st.servers {
		for _, pn := range sv.s.PrivateNet {
			if pn.Network == n.ID && sn.Contains(net.ParseIP(pn.IP)) {
				return "", newError("service_error", "cannot remove subnet because servers are attached to it")
			}
		}
	}
	n.Subnets = slices.Delete(n.Subnets, i, i+1)
	return "delete_subnet", nil
}

// changeIPRange serves change_ip_range. As the API documents, the range can only grow, and only at its
// end: the new range must start at the same address with a shorter netmask (or the same one), and stay
// within one RFC 1918 range.
func changeIPRange(s *Sim, c *call, n *schema.Network) (string, *apiError) {
	var req schema.NetworkActionChangeIPRangeRequest
	if err := c.decodeStrict(&req); err != nil {
		return "", err
	}
	if req.IPRange == "" {
		return "", invalidField("ip_range", "is required")
	}
	_, cur, err := net.ParseCIDR(n.IPRange)
	if err != nil {
		return "", newError("server_error", "network %d has an unreadable ip_range", n.ID)
	}
	_, next, perr := net.ParseCIDR(req.IPRange)
	if perr != nil || next.IP.To4() == nil || !privateRange(next) {
		return "", invalidField("ip_range", "must be a private IPv4 range (RFC 1918) in CIDR notation")
	}
	nextOnes, _ := next.Mask.Size()
	curOnes, _ := cur.Mask.Size()
	if !next.IP.Equal(cur.IP) || nextOnes > curOnes {
		return "", invalidField("ip_range", "can only be extended at its end: keep the address "+cur.IP.String()+" and shorten the netmask /"+strconv.Itoa(curOnes))
	}
	n.IPRange = next.String()
	return "change_ip_range", nil
}

// rfc1918 are the private IPv4 ranges a network may use.
var rfc1918 = []*net.IPNet{
	{IP: net.IPv4(10, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
	{IP: net.IPv4(172, 16, 0, 0).To4(), Mask: net.CIDRMask(12, 32)},
	{IP: net.IPv4(192, 168, 0, 0).To4(), Mask: net.CIDRMask(16, 32)},
}

// privateRange reports whether all of r lies within one RFC 1918 range.
func privateRange(r *net.IPNet) bool {
	ones, _ := r.Mask.Size()
	for _, p := range rfc1918 {
		po, _ := p.Mask.Size()
		if p.Contains(r.IP) && ones >= po {
			return true
		}
	}
	return false
}

// publicGateway is the gateway of every server's public interface; no route may use or cover it.
var publicGateway = net.IPv4(172, 31, 1, 1)

// addRoute serves add_route. As the API documents, the destination is an RFC 1918 range or 0.0.0.0/0 that
// overlaps no subnet, no other route's destination and not 172.31.1.1; the gateway is an address of the
// network's range other than its first one and 172.31.1.1.
func addRoute(s *Sim, c *call, n *schema.Network) (string, *apiError) {
	var req schema.NetworkActionAddRouteRequest
	if err := c.decodeStrict(&req); err != nil {
		return "", err
	}
	_, rng, err := net.ParseCIDR(n.IPRange)
	if err != nil {
		return "", newError("server_error", "network %d has an unreadable ip_range", n.ID)
	}
	_, dst, derr := net.ParseCIDR(req.Destination)
	if derr != nil || dst.IP.To4() == nil || !(privateRange(dst) || dst.String() == "0.0.0.0/0") {
		return "", invalidField("destination", "must be a private IPv4 range (RFC 1918) or 0.0.0.0/0 in CIDR notation")
	}
	if dst.Contains(publicGateway) {
		return "", invalidField("destination", "must not cover 172.31.1.1")
	}
	for _, sub := range n.Subnets {
		if _, sn, _ := net.ParseCIDR(sub.IPRange); sn != nil && overlaps(sn, dst) {
			return "", invalidField("destination", "overlaps the subnet "+sn.String())
		}
	}
	for _, r := range n.Routes {
		if _, rd, _ := net.ParseCIDR(r.Destination); rd != nil && overlaps(rd, dst) {
			return "", invalidField("destination", "overlaps the destination "+rd.String()+" of a route")
		}
	}
	gw := net.ParseIP(req.Gateway).To4()
	if gw == nil || !rng.Contains(gw) || gw.Equal(rng.IP.To4()) || gw.Equal(publicGateway) {
		return "", invalidField("gateway", "must be an IPv4 address of the network's ip_range "+rng.String()+" other than its first")
	}
	n.Routes = append(n.Routes, schema.NetworkRoute{Destination: dst.String(), Gateway: gw.String()})
	return "add_route", nil
}

// deleteRoute serves delete_route: the route with that destination and gateway must exist.
func deleteRoute(s *Sim, c *call, n *schema.Network) (string, *apiError) {
	var req schema.NetworkActionDeleteRouteRequest
	if err := c.decodeStrict(&req); err != nil {
		return "", err
	}
	_, dst, derr := net.ParseCIDR(req.Destination)
	gw := net.ParseIP(req.Gateway)
	if derr != nil || gw == nil {
		return "", invalidField("destination", "destination (CIDR) and gateway (IP) are required")
	}
	i := slices.IndexFunc(n.Routes, func(r schema.NetworkRoute) bool {
		return r.Destination == dst.String() && net.ParseIP(r.Gateway).Equal(gw)
	})
	if i < 0 {
		return "", invalidField("destination", "the network has no route to "+dst.String()+" via "+gw.String())
	}
	n.Routes = slices.Delete(n.Routes, i, i+1)
	return "delete_route", nil
}

// changeNetworkProtection serves change_protection: delete protection, which deleteNetwork honours.
func changeNetworkProtection(s *Sim, c *call, n *schema.Network) (string, *apiError) {
	var req schema.NetworkActionChangeProtectionRequest
	if err := c.decodeStrict(&req); err != nil {
		return "", err
	}
	if req.Delete != nil {
		n.Protection.Delete = *req.Delete
	}
	return "change_protection", nil
}
