package nanobox

import (
	"context"
	"net"
	"net/netip"
	"slices"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// networkZones are Hetzner's network zones, in the order their subnets are
// carved from network.ip_range: zone i gets the i-th quarter.
var networkZones = []hcloud.NetworkZone{"eu-central", "us-east", "us-west", "ap-southeast"}

// zoneSubnet is the subnet of ipRange reserved for zone.
func zoneSubnet(ipRange string, zone string) (netip.Prefix, bool) {
	pfx, err := netip.ParsePrefix(ipRange)
	if err != nil || !pfx.Addr().Is4() || pfx.Bits() > 30 {
		return netip.Prefix{}, false
	}
	i := slices.Index(networkZones, hcloud.NetworkZone(zone))
	if i < 0 {
		return netip.Prefix{}, false
	}
	base := pfx.Masked().Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += uint32(i) << (32 - (pfx.Bits() + 2))
	addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return netip.PrefixFrom(addr, pfx.Bits()+2), true
}

func toIPNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().As4()
	return &net.IPNet{IP: net.IP(a[:]), Mask: net.CIDRMask(p.Bits(), 32)}
}

func fromIPNet(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	addr, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(addr, ones), true
}

// ensureNetwork returns the id of the private network with a subnet in
// zone, checked at the moment of use: it exists, has that zone, and is not
// labelled nanobox=false. Warm path: the cached id, read by id (1 call; see
// cachedNetwork). Cold path, and when the cached network is gone or
// changed: find the network by name (1 call) or create it (1 more), add
// the zone's subnet if missing, and cache the result. The cache only saves
// the look-up by name; it never outranks the labels.
func (h *Hetzner) ensureNetwork(ctx context.Context, zone string) (int64, error) {
	const op = "order_server: private network"
	if id, ok, err := h.cachedNetwork(ctx, op, zone); err != nil || ok {
		return id, err
	}
	name, ipRange := h.cfg.Network.Name, h.cfg.Network.IPRange
	subnet, ok := zoneSubnet(ipRange, zone)
	if !ok {
		return 0, protocol.NewError(protocol.InvalidArguments, "%s: no subnet can be carved from %s for network zone %q", op, ipRange, zone)
	}
	network, resp, err := h.client.Network.GetByName(ctx, name)
	if err != nil {
		return 0, cpi.CloudError(op+": looking up "+name, resp, err)
	}
	if network == nil {
		network, err = h.createNetwork(ctx, name, ipRange)
		if err != nil {
			return 0, err
		}
	}
	if err := usableNetwork(op, network, ipRange); err != nil {
		return 0, err
	}
	zones, err := h.ensureZone(ctx, op, network, zone, subnet)
	if err != nil {
		return 0, err
	}
	if err := h.state.setNetwork(name, networkState{ID: network.ID, IPRange: ipRange, Zones: zones}); err != nil {
		h.log.WithError(err).Warn("order_server: could not cache the network id")
	}
	return network.ID, nil
}

// cachedNetwork reads the network cached for zone by its id (1 call; none
// when nothing is cached) and answers its id when it is still the
// configured network, has a subnet in zone and may be used. ok is false
// when there is no such cache entry, or the network is gone or changed
// (the entry is then dropped): the caller looks it up by name.
func (h *Hetzner) cachedNetwork(ctx context.Context, op, zone string) (id int64, ok bool, err error) {
	name, ipRange := h.cfg.Network.Name, h.cfg.Network.IPRange
	cached, found := h.state.network(name, ipRange)
	if !found || !slices.Contains(cached.Zones, zone) {
		return 0, false, nil
	}
	network, resp, err := h.client.Network.GetByID(ctx, cached.ID)
	if err != nil {
		return 0, false, cpi.CloudError(op+": looking up "+name, resp, err)
	}
	if network == nil || network.Name != name || !hasZone(network, zone) {
		h.log.Warnf("order_server: cached network %d is gone or changed; looking %s up again", cached.ID, name)
		_ = h.state.forgetNetwork(name)
		return 0, false, nil
	}
	if err := usableNetwork(op, network, ipRange); err != nil {
		return 0, false, err
	}
	return network.ID, true, nil
}

// ensureZone returns the network's zones once it has a subnet in zone:
// subnet, the zone's quarter of the range, is added (see addZoneSubnet)
// unless another subnet already overlaps it (a Conflict).
func (h *Hetzner) ensureZone(ctx context.Context, op string, network *hcloud.Network, zone string, subnet netip.Prefix) ([]string, error) {
	zones := subnetZones(network)
	if slices.Contains(zones, zone) {
		return zones, nil
	}
	for _, s := range network.Subnets {
		if p, ok := fromIPNet(s.IPRange); ok && p.Overlaps(subnet) {
			return nil, protocol.NewError(protocol.Conflict,
				"%s: the network %q has no subnet in zone %s and the range reserved for it (%s) is taken by subnet %s", op, network.Name, zone, subnet, p).WithRetry(false)
		}
	}
	return h.addZoneSubnet(ctx, network, zone, subnet)
}

// usableNetwork refuses a network labelled nanobox=false, or one whose
// range is not the configured one.
func usableNetwork(op string, network *hcloud.Network, ipRange string) error {
	if cpi.Hidden(network.Labels) {
		return protocol.NewError(protocol.Conflict,
			"%s: the network named %q is labelled nanobox=false; set network.name in the CPI config to another name", op, network.Name).WithRetry(false)
	}
	if got, ok := fromIPNet(network.IPRange); !ok || got.String() != ipRange {
		return protocol.NewError(protocol.Conflict,
			"%s: the network %q has ip_range %v but the CPI config says %s; fix network.ip_range or network.name", op, network.Name, network.IPRange, ipRange).WithRetry(false)
	}
	return nil
}

// addZoneSubnet adds zone's subnet to network and returns the network's
// zones afterwards. An add that fails because the subnet may be there after
// all (invalid_input: it overlaps one that a concurrent order added, or that
// the first attempt of a retried request added before its answer was lost;
// conflict: another change of the network is running; or an unknown
// outcome) re-reads the network (1 call) and goes on when the zone has a
// subnet now.
func (h *Hetzner) addZoneSubnet(ctx context.Context, network *hcloud.Network, zone string, subnet netip.Prefix) ([]string, error) {
	op := "order_server: private network: adding a subnet for " + zone
	action, resp, err := h.client.Network.AddSubnet(ctx, network, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, IPRange: toIPNet(subnet), NetworkZone: hcloud.NetworkZone(zone),
	}})
	if err == nil && action != nil {
		err = h.client.Action.WaitFor(ctx, action)
		resp = nil
	}
	if err == nil {
		h.log.Infof("order_server: added subnet %s (%s) to network %d", subnet, zone, network.ID)
		return append(subnetZones(network), zone), nil
	}
	if !hcloud.IsError(err, hcloud.ErrorCodeInvalidInput, hcloud.ErrorCodeConflict) && !cpi.OutcomeUnknown(err) {
		return nil, cpi.CloudError(op, resp, err)
	}
	again, _, gerr := h.client.Network.GetByID(ctx, network.ID)
	if gerr != nil || !hasZone(again, zone) {
		return nil, cpi.CloudError(op, resp, err)
	}
	h.log.Infof("order_server: network %d has a subnet in %s now although the add answered %q; using it", network.ID, zone, protocol.Truncate(err.Error(), 300))
	return subnetZones(again), nil
}

func subnetZones(network *hcloud.Network) []string {
	zones := []string{}
	for _, s := range network.Subnets {
		zones = append(zones, string(s.NetworkZone))
	}
	return zones
}

func (h *Hetzner) createNetwork(ctx context.Context, name, ipRange string) (*hcloud.Network, error) {
	const op = "order_server: creating network"
	pfx := netip.MustParsePrefix(ipRange)
	// One subnet per network zone, so a server in any location can join
	// without another API call later.
	subnets := make([]hcloud.NetworkSubnet, 0, len(networkZones))
	for _, z := range networkZones {
		if p, ok := zoneSubnet(ipRange, string(z)); ok {
			subnets = append(subnets, hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetTypeCloud, IPRange: toIPNet(p), NetworkZone: z})
		}
	}
	network, resp, err := h.client.Network.Create(ctx, hcloud.NetworkCreateOpts{
		Name:    name,
		IPRange: toIPNet(pfx),
		Subnets: subnets,
		Labels:  h.labels(),
	})
	if hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
		// Created meanwhile by a concurrent call (or our retried request).
		network, resp, err = h.client.Network.GetByName(ctx, name)
		if err == nil && network == nil {
			return nil, protocol.NewError(protocol.Conflict, "%s %q: the name is taken but no such network is visible", op, name)
		}
	}
	if err != nil {
		return nil, cpi.CloudError(op+" "+name, resp, err)
	}
	if network == nil {
		return nil, protocol.NewError(protocol.CloudError, "%s %q: Hetzner answered without a network", op, name)
	}
	h.log.Infof("order_server: created private network %d (%s, %s)", network.ID, name, ipRange)
	return network, nil
}
