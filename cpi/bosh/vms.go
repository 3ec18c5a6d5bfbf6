package bosh

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// VMProperties are create_vm's cloud_properties (a vm_type's or resource
// pool's). Unknown keys are a CpiError, so a typo does not pass unseen.
type VMProperties struct {
	ServerType     string            `json:"server_type"`     // default: the config's defaults.size
	Location       string            `json:"location"`        // default: the disks' location, else defaults.region
	PlacementGroup string            `json:"placement_group"` // a spread group's name, created when missing
	Labels         map[string]string `json:"labels"`          // extra labels on the server
	Image          string            `json:"image"`           // an image id or name instead of the stemcell's
	SSHKeys        []string          `json:"ssh_keys"`        // names or ids of SSH keys for root
}

// Network is one entry of create_vm's networks, as the director or the CLI
// sends it. The whole object goes to the agent unchanged.
type Network struct {
	Type            string                 `json:"type"` // manual, dynamic or vip
	IP              string                 `json:"ip"`
	CloudProperties NetworkCloudProperties `json:"cloud_properties"`
}

// NetworkCloudProperties: a manual network names the Hetzner network (name
// or id) whose subnet holds its static IP.
type NetworkCloudProperties struct {
	Network json.RawMessage `json:"network"`
}

// CreatedVM is create_vm's answer: the server's id, and the networks it
// was given (a dynamic network's ip filled in with the public IPv4).
type CreatedVM struct {
	CID      string
	Networks map[string]json.RawMessage
}

// vmRequest is a checked create_vm request.
type vmRequest struct {
	agentID, name, location, serverType string
	image                               *hcloud.Image
	props                               VMProperties
	networks                            map[string]json.RawMessage
	manual                              []manualNetwork
	dynamic                             []string
	userData                            string
	sshKeys                             []*hcloud.SSHKey
}

// manualNetwork is a manual network: the Hetzner network and the static IP.
type manualNetwork struct {
	name      string
	networkID string // as given: a name or an id
	ip        string
	network   *hcloud.Network
}

var agentIDPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,56}[A-Za-z0-9])?$`)
})

// ServerName is the name of the server of an agent: "vm-<agent id>". The
// agent id is also the label bosh-agent-id, by which a create_vm retried
// after a lost answer finds the server it made.
func ServerName(agentID string) string { return "vm-" + agentID }

// CreateVM answers create_vm. It creates the server stopped when a manual
// network needs attaching (so the agent's first DHCP already sees the
// static IP), attaches it, and starts it. The server carries the creating
// mark (see LabelCreating) until it is finished. It never makes two servers
// for one agent id: the call holds the server's name (see hold) while it
// runs, and a create that Hetzner answers with uniqueness_error, or whose
// answer was lost, adopts the server of that agent and finishes it. When
// finishing fails, a server this call created is deleted again
// (VMCreationFailed, ok_to_retry when a retry can succeed); an adopted one
// is kept for the retry to finish.
func (c *CPI) CreateVM(ctx context.Context, agentID, stemcellCID string, props VMProperties,
	networks map[string]json.RawMessage, diskCIDs []string, env json.RawMessage) (CreatedVM, error) {
	const op = "create_vm"
	req, err := c.checkVM(ctx, op, agentID, stemcellCID, props, networks, diskCIDs, env)
	if err != nil {
		return CreatedVM{}, err
	}
	client, err := c.hcloud()
	if err != nil {
		return CreatedVM{}, err
	}
	c.sweep(ctx, op)
	h, err := c.holdWait(ctx, op, req.name)
	if err != nil {
		return CreatedVM{}, err
	}
	defer h.release()
	server, created, err := c.createServer(ctx, op, client, req)
	if err != nil {
		return CreatedVM{}, err
	}
	if err := c.finishVM(ctx, op, client, req, server); err != nil {
		return CreatedVM{}, c.undoVM(ctx, op, client, server, owned(created), err)
	}
	final, _, err := client.Server.GetByID(ctx, server.ID)
	if err == nil && final != nil {
		server = final
	}
	if err := c.unmark(ctx, op, client, server); err != nil {
		// The mark may be gone (the answer was lost): the server is still
		// this call's to delete, so undoVM must not read that as "another
		// call finished it".
		return CreatedVM{}, c.undoVM(ctx, op, client, server, ownedUnmarked(created), err)
	}
	return CreatedVM{CID: strconv.FormatInt(server.ID, 10), Networks: answerNetworks(req, server)}, nil
}

// unmark removes the creating mark from a finished server: its last step
// before create_vm answers success.
func (c *CPI) unmark(ctx context.Context, op string, client *hcloud.Client, server *hcloud.Server) error {
	if !marked(server.Labels) {
		return nil
	}
	if _, _, err := client.Server.Update(ctx, server, hcloud.ServerUpdateOpts{Labels: unmarked(server.Labels)}); err != nil {
		return cloudError(op+": removing the creating mark of server "+server.Name, err)
	}
	return nil
}

// checkVM checks every argument before anything is created; the lookups it
// needs (image, networks, disks) are reads.
func (c *CPI) checkVM(ctx context.Context, op, agentID, stemcellCID string, props VMProperties,
	networks map[string]json.RawMessage, diskCIDs []string, env json.RawMessage) (*vmRequest, error) {
	if !agentIDPattern().MatchString(agentID) {
		return nil, newError(CpiError, "%s: agent id %q must be 1-58 letters, digits and '-'", op, protocol.Truncate(agentID, 70))
	}
	if err := checkLabels(op, props.Labels); err != nil {
		return nil, err
	}
	req := &vmRequest{agentID: agentID, name: ServerName(agentID), props: props, networks: networks,
		serverType: props.ServerType, location: props.Location}
	if req.serverType == "" {
		req.serverType = c.cfg.Defaults.Size
	}
	if err := c.checkNetworks(op, req); err != nil {
		return nil, err
	}
	client, err := c.hcloud()
	if err != nil {
		return nil, err
	}
	if err := c.diskLocation(ctx, op, client, req, diskCIDs); err != nil {
		return nil, err
	}
	if req.location == "" {
		req.location = c.cfg.Defaults.Region
	}
	if req.image, err = c.vmImage(ctx, op, client, stemcellCID, props.Image); err != nil {
		return nil, err
	}
	for i := range req.manual {
		m := &req.manual[i]
		n, _, err := client.Network.Get(ctx, m.networkID)
		if err != nil {
			return nil, cloudError(op+": looking up network "+m.networkID, err)
		}
		if n == nil || cpi.Hidden(n.Labels) {
			return nil, newError(CpiError, "%s: network %q (cloud_properties.network of %s) does not exist in this Hetzner project", op, m.networkID, m.name)
		}
		m.network = n
	}
	if req.sshKeys, err = c.sshKeys(ctx, op, client, props.SSHKeys); err != nil {
		return nil, err
	}
	if req.userData, err = c.agentSettings(op, agentID, req.name, networks, env); err != nil {
		return nil, err
	}
	return req, nil
}

// checkNetworks sorts the networks: manual ones need cloud_properties.network
// and an ip; dynamic ones use the public IP; vip is not supported.
func (c *CPI) checkNetworks(op string, req *vmRequest) error {
	for _, name := range sortedKeys(req.networks) {
		var n Network
		if err := json.Unmarshal(req.networks[name], &n); err != nil {
			return newError(CpiError, "%s: network %q is not a network object", op, name)
		}
		switch n.Type {
		case "manual", "":
			id := networkRef(n.CloudProperties.Network)
			if id == "" {
				return newError(CpiError, "%s: manual network %q needs cloud_properties.network: the name or id of the Hetzner network whose subnet holds its IP", op, name)
			}
			if net.ParseIP(n.IP).To4() == nil {
				return newError(CpiError, "%s: manual network %q needs an IPv4 ip, got %q", op, name, protocol.Truncate(n.IP, 40))
			}
			req.manual = append(req.manual, manualNetwork{name: name, networkID: id, ip: n.IP})
		case "dynamic":
			req.dynamic = append(req.dynamic, name)
		case "vip":
			return newError(NotSupported, "%s: network %q is a vip network, which this CPI does not support; use a dynamic network for the server's public IP", op, name)
		default:
			return newError(CpiError, "%s: network %q has type %q; expected manual or dynamic", op, name, n.Type)
		}
	}
	return nil
}

// networkRef is cloud_properties.network as a string: a name, or an id
// given as a number or a string.
func networkRef(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// diskLocation places the VM where its disks are: a location given in the
// cloud properties must be theirs, since a volume attaches only to a server
// in its own location.
func (c *CPI) diskLocation(ctx context.Context, op string, client *hcloud.Client, req *vmRequest, diskCIDs []string) error {
	for _, cid := range diskCIDs {
		id, err := parseCID(op, "disk", cid)
		if err != nil {
			return err
		}
		v, _, err := client.Volume.GetByID(ctx, id)
		if err != nil {
			return cloudError(op+": looking up disk "+cid, err)
		}
		if v == nil || v.Location == nil || cpi.Hidden(v.Labels) {
			continue // a hint only; attach_disk will say what is wrong
		}
		if req.location == "" {
			req.location = v.Location.Name
		}
		if req.location != v.Location.Name {
			return newError(CpiError, "%s: disk %s is in %s but the VM is asked for in %s; a volume attaches only to a server in its own location", op, cid, v.Location.Name, req.location)
		}
	}
	return nil
}

// vmImage is the image to boot: the cloud properties' image, else the
// stemcell's.
func (c *CPI) vmImage(ctx context.Context, op string, client *hcloud.Client, stemcellCID, override string) (*hcloud.Image, error) {
	if override != "" {
		if _, err := strconv.ParseInt(override, 10, 64); err != nil {
			return &hcloud.Image{Name: override}, nil // Hetzner picks the server type's architecture
		}
		stemcellCID = override
	}
	id, err := parseCID(op, "stemcell", stemcellCID)
	if err != nil {
		return nil, err
	}
	image, _, err := client.Image.GetByID(ctx, id)
	if err != nil {
		return nil, cloudError(op+": looking up the stemcell's image", err)
	}
	if image == nil || cpi.Hidden(image.Labels) {
		return nil, newError(CpiError, "%s: the stemcell's image %d does not exist any more", op, id)
	}
	return image, nil
}

// createServer creates the server, or adopts the one an earlier attempt
// for this agent made; created says whether this call made it (and so may
// delete it).
func (c *CPI) createServer(ctx context.Context, op string, client *hcloud.Client, req *vmRequest) (server *hcloud.Server, created bool, err error) {
	labels := c.ownLabels("vm", req.props.Labels)
	labels[LabelAgentID] = req.agentID
	c.markCreating(labels)
	opts := hcloud.ServerCreateOpts{
		Name:             req.name,
		ServerType:       &hcloud.ServerType{Name: req.serverType},
		Image:            req.image,
		Location:         &hcloud.Location{Name: req.location},
		UserData:         req.userData,
		Labels:           labels,
		SSHKeys:          req.sshKeys,
		StartAfterCreate: hcloud.Ptr(len(req.manual) == 0),
		// PublicNet stays nil: the agent fetches its settings over eth0,
		// the public NIC, and an empty ServerCreatePublicNet disables it.
	}
	if req.props.PlacementGroup != "" {
		pg, err := c.placementGroup(ctx, op, client, req.props.PlacementGroup)
		if err != nil {
			return nil, false, err
		}
		opts.PlacementGroup = pg
	}
	result, _, err := client.Server.Create(ctx, opts)
	if err != nil {
		return c.adoptServer(ctx, op, client, req, opts, err)
	}
	if result.Server == nil {
		return nil, false, newError(VMCreationFailed, "%s: Hetzner answered without a server", op)
	}
	c.log.Infof("%s: created server %d (%s, %s in %s)", op, result.Server.ID, req.name, req.serverType, req.location)
	if err := c.wait(ctx, op+": waiting for the server's creation", result.Action); err != nil {
		return nil, false, c.undoVM(ctx, op, client, result.Server, createdMarked, err)
	}
	for _, a := range result.NextActions {
		if err := c.wait(ctx, op+": waiting for the server's start", a); err != nil {
			return nil, false, c.undoVM(ctx, op, client, result.Server, createdMarked, err)
		}
	}
	return result.Server, true, nil
}

// adoptServer handles a failed create: when Hetzner may have made the
// server (its answer was lost) or one of that name exists, the agent's
// server is looked up and adopted. A failed look-up never counts as
// "absent": it is a retryable VMCreationFailed naming the server.
func (c *CPI) adoptServer(ctx context.Context, op string, client *hcloud.Client, req *vmRequest, opts hcloud.ServerCreateOpts, cause error) (*hcloud.Server, bool, error) {
	if !hcloud.IsError(cause, hcloud.ErrorCodeUniquenessError) && !cpi.OutcomeUnknown(cause) {
		c.dropPlacementGroup(ctx, op, client, opts.PlacementGroup)
		return nil, false, vmCreationFailed(op+": creating the server", cause)
	}
	server, err := c.findAgentServer(ctx, client, req)
	if err != nil {
		e := cloudError(op, err)
		return nil, false, newError(VMCreationFailed, "%s: creating server %s answered %v, and looking it up failed (%s); it may exist, carrying the creating mark: a retry for this agent adopts it, or a later call deletes it",
			op, req.name, cloudError("", cause).Message, e.Message).WithRetry(true)
	}
	if server == nil {
		c.dropPlacementGroup(ctx, op, client, opts.PlacementGroup)
		return nil, false, vmCreationFailed(op+": creating the server", cause)
	}
	// This call made it when it carries the mark this call sent (the hold
	// keeps other calls of this host from sending the same name at once).
	created := server.Labels[LabelCreating] == opts.Labels[LabelCreating] && server.Labels[LabelCreator] == opts.Labels[LabelCreator]
	c.log.Warnf("%s: the create answered %v, but server %d of agent %s exists; finishing it", op, cause, server.ID, req.agentID)
	if err := c.settle(ctx, op, client, server); err != nil {
		return nil, false, c.undoVM(ctx, op, client, server, owned(created), err)
	}
	return server, created, nil
}

// settle waits for the actions still running on an adopted server (its
// create, its start): Hetzner refuses other actions on a locked server.
func (c *CPI) settle(ctx context.Context, op string, client *hcloud.Client, server *hcloud.Server) error {
	running, err := client.Server.Action.AllFor(ctx, server, hcloud.ActionListOpts{Status: []hcloud.ActionStatus{hcloud.ActionStatusRunning}})
	if err != nil {
		return cloudError(op+": reading the adopted server's actions", err)
	}
	if len(running) == 0 {
		return nil
	}
	if err := client.Action.WaitFor(ctx, running...); err != nil {
		return cloudError(op+": waiting for the adopted server's actions", err)
	}
	return nil
}

// vmCreationFailed is a failed create_vm that left nothing behind.
func vmCreationFailed(op string, err error) error {
	e := cloudError(op, err)
	if e.Type != CloudError {
		return e
	}
	out := *e
	out.Type = VMCreationFailed
	return &out
}

// findAgentServer is the server named for the agent, carrying its agent
// id and our labels; nil when there is none, an error when the look-up
// failed (the transport has retried it).
func (c *CPI) findAgentServer(ctx context.Context, client *hcloud.Client, req *vmRequest) (*hcloud.Server, error) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	server, _, err := client.Server.GetByName(cctx, req.name)
	if err != nil {
		return nil, err
	}
	if server == nil || !cpi.Ours(server.Labels) || server.Labels[LabelAgentID] != req.agentID {
		return nil, nil
	}
	return server, nil
}

// placementGroup is the spread group of that name, created when missing.
func (c *CPI) placementGroup(ctx context.Context, op string, client *hcloud.Client, name string) (*hcloud.PlacementGroup, error) {
	pg, _, err := client.PlacementGroup.GetByName(ctx, name)
	if err != nil {
		return nil, cloudError(op+": looking up placement group "+name, err)
	}
	if pg == nil {
		res, _, err := client.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{
			Name: name, Type: hcloud.PlacementGroupTypeSpread, Labels: c.ownLabels(kindPlacementGroup, nil),
		})
		switch {
		case hcloud.IsError(err, hcloud.ErrorCodeUniquenessError):
			pg, _, err = client.PlacementGroup.GetByName(ctx, name)
		case err == nil:
			pg = res.PlacementGroup
		}
		if err != nil {
			return nil, cloudError(op+": creating placement group "+name, err)
		}
		if pg == nil {
			return nil, newError(CloudError, "%s: Hetzner answered without a placement group", op)
		}
	}
	if cpi.Hidden(pg.Labels) {
		return nil, newError(CpiError, "%s: placement group %q is labelled nanobox=false and may not be used", op, name)
	}
	if pg.Type != hcloud.PlacementGroupTypeSpread {
		return nil, newError(CpiError, "%s: placement group %q is not a spread group", op, name)
	}
	return pg, nil
}

// finishVM attaches the manual networks with their static IPs and starts
// the server; each step is skipped when already done, so an adopted server
// is finished the same way.
func (c *CPI) finishVM(ctx context.Context, op string, client *hcloud.Client, req *vmRequest, server *hcloud.Server) error {
	for _, m := range req.manual {
		if attachedTo(server, m.network.ID) {
			continue
		}
		if err := c.attachNetwork(ctx, op, client, server, m); err != nil {
			return err
		}
	}
	if server.Status == hcloud.ServerStatusOff || len(req.manual) > 0 {
		current, _, err := client.Server.GetByID(ctx, server.ID)
		if err != nil {
			return cloudError(op+": reading the server", err)
		}
		if current != nil && current.Status == hcloud.ServerStatusOff {
			action, _, err := client.Server.Poweron(ctx, current)
			if err != nil {
				return cloudError(op+": starting the server", err)
			}
			return c.wait(ctx, op+": starting the server", action)
		}
	}
	return nil
}

// attachNetwork attaches the server to a manual network with its static
// IP. When another server holds the IP, an orphan holder is deleted and the
// attach repeated once; any other holder is named in the error (freeIP).
func (c *CPI) attachNetwork(ctx context.Context, op string, client *hcloud.Client, server *hcloud.Server, m manualNetwork) error {
	for try := 0; ; try++ {
		action, _, err := client.Server.AttachToNetwork(ctx, server, hcloud.ServerAttachToNetworkOpts{
			Network: m.network, IP: net.ParseIP(m.ip),
		})
		switch {
		case hcloud.IsError(err, hcloud.ErrorCodeServerAlreadyAttached):
			return nil
		case hcloud.IsError(err, hcloud.ErrorCodeIPNotAvailable) && try == 0:
			if err := c.freeIP(ctx, op, client, m.network, m.ip, server.ID); err != nil {
				return err
			}
			continue
		case err != nil:
			return cloudError(op+": attaching the server to network "+m.networkID+" with "+m.ip, err)
		}
		return c.wait(ctx, op+": attaching the server to network "+m.networkID, action)
	}
}

func attachedTo(server *hcloud.Server, networkID int64) bool {
	for _, pn := range server.PrivateNet {
		if pn.Network != nil && pn.Network.ID == networkID {
			return true
		}
	}
	return false
}

// undoVM cleans up after a create_vm that failed half-way. A server this
// call created is deleted (VMCreationFailed when it is gone, else a
// retryable VMCreationFailed naming it: it keeps its creating mark, so a
// retry for the agent adopts it and a later call deletes it). A server this call
// adopted, or one another call has finished meanwhile (its mark removed),
// is kept: a retryable VMCreationFailed, whose retry finishes it.
func (c *CPI) undoVM(ctx context.Context, op string, client *hcloud.Client, server *hcloud.Server, owner ownership, cause error) error {
	e := cloudError(op, cause)
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	created := owner != adopted
	if owner == createdMarked {
		now, _, err := client.Server.GetByID(cctx, server.ID)
		switch {
		case err == nil && now == nil:
			out := *e
			out.Type = VMCreationFailed
			return &out // already gone: nothing left behind
		case err == nil && !marked(now.Labels):
			created = false
		}
	}
	if !created {
		out := *e
		out.Type = VMCreationFailed
		out.OkToRetry = true
		out.Message = fmt.Sprintf("%s; server %d (%s) is kept: this call did not make it; a retry for the same agent finishes it", e.Message, server.ID, server.Name)
		return &out
	}
	res, _, err := client.Server.DeleteWithResult(cctx, server)
	if err == nil && res != nil && res.Action != nil {
		err = client.Action.WaitFor(cctx, res.Action)
	}
	if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		c.log.Errorf("%s: could not delete server %d after the failure: %v", op, server.ID, err)
		if owner == createdAny { // its mark may be gone: put it back for a later sweep
			labels := maps.Clone(server.Labels)
			c.markCreating(labels)
			if _, _, uerr := client.Server.Update(cctx, server, hcloud.ServerUpdateOpts{Labels: labels}); uerr != nil {
				c.log.Errorf("%s: could not mark server %d as unfinished either: %v", op, server.ID, uerr)
			}
		}
		return newError(VMCreationFailed, "%s; server %d (%s) was left behind, labelled %s: a retry for the same agent adopts it, a later call deletes it", e.Message, server.ID, server.Name, LabelCreating).WithRetry(true)
	}
	c.log.Warnf("%s: deleted server %d after the failure", op, server.ID)
	c.dropPlacementGroup(cctx, op, client, server.PlacementGroup)
	out := *e
	out.Type = VMCreationFailed
	return &out
}

// ownership says what a create_vm may delete when it fails.
type ownership int

const (
	adopted       ownership = iota // an earlier call made it: kept
	createdMarked                  // this call made it; deleted unless another call finished it (its mark gone)
	createdAny                     // this call made it and tried to remove its mark: deleted
)

func owned(created bool) ownership {
	if created {
		return createdMarked
	}
	return adopted
}

func ownedUnmarked(created bool) ownership {
	if created {
		return createdAny
	}
	return adopted
}

// answerNetworks are the networks as given, a dynamic network's ip filled
// in with the server's public IPv4.
func answerNetworks(req *vmRequest, server *hcloud.Server) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(req.networks))
	for k, v := range req.networks {
		out[k] = v
	}
	ip := server.PublicNet.IPv4.IP
	if ip == nil {
		return out
	}
	for _, name := range req.dynamic {
		var m map[string]any
		if json.Unmarshal(out[name], &m) != nil {
			continue
		}
		m["ip"] = ip.String()
		if data, err := json.Marshal(m); err == nil {
			out[name] = data
		}
	}
	return out
}

// lookupServer fetches a server as lookup does.
func (c *CPI) lookupServer(ctx context.Context, op, cid string) (server *hcloud.Server, foreign bool, err error) {
	return lookup(ctx, c, op, "VM", cid, func(ctx context.Context, client *hcloud.Client, id int64) (*hcloud.Server, map[string]string, error) {
		s, _, err := client.Server.GetByID(ctx, id)
		if s == nil {
			return nil, nil, err
		}
		return s, s.Labels, err
	})
}

// ownServer fetches a server this CPI may change: nil and no error when it
// does not exist or is labelled nanobox=false; CloudError when it is not
// this CPI's.
func (c *CPI) ownServer(ctx context.Context, op, cid string) (*hcloud.Server, error) {
	server, foreign, err := c.lookupServer(ctx, op, cid)
	if err != nil || server == nil {
		return nil, err
	}
	if foreign {
		return nil, newError(CloudError, "%s: server %d was not created by this CPI (no managed-by=%s label); it is left alone", op, server.ID, managedByValue)
	}
	return server, nil
}

// existingServer is ownServer for a method that needs the server:
// VMNotFound when it does not exist.
func (c *CPI) existingServer(ctx context.Context, op, cid string) (*hcloud.Server, error) {
	server, err := c.ownServer(ctx, op, cid)
	if err == nil && server == nil {
		return nil, newError(VMNotFound, "%s: server %s does not exist", op, cid)
	}
	return server, err
}

// DeleteVM answers delete_vm: success when the server is already gone.
// Hetzner detaches its volumes. The server's placement group goes with its
// last server when create_vm made it (see deleteEmptyPlacementGroup).
func (c *CPI) DeleteVM(ctx context.Context, cid string) error {
	const op = "delete_vm"
	if _, err := parseCID(op, "VM", cid); err != nil {
		return err
	}
	c.sweep(ctx, op)
	server, err := c.ownServer(ctx, op, cid)
	if err != nil || server == nil {
		if server == nil && err == nil {
			c.log.Infof("%s: server %s is already gone", op, cid)
		}
		return err
	}
	client, _ := c.hcloud()
	res, _, err := client.Server.DeleteWithResult(ctx, server)
	if hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		return nil
	}
	if err != nil {
		return cloudError(op, err)
	}
	if res != nil {
		if err := c.wait(ctx, op, res.Action); err != nil {
			return err
		}
	}
	c.log.Infof("%s: deleted server %d", op, server.ID)
	c.dropPlacementGroup(ctx, op, client, server.PlacementGroup)
	return nil
}

// dropPlacementGroup deletes the placement group of a server just deleted
// (or never made) when create_vm made the group (labelled
// bosh=placement-group and ours, not nanobox=false) and it holds no server
// any more; any other group stays, and so does a nil one. It never fails
// the call: a group that cannot be read or deleted is logged and left.
func (c *CPI) dropPlacementGroup(ctx context.Context, op string, client *hcloud.Client, group *hcloud.PlacementGroup) {
	if group == nil {
		return
	}
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	pg, _, err := client.PlacementGroup.GetByID(ctx, group.ID)
	switch {
	case err != nil:
		c.log.Warnf("%s: could not read placement group %d to delete it when empty: %v", op, group.ID, err)
		return
	case pg == nil || !cpi.Ours(pg.Labels) || pg.Labels[LabelKind] != kindPlacementGroup || len(pg.Servers) > 0:
		return
	}
	if _, err := client.PlacementGroup.Delete(ctx, pg); err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		c.log.Warnf("%s: could not delete placement group %d (%s), which has no server left: %v", op, pg.ID, pg.Name, err)
		return
	}
	c.log.Infof("%s: deleted placement group %d (%s), which had no server left", op, pg.ID, pg.Name)
}

// HasVM answers has_vm: whether the server exists and is this CPI's (a
// server labelled nanobox=false, or another's, is not).
func (c *CPI) HasVM(ctx context.Context, cid string) (bool, error) {
	server, foreign, err := c.lookupServer(ctx, "has_vm", cid)
	if err != nil {
		return false, err
	}
	return server != nil && !foreign, nil
}

// RebootVM answers reboot_vm: a soft reboot of a running server, a power
// on of a stopped one.
func (c *CPI) RebootVM(ctx context.Context, cid string) error {
	const op = "reboot_vm"
	server, err := c.existingServer(ctx, op, cid)
	if err != nil {
		return err
	}
	client, _ := c.hcloud()
	var action *hcloud.Action
	if server.Status == hcloud.ServerStatusOff {
		action, _, err = client.Server.Poweron(ctx, server)
	} else {
		action, _, err = client.Server.Reboot(ctx, server)
	}
	if err != nil {
		return cloudError(op, err)
	}
	return c.wait(ctx, op, action)
}

// SetVMMetadata answers set_vm_metadata: the metadata becomes labels (see
// MetadataLabels) next to the server's own.
func (c *CPI) SetVMMetadata(ctx context.Context, cid string, metadata map[string]any) error {
	const op = "set_vm_metadata"
	server, err := c.existingServer(ctx, op, cid)
	if err != nil {
		return err
	}
	labels := mergeLabels(server.Labels, MetadataLabels(metadata))
	client, _ := c.hcloud()
	if _, _, err := client.Server.Update(ctx, server, hcloud.ServerUpdateOpts{Labels: labels}); err != nil {
		return cloudError(op, err)
	}
	return nil
}

// mergeLabels is current with metadata labels set; the reserved labels
// keep their current values.
func mergeLabels(current, metadata map[string]string) map[string]string {
	out := make(map[string]string, len(current)+len(metadata))
	for k, v := range current {
		out[k] = v
	}
	for _, k := range sortedKeys(metadata) {
		if !isReserved(k) {
			out[k] = metadata[k]
		}
	}
	return out
}
