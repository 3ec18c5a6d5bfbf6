package hcloudsim

import (
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// serverAction is one POST /servers/{id}/actions/<name>: it validates the body and changes the server; it
// returns the action's command, extra resources, and extra response fields.
type serverAction func(s *Sim, c *call, sv *server) (command string, extra []schema.ActionResourceReference, fields map[string]any, err *apiError)

// serverActions is the method table of the simulated server actions.
var serverActions = map[string]serverAction{
	"poweron":                     powerAction("start_server", "starting", "running"),
	"poweroff":                    powerAction("stop_server", "stopping", "off"),
	"shutdown":                    shutdownAction,
	"reboot":                      powerAction("reboot_server", "running", "running"),
	"reset":                       powerAction("reset_server", "running", "running"),
	"enable_backup":               enableBackup,
	"disable_backup":              disableBackup,
	"change_protection":           changeProtection,
	"rebuild":                     rebuildServer,
	"attach_to_network":           attachToNetwork,
	"detach_from_network":         detachFromNetwork,
	"change_alias_ips":            changeAliasIPs,
	"add_to_placement_group":      addToPlacementGroupAction,
	"remove_from_placement_group": removeFromPlacementGroupAction,
	"create_image":                createImage,
}

// serveServerAction runs the named action: 404 for an unknown server, 423 locked while another action runs.
func serveServerAction(name string, act serverAction) handlerFunc {
	return func(s *Sim, c *call) (int, any, *apiError) {
		sv, err := s.serverByPath(c)
		if err != nil {
			return 0, nil, err
		}
		if s.st.serverLocked(sv.s.ID, c.now) {
			return 0, nil, newError("locked", "server %d is locked: an action is running", sv.s.ID)
		}
		command, extra, fields, err := act(s, c, sv)
		if err != nil {
			return 0, nil, err
		}
		refs := append([]schema.ActionResourceReference{serverRef(sv.s.ID)}, extra...)
		ac := s.st.newAction(c.now, command, s.opts.Delays.Action, refs...)
		body := map[string]any{"action": ac.runningView()}
		maps.Copy(body, fields)
		return http.StatusCreated, body, nil
	}
}

// powerAction moves the server through during (for Delays.Action) to after.
func powerAction(command, during, after string) serverAction {
	return func(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
		var body struct{}
		if err := c.decodeOptional(&body); err != nil {
			return "", nil, nil, err
		}
		d := s.opts.Delays.Action
		sv.schedule(c.now, transition{c.now, during}, transition{c.now.Add(d), after})
		return command, nil, nil, nil
	}
}

func enableBackup(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	var body struct{}
	if err := c.decodeOptional(&body); err != nil {
		return "", nil, nil, err
	}
	sv.s.BackupWindow = ptr("22-02")
	return "enable_backup", nil, nil, nil
}

func disableBackup(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	var body struct{}
	if err := c.decodeOptional(&body); err != nil {
		return "", nil, nil, err
	}
	sv.s.BackupWindow = nil
	return "disable_backup", nil, nil, nil
}

func changeProtection(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	var req schema.ServerActionChangeProtectionRequest
	if err := c.decode(&req); err != nil {
		return "", nil, nil, err
	}
	if req.Delete == nil && req.Rebuild == nil {
		return "", nil, nil, invalidField("delete", "one of delete or rebuild is required")
	}
	if req.Delete != nil {
		sv.s.Protection.Delete = *req.Delete
	}
	if req.Rebuild != nil {
		sv.s.Protection.Rebuild = *req.Rebuild
	}
	return "change_protection", nil, nil, nil
}

func rebuildServer(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	var req schema.ServerActionRebuildRequest
	if err := c.decode(&req); err != nil {
		return "", nil, nil, err
	}
	if req.Image.ID == 0 && req.Image.Name == "" {
		return "", nil, nil, invalidField("image", "is required")
	}
	if sv.s.Protection.Rebuild {
		return "", nil, nil, newError("protected", "server %d is protected against rebuild", sv.s.ID)
	}
	img, ok := s.st.image(req.Image, sv.s.ServerType.Architecture)
	if !ok || img.Architecture != sv.s.ServerType.Architecture {
		return "", nil, nil, invalidField("image", "image not found")
	}
	if req.UserData != nil && len(*req.UserData) > maxUserData {
		return "", nil, nil, invalidField("user_data", "is too long (maximum is 32 KiB)")
	}
	sv.s.Image = &img
	d := s.opts.Delays.Action
	sv.schedule(c.now, transition{c.now, "rebuilding"}, transition{c.now.Add(d), "running"})
	return "rebuild_server", nil, map[string]any{"root_password": nil}, nil
}

func addToPlacementGroupAction(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	var req schema.ServerActionAddToPlacementGroupRequest
	if err := c.decode(&req); err != nil {
		return "", nil, nil, err
	}
	pg, ok := s.st.placementGroups[req.PlacementGroup]
	if !ok {
		return "", nil, nil, invalidField("placement_group", "placement group not found")
	}
	if sv.statusAt(c.now) != "off" {
		return "", nil, nil, newError("server_not_stopped", "server %d must be powered off", sv.s.ID)
	}
	if sv.s.PlacementGroup != nil {
		return "", nil, nil, newError("server_already_added", "server %d is already in a placement group", sv.s.ID)
	}
	if len(pg.Servers) >= maxSpreadServers {
		return "", nil, nil, newError("placement_error", "placement group %d already holds %d servers", pg.ID, maxSpreadServers)
	}
	addToPlacementGroup(sv, pg)
	return "add_to_placement_group", []schema.ActionResourceReference{{ID: pg.ID, Type: "placement_group"}}, nil, nil
}

func removeFromPlacementGroupAction(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	var body struct{}
	if err := c.decodeOptional(&body); err != nil {
		return "", nil, nil, err
	}
	if sv.s.PlacementGroup == nil {
		return "", nil, nil, newError("invalid_input", "server %d is not in a placement group", sv.s.ID)
	}
	pgID := sv.s.PlacementGroup.ID
	if pg, ok := s.st.placementGroups[pgID]; ok {
		pg.Servers = slices.DeleteFunc(pg.Servers, func(x int64) bool { return x == sv.s.ID })
	}
	sv.s.PlacementGroup = nil
	return "remove_from_placement_group", []schema.ActionResourceReference{{ID: pgID, Type: "placement_group"}}, nil, nil
}

// addToPlacementGroup links sv and pg.
func addToPlacementGroup(sv *server, pg *schema.PlacementGroup) {
	pg.Servers = append(pg.Servers, sv.s.ID)
	sv.s.PlacementGroup = &schema.PlacementGroup{ID: pg.ID}
}

// applyFirewall applies fw to sv.
func applyFirewall(sv *server, fw *schema.Firewall) {
	for _, f := range sv.s.PublicNet.Firewalls {
		if f.ID == fw.ID {
			return
		}
	}
	sv.s.PublicNet.Firewalls = append(sv.s.PublicNet.Firewalls, schema.ServerFirewall{ID: fw.ID, Status: "applied"})
	fw.AppliedTo = append(fw.AppliedTo, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: sv.s.ID}})
}

var _ = time.Second
