package hcloudsim

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// Volume limits the API documents: 10 GB to 10 TB, and at most 16 volumes attached to one server.
const (
	minVolumeSize       = 10
	maxVolumeSize       = 10240
	maxVolumesPerServer = 16
)

// volumeName is the API's rule for volume names: alphanumerics, dashes, underscores and dots, starting and
// ending with an alphanumeric, at most 64 characters.
var volumeName = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,62}[a-zA-Z0-9])?$`)

// volume is a simulated volume: "creating" until readyAt, then "available".
type volume struct {
	v       schema.Volume
	readyAt time.Time
}

// volumeRef is an action resource reference to a volume.
func volumeRef(id int64) schema.ActionResourceReference {
	return schema.ActionResourceReference{ID: id, Type: "volume"}
}

// volumeView renders the volume as of now.
func volumeView(vol *volume, now time.Time) schema.Volume {
	v := vol.v
	v.Status = "available"
	if now.Before(vol.readyAt) {
		v.Status = "creating"
	}
	v.Labels = copyLabels(v.Labels)
	if v.Server != nil {
		v.Server = ptr(*v.Server)
	}
	return v
}

// serverVolumes are the IDs of the volumes attached to server id, ascending.
func (st *state) serverVolumes(id int64) []int64 {
	out := []int64{}
	for _, vid := range sortedKeys(st.volumes) {
		if srv := st.volumes[vid].v.Server; srv != nil && *srv == id {
			out = append(out, vid)
		}
	}
	return out
}

// volumeCreateRequest is schema.VolumeCreateRequest with the location as "ID or name", as the API takes it.
type volumeCreateRequest struct {
	Name      string             `json:"name"`
	Size      int                `json:"size"`
	Server    *int64             `json:"server"`
	Location  *schema.IDOrName   `json:"location"`
	Labels    *map[string]string `json:"labels"`
	Automount *bool              `json:"automount"`
	Format    *string            `json:"format"`
}

func getVolumes(s *Sim, c *call) (int, any, *apiError) {
	q := c.query()
	sel, err := selectorFromQuery(q)
	if err != nil {
		return 0, nil, err
	}
	if err := checkEnum(q, "status", "available", "creating"); err != nil {
		return 0, nil, err
	}
	out := []schema.Volume{}
	for _, id := range sortedKeys(s.st.volumes) {
		v := volumeView(s.st.volumes[id], c.now)
		if !matchName(q, v.Name) || !sel.matches(v.Labels) {
			continue
		}
		if st := q["status"]; len(st) > 0 && !slices.Contains(st, v.Status) {
			continue
		}
		out = append(out, v)
	}
	return listBody("volumes", out, q, func(v schema.Volume) sortKey {
		return sortKey{id: v.ID, name: v.Name, created: v.Created}
	}, "id", "name", "created")
}

func (s *Sim) volumeByPath(c *call) (*volume, *apiError) { return byPath(c, s.st.volumes, "volume") }

func getVolume(s *Sim, c *call) (int, any, *apiError) {
	vol, err := s.volumeByPath(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"volume": volumeView(vol, c.now)}, nil
}

// createVolume creates a volume in a location, or attached to a server (in the server's location, attached
// once the volume is created: next_actions holds the attach_volume action).
func createVolume(s *Sim, c *call) (int, any, *apiError) {
	var req volumeCreateRequest
	if err := c.decode(&req); err != nil {
		return 0, nil, err
	}
	if err := s.validVolumeName(req.Name, 0); err != nil {
		return 0, nil, err
	}
	if req.Size < minVolumeSize || req.Size > maxVolumeSize {
		return 0, nil, invalidField("size", "must be between 10 and 10240 (GB)")
	}
	if req.Format != nil && *req.Format != "xfs" && *req.Format != "ext4" {
		return 0, nil, invalidField("format", "must be xfs or ext4")
	}
	labels, err := validLabels(req.Labels)
	if err != nil {
		return 0, nil, err
	}
	loc, sv, err := s.volumeHome(req)
	if err != nil {
		return 0, nil, err
	}
	st := s.st
	d := s.opts.Delays.Action
	id := st.newID()
	vol := &volume{readyAt: c.now.Add(d), v: schema.Volume{
		ID: id, Name: req.Name, Status: "creating", Location: loc, Size: req.Size, Format: req.Format,
		Labels: labels, LinuxDevice: "/dev/disk/by-id/scsi-0HC_Volume_" + strconv.FormatInt(id, 10),
		Created: c.now.UTC().Truncate(time.Second),
	}}
	st.volumes[id] = vol
	s.record("volume", id, req.Name, c.now)
	create := st.newAction(c.now, "create_volume", d, volumeRef(id))
	next := []schema.Action{}
	if sv != nil {
		vol.v.Server = ptr(sv.s.ID)
		next = append(next, st.newAction(c.now, "attach_volume", d, volumeRef(id), serverRef(sv.s.ID)).runningView())
	}
	view := volumeView(vol, c.now)
	view.Status = "creating"
	return http.StatusCreated, map[string]any{"volume": view, "action": create.runningView(), "next_actions": next}, nil
}

// validVolumeName checks the name's form and that no other volume than except uses it.
func (s *Sim) validVolumeName(name string, except int64) *apiError {
	if !volumeName.MatchString(name) {
		return invalidField("name", "must be 1 to 64 alphanumerics, dashes, underscores or dots, starting and ending with an alphanumeric")
	}
	for _, o := range s.st.volumes {
		if o.v.ID != except && o.v.Name == name {
			return notUnique("name", "volume name is already used")
		}
	}
	return nil
}

// volumeHome resolves where a new volume lives: the server's location (the server must have room for one
// more volume and no running action) or the given location.
func (s *Sim) volumeHome(req volumeCreateRequest) (schema.Location, *server, *apiError) {
	switch {
	case req.Server != nil && req.Location != nil:
		return schema.Location{}, nil, invalidField("location", "location and server are mutually exclusive")
	case req.Server != nil:
		sv, ok := s.st.servers[*req.Server]
		if !ok {
			return schema.Location{}, nil, invalidField("server", "server not found")
		}
		if err := s.st.checkVolumeRoom(sv); err != nil {
			return schema.Location{}, nil, err
		}
		return sv.s.Location, sv, nil
	case req.Location != nil:
		if req.Automount != nil && *req.Automount {
			return schema.Location{}, nil, invalidField("automount", "automount needs a server")
		}
		loc, ok := s.st.cat.location(idOrNameString(req.Location))
		if !ok {
			return schema.Location{}, nil, invalidField("location", "location not found")
		}
		return loc, nil, nil
	}
	return schema.Location{}, nil, invalidField("location", "one of location or server is required")
}

// checkVolumeRoom refuses a server that already holds maxVolumesPerServer volumes.
func (st *state) checkVolumeRoom(sv *server) *apiError {
	if len(st.serverVolumes(sv.s.ID)) >= maxVolumesPerServer {
		e := newError("resource_limit_exceeded", "server %d already has %d volumes attached", sv.s.ID, maxVolumesPerServer)
		e.Details = map[string]any{"limits": []map[string]any{{"name": "volumes_per_server"}}}
		return e
	}
	return nil
}

func updateVolume(s *Sim, c *call) (int, any, *apiError) {
	vol, err := s.volumeByPath(c)
	if err != nil {
		return 0, nil, err
	}
	var req schema.VolumeUpdateRequest
	if err := c.decode(&req); err != nil {
		return 0, nil, err
	}
	check := func(_, name string) *apiError { return s.validVolumeName(name, vol.v.ID) }
	labels, err := nameUpdate{check: check}.checkUpdate(optionalName(req.Name), req.Labels)
	if err != nil {
		return 0, nil, err
	}
	if labels != nil {
		vol.v.Labels = labels
	}
	if req.Name != "" {
		vol.v.Name = req.Name
	}
	return http.StatusOK, map[string]any{"volume": volumeView(vol, c.now)}, nil
}

// deleteVolume deletes a detached, unprotected volume: 204 without a body.
func deleteVolume(s *Sim, c *call) (int, any, *apiError) {
	vol, err := s.volumeByPath(c)
	if err != nil {
		return 0, nil, err
	}
	if vol.v.Protection.Delete {
		return 0, nil, newError("protected", "volume %d is protected against deletion", vol.v.ID)
	}
	if vol.v.Server != nil {
		return 0, nil, newError("volume_already_attached", "volume %d is attached to server %d: detach it first", vol.v.ID, *vol.v.Server)
	}
	if s.st.serverLocked(vol.v.ID, c.now) {
		return 0, nil, newError("locked", "volume %d is locked: an action is running", vol.v.ID)
	}
	delete(s.st.volumes, vol.v.ID)
	delete(s.st.busyUntil, vol.v.ID)
	return http.StatusNoContent, nil, nil
}

// volumeAction is one POST /volumes/{id}/actions/<name>: it validates the body and changes the volume; it
// returns the action's command and extra resources. It changes nothing when it returns an error.
type volumeAction func(s *Sim, c *call, vol *volume) (command string, extra []schema.ActionResourceReference, err *apiError)

// volumeActions is the method table of the simulated volume actions.
var volumeActions = map[string]volumeAction{
	"attach":            attachVolume,
	"detach":            detachVolume,
	"resize":            resizeVolume,
	"change_protection": changeVolumeProtection,
}

// serveVolumeAction runs the named action: 404 for an unknown volume, 423 locked while another action of the
// volume runs.
func serveVolumeAction(act volumeAction) handlerFunc {
	return func(s *Sim, c *call) (int, any, *apiError) {
		vol, err := s.volumeByPath(c)
		if err != nil {
			return 0, nil, err
		}
		if s.st.serverLocked(vol.v.ID, c.now) {
			return 0, nil, newError("locked", "volume %d is locked: an action is running", vol.v.ID)
		}
		command, extra, err := act(s, c, vol)
		if err != nil {
			return 0, nil, err
		}
		refs := append([]schema.ActionResourceReference{volumeRef(vol.v.ID)}, extra...)
		ac := s.st.newAction(c.now, command, s.opts.Delays.Action, refs...)
		return http.StatusCreated, map[string]any{"action": ac.runningView()}, nil
	}
}

// attachVolume attaches a detached volume to a server in its own location that has room for it.
func attachVolume(s *Sim, c *call, vol *volume) (string, []schema.ActionResourceReference, *apiError) {
	var req schema.VolumeActionAttachVolumeRequest
	if err := c.decode(&req); err != nil {
		return "", nil, err
	}
	sv, ok := s.st.servers[req.Server]
	if !ok {
		return "", nil, invalidField("server", "server not found")
	}
	if vol.v.Server != nil {
		return "", nil, newError("volume_already_attached", "volume %d is already attached to server %d", vol.v.ID, *vol.v.Server)
	}
	if sv.s.Location.Name != vol.v.Location.Name {
		return "", nil, invalidField("server", "server is in location "+sv.s.Location.Name+", the volume in "+vol.v.Location.Name)
	}
	if s.st.serverLocked(sv.s.ID, c.now) {
		return "", nil, newError("locked", "server %d is locked: an action is running", sv.s.ID)
	}
	if err := s.st.checkVolumeRoom(sv); err != nil {
		return "", nil, err
	}
	vol.v.Server = ptr(sv.s.ID)
	return "attach_volume", []schema.ActionResourceReference{serverRef(sv.s.ID)}, nil
}

// detachVolume detaches an attached volume.
func detachVolume(s *Sim, c *call, vol *volume) (string, []schema.ActionResourceReference, *apiError) {
	var req struct{}
	if err := c.decodeOptional(&req); err != nil {
		return "", nil, err
	}
	if vol.v.Server == nil {
		return "", nil, invalidField("server", "volume is not attached to a server")
	}
	srv := *vol.v.Server
	if s.st.serverLocked(srv, c.now) {
		return "", nil, newError("locked", "server %d is locked: an action is running", srv)
	}
	vol.v.Server = nil
	return "detach_volume", []schema.ActionResourceReference{serverRef(srv)}, nil
}

// resizeVolume grows a volume; it cannot shrink.
func resizeVolume(_ *Sim, c *call, vol *volume) (string, []schema.ActionResourceReference, *apiError) {
	var req schema.VolumeActionResizeVolumeRequest
	if err := c.decode(&req); err != nil {
		return "", nil, err
	}
	if req.Size <= vol.v.Size {
		return "", nil, invalidField("size", "must be greater than the current size ("+strconv.Itoa(vol.v.Size)+" GB)")
	}
	if req.Size > maxVolumeSize {
		return "", nil, invalidField("size", "must be at most 10240 (GB)")
	}
	vol.v.Size = req.Size
	return "resize_volume", nil, nil
}

func changeVolumeProtection(_ *Sim, c *call, vol *volume) (string, []schema.ActionResourceReference, *apiError) {
	var req schema.VolumeActionChangeProtectionRequest
	if err := c.decode(&req); err != nil {
		return "", nil, err
	}
	if req.Delete != nil {
		vol.v.Protection.Delete = *req.Delete
	}
	return "change_protection", nil, nil
}
