package hcloudsim

// routes registers every simulated endpoint: the route table of the simulator.
func (s *Sim) routes() {
	s.handle("GET /v1/locations", getLocations)
	s.handle("GET /v1/locations/{id}", getLocation)
	s.handle("GET /v1/datacenters", getDatacenters)
	s.handle("GET /v1/datacenters/{id}", getDatacenter)
	s.handle("GET /v1/server_types", getServerTypes)
	s.handle("GET /v1/server_types/{id}", getServerType)
	s.handle("GET /v1/images", getImages)
	s.handle("GET /v1/images/{id}", getImage)
	s.handle("GET /v1/pricing", getPricing)

	s.handle("GET /v1/ssh_keys", getSSHKeys)
	s.handle("POST /v1/ssh_keys", createSSHKey)
	s.handle("GET /v1/ssh_keys/{id}", getSSHKey)
	s.handle("PUT /v1/ssh_keys/{id}", updateSSHKey)
	s.handle("DELETE /v1/ssh_keys/{id}", deleteSSHKey)

	s.handle("GET /v1/servers", getServers)
	s.handle("POST /v1/servers", createServer)
	s.handle("GET /v1/servers/{id}", getServer)
	s.handle("PUT /v1/servers/{id}", updateServer)
	s.handle("DELETE /v1/servers/{id}", deleteServer)
	s.handle("GET /v1/servers/{id}/actions", getResourceActions("server"))
	s.handle("GET /v1/servers/actions", getTypeActions("server"))
	s.handle("GET /v1/servers/actions/{id}", getTypeAction("server"))
	s.handle("GET /v1/servers/{id}/actions/{action_id}", getResourceAction("server"))
	for name, act := range serverActions {
		s.handle("POST /v1/servers/{id}/actions/"+name, serveServerAction(name, act))
	}

	s.handle("GET /v1/networks", getNetworks)
	s.handle("POST /v1/networks", createNetwork)
	s.handle("GET /v1/networks/{id}", getNetwork)
	s.handle("PUT /v1/networks/{id}", updateNetwork)
	s.handle("DELETE /v1/networks/{id}", deleteNetwork)
	s.handle("GET /v1/networks/{id}/actions", getResourceActions("network"))
	s.handle("GET /v1/networks/actions", getTypeActions("network"))
	s.handle("GET /v1/networks/actions/{id}", getTypeAction("network"))
	s.handle("GET /v1/networks/{id}/actions/{action_id}", getResourceAction("network"))
	for name, act := range networkActions {
		s.handle("POST /v1/networks/{id}/actions/"+name, serveNetworkAction(act))
	}

	s.handle("GET /v1/firewalls", getFirewalls)
	s.handle("POST /v1/firewalls", createFirewall)
	s.handle("GET /v1/firewalls/{id}", getFirewall)
	s.handle("DELETE /v1/firewalls/{id}", deleteFirewall)
	s.handle("POST /v1/firewalls/{id}/actions/apply_to_resources", applyFirewallToResources)
	s.handle("POST /v1/firewalls/{id}/actions/remove_from_resources", removeFirewallFromResources)
	s.handle("POST /v1/firewalls/{id}/actions/set_rules", setFirewallRules)
	s.handle("GET /v1/firewalls/{id}/actions", getResourceActions("firewall"))
	s.handle("GET /v1/firewalls/actions", getTypeActions("firewall"))
	s.handle("GET /v1/firewalls/actions/{id}", getTypeAction("firewall"))
	s.handle("GET /v1/firewalls/{id}/actions/{action_id}", getResourceAction("firewall"))

	s.handle("GET /v1/placement_groups", getPlacementGroups)
	s.handle("POST /v1/placement_groups", createPlacementGroup)
	s.handle("GET /v1/placement_groups/{id}", getPlacementGroup)
	s.handle("DELETE /v1/placement_groups/{id}", deletePlacementGroup)

	s.handle("GET /v1/actions", getActions)
	s.handle("GET /v1/actions/{id}", getAction)
}
