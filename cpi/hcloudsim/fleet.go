package hcloudsim

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// Fleet is a batch of servers SeedFleet adds already running, as a project's existing servers.
type Fleet struct {
	Count      int               `json:"count"`       // 1 to MaxFleet
	NamePrefix string            `json:"name_prefix"` // servers are named <prefix>-<n>, n from 1
	ServerType string            `json:"server_type"` // "" = cx23
	Location   string            `json:"location"`    // "" = nbg1
	Image      string            `json:"image"`       // "" = ubuntu-24.04
	Labels     map[string]string `json:"labels"`
}

// MaxFleet bounds one SeedFleet.
const MaxFleet = 10000

// SeedFleet adds f.Count running servers with public IPv4 and IPv6 and no attachments, validated as POST
// /servers validates each. Like SetLabels it bypasses the API: no request is counted or rate limited, no
// fault applies and no action is recorded. Either every server is added or none; the error is 422
// invalid_input (or the create's own error) naming the first server that could not be made. It returns the
// new servers' IDs in ascending order.
func (s *Sim) SeedFleet(f Fleet) ([]int64, error) {
	if f.Count < 1 || f.Count > MaxFleet {
		return nil, invalidField("count", fmt.Sprintf("must be between 1 and %d", MaxFleet))
	}
	req := serverCreateRequest{ServerType: schema.IDOrName{Name: orDefault(f.ServerType, "cx23")}, Image: schema.IDOrName{Name: orDefault(f.Image, "ubuntu-24.04")},
		Location: &schema.IDOrName{Name: orDefault(f.Location, "nbg1")}, Labels: &f.Labels}
	steps := []serverCreateStep{validateServerName, resolveServerType, resolveServerImage, resolveServerLocation, checkServerAvailability,
		validateServerFields, checkServerQuota, resolveServerPublicNet}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	plans := make([]*serverPlan, 0, f.Count)
	names := map[string]bool{}
	for i := 1; i <= f.Count; i++ {
		p := &serverPlan{req: req}
		p.req.Name = f.NamePrefix + "-" + strconv.Itoa(i)
		for _, step := range steps {
			if err := step(s, p, now); err != nil {
				return nil, fmt.Errorf("server %s: %w", p.req.Name, err)
			}
		}
		if s.opts.MaxServers > 0 && len(s.st.servers)+i > s.opts.MaxServers {
			return nil, newError("resource_limit_exceeded", "server limit of %d reached for this project", s.opts.MaxServers)
		}
		if names[p.req.Name] {
			return nil, notUnique("name", "server name is already used")
		}
		names[p.req.Name] = true
		plans = append(plans, p)
	}
	ids := make([]int64, 0, len(plans))
	for _, p := range plans {
		sv := s.st.newServer(p, now)
		sv.timeline = []transition{{now, "running"}}
		s.st.servers[sv.s.ID] = sv
		s.record("server", sv.s.ID, p.req.Name, now)
		ids = append(ids, sv.s.ID)
	}
	return ids, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// adminFleet registers POST /_sim/fleet.
func (s *Sim) adminFleet(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/fleet", func(w http.ResponseWriter, r *http.Request) {
		var f Fleet
		if err := decodeAdmin(r, &f); err != nil {
			writeError(w, err)
			return
		}
		ids, err := s.SeedFleet(f)
		var aerr *apiError
		switch {
		case errors.As(err, &aerr):
			writeError(w, aerr)
		case err != nil:
			writeError(w, newError("invalid_input", "%v", err))
		default:
			writeJSON(w, http.StatusCreated, map[string]any{"ids": ids})
		}
	})
}
