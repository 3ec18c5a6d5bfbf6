//lint:file-ignore SA1019 the simulator serves the deprecated fields and endpoints (datacenters, Deprecated, Traffic, FloatingIP) because the API document still has them and clients still read them

package hcloudsim

import (
	"fmt"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// SetAvailability marks a server type as orderable or not in a location, as Hetzner does during capacity
// shortages: GET /server_types shows it, and creating a server of that type there answers
// 412 resource_unavailable while unavailable. The location must be one the type is offered in.
func (s *Sim) SetAvailability(serverType, location string, available bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	stl, err := s.st.cat.serverTypeLocation(serverType, location)
	if err != nil {
		return err
	}
	stl.Available = available
	return nil
}

// DeprecateServerType announces the deprecation of a server type, in one location or ("" location) as a
// whole. From unavailableAfter on, creating servers of it (there) answers 412 resource_unavailable.
func (s *Sim) DeprecateServerType(serverType, location string, announced, unavailableAfter time.Time) error {
	if unavailableAfter.Before(announced) {
		return fmt.Errorf("hcloudsim: unavailable_after %s is before announced %s", unavailableAfter, announced)
	}
	info := &schema.DeprecationInfo{Announced: announced.UTC(), UnavailableAfter: unavailableAfter.UTC()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if location != "" {
		stl, err := s.st.cat.serverTypeLocation(serverType, location)
		if err != nil {
			return err
		}
		stl.Deprecation = info
		return nil
	}
	for i := range s.st.cat.serverTypes {
		st := &s.st.cat.serverTypes[i]
		if st.Name == serverType {
			st.Deprecated = true
			st.Deprecation = info
			return nil
		}
	}
	return fmt.Errorf("hcloudsim: unknown server type %q", serverType)
}

// serverTypeLocation finds the mutable per-location entry of a server type; the caller holds s.mu.
func (c *catalog) serverTypeLocation(serverType, location string) (*schema.ServerTypeLocation, error) {
	for i := range c.serverTypes {
		st := &c.serverTypes[i]
		if st.Name != serverType {
			continue
		}
		for j := range st.Locations {
			if st.Locations[j].Name == location {
				return &st.Locations[j], nil
			}
		}
		return nil, fmt.Errorf("hcloudsim: server type %q is not offered in location %q", serverType, location)
	}
	return nil, fmt.Errorf("hcloudsim: unknown server type %q", serverType)
}

// soldOut makes the server type of the server a create answer holds (out["server"]) unavailable in the
// server's location; any other answer changes nothing. The caller holds s.mu.
func (st *state) soldOut(out any) {
	m, ok := out.(map[string]any)
	if !ok {
		return
	}
	sv, ok := m["server"].(serverJSON)
	if !ok {
		return
	}
	if stl, err := st.cat.serverTypeLocation(sv.ServerType.Name, sv.Location.Name); err == nil {
		stl.Available = false
	}
}
