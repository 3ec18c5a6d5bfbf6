package hcloudsim

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// serverStatuses are the statuses the API documents for servers.
var serverStatuses = []string{"running", "initializing", "starting", "stopping", "off", "deleting", "migrating", "rebuilding", "unknown"}

// maxSpreadServers is how many servers a spread placement group holds at most.
const maxSpreadServers = 10

// maxUserData is the API's limit on user_data.
const maxUserData = 32 * 1024

// serverCreateRequest is schema.ServerCreateRequest widened to what the API accepts: the OpenAPI document
// types ssh_keys, location and datacenter as "ID or name" strings, hcloud-go sends integers and names.
type serverCreateRequest struct {
	Name             string                         `json:"name"`
	ServerType       schema.IDOrName                `json:"server_type"`
	Image            schema.IDOrName                `json:"image"`
	SSHKeys          []schema.IDOrName              `json:"ssh_keys"`
	Location         *schema.IDOrName               `json:"location"`
	Datacenter       *schema.IDOrName               `json:"datacenter"`
	UserData         string                         `json:"user_data"`
	StartAfterCreate *bool                          `json:"start_after_create"`
	Labels           *map[string]string             `json:"labels"`
	Automount        *bool                          `json:"automount"`
	Volumes          []int64                        `json:"volumes"`
	Networks         []int64                        `json:"networks"`
	Firewalls        []schema.ServerCreateFirewalls `json:"firewalls"`
	PlacementGroup   int64                          `json:"placement_group"`
	PublicNet        *schema.ServerCreatePublicNet  `json:"public_net"`
}

func (st *state) serverList(now time.Time) []serverJSON {
	out := make([]serverJSON, 0, len(st.servers))
	for _, id := range sortedKeys(st.servers) {
		out = append(out, st.serverView(st.servers[id], now))
	}
	return out
}

func getServers(s *Sim, c *call) (int, any, *apiError) {
	q := c.query()
	sel, err := selectorFromQuery(q)
	if err != nil {
		return 0, nil, err
	}
	if err := checkEnum(q, "status", serverStatuses...); err != nil {
		return 0, nil, err
	}
	// Filter and sort the stored servers, then render only the requested page.
	var hits []*server
	for _, id := range sortedKeys(s.st.servers) {
		sv := s.st.servers[id]
		if !matchName(q, sv.s.Name) || !sel.matches(sv.s.Labels) {
			continue
		}
		if st := q["status"]; len(st) > 0 && !slices.Contains(st, sv.statusAt(c.now)) {
			continue
		}
		hits = append(hits, sv)
	}
	if err := sortItems(hits, q, func(sv *server) sortKey {
		return sortKey{id: sv.s.ID, name: sv.s.Name, created: sv.s.Created}
	}, "id", "name", "created"); err != nil {
		return 0, nil, err
	}
	page, meta, err := paginate(hits, q)
	if err != nil {
		return 0, nil, err
	}
	views := make([]serverJSON, 0, len(page))
	for _, sv := range page {
		views = append(views, s.st.serverView(sv, c.now))
	}
	return http.StatusOK, map[string]any{"servers": views, "meta": meta}, nil
}

func (s *Sim) serverByPath(c *call) (*server, *apiError) { return byPath(c, s.st.servers, "server") }

func getServer(s *Sim, c *call) (int, any, *apiError) {
	sv, err := s.serverByPath(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"server": s.st.serverView(sv, c.now)}, nil
}

// idOrNameString turns an IDOrName into the string form the catalog lookups take.
func idOrNameString(v *schema.IDOrName) string {
	if v == nil {
		return ""
	}
	if v.ID != 0 {
		return strconv.FormatInt(v.ID, 10)
	}
	return v.Name
}

// serverTypeAvailable reports whether stype may be ordered in location at now.
func serverTypeAvailable(stype schema.ServerType, location string, now time.Time) bool {
	if stype.Deprecation != nil && !now.Before(stype.Deprecation.UnavailableAfter) {
		return false
	}
	for _, l := range stype.Locations {
		if l.Name != location {
			continue
		}
		if l.Deprecation != nil && !now.Before(l.Deprecation.UnavailableAfter) {
			return false
		}
		return l.Available
	}
	return false
}

func includedTraffic(stype schema.ServerType, location string) uint64 {
	for _, p := range stype.Prices {
		if p.Location == location {
			return p.IncludedTraffic
		}
	}
	return 0
}

func updateServer(s *Sim, c *call) (int, any, *apiError) {
	sv, err := s.serverByPath(c)
	if err != nil {
		return 0, nil, err
	}
	var req schema.ServerUpdateRequest
	if err := c.decode(&req); err != nil {
		return 0, nil, err
	}
	taken := takenBy(s.st.servers, sv.s.ID, func(o *server) string { return o.s.Name })
	labels, err := nameUpdate{validHostname, taken, "server name is already used"}.checkUpdate(optionalName(req.Name), req.Labels)
	if err != nil {
		return 0, nil, err
	}
	if req.Name != "" {
		sv.s.Name = req.Name
	}
	if req.Labels != nil {
		sv.s.Labels = labels
	}
	return http.StatusOK, map[string]any{"server": s.st.serverView(sv, c.now)}, nil
}

func deleteServer(s *Sim, c *call) (int, any, *apiError) {
	sv, err := s.serverByPath(c)
	if err != nil {
		return 0, nil, err
	}
	if sv.s.Protection.Delete {
		return 0, nil, newError("protected", "server %d is protected against deletion", sv.s.ID)
	}
	st := s.st
	id := sv.s.ID
	for _, n := range st.networks {
		n.Servers = slices.DeleteFunc(n.Servers, func(x int64) bool { return x == id })
	}
	for _, fw := range st.firewalls {
		fw.AppliedTo = slices.DeleteFunc(fw.AppliedTo, func(r schema.FirewallResource) bool {
			return r.Type == "server" && r.Server != nil && r.Server.ID == id
		})
	}
	for _, pg := range st.placementGroups {
		pg.Servers = slices.DeleteFunc(pg.Servers, func(x int64) bool { return x == id })
	}
	st.releaseServerStorage(id)
	delete(st.servers, id)
	ac := st.newAction(c.now, "delete_server", s.opts.Delays.Action, serverRef(id))
	delete(st.busyUntil, id)
	return http.StatusOK, map[string]any{"action": ac.runningView()}, nil
}

// releaseServerStorage detaches the volumes of a deleted server and deletes the backup images bound to it.
func (st *state) releaseServerStorage(id int64) {
	for _, vol := range st.volumes {
		if vol.v.Server != nil && *vol.v.Server == id {
			vol.v.Server = nil
		}
	}
	for imgID, img := range st.images {
		if img.im.BoundTo != nil && *img.im.BoundTo == id {
			delete(st.images, imgID)
		}
	}
}
