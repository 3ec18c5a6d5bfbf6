package hcloudsim

import (
	"slices"
)

// route is one simulated endpoint: its pattern ("METHOD /v1/...") and handler.
type route struct {
	pattern string
	h       handlerFunc
}

// routeTable is the route table of the simulator: every endpoint it serves.
func routeTable() []route {
	rs := []route{
		{"GET /v1/locations", getLocations},
		{"GET /v1/locations/{id}", getLocation},
		{"GET /v1/datacenters", getDatacenters},
		{"GET /v1/datacenters/{id}", getDatacenter},
		{"GET /v1/server_types", getServerTypes},
		{"GET /v1/server_types/{id}", getServerType},
		{"GET /v1/images", getImages},
		{"GET /v1/images/{id}", getImage},
		{"PUT /v1/images/{id}", updateImage},
		{"DELETE /v1/images/{id}", deleteImage},
		{"POST /v1/images/{id}/actions/change_protection", changeImageProtection},
		{"GET /v1/pricing", getPricing},

		{"GET /v1/ssh_keys", getSSHKeys},
		{"POST /v1/ssh_keys", createSSHKey},
		{"GET /v1/ssh_keys/{id}", getSSHKey},
		{"PUT /v1/ssh_keys/{id}", updateSSHKey},
		{"DELETE /v1/ssh_keys/{id}", deleteSSHKey},

		{"GET /v1/servers", getServers},
		{"POST /v1/servers", createServer},
		{"GET /v1/servers/{id}", getServer},
		{"PUT /v1/servers/{id}", updateServer},
		{"DELETE /v1/servers/{id}", deleteServer},
	}
	rs = append(rs, actionRoutes("images", "image")...)
	rs = append(rs, actionRoutes("servers", "server")...)
	for _, name := range sortedKeys(serverActions) {
		rs = append(rs, route{"POST /v1/servers/{id}/actions/" + name, serveServerAction(name, serverActions[name])})
	}

	rs = append(rs,
		route{"GET /v1/volumes", getVolumes},
		route{"POST /v1/volumes", createVolume},
		route{"GET /v1/volumes/{id}", getVolume},
		route{"PUT /v1/volumes/{id}", updateVolume},
		route{"DELETE /v1/volumes/{id}", deleteVolume},
	)
	rs = append(rs, actionRoutes("volumes", "volume")...)
	for _, name := range sortedKeys(volumeActions) {
		rs = append(rs, route{"POST /v1/volumes/{id}/actions/" + name, serveVolumeAction(volumeActions[name])})
	}

	rs = append(rs,
		route{"GET /v1/networks", getNetworks},
		route{"POST /v1/networks", createNetwork},
		route{"GET /v1/networks/{id}", getNetwork},
		route{"PUT /v1/networks/{id}", updateNetwork},
		route{"DELETE /v1/networks/{id}", deleteNetwork},
	)
	rs = append(rs, actionRoutes("networks", "network")...)
	for _, name := range sortedKeys(networkActions) {
		rs = append(rs, route{"POST /v1/networks/{id}/actions/" + name, serveNetworkAction(networkActions[name])})
	}

	rs = append(rs,
		route{"GET /v1/firewalls", getFirewalls},
		route{"POST /v1/firewalls", createFirewall},
		route{"GET /v1/firewalls/{id}", getFirewall},
		route{"PUT /v1/firewalls/{id}", updateFirewall},
		route{"DELETE /v1/firewalls/{id}", deleteFirewall},
		route{"POST /v1/firewalls/{id}/actions/apply_to_resources", applyFirewallToResources},
		route{"POST /v1/firewalls/{id}/actions/remove_from_resources", removeFirewallFromResources},
		route{"POST /v1/firewalls/{id}/actions/set_rules", setFirewallRules},
	)
	rs = append(rs, actionRoutes("firewalls", "firewall")...)

	rs = append(rs,
		route{"GET /v1/placement_groups", getPlacementGroups},
		route{"POST /v1/placement_groups", createPlacementGroup},
		route{"GET /v1/placement_groups/{id}", getPlacementGroup},
		route{"PUT /v1/placement_groups/{id}", updatePlacementGroup},
		route{"DELETE /v1/placement_groups/{id}", deletePlacementGroup},

		route{"GET /v1/actions", getActions},
		route{"GET /v1/actions/{id}", getAction},
	)
	return rs
}

// actionRoutes are the four action read routes of a resource collection (e.g. "servers") whose actions
// carry resources of type kind (e.g. "server").
func actionRoutes(collection, kind string) []route {
	base := "/v1/" + collection
	return []route{
		{"GET " + base + "/{id}/actions", getResourceActions(kind)},
		{"GET " + base + "/actions", getTypeActions(kind)},
		{"GET " + base + "/actions/{id}", getTypeAction(kind)},
		{"GET " + base + "/{id}/actions/{action_id}", getResourceAction(kind)},
	}
}

// routes registers every route of the table.
func (s *Sim) routes() {
	for _, r := range routeTable() {
		s.handle(r.pattern, r.h)
	}
}

// Routes lists the pattern ("METHOD /v1/path") of every endpoint the simulator serves, sorted. Path
// parameters are written {name}, as in Hetzner's OpenAPI document.
func Routes() []string {
	out := make([]string, 0, 128)
	for _, r := range routeTable() {
		out = append(out, r.pattern)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
