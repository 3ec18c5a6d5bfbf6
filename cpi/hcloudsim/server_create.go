package hcloudsim

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// serverPlan is a validated POST /servers: the request and every object it resolved to.
type serverPlan struct {
	req    serverCreateRequest
	stype  schema.ServerType
	img    schema.Image
	loc    schema.Location
	labels map[string]string
	keys   []int64
	nets   []*schema.Network
	fws    []*schema.Firewall
	pg     *schema.PlacementGroup
	vols   []*volume
	pub    schema.ServerCreatePublicNet
}

// serverCreateStep checks one part of a create request and fills in the plan; the steps run in order and
// the first error answers the request, so the API's precedence of errors is the order of the list.
type serverCreateStep func(s *Sim, p *serverPlan, now time.Time) *apiError

var serverCreateSteps = []serverCreateStep{
	validateServerName,
	resolveServerType,
	resolveServerImage,
	resolveServerLocation,
	checkServerAvailability,
	validateServerFields,
	checkServerQuota,
	resolveServerSSHKeys,
	resolveServerNetworks,
	resolveServerFirewalls,
	resolveServerPlacementGroup,
	resolveServerVolumes,
	resolveServerPublicNet,
}

// createServer serves POST /servers in three steps: validate and resolve the request into a plan (changing
// nothing), then commit it.
func createServer(s *Sim, c *call) (int, any, *apiError) {
	p := &serverPlan{}
	if err := c.decode(&p.req); err != nil {
		return 0, nil, err
	}
	for _, step := range serverCreateSteps {
		if err := step(s, p, c.now); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusCreated, s.commitServer(p, c.now), nil
}

func validateServerName(_ *Sim, p *serverPlan, _ time.Time) *apiError {
	return validHostname("name", p.req.Name)
}

func resolveServerType(s *Sim, p *serverPlan, _ time.Time) *apiError {
	if p.req.ServerType.ID == 0 && p.req.ServerType.Name == "" {
		return invalidField("server_type", "is required")
	}
	stype, ok := s.st.cat.serverType(p.req.ServerType)
	if !ok {
		return invalidField("server_type", "server type not found")
	}
	p.stype = stype
	return nil
}

func resolveServerImage(s *Sim, p *serverPlan, _ time.Time) *apiError {
	if p.req.Image.ID == 0 && p.req.Image.Name == "" {
		return invalidField("image", "is required")
	}
	img, ok := s.st.image(p.req.Image, p.stype.Architecture)
	if !ok {
		return invalidField("image", "image not found")
	}
	if img.Architecture != p.stype.Architecture {
		return invalidField("image", "image architecture does not match the server type")
	}
	p.img = img
	return nil
}

// resolveServerLocation takes the location or the datacenter's location; with neither, the API picks a
// location where the type is available.
func resolveServerLocation(s *Sim, p *serverPlan, _ time.Time) *apiError {
	cat := s.st.cat
	switch req := p.req; {
	case req.Location != nil && req.Datacenter != nil:
		return invalidField("location", "location and datacenter are mutually exclusive")
	case req.Datacenter != nil:
		dc, ok := cat.datacenter(idOrNameString(req.Datacenter))
		if !ok {
			return invalidField("datacenter", "datacenter not found")
		}
		p.loc = dc.Location
	case req.Location != nil:
		l, ok := cat.location(idOrNameString(req.Location))
		if !ok {
			return invalidField("location", "location not found")
		}
		p.loc = l
	default:
		for _, stl := range p.stype.Locations {
			if stl.Available {
				p.loc, _ = cat.location(stl.Name)
				break
			}
		}
		if p.loc.Name == "" {
			return newError("resource_unavailable", "server type %s is not available", p.stype.Name)
		}
	}
	return nil
}

func checkServerAvailability(_ *Sim, p *serverPlan, now time.Time) *apiError {
	if !serverTypeAvailable(p.stype, p.loc.Name, now) {
		return newError("resource_unavailable", "server type %s is not available in location %s", p.stype.Name, p.loc.Name)
	}
	return nil
}

func validateServerFields(_ *Sim, p *serverPlan, _ time.Time) *apiError {
	if len(p.req.UserData) > maxUserData {
		return invalidField("user_data", "is too long (maximum is 32 KiB)")
	}
	labels, err := validLabels(p.req.Labels)
	p.labels = labels
	return err
}

// checkServerQuota refuses a name already in use and a server beyond the project's limit.
func checkServerQuota(s *Sim, p *serverPlan, _ time.Time) *apiError {
	for _, sv := range s.st.servers {
		if sv.s.Name == p.req.Name {
			return notUnique("name", "server name is already used")
		}
	}
	if s.opts.MaxServers > 0 && len(s.st.servers) >= s.opts.MaxServers {
		e := newError("resource_limit_exceeded", "server limit of %d reached for this project", s.opts.MaxServers)
		e.Details = map[string]any{"limits": []map[string]any{{"name": "server_limit"}}}
		return e
	}
	return nil
}

func resolveServerSSHKeys(s *Sim, p *serverPlan, _ time.Time) *apiError {
	for _, k := range p.req.SSHKeys {
		id, ok := s.st.sshKeyID(k)
		if !ok {
			return invalidField("ssh_keys", "SSH key not found: "+idOrNameString(&k))
		}
		p.keys = append(p.keys, id)
	}
	return nil
}

// sshKeyID finds an SSH key by ID or name.
func (st *state) sshKeyID(k schema.IDOrName) (int64, bool) {
	for _, sk := range st.sshKeys {
		if (k.ID != 0 && sk.ID == k.ID) || (k.ID == 0 && sk.Name == k.Name) {
			return sk.ID, true
		}
	}
	return 0, false
}

// resolveServerNetworks needs each network to have a subnet and a free IP in the location's zone.
func resolveServerNetworks(s *Sim, p *serverPlan, _ time.Time) *apiError {
	zone := p.loc.NetworkZone
	for _, id := range p.req.Networks {
		n, ok := s.st.networks[id]
		if !ok {
			return invalidField("networks", "network not found: "+strconv.FormatInt(id, 10))
		}
		sub := subnetFor(n, zone)
		if sub == nil {
			return newError("no_subnet_available", "network %d has no subnet in network zone %s", id, zone)
		}
		if s.st.nextFreeIP(n.ID, sub, nil) == "" {
			return newError("no_subnet_available", "no free IP in network %d", id)
		}
		if slices.Contains(p.nets, n) {
			return invalidField("networks", "network given twice")
		}
		p.nets = append(p.nets, n)
	}
	return nil
}

func resolveServerFirewalls(s *Sim, p *serverPlan, _ time.Time) *apiError {
	for _, f := range p.req.Firewalls {
		fw, ok := s.st.firewalls[f.Firewall]
		if !ok {
			return invalidField("firewalls", "firewall not found: "+strconv.FormatInt(f.Firewall, 10))
		}
		p.fws = append(p.fws, fw)
	}
	return nil
}

func resolveServerPlacementGroup(s *Sim, p *serverPlan, _ time.Time) *apiError {
	if p.req.PlacementGroup == 0 {
		return nil
	}
	pg, ok := s.st.placementGroups[p.req.PlacementGroup]
	if !ok {
		return invalidField("placement_group", "placement group not found")
	}
	if len(pg.Servers) >= maxSpreadServers {
		return newError("placement_error", "placement group %d already holds %d servers", pg.ID, maxSpreadServers)
	}
	p.pg = pg
	return nil
}

// resolveServerVolumes needs each volume to be detached and in the server's location.
func resolveServerVolumes(s *Sim, p *serverPlan, _ time.Time) *apiError {
	if len(p.req.Volumes) > maxVolumesPerServer {
		return invalidField("volumes", "at most 16 volumes can be attached to a server")
	}
	for _, id := range p.req.Volumes {
		vol, ok := s.st.volumes[id]
		switch {
		case !ok:
			return invalidField("volumes", "volume not found: "+strconv.FormatInt(id, 10))
		case vol.v.Server != nil:
			return newError("volume_already_attached", "volume %d is already attached to server %d", id, *vol.v.Server)
		case vol.v.Location.Name != p.loc.Name:
			return invalidField("volumes", "volume "+strconv.FormatInt(id, 10)+" is in location "+vol.v.Location.Name)
		case slices.Contains(p.vols, vol):
			return invalidField("volumes", "volume given twice")
		}
		p.vols = append(p.vols, vol)
	}
	return nil
}

// resolveServerPublicNet defaults to IPv4 and IPv6; a server without either needs a network and cannot
// have firewalls.
func resolveServerPublicNet(_ *Sim, p *serverPlan, _ time.Time) *apiError {
	p.pub = schema.ServerCreatePublicNet{EnableIPv4: true, EnableIPv6: true}
	if p.req.PublicNet != nil {
		p.pub = *p.req.PublicNet
		if p.pub.IPv4ID != 0 || p.pub.IPv6ID != 0 {
			return invalidField("public_net", "primary IPs are not simulated")
		}
	}
	private := !p.pub.EnableIPv4 && !p.pub.EnableIPv6
	if private && len(p.nets) == 0 {
		return invalidField("public_net", "a server without public IPs must be attached to a network")
	}
	if private && len(p.fws) > 0 {
		return newError("private_net_only_server", "firewalls cannot be applied to a server without public interface")
	}
	return nil
}

// commitServer creates the planned server with its boot timeline, attachments and actions, and returns the
// API's answer: the server as just created (initializing, locked), the create action and the next ones.
func (s *Sim) commitServer(p *serverPlan, now time.Time) map[string]any {
	st := s.st
	sv := st.newServer(p, now)
	id := sv.s.ID
	d := s.opts.Delays
	createAction := st.newAction(now, "create_server", d.Initializing, serverRef(id))
	sv.timeline = []transition{{now, "initializing"}}
	next := []schema.Action{}
	if p.req.StartAfterCreate == nil || *p.req.StartAfterCreate {
		sv.timeline = append(sv.timeline, transition{now.Add(d.Initializing), "starting"}, transition{now.Add(d.Initializing + d.Starting), "running"})
		next = append(next, st.newAction(now, "start_server", d.Initializing+d.Starting, serverRef(id)).runningView())
	} else {
		sv.timeline = append(sv.timeline, transition{now.Add(d.Initializing), "off"})
	}
	st.servers[id] = sv
	next = append(next, st.attachPlanned(sv, p, now, d.Initializing)...)
	s.record("server", id, p.req.Name, now)

	view := st.serverView(sv, now)
	view.Status = "initializing"
	view.Locked = true
	var rootPassword *string
	if len(p.keys) == 0 {
		rootPassword = ptr("simulated-" + strconv.FormatInt(id, 36))
	}
	return map[string]any{
		"server": view, "action": createAction.runningView(), "next_actions": next, "root_password": rootPassword,
	}
}

// newServer builds the planned server's record, with its public addresses.
func (st *state) newServer(p *serverPlan, now time.Time) *server {
	id := st.newID()
	img := p.img
	sv := &server{s: schema.Server{
		ID: id, Name: p.req.Name, Status: "initializing", Created: now.UTC().Truncate(time.Second),
		PrivateNet: []schema.ServerPrivateNet{}, ServerType: p.stype, IncludedTraffic: includedTraffic(p.stype, p.loc.Name),
		OutgoingTraffic: ptr(uint64(0)), IngoingTraffic: ptr(uint64(0)), Location: p.loc, Image: &img,
		Labels: p.labels, Volumes: []int64{}, PrimaryDiskSize: p.stype.Disk, LoadBalancers: []int64{},
	}, userData: p.req.UserData}
	ip4, ip6 := st.allocIPv4()
	if p.pub.EnableIPv4 {
		sv.ipv4 = &schema.ServerPublicNetIPv4{ID: st.newID(), IP: ip4, DNSPtr: "static." + ip4 + ".clients.your-server.de"}
	}
	if p.pub.EnableIPv6 {
		sv.ipv6 = &schema.ServerPublicNetIPv6{ID: st.newID(), IP: ip6, DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}}
	}
	return sv
}

// attachPlanned attaches the new server to its planned networks, firewalls and placement group, and
// returns the running actions that does (each lasting d).
func (st *state) attachPlanned(sv *server, p *serverPlan, now time.Time, d time.Duration) []schema.Action {
	id := sv.s.ID
	var next []schema.Action
	for _, n := range p.nets {
		st.attachNetwork(sv, n, st.nextFreeIP(n.ID, subnetFor(n, p.loc.NetworkZone), nil), nil)
		ac := st.newAction(now, "attach_to_network", d, serverRef(id), schema.ActionResourceReference{ID: n.ID, Type: "network"})
		next = append(next, ac.runningView())
	}
	for _, fw := range p.fws {
		applyFirewall(sv, fw)
		ac := st.newAction(now, "apply_firewall", d, schema.ActionResourceReference{ID: fw.ID, Type: "firewall"}, serverRef(id))
		next = append(next, ac.runningView())
	}
	for _, vol := range p.vols {
		vol.v.Server = ptr(id)
		ac := st.newAction(now, "attach_volume", d, volumeRef(vol.v.ID), serverRef(id))
		next = append(next, ac.runningView())
	}
	if p.pg != nil {
		addToPlacementGroup(sv, p.pg)
	}
	return next
}
