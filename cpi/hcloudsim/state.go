package hcloudsim

import (
	"fmt"
	"maps"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// state is everything the simulated project holds. All access happens under Sim.mu.
type state struct {
	cat             *catalog
	nextID          int64
	servers         map[int64]*server
	sshKeys         map[int64]*schema.SSHKey
	networks        map[int64]*schema.Network
	firewalls       map[int64]*schema.Firewall
	placementGroups map[int64]*schema.PlacementGroup
	volumes         map[int64]*volume
	images          map[int64]*image // snapshots and backups; system images are in cat
	actions         map[int64]*action
	busyUntil       map[int64]time.Time // per server, network, volume and image: when its last running action ends
	ipv4Seq         int
}

func newState() *state {
	cat, err := loadCatalog()
	if err != nil {
		// The catalog is embedded and checked by tests; a broken build is the only way here.
		cat = &catalog{currency: "EUR", vatRate: "0.000000"}
	}
	return &state{
		cat:             cat,
		nextID:          1000,
		servers:         map[int64]*server{},
		sshKeys:         map[int64]*schema.SSHKey{},
		networks:        map[int64]*schema.Network{},
		firewalls:       map[int64]*schema.Firewall{},
		placementGroups: map[int64]*schema.PlacementGroup{},
		volumes:         map[int64]*volume{},
		images:          map[int64]*image{},
		actions:         map[int64]*action{},
		busyUntil:       map[int64]time.Time{},
	}
}

func (st *state) newID() int64 {
	st.nextID++
	return st.nextID
}

// server is a simulated server: its stored fields plus a timeline of statuses.
type server struct {
	s        schema.Server
	ipv4     *schema.ServerPublicNetIPv4
	ipv6     *schema.ServerPublicNetIPv6
	timeline []transition // ascending; the status at t is the last entry with at <= t
	deaf     bool         // its guest ignores the ACPI shutdown (see Sim.IgnoreShutdown)
	userData string       // as created (see Sim.UserData)
}

type transition struct {
	at     time.Time
	status string
}

// statusAt computes the server's status at now from its timeline.
func (sv *server) statusAt(now time.Time) string {
	status := "initializing"
	for _, t := range sv.timeline {
		if t.at.After(now) {
			break
		}
		status = t.status
	}
	return status
}

// schedule replaces the future of the timeline with the given transitions.
func (sv *server) schedule(now time.Time, ts ...transition) {
	kept := sv.timeline[:0]
	for _, t := range sv.timeline {
		if !t.at.After(now) {
			kept = append(kept, t)
		}
	}
	sv.timeline = append(kept, ts...)
}

// action is a simulated action: running until doneAt, then success.
type action struct {
	a      schema.Action
	doneAt time.Time
	fails  bool // ends in status "error" (fault action_error)
}

// failActionsFrom makes every action with an ID >= first end in error.
func (st *state) failActionsFrom(first int64) {
	for id, ac := range st.actions {
		if id >= first {
			ac.fails = true
		}
	}
}

// view renders the action as of now.
func (ac *action) view(now time.Time) schema.Action {
	out := ac.a
	out.Resources = append([]schema.ActionResourceReference(nil), ac.a.Resources...)
	if !now.Before(ac.doneAt) {
		out.Status = "success"
		out.Progress = 100
		done := ac.doneAt
		out.Finished = &done
		if ac.fails {
			out.Status = "error"
			out.Error = &schema.ActionError{Code: "action_failed", Message: "action failed (injected)"}
		}
	} else {
		out.Status = "running"
		out.Progress = 0
		out.Finished = nil
	}
	return out
}

// newAction records an action on the given resources that finishes after d.
func (st *state) newAction(now time.Time, command string, d time.Duration, resources ...schema.ActionResourceReference) *action {
	ac := &action{
		a: schema.Action{
			ID: st.newID(), Status: "running", Command: command, Started: now,
			Resources: resources,
		},
		doneAt: now.Add(d),
	}
	if ac.a.Resources == nil {
		ac.a.Resources = []schema.ActionResourceReference{}
	}
	st.actions[ac.a.ID] = ac
	for _, r := range ac.a.Resources {
		if (r.Type == "server" || r.Type == "volume") && ac.doneAt.After(st.busyUntil[r.ID]) {
			st.busyUntil[r.ID] = ac.doneAt
		}
	}
	return ac
}

// runningView renders a just-created action: always "running", as the API answers the request that
// started it, even when it finishes at once.
func (ac *action) runningView() schema.Action {
	out := ac.a
	out.Status = "running"
	out.Progress = 0
	out.Finished = nil
	return out
}

// serverLocked reports whether an action is running on server (or volume) id at now.
func (st *state) serverLocked(id int64, now time.Time) bool {
	return now.Before(st.busyUntil[id])
}

func serverRef(id int64) schema.ActionResourceReference {
	return schema.ActionResourceReference{ID: id, Type: "server"}
}

// serverJSON is schema.Server with a nullable public IPv4/IPv6, as the API documents (a server created
// without a public IPv4 has "ipv4": null; hcloud-go's schema struct cannot express that).
type serverJSON struct {
	schema.Server
	PublicNet publicNetJSON `json:"public_net"`
}

type publicNetJSON struct {
	IPv4        *schema.ServerPublicNetIPv4 `json:"ipv4"`
	IPv6        *schema.ServerPublicNetIPv6 `json:"ipv6"`
	FloatingIPs []int64                     `json:"floating_ips"`
	Firewalls   []schema.ServerFirewall     `json:"firewalls"`
}

// view renders the server as of now.
func (st *state) serverView(sv *server, now time.Time) serverJSON {
	s := sv.s
	s.Status = sv.statusAt(now)
	s.Locked = st.serverLocked(s.ID, now)
	s.Labels = copyLabels(s.Labels)
	s.PrivateNet = append([]schema.ServerPrivateNet{}, s.PrivateNet...)
	s.Volumes = st.serverVolumes(s.ID)
	fws := append(append([]schema.ServerFirewall{}, s.PublicNet.Firewalls...), st.selectorFirewalls(sv)...)
	if s.PlacementGroup != nil {
		if pg, ok := st.placementGroups[s.PlacementGroup.ID]; ok {
			v := placementGroupView(pg)
			s.PlacementGroup = &v
		} else {
			s.PlacementGroup = nil
		}
	}
	return serverJSON{
		Server: s,
		PublicNet: publicNetJSON{
			IPv4: sv.ipv4, IPv6: sv.ipv6, FloatingIPs: []int64{}, Firewalls: fws,
		},
	}
}

// copyLabels copies m; nil becomes an empty map, since the API answers "labels": {}.
func copyLabels(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

// allocIPv4 hands out addresses from 198.18.0.0/15 (reserved for benchmarks, never routed).
func (st *state) allocIPv4() (string, string) {
	st.ipv4Seq++
	n := st.ipv4Seq
	ip := fmt.Sprintf("198.%d.%d.%d", 18+(n>>16)&1, (n>>8)&0xff, n&0xff)
	ipv6 := fmt.Sprintf("2001:db8:%x::/64", n&0xffff)
	return ip, ipv6
}

// image finds an image by ID (a system image or a snapshot or backup of this project), or a system image by
// name for the architecture arch ("" = x86), as it is at now.
func (st *state) image(v schema.IDOrName, arch string) (schema.Image, bool) {
	if im, ok := st.cat.image(v, arch); ok {
		return im, true
	}
	if im, ok := st.images[v.ID]; ok && v.ID != 0 {
		return im.view(time.Now()), true
	}
	return schema.Image{}, false
}
