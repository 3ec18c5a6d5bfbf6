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

func (s *Sim) serverByPath(c *call) (*server, *apiError) {
	id, err := c.pathID("id")
	if err != nil {
		return nil, err
	}
	sv, ok := s.st.servers[id]
	if !ok {
		return nil, notFound("server", id)
	}
	return sv, nil
}

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

func createServer(s *Sim, c *call) (int, any, *apiError) {
	var req serverCreateRequest
	if err := c.decode(&req); err != nil {
		return 0, nil, err
	}
	st := s.st
	if err := validHostname("name", req.Name); err != nil {
		return 0, nil, err
	}
	if req.ServerType.ID == 0 && req.ServerType.Name == "" {
		return 0, nil, invalidField("server_type", "is required")
	}
	stype, ok := st.cat.serverType(req.ServerType)
	if !ok {
		return 0, nil, invalidField("server_type", "server type not found")
	}
	if req.Image.ID == 0 && req.Image.Name == "" {
		return 0, nil, invalidField("image", "is required")
	}
	img, ok := st.cat.image(req.Image, stype.Architecture)
	if !ok {
		return 0, nil, invalidField("image", "image not found")
	}
	if img.Architecture != stype.Architecture {
		return 0, nil, invalidField("image", "image architecture does not match the server type")
	}
	var loc schema.Location
	switch {
	case req.Location != nil && req.Datacenter != nil:
		return 0, nil, invalidField("location", "location and datacenter are mutually exclusive")
	case req.Datacenter != nil:
		dc, ok := st.cat.datacenter(idOrNameString(req.Datacenter))
		if !ok {
			return 0, nil, invalidField("datacenter", "datacenter not found")
		}
		loc = dc.Location
	case req.Location != nil:
		l, ok := st.cat.location(idOrNameString(req.Location))
		if !ok {
			return 0, nil, invalidField("location", "location not found")
		}
		loc = l
	default:
		// The API picks a location where the type is available.
		for _, stl := range stype.Locations {
			if stl.Available {
				loc, _ = st.cat.location(stl.Name)
				break
			}
		}
		if loc.Name == "" {
			return 0, nil, newError("resource_unavailable", "server type %s is not available", stype.Name)
		}
	}
	if !serverTypeAvailable(stype, loc.Name, c.now) {
		return 0, nil, newError("resource_unavailable", "server type %s is not available in location %s", stype.Name, loc.Name)
	}
	if len(req.UserData) > maxUserData {
		return 0, nil, invalidField("user_data", "is too long (maximum is 32 KiB)")
	}
	labels, err := validLabels(req.Labels)
	if err != nil {
		return 0, nil, err
	}
	for _, sv := range st.servers {
		if sv.s.Name == req.Name {
			return 0, nil, notUnique("name", "server name is already used")
		}
	}
	if s.opts.MaxServers > 0 && len(st.servers) >= s.opts.MaxServers {
		e := newError("resource_limit_exceeded", "server limit of %d reached for this project", s.opts.MaxServers)
		e.Details = map[string]any{"limits": []map[string]any{{"name": "server_limit"}}}
		return 0, nil, e
	}
	var keys []int64
	for _, k := range req.SSHKeys {
		found := false
		for _, sk := range st.sshKeys {
			if (k.ID != 0 && sk.ID == k.ID) || (k.ID == 0 && sk.Name == k.Name) {
				keys, found = append(keys, sk.ID), true
				break
			}
		}
		if !found {
			return 0, nil, invalidField("ssh_keys", "SSH key not found: "+idOrNameString(&k))
		}
	}
	var nets []*schema.Network
	for _, id := range req.Networks {
		n, ok := st.networks[id]
		if !ok {
			return 0, nil, invalidField("networks", "network not found: "+strconv.FormatInt(id, 10))
		}
		if subnetFor(n, loc.NetworkZone) == nil {
			return 0, nil, newError("no_subnet_available", "network %d has no subnet in network zone %s", id, loc.NetworkZone)
		}
		if st.nextFreeIP(n, loc.NetworkZone) == "" {
			return 0, nil, newError("no_subnet_available", "no free IP in network %d", id)
		}
		if slices.Contains(nets, n) {
			return 0, nil, invalidField("networks", "network given twice")
		}
		nets = append(nets, n)
	}
	var fws []*schema.Firewall
	for _, f := range req.Firewalls {
		fw, ok := st.firewalls[f.Firewall]
		if !ok {
			return 0, nil, invalidField("firewalls", "firewall not found: "+strconv.FormatInt(f.Firewall, 10))
		}
		fws = append(fws, fw)
	}
	var pg *schema.PlacementGroup
	if req.PlacementGroup != 0 {
		p, ok := st.placementGroups[req.PlacementGroup]
		if !ok {
			return 0, nil, invalidField("placement_group", "placement group not found")
		}
		if len(p.Servers) >= maxSpreadServers {
			return 0, nil, newError("placement_error", "placement group %d already holds %d servers", p.ID, maxSpreadServers)
		}
		pg = p
	}
	if len(req.Volumes) > 0 {
		return 0, nil, invalidField("volumes", "volumes are not simulated")
	}
	pub := schema.ServerCreatePublicNet{EnableIPv4: true, EnableIPv6: true}
	if req.PublicNet != nil {
		pub = *req.PublicNet
		if pub.IPv4ID != 0 || pub.IPv6ID != 0 {
			return 0, nil, invalidField("public_net", "primary IPs are not simulated")
		}
	}
	if !pub.EnableIPv4 && !pub.EnableIPv6 && len(nets) == 0 {
		return 0, nil, invalidField("public_net", "a server without public IPs must be attached to a network")
	}
	if !pub.EnableIPv4 && !pub.EnableIPv6 && len(fws) > 0 {
		return 0, nil, newError("private_net_only_server", "firewalls cannot be applied to a server without public interface")
	}

	// Valid: create it.
	now := c.now
	id := st.newID()
	imgCopy := img
	sv := &server{s: schema.Server{
		ID: id, Name: req.Name, Status: "initializing", Created: now.UTC().Truncate(time.Second),
		PrivateNet: []schema.ServerPrivateNet{}, ServerType: stype, IncludedTraffic: uint64(includedTraffic(stype, loc.Name)),
		OutgoingTraffic: ptr(uint64(0)), IngoingTraffic: ptr(uint64(0)), Location: loc, Image: &imgCopy,
		Labels: labels, Volumes: []int64{}, PrimaryDiskSize: stype.Disk, LoadBalancers: []int64{},
	}}
	ip4, ip6 := st.allocIPv4()
	if pub.EnableIPv4 {
		sv.ipv4 = &schema.ServerPublicNetIPv4{ID: st.newID(), IP: ip4, DNSPtr: "static." + ip4 + ".clients.your-server.de"}
	}
	if pub.EnableIPv6 {
		sv.ipv6 = &schema.ServerPublicNetIPv6{ID: st.newID(), IP: ip6, DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}}
	}
	d := s.opts.Delays
	start := req.StartAfterCreate == nil || *req.StartAfterCreate
	createAction := st.newAction(now, "create_server", d.Initializing, serverRef(id))
	sv.timeline = []transition{{now, "initializing"}}
	var next []schema.Action
	if start {
		sv.timeline = append(sv.timeline, transition{now.Add(d.Initializing), "starting"}, transition{now.Add(d.Initializing + d.Starting), "running"})
		startAction := st.newAction(now, "start_server", d.Initializing+d.Starting, serverRef(id))
		next = append(next, startAction.runningView())
	} else {
		sv.timeline = append(sv.timeline, transition{now.Add(d.Initializing), "off"})
	}
	st.servers[id] = sv
	for _, n := range nets {
		st.attachNetwork(sv, n, loc.NetworkZone, "")
		ac := st.newAction(now, "attach_to_network", d.Initializing, serverRef(id), schema.ActionResourceReference{ID: n.ID, Type: "network"})
		next = append(next, ac.runningView())
	}
	for _, fw := range fws {
		applyFirewall(sv, fw)
		ac := st.newAction(now, "apply_firewall", d.Initializing, schema.ActionResourceReference{ID: fw.ID, Type: "firewall"}, serverRef(id))
		next = append(next, ac.runningView())
	}
	if pg != nil {
		addToPlacementGroup(sv, pg)
	}
	s.record("server", id, req.Name, now)

	view := st.serverView(sv, now)
	view.Status = "initializing"
	view.Locked = true
	var rootPassword *string
	if len(keys) == 0 {
		rootPassword = ptr("simulated-" + strconv.FormatInt(id, 36))
	}
	if next == nil {
		next = []schema.Action{}
	}
	return http.StatusCreated, map[string]any{
		"server": view, "action": createAction.runningView(), "next_actions": next, "root_password": rootPassword,
	}, nil
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
	if req.Name != "" {
		if err := validHostname("name", req.Name); err != nil {
			return 0, nil, err
		}
		for _, o := range s.st.servers {
			if o.s.ID != sv.s.ID && o.s.Name == req.Name {
				return 0, nil, notUnique("name", "server name is already used")
			}
		}
	}
	var labels map[string]string
	if req.Labels != nil {
		if labels, err = validLabels(req.Labels); err != nil {
			return 0, nil, err
		}
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
	delete(st.servers, id)
	ac := st.newAction(c.now, "delete_server", s.opts.Delays.Action, serverRef(id))
	delete(st.busyUntil, id)
	return http.StatusOK, map[string]any{"action": ac.runningView()}, nil
}
