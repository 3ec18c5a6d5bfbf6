package hcloudsim

import (
	"net"
	"slices"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// attachToNetwork serves attach_to_network. The server gets its address in a subnet of its own network
// zone: the one named by ip_range, else the one holding ip, else the first. ip (if given) and every alias
// IP must lie in that subnet and be free in the network; the alias IPs are the server's additional
// addresses there, as the API documents.
func attachToNetwork(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	var req schema.ServerActionAttachToNetworkRequest
	if err := c.decode(&req); err != nil {
		return "", nil, nil, err
	}
	n, ok := s.st.networks[req.Network]
	if !ok {
		return "", nil, nil, invalidField("network", "network not found")
	}
	for _, pn := range sv.s.PrivateNet {
		if pn.Network == n.ID {
			return "", nil, nil, newError("server_already_attached", "server %d is already attached to network %d", sv.s.ID, n.ID)
		}
	}
	ip := ""
	if req.IP != nil {
		ip = *req.IP
	}
	sub, err := pickSubnet(n, sv.s.Location.NetworkZone, req.IPRange, ip)
	if err != nil {
		return "", nil, nil, err
	}
	aliases := make([]string, 0, len(req.AliasIPs))
	for _, a := range req.AliasIPs {
		if a == nil {
			return "", nil, nil, invalidField("alias_ips", "must not contain null")
		}
		aliases = append(aliases, *a)
	}
	if ip != "" {
		if err := s.st.checkNetworkIP(n.ID, sub, "ip", ip, sv.s.ID); err != nil {
			return "", nil, nil, err
		}
	}
	if err := s.st.checkAliasIPs(n.ID, sub, aliases, ip, sv.s.ID); err != nil {
		return "", nil, nil, err
	}
	if ip == "" {
		if ip = s.st.nextFreeIP(n.ID, sub, aliases); ip == "" {
			return "", nil, nil, newError("no_subnet_available", "no free IP in network %d", n.ID)
		}
	}
	s.st.attachNetwork(sv, n, ip, aliases)
	return "attach_to_network", []schema.ActionResourceReference{{ID: n.ID, Type: "network"}}, nil, nil
}

// changeAliasIPs serves change_alias_ips: it replaces the server's alias IPs in a network it is attached to
// (server_not_attached_to_network otherwise). They must lie in the subnet of the server's address.
func changeAliasIPs(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	var req schema.ServerActionChangeAliasIPsRequest
	if err := c.decode(&req); err != nil {
		return "", nil, nil, err
	}
	if req.AliasIPs == nil {
		return "", nil, nil, invalidField("alias_ips", "is required")
	}
	n, ok := s.st.networks[req.Network]
	if !ok {
		return "", nil, nil, invalidField("network", "network not found")
	}
	i := slices.IndexFunc(sv.s.PrivateNet, func(pn schema.ServerPrivateNet) bool { return pn.Network == n.ID })
	if i < 0 {
		return "", nil, nil, newError("server_not_attached_to_network", "server %d is not attached to network %d", sv.s.ID, n.ID)
	}
	pn := &sv.s.PrivateNet[i]
	sub := subnetHolding(n, pn.IP)
	if sub == nil {
		return "", nil, nil, newError("server_error", "server %d's address %s lies in no subnet of network %d", sv.s.ID, pn.IP, n.ID)
	}
	if err := s.st.checkAliasIPs(n.ID, sub, req.AliasIPs, pn.IP, sv.s.ID); err != nil {
		return "", nil, nil, err
	}
	pn.AliasIPs = append([]string{}, req.AliasIPs...)
	return "change_alias_ips", []schema.ActionResourceReference{{ID: n.ID, Type: "network"}}, nil, nil
}

func detachFromNetwork(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	var req schema.ServerActionDetachFromNetworkRequest
	if err := c.decode(&req); err != nil {
		return "", nil, nil, err
	}
	n, ok := s.st.networks[req.Network]
	if !ok {
		return "", nil, nil, invalidField("network", "network not found")
	}
	before := len(sv.s.PrivateNet)
	sv.s.PrivateNet = slices.DeleteFunc(sv.s.PrivateNet, func(pn schema.ServerPrivateNet) bool { return pn.Network == n.ID })
	if len(sv.s.PrivateNet) == before {
		return "", nil, nil, newError("server_not_attached_to_network", "server %d is not attached to network %d", sv.s.ID, n.ID)
	}
	n.Servers = slices.DeleteFunc(n.Servers, func(x int64) bool { return x == sv.s.ID })
	return "detach_from_network", []schema.ActionResourceReference{{ID: n.ID, Type: "network"}}, nil, nil
}

// subnetFor returns the network's first subnet in zone, or nil.
func subnetFor(n *schema.Network, zone string) *schema.NetworkSubnet {
	for i := range n.Subnets {
		if n.Subnets[i].NetworkZone == zone {
			return &n.Subnets[i]
		}
	}
	return nil
}

// subnetHolding returns the network's subnet that contains ip, or nil.
func subnetHolding(n *schema.Network, ip string) *schema.NetworkSubnet {
	addr := net.ParseIP(ip)
	for i := range n.Subnets {
		if _, sn, err := net.ParseCIDR(n.Subnets[i].IPRange); err == nil && addr != nil && sn.Contains(addr) {
			return &n.Subnets[i]
		}
	}
	return nil
}

// pickSubnet chooses the subnet of n in zone a server attaches to: the one whose range is ipRange (when
// given), else the one holding ip (when given), else the first. A network without a subnet in zone is
// no_subnet_available; an ipRange that names no subnet of the zone is invalid_input.
func pickSubnet(n *schema.Network, zone string, ipRange *string, ip string) (*schema.NetworkSubnet, *apiError) {
	first := subnetFor(n, zone)
	if first == nil {
		return nil, newError("no_subnet_available", "network %d has no subnet in network zone %s", n.ID, zone)
	}
	if ipRange != nil {
		_, want, err := net.ParseCIDR(*ipRange)
		if err != nil {
			return nil, invalidField("ip_range", "must be an IP range in CIDR notation")
		}
		for i := range n.Subnets {
			if n.Subnets[i].NetworkZone == zone && n.Subnets[i].IPRange == want.String() {
				return &n.Subnets[i], nil
			}
		}
		return nil, invalidField("ip_range", "network "+strconv.FormatInt(n.ID, 10)+" has no subnet "+want.String()+" in network zone "+zone)
	}
	if ip != "" {
		if sub := subnetHolding(n, ip); sub != nil && sub.NetworkZone == zone {
			return sub, nil
		}
	}
	return first, nil
}

// checkNetworkIP checks that ip (given in field) is an address of sub that no other server uses in network id.
func (st *state) checkNetworkIP(id int64, sub *schema.NetworkSubnet, field, ip string, self int64) *apiError {
	addr := net.ParseIP(ip)
	if addr == nil || addr.To4() == nil {
		return invalidField(field, "invalid IP "+strconv.Quote(ip))
	}
	_, sn, err := net.ParseCIDR(sub.IPRange)
	if err != nil || !sn.Contains(addr) {
		return invalidField(field, "IP "+ip+" is not in the subnet "+sub.IPRange+" for the server's network zone")
	}
	if owner := st.ipOwner(id, addr.String()); owner != 0 && owner != self {
		return newError("ip_not_available", "IP %s is already used in network %d", ip, id)
	}
	return nil
}

// checkAliasIPs checks the alias IPs of a server whose address in network id is primary: each is a free
// address of sub, none repeats, none is primary.
func (st *state) checkAliasIPs(id int64, sub *schema.NetworkSubnet, aliases []string, primary string, self int64) *apiError {
	seen := map[string]bool{}
	for _, a := range aliases {
		if err := st.checkNetworkIP(id, sub, "alias_ips", a, self); err != nil {
			return err
		}
		key := net.ParseIP(a).String()
		if seen[key] || (primary != "" && key == net.ParseIP(primary).String()) {
			return invalidField("alias_ips", "IP "+a+" is given twice")
		}
		seen[key] = true
	}
	return nil
}

// attachNetwork records sv's address ip and alias IPs in n.
func (st *state) attachNetwork(sv *server, n *schema.Network, ip string, aliases []string) {
	sv.s.PrivateNet = append(sv.s.PrivateNet, schema.ServerPrivateNet{
		Network: n.ID, IP: ip, AliasIPs: append([]string{}, aliases...), MACAddress: macFor(sv.s.ID, n.ID),
	})
	if !slices.Contains(n.Servers, sv.s.ID) {
		n.Servers = append(n.Servers, sv.s.ID)
	}
}

// ipOwner returns the ID of the server that uses ip (as its address or an alias) in network id, or 0.
func (st *state) ipOwner(id int64, ip string) int64 {
	for _, other := range st.servers {
		for _, pn := range other.s.PrivateNet {
			if pn.Network == id && (pn.IP == ip || slices.Contains(pn.AliasIPs, ip)) {
				return other.s.ID
			}
		}
	}
	return 0
}

// nextFreeIP returns the lowest free host address of sub in network id from .2 upwards (.1 is the gateway),
// skipping the addresses in reserved, or "" when the subnet is full.
func (st *state) nextFreeIP(id int64, sub *schema.NetworkSubnet, reserved []string) string {
	_, ipnet, err := net.ParseCIDR(sub.IPRange)
	if err != nil || ipnet.IP.To4() == nil {
		return ""
	}
	ones, bits := ipnet.Mask.Size()
	size := uint32(1) << uint(bits-ones)
	v := ipv4Uint(ipnet.IP)
	for off := uint32(2); off+1 < size && off < 1<<16; off++ {
		ip := uint32IPv4(v + off).String()
		if st.ipOwner(id, ip) == 0 && !slices.Contains(reserved, ip) {
			return ip
		}
	}
	return ""
}

func macFor(serverID, networkID int64) string {
	x := uint32(serverID*31 + networkID)
	return "86:00:00:" + hex2(byte(x>>16)) + ":" + hex2(byte(x>>8)) + ":" + hex2(byte(x))
}

func hex2(b byte) string {
	s := strconv.FormatUint(uint64(b), 16)
	if len(s) == 1 {
		s = "0" + s
	}
	return s
}
