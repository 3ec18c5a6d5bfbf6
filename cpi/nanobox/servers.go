package nanobox

import (
	"context"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// cleanupTimeout bounds the clean-up after a failed order (finding a server
// the failed call may have created), which runs even when the call's own
// deadline has passed.
const cleanupTimeout = 15 * time.Second

// hostname is an RFC 1123 host name: dot-separated labels of letters,
// digits and hyphens, each 1-63 long, not starting or ending with '-'.
var hostname = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
})

func validName(op, name string) error {
	if name == "" {
		return protocol.NewError(protocol.InvalidArguments, "%s: \"name\" is required", op)
	}
	if len(name) > 253 || !hostname().MatchString(name) {
		return protocol.NewError(protocol.InvalidArguments,
			"%s: name %q is not a valid host name (RFC 1123: letters, digits, '-' and '.', labels of 1-63 characters not starting or ending with '-')", op, protocol.Truncate(name, 80))
	}
	return nil
}

// order is a validated order_server request.
type order struct {
	name, location, serverType, image, zone string
	placementGroup                          string // "" = none
	sshKey                                  int64
	backups                                 bool
	extras                                  orderExtras // user_data and labels
	userData                                string      // the CPI's cloud-init with the order's
}

// settings is a validated config object (order_server's config,
// update_config's body).
type settings struct {
	image          *string
	backups        *bool
	placementGroup *string // "" = none
}

// parseSettings checks config keys and values, without API calls.
func (h *Hetzner) parseSettings(op string, in map[string]any) (settings, error) {
	var s settings
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v, isString := in[k].(string)
		switch k {
		case FieldImage:
			if !isString || !slices.Contains(h.cfg.Images, v) {
				problems = append(problems, "image must be one of "+strings.Join(h.cfg.Images, ", "))
				continue
			}
			s.image = &v
		case FieldBackups:
			if !isString || (v != BackupsEnabled && v != BackupsDisabled) {
				problems = append(problems, "backups must be \"enabled\" or \"disabled\"")
				continue
			}
			on := v == BackupsEnabled
			s.backups = &on
		case FieldPlacementGroup:
			if !isString || (v != "" && !validGroupName(v)) {
				problems = append(problems, "placement_group must be empty or a name of 1-63 letters, digits, '.', '-' or '_'")
				continue
			}
			s.placementGroup = &v
		default:
			problems = append(problems, "unknown setting "+strconv.Quote(protocol.Truncate(k, 40))+" (known: image, backups, placement_group)")
		}
	}
	if len(problems) > 0 {
		return settings{}, protocol.NewError(protocol.InvalidArguments, "%s: %s", op, strings.Join(problems, "; "))
	}
	return s, nil
}

// validGroupName: 1-63 letters, digits, '.', '-', '_', starting with a
// letter or digit.
func validGroupName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i, c := range s {
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '.' && c != '-' && c != '_')) {
			return false
		}
	}
	return true
}

// validateOrder checks an order against the local catalog: no API call.
func (h *Hetzner) validateOrder(body protocol.OrderServerBody) (order, error) {
	const op = "order_server"
	if err := validName(op, body.Name); err != nil {
		return order{}, err
	}
	m, err := h.model()
	if err != nil {
		return order{}, err
	}
	o := order{name: body.Name, location: body.Region, serverType: body.Size, image: h.cfg.Image}
	if o.location == "" {
		o.location = h.cfg.Defaults.Region
	}
	if o.serverType == "" {
		o.serverType = h.cfg.Defaults.Size
	}
	loc, ok := m.Location(o.location)
	switch {
	case !ok:
		return order{}, protocol.NewError(protocol.InvalidArguments, "%s: unknown region %q; choose one of: %s",
			op, protocol.Truncate(o.location, 40), strings.Join(m.OrderableLocations(), ", "))
	case loc.Retired:
		return order{}, protocol.NewError(protocol.InvalidArguments, "%s: region %q is retired and takes no new servers; current regions: %s",
			op, o.location, strings.Join(m.OrderableLocations(), ", "))
	}
	o.zone = loc.NetworkZone
	if !m.Orderable(o.location, o.serverType) {
		return order{}, sizeError(op, m, o.location, o.serverType)
	}
	if body.SSHKey == "" {
		return order{}, protocol.NewError(protocol.InvalidArguments, "%s: \"ssh_key\" (the id create_key returned) is required", op)
	}
	var valid bool
	if o.sshKey, valid = cpi.ParseID(body.SSHKey); !valid {
		return order{}, protocol.NewError(protocol.InvalidArguments, "%s: ssh_key %q is not an SSH key id (the number create_key returned)", op, protocol.Truncate(body.SSHKey, 40))
	}
	s, err := h.parseSettings(op, body.Config)
	if err != nil {
		return order{}, err
	}
	if s.image != nil {
		o.image = *s.image
	}
	if s.backups != nil {
		o.backups = *s.backups
	}
	if s.placementGroup != nil {
		o.placementGroup = *s.placementGroup
	}
	if o.extras, err = validateExtras(op, body); err != nil {
		return order{}, err
	}
	if o.userData, err = h.userData(op, o.extras); err != nil {
		return order{}, err
	}
	return o, nil
}

func sizeError(op string, m *catalog.Model, location, size string) error {
	var current []string
	for _, t := range m.OrderableTypes(location) {
		current = append(current, t.Name)
	}
	t, known := m.ServerType(size)
	if !known {
		return protocol.NewError(protocol.InvalidArguments, "%s: unknown size %q; sizes in %s: %s",
			op, protocol.Truncate(size, 40), location, strings.Join(current, ", "))
	}
	if _, sold := t.PriceIn(location); !sold {
		return protocol.NewError(protocol.InvalidArguments, "%s: size %q is not offered in %s; sizes there: %s",
			op, size, location, strings.Join(current, ", "))
	}
	alt := m.Alternatives(location, t, 4)
	if len(alt) == 0 {
		alt = current
	}
	return protocol.NewError(protocol.InvalidArguments, "%s: size %q is retired in %s and cannot be ordered; current alternatives: %s",
		op, size, location, strings.Join(alt, ", "))
}

// Labels recording what an order asked for that a server does not show by
// itself: the SSH key id and the image name (size and region are the
// server's own type and location). A re-order adopts a server of its name
// only when all four match.
const (
	LabelSSHKey = config.LabelSSHKey
	LabelImage  = config.LabelImage
)

// OrderServer creates a server and returns its id without waiting for it
// to boot. Warm path (network id cached): 3 API calls (the SSH key, the
// network, the create), with or without backups.
//
// Every object the order uses is checked when it is used: the SSH key,
// the placement group and the private network must exist and not be
// labelled nanobox=false; the cached network id is only a hint.
//
// Backups cannot be part of Hetzner's create, and a new server is locked by
// its create action for tens of seconds, so the order records the wish as
// the label nanobox-backups=enabled and query_server enables them once the
// server runs (see QueryServer); the label also travels with a server that
// a retried order adopts.
//
// It never leaves a server behind that nobody knows of: after a failed
// create it looks the name up (see create), and once a server exists, its
// id is the answer.
func (h *Hetzner) OrderServer(ctx context.Context, body protocol.OrderServerBody) (protocol.IDResult, error) {
	o, err := h.validateOrder(body)
	if err != nil {
		return protocol.IDResult{}, err
	}
	opts, err := h.createOpts(ctx, o)
	if err != nil {
		return protocol.IDResult{}, err
	}
	server, err := h.create(ctx, o, opts)
	if err != nil {
		return protocol.IDResult{}, err
	}
	return protocol.IDResult{ID: strconv.FormatInt(server.ID, 10)}, nil
}

// createOpts checks the objects the order uses, at the moment of use, and
// builds the create request. Nothing is created before the SSH key is
// known to be usable.
func (h *Hetzner) createOpts(ctx context.Context, o order) (hcloud.ServerCreateOpts, error) {
	if err := h.usableKey(ctx, o.sshKey); err != nil {
		return hcloud.ServerCreateOpts{}, err
	}
	opts := hcloud.ServerCreateOpts{
		Name:             o.name,
		ServerType:       &hcloud.ServerType{Name: o.serverType},
		Image:            &hcloud.Image{Name: o.image},
		SSHKeys:          []*hcloud.SSHKey{{ID: o.sshKey}},
		Location:         &hcloud.Location{Name: o.location},
		Labels:           h.serverLabels(o),
		UserData:         o.userData,
		StartAfterCreate: hcloud.Ptr(true),
		// PublicNet stays nil: an empty ServerCreatePublicNet would
		// disable both IPv4 and IPv6.
	}
	if o.placementGroup != "" {
		pg, err := h.ensurePlacementGroup(ctx, o.placementGroup)
		if err != nil {
			return hcloud.ServerCreateOpts{}, err
		}
		opts.PlacementGroup = pg
	}
	if h.cfg.Network.Mode == config.NetworkPrivate {
		networkID, err := h.ensureNetwork(ctx, o.zone)
		if err != nil {
			return hcloud.ServerCreateOpts{}, err
		}
		opts.Networks = []*hcloud.Network{{ID: networkID}}
	}
	return opts, nil
}

// usableKey checks that the order's SSH key exists for Nanobox: one
// labelled nanobox=false does not.
func (h *Hetzner) usableKey(ctx context.Context, id int64) error {
	key, resp, err := h.client.SSHKey.GetByID(ctx, id)
	if err != nil {
		return cpi.CloudError("order_server: looking up the SSH key", resp, err)
	}
	if key == nil || cpi.Hidden(key.Labels) {
		return protocol.NewError(protocol.InvalidArguments,
			"order_server: SSH key %d does not exist; create it with create_key and pass the id it returns", id)
	}
	return nil
}

// create sends the create. hcloud-go retries it inside the call, so a
// failure may follow an attempt Hetzner carried out (its answer lost, the
// retry then refused: the name is taken, the size sold out meanwhile, ...).
// So every failure but a rejected token looks the name up (1 call): the
// order's own server (see adoptable) is the answer, another server of that
// name a Conflict, no server the create's error. When the look-up fails
// too, the error says a retry is safe: the re-order looks again.
func (h *Hetzner) create(ctx context.Context, o order, opts hcloud.ServerCreateOpts) (*hcloud.Server, error) {
	const op = "order_server: creating server"
	result, resp, err := h.client.Server.Create(ctx, opts)
	if err == nil && result.Server != nil {
		h.log.Infof("order_server: created server %d (%s in %s)", result.Server.ID, o.serverType, o.location)
		return result.Server, nil
	}
	if err == nil {
		err = protocol.NewError(protocol.CloudError, "%s: Hetzner answered without a server", op)
	}
	createErr := cpi.CloudError(op, resp, err)
	if createErr.Type == protocol.Unauthorized {
		return nil, createErr
	}
	existing, lookupErr := h.findByName(ctx, o.name)
	switch {
	case lookupErr != nil:
		h.log.Warnf("order_server: the create failed (%s) and looking the name up failed too (%s)", createErr.Message, lookupErr.Message)
		createErr.Message += "; whether a server was created is unknown: retry the order, which finds it by name"
		return nil, createErr.WithRetry(true)
	case existing == nil:
		return nil, createErr
	}
	server, err := h.adoptable(o, existing)
	if err != nil {
		return nil, err
	}
	h.log.Warnf("order_server: the create answered %s but server %d, ordered exactly so, exists; using it", createErr.Type, server.ID)
	return server, h.adopted(ctx, o, server)
}

// serverLabels are the labels of a new server: ours, the backups wish,
// what was ordered, and the order's extra labels.
func (h *Hetzner) serverLabels(o order) map[string]string {
	l := h.labels()
	l[cpi.LabelBackups] = backupsValue(o.backups)
	l[LabelSSHKey] = strconv.FormatInt(o.sshKey, 10)
	l[LabelImage] = o.image
	o.extras.addLabels(l)
	return l
}

// findByName looks up the server of that name, under a deadline of its
// own: it runs when the call's deadline may have passed.
func (h *Hetzner) findByName(ctx context.Context, name string) (*hcloud.Server, *protocol.Error) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	server, resp, err := h.client.Server.GetByName(cctx, name)
	if err != nil {
		return nil, cpi.CloudError("order_server: looking up the server named "+name, resp, err)
	}
	return server, nil
}

// adoptable answers whether an order may adopt the existing server of its
// name: ours and ordered exactly so (size, region, SSH key, image,
// user_data and extra labels; backups may differ, see adopted). A server Nanobox may not use is a Conflict that
// does not name it; our server ordered otherwise is a Conflict naming its id.
func (h *Hetzner) adoptable(o order, server *hcloud.Server) (*hcloud.Server, error) {
	const op = "order_server"
	if cpi.Hidden(server.Labels) || !cpi.Ours(server.Labels) {
		return nil, protocol.NewError(protocol.Conflict,
			"%s: the name %q is taken by a server Nanobox did not create; choose another name", op, o.name).WithRetry(false)
	}
	if diff := orderDiff(server, o); len(diff) > 0 {
		return nil, protocol.NewError(protocol.Conflict,
			"%s: server %d is already named %q but was ordered with %s; cancel it or choose another name",
			op, server.ID, o.name, strings.Join(diff, ", ")).WithRetry(false)
	}
	return server, nil
}

// orderDiff lists how server differs from what o orders.
func orderDiff(s *hcloud.Server, o order) []string {
	recorded := func(v string) string {
		if v == "" {
			return "(not recorded)"
		}
		return strconv.Quote(v)
	}
	var diff []string
	if got := typeName(s); got != o.serverType {
		diff = append(diff, fmt.Sprintf("size %s (this order: %q)", recorded(got), o.serverType))
	}
	if got := locationName(s); got != o.location {
		diff = append(diff, fmt.Sprintf("region %s (this order: %q)", recorded(got), o.location))
	}
	if got, want := s.Labels[LabelSSHKey], strconv.FormatInt(o.sshKey, 10); got != want {
		diff = append(diff, fmt.Sprintf("ssh_key %s (this order: %q)", recorded(got), want))
	}
	if got := s.Labels[LabelImage]; got != o.image {
		diff = append(diff, fmt.Sprintf("image %s (this order: %q)", recorded(got), o.image))
	}
	return append(diff, o.extras.diff(s.Labels)...)
}

// adopted finishes an order that adopted a server (created by an earlier
// attempt, or by an identical order). An order with backups whose wish the
// server does not carry yet (an order that differs only in backups)
// records it first (1 call), so query_server converges; if that fails the
// order fails retryably and keeps the server, since deleting it could race
// with an identical order that adopted it too. A re-order adopts it again.
func (h *Hetzner) adopted(ctx context.Context, o order, server *hcloud.Server) error {
	if o.backups && server.BackupWindow == "" && !wantsBackups(server.Labels) {
		op := "order_server: server " + strconv.FormatInt(server.ID, 10) + " exists; recording its backups"
		return h.setBackupsWish(ctx, op, server, true)
	}
	return nil
}

// cleanupContext outlives the call's deadline just long enough to clean up.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

func typeName(s *hcloud.Server) string {
	if s.ServerType == nil {
		return ""
	}
	return s.ServerType.Name
}

func locationName(s *hcloud.Server) string {
	if s.Location != nil {
		return s.Location.Name
	}
	return ""
}

// getServer fetches a server Nanobox may see: nil (and no error) when it
// does not exist, NotFound when it is labelled nanobox=false.
func (h *Hetzner) getServer(ctx context.Context, op string, id int64) (*hcloud.Server, error) {
	server, resp, err := h.client.Server.GetByID(ctx, id)
	if err != nil {
		return nil, cpi.CloudError(op, resp, err)
	}
	if server != nil && cpi.Hidden(server.Labels) {
		return nil, protocol.NewError(protocol.NotFound, "%s: no server %d", op, id)
	}
	return server, nil
}

// ownServer fetches a server the call may change: NotFound when missing
// or hidden, Forbidden when not ours (unless allow_foreign).
func (h *Hetzner) ownServer(ctx context.Context, op, sid string) (*hcloud.Server, error) {
	id, err := parseID(op, "server", sid)
	if err != nil {
		return nil, err
	}
	server, err := h.getServer(ctx, op, id)
	if err != nil {
		return nil, err
	}
	if server == nil {
		return nil, protocol.NewError(protocol.NotFound, "%s: no server %d", op, id)
	}
	if err := h.mayChange(op, "server", id, server.Labels); err != nil {
		return nil, err
	}
	return server, nil
}

// QueryServer reports a server: "running" is "active", every other
// Hetzner status passes through, and config holds the server's real
// settings.
//
// Its read comes from the shared snapshot when that holds a fresh copy of
// the server (see readServer: one list request, a page per 50 servers,
// refreshes it for every poll within polling.window_ms), else it is 1 API
// call. The poll that converges a server Nanobox created to the backups
// wish in its nanobox-backups label (see convergeBackups) costs 2 more:
// the switch, then the wish read again. Until a server ordered with
// backups has them, the status of a running server is "provisioning", so
// an orchestrator polling until "active" keeps polling. A convergence
// Hetzner refuses for a while (locked, rate limit, 5xx) is "not yet" on
// this poll: still one answer, no error. One Hetzner refuses for good
// (e.g. a read-only token) is the answer's error, naming update_config as
// the way out.
func (h *Hetzner) QueryServer(ctx context.Context, sid string) (protocol.Server, error) {
	const op = "query_server"
	id, err := parseID(op, "server", sid)
	if err != nil {
		return protocol.Server{}, err
	}
	server, err := h.readServer(ctx, op, id)
	if err != nil {
		return protocol.Server{}, err
	}
	if server == nil {
		return protocol.Server{}, protocol.NewError(protocol.NotFound, "%s: no server %d", op, id)
	}
	complete, err := h.convergeBackups(ctx, server)
	if err != nil {
		return protocol.Server{}, err
	}
	status := string(server.Status)
	if server.Status == hcloud.ServerStatusRunning {
		status = "active"
		if !complete {
			status = StatusProvisioning
		}
	}
	public := ipString(server.PublicNet.IPv4.IP)
	out := protocol.Server{ID: strconv.FormatInt(server.ID, 10), Status: status, Name: server.Name, Config: currentSettings(server)}
	if h.cfg.Network.Mode == config.NetworkNone {
		out.InternalIP = public // rule 4: the only NIC is the internal one
	} else {
		out.ExternalIP = public
		out.InternalIP = h.privateIP(server)
	}
	return out, nil
}

func (h *Hetzner) privateIP(s *hcloud.Server) string {
	want := int64(0)
	if n, ok := h.state.network(h.cfg.Network.Name, h.cfg.Network.IPRange); ok {
		want = n.ID
	}
	for _, p := range s.PrivateNet {
		if want != 0 && p.Network != nil && p.Network.ID == want {
			return ipString(p.IP)
		}
	}
	for _, p := range s.PrivateNet {
		if ip := ipString(p.IP); ip != "" {
			return ip
		}
	}
	return ""
}

func ipString(ip net.IP) string {
	if ip == nil || ip.IsUnspecified() {
		return ""
	}
	return ip.String()
}

// currentSettings are the server's real settings, for query_server.
func currentSettings(s *hcloud.Server) map[string]any {
	image := ""
	if s.Image != nil {
		image = s.Image.Name
	}
	backups := BackupsDisabled
	if s.BackupWindow != "" {
		backups = BackupsEnabled
	}
	group := ""
	if s.PlacementGroup != nil {
		group = s.PlacementGroup.Name
	}
	return map[string]any{FieldImage: image, FieldBackups: backups, FieldPlacementGroup: group}
}

// ensurePlacementGroup finds the spread placement group of that name, or
// creates it (labelled as ours). One labelled nanobox=false may not be
// used. An empty group left by a failed order costs nothing.
func (h *Hetzner) ensurePlacementGroup(ctx context.Context, name string) (*hcloud.PlacementGroup, error) {
	const op = "order_server: placement group"
	pg, resp, err := h.client.PlacementGroup.GetByName(ctx, name)
	if err != nil {
		return nil, cpi.CloudError(op+" "+name, resp, err)
	}
	if pg == nil {
		res, resp, err := h.client.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{
			Name: name, Type: hcloud.PlacementGroupTypeSpread, Labels: h.labels(),
		})
		if hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
			pg, resp, err = h.client.PlacementGroup.GetByName(ctx, name)
		} else if err == nil {
			pg = res.PlacementGroup
		}
		if err != nil {
			return nil, cpi.CloudError(op+" "+name, resp, err)
		}
		if pg == nil {
			return nil, protocol.NewError(protocol.CloudError, "%s %q: Hetzner answered without a placement group", op, name)
		}
		h.log.Infof("order_server: created spread placement group %d (%s)", pg.ID, name)
	}
	if cpi.Hidden(pg.Labels) {
		return nil, protocol.NewError(protocol.InvalidArguments, "%s %q is labelled nanobox=false and may not be used; choose another name", op, name)
	}
	if pg.Type != hcloud.PlacementGroupTypeSpread {
		return nil, protocol.NewError(protocol.InvalidArguments, "%s %q is not a spread group", op, name)
	}
	return pg, nil
}

// CancelServer deletes a server and returns once Hetzner accepted (≤2
// calls, more while it waits out another action; see whenUnlocked). A
// server already gone is success.
func (h *Hetzner) CancelServer(ctx context.Context, sid string) error {
	const op = "cancel_server"
	id, err := parseID(op, "server", sid)
	if err != nil {
		return err
	}
	server, err := h.getServer(ctx, op, id)
	if err != nil {
		return err
	}
	if server == nil {
		h.log.Infof("cancel_server: server %d is already gone", id)
		return nil
	}
	if err := h.mayChange(op, "server", id, server.Labels); err != nil {
		return err
	}
	resp, err := h.whenUnlocked(ctx, op, server.ID, func() (*hcloud.Response, error) {
		_, resp, err := h.client.Server.DeleteWithResult(ctx, server)
		return resp, err
	})
	if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		if perr := cpi.CloudError(op, resp, err); perr.Type != protocol.NotFound { // gone while waiting: cancelled
			return perr
		}
	}
	h.log.Infof("cancel_server: deleting server %d", id)
	return nil
}

// RebootServer asks Hetzner to reboot (≤2 calls, more while it waits out
// another action); it does not wait for the reboot.
func (h *Hetzner) RebootServer(ctx context.Context, sid string) error {
	const op = "reboot_server"
	server, err := h.ownServer(ctx, op, sid)
	if err != nil {
		return err
	}
	resp, err := h.whenUnlocked(ctx, op, server.ID, func() (*hcloud.Response, error) {
		_, resp, err := h.client.Server.Reboot(ctx, server)
		return resp, err
	})
	if err != nil {
		return cpi.CloudError(op, resp, err)
	}
	h.log.Infof("reboot_server: rebooting server %d", server.ID)
	return nil
}

// RenameServer renames a server (≤2 calls, more while it waits out
// another action).
func (h *Hetzner) RenameServer(ctx context.Context, sid string, body protocol.RenameBody) error {
	const op = "rename_server"
	if err := validName(op, body.Name); err != nil {
		return err
	}
	server, err := h.ownServer(ctx, op, sid)
	if err != nil {
		return err
	}
	if server.Name == body.Name {
		return nil
	}
	resp, err := h.whenUnlocked(ctx, op, server.ID, func() (*hcloud.Response, error) {
		_, resp, err := h.client.Server.Update(ctx, server, hcloud.ServerUpdateOpts{Name: body.Name})
		return resp, err
	})
	if hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
		return protocol.NewError(protocol.Conflict, "%s: another server is already named %q", op, body.Name).WithRetry(false)
	}
	if err != nil {
		return cpi.CloudError(op, resp, err)
	}
	h.log.Infof("rename_server: renamed server %d", server.ID)
	return nil
}

// UpdateConfig applies settings that need no rebuild (backups; see
// setBackups for the calls). Unknown keys and changes to rebuild settings
// (image, placement_group) are refused before anything changes.
func (h *Hetzner) UpdateConfig(ctx context.Context, sid string, body protocol.ConfigBody) error {
	const op = "update_config"
	s, err := h.parseSettings(op, body)
	if err != nil {
		return err
	}
	server, err := h.ownServer(ctx, op, sid)
	if err != nil {
		return err
	}
	current := currentSettings(server)
	for _, c := range []struct {
		field string
		want  *string
	}{{FieldImage, s.image}, {FieldPlacementGroup, s.placementGroup}} {
		if c.want != nil && *c.want != current[c.field] {
			return protocol.NewError(protocol.InvalidArguments,
				"%s: changing %s (from %q to %q) needs a new server (rebuild: true); order a replacement instead", op, c.field, current[c.field], *c.want)
		}
	}
	if s.backups == nil {
		return nil
	}
	return h.setBackups(ctx, op, server, *s.backups)
}

// InstallKey is not supported: this adapter uses reference keys.
func (h *Hetzner) InstallKey(context.Context, string, protocol.KeyBody) error {
	return protocol.NewError(protocol.NotImplemented,
		"install_key: not supported; this adapter uses reference keys (ssh_key_method \"reference\"): create the key with POST /keys and pass its id to order_server")
}

// hasZone reports whether network exists and has a subnet in zone.
func hasZone(network *hcloud.Network, zone string) bool {
	if network == nil {
		return false
	}
	for _, s := range network.Subnets {
		if string(s.NetworkZone) == zone {
			return true
		}
	}
	return false
}
