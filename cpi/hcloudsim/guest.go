package hcloudsim

import (
	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// shutdownAction is POST /servers/{id}/actions/shutdown: Hetzner sends the
// guest an ACPI shutdown and the action succeeds at once, whether the guest
// obeys or not. An obeying guest goes through stopping to off; a deaf one
// (IgnoreShutdown) keeps running.
func shutdownAction(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	if sv.deaf {
		var body struct{}
		if err := c.decodeOptional(&body); err != nil {
			return "", nil, nil, err
		}
		return "shutdown_server", nil, nil, nil
	}
	return powerAction("shutdown_server", "stopping", "off")(s, c, sv)
}

// IgnoreShutdown makes the guest of server id ignore (ignore true) or obey
// the ACPI shutdown, as a hung or ACPI-less guest does: the shutdown action
// still succeeds, only a power-off stops it. It bypasses the API. The
// error is 404 not_found for an unknown server.
func (s *Sim) IgnoreShutdown(id int64, ignore bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv, ok := s.st.servers[id]
	if !ok {
		return notFound("server", id)
	}
	sv.deaf = ignore
	return nil
}

// UserData returns the user_data server id was created with (the API
// never shows it); ok is false for an unknown server.
func (s *Sim) UserData(id int64) (userData string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv, ok := s.st.servers[id]
	if !ok {
		return "", false
	}
	return sv.userData, true
}
