package hcloudsim

import (
	"encoding/json"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// State is a copy of the live objects of the simulated project, as the API would render them now.
type State struct {
	Servers         []schema.Server         `json:"servers"`
	SSHKeys         []schema.SSHKey         `json:"ssh_keys"`
	Networks        []schema.Network        `json:"networks"`
	Firewalls       []schema.Firewall       `json:"firewalls"`
	PlacementGroups []schema.PlacementGroup `json:"placement_groups"`
	Volumes         []schema.Volume         `json:"volumes"`
	Images          []schema.Image          `json:"images"` // snapshots and backups; not system images
	Actions         []schema.Action         `json:"actions"`
}

// Snapshot returns the live objects, each list ordered by ID. Servers without a public IPv4/IPv6 carry a
// zero ServerPublicNetIPv4/IPv6 here (the schema struct has no null).
func (s *Sim) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	st := s.st
	out := State{
		Servers: []schema.Server{}, SSHKeys: st.sshKeyList(), Networks: []schema.Network{},
		Firewalls: []schema.Firewall{}, PlacementGroups: []schema.PlacementGroup{}, Actions: []schema.Action{},
		Volumes: []schema.Volume{}, Images: []schema.Image{},
	}
	for _, v := range st.serverList(now) {
		srv := v.Server
		if v.PublicNet.IPv4 != nil {
			srv.PublicNet.IPv4 = *v.PublicNet.IPv4
		}
		if v.PublicNet.IPv6 != nil {
			srv.PublicNet.IPv6 = *v.PublicNet.IPv6
		}
		srv.PublicNet.Firewalls = v.PublicNet.Firewalls
		srv.PublicNet.FloatingIPs = v.PublicNet.FloatingIPs
		out.Servers = append(out.Servers, srv)
	}
	for _, id := range sortedKeys(st.networks) {
		out.Networks = append(out.Networks, networkView(st.networks[id]))
	}
	for _, id := range sortedKeys(st.firewalls) {
		out.Firewalls = append(out.Firewalls, st.firewallView(st.firewalls[id]))
	}
	for _, id := range sortedKeys(st.placementGroups) {
		out.PlacementGroups = append(out.PlacementGroups, placementGroupView(st.placementGroups[id]))
	}
	for _, id := range sortedKeys(st.volumes) {
		out.Volumes = append(out.Volumes, volumeView(st.volumes[id], now))
	}
	for _, id := range sortedKeys(st.images) {
		out.Images = append(out.Images, st.images[id].view(now))
	}
	for _, id := range sortedKeys(st.actions) {
		out.Actions = append(out.Actions, st.actions[id].view(now))
	}
	// Deep copy through JSON: views share slices (catalog entries) with the state.
	b, err := json.Marshal(out)
	if err != nil {
		return State{}
	}
	var cp State
	if err := json.Unmarshal(b, &cp); err != nil {
		return State{}
	}
	return cp
}
