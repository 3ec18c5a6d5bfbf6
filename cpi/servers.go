package cpi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/cloudinit"
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
			"%s: name %q is not a valid host name (RFC 1123: letters, digits, '-' and '.', labels of 1-63 characters not starting or ending with '-')", op, truncate(name, 80))
	}
	return nil
}

// order is a validated order_server request.
type order struct {
	name, location, serverType, image, zone string
	placementGroup                          string // "" = none
	sshKey                                  int64
	backups                                 bool
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
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var problems []string
	for _, k := range keys {
		v, isString := in[k].(string)
		switch k {
		case FieldImage:
			if !isString || !contains(h.cfg.Images, v) {
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
			problems = append(problems, "unknown setting "+strconv.Quote(truncate(k, 40))+" (known: image, backups, placement_group)")
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
			op, truncate(o.location, 40), strings.Join(m.OrderableLocations(), ", "))
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
	o.sshKey, err = strconv.ParseInt(body.SSHKey, 10, 64)
	if err != nil || !canonicalDecimal(body.SSHKey) {
		return order{}, protocol.NewError(protocol.InvalidArguments, "%s: ssh_key %q is not an SSH key id (the number create_key returned)", op, truncate(body.SSHKey, 40))
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
			op, truncate(size, 40), location, strings.Join(current, ", "))
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

// OrderServer creates a server and returns its id without waiting for it
// to boot. Warm path (network id cached): 2 API calls (the SSH key, the
// create), with or without backups.
//
// Backups cannot be part of Hetzner's create, and a new server is locked by
// its create action for tens of seconds, so the order records the wish as
// the label nanobox-backups=enabled and query_server enables them once the
// server runs (see QueryServer); the label also travels with a server that
// a retried order adopts.
//
// It never leaves a server behind that nobody knows of: a create answered
// with uniqueness_error adopts our own identical server (a retried create);
// a create whose outcome is unknown (timeout, 5xx, dropped connection)
// looks the name up and adopts what it created; once a server exists, its
// id is the answer (see adopted).
func (h *Hetzner) OrderServer(ctx context.Context, body protocol.OrderServerBody) (protocol.IDResult, error) {
	const op = "order_server"
	o, err := h.validateOrder(body)
	if err != nil {
		return protocol.IDResult{}, err
	}
	// The key must exist and be usable: one labelled nanobox=false does
	// not exist for Nanobox. Checked before anything is created.
	key, resp, err := h.client.SSHKey.GetByID(ctx, o.sshKey)
	if err != nil {
		return protocol.IDResult{}, cloudError(op+": looking up the SSH key", resp, err)
	}
	if key == nil || hidden(key.Labels) {
		return protocol.IDResult{}, protocol.NewError(protocol.InvalidArguments,
			"%s: SSH key %d does not exist; create it with create_key and pass the id it returns", op, o.sshKey)
	}
	opts := hcloud.ServerCreateOpts{
		Name:             o.name,
		ServerType:       &hcloud.ServerType{Name: o.serverType},
		Image:            &hcloud.Image{Name: o.image},
		SSHKeys:          []*hcloud.SSHKey{{ID: o.sshKey}},
		Location:         &hcloud.Location{Name: o.location},
		Labels:           h.serverLabels(o.backups),
		StartAfterCreate: hcloud.Ptr(true),
		// PublicNet stays nil: an empty ServerCreatePublicNet would
		// disable both IPv4 and IPv6.
	}
	if o.placementGroup != "" {
		pg, err := h.ensurePlacementGroup(ctx, o.placementGroup)
		if err != nil {
			return protocol.IDResult{}, err
		}
		opts.PlacementGroup = pg
	}
	var fromCache bool
	var networkID int64
	if h.cfg.Network.Mode == config.NetworkPrivate {
		networkID, fromCache, err = h.ensureNetwork(ctx, o.zone)
		if err != nil {
			return protocol.IDResult{}, err
		}
		opts.Networks = []*hcloud.Network{{ID: networkID}}
		if opts.UserData, err = cloudinit.UserData(cloudinit.Options{PrivateIface: PrivateIface}); err != nil {
			return protocol.IDResult{}, protocol.NewError(protocol.InternalError, "%s: %v", op, err)
		}
	}
	result, resp, err := h.client.Server.Create(ctx, opts)
	if err != nil && fromCache && hcloud.IsError(err, hcloud.ErrorCodeNotFound, hcloud.ErrorCodeInvalidInput, hcloud.ErrorCodeNoSubnetAvailable) {
		// The cached network may have been deleted or lost its subnet:
		// check, and retry once with a fresh lookup.
		if network, _, gerr := h.client.Network.GetByID(ctx, networkID); gerr == nil && !hasZone(network, o.zone) {
			h.log.Warnf("order_server: cached network %d is gone; looking it up again", networkID)
			_ = h.state.forgetNetwork(h.cfg.Network.Name)
			if networkID, _, err = h.ensureNetwork(ctx, o.zone); err != nil {
				return protocol.IDResult{}, err
			}
			opts.Networks = []*hcloud.Network{{ID: networkID}}
			result, resp, err = h.client.Server.Create(ctx, opts)
		}
	}
	if err != nil {
		if hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
			existing, aerr := h.adopt(ctx, o, cloudError(op+": creating server", resp, err))
			if aerr != nil {
				return protocol.IDResult{}, aerr
			}
			return h.adopted(ctx, o, existing)
		}
		if outcomeUnknown(err) {
			if existing := h.findCreated(ctx, o); existing != nil {
				h.log.Warnf("order_server: the create failed (%v) but server %d exists; using it", err, existing.ID)
				return h.adopted(ctx, o, existing)
			}
		}
		return protocol.IDResult{}, cloudError(op+": creating server", resp, err)
	}
	if result.Server == nil {
		return protocol.IDResult{}, protocol.NewError(protocol.CloudError, "%s: Hetzner answered without a server", op)
	}
	server := result.Server
	h.log.Infof("order_server: created server %d (%s in %s)", server.ID, o.serverType, o.location)
	return protocol.IDResult{ID: strconv.FormatInt(server.ID, 10)}, nil
}

// serverLabels are the labels of a new server: ours, plus the backups wish.
func (h *Hetzner) serverLabels(backups bool) map[string]string {
	l := h.labels()
	l[LabelBackups] = backupsValue(backups)
	return l
}

func backupsValue(on bool) string {
	if on {
		return BackupsEnabled
	}
	return BackupsDisabled
}

// wantsBackups reports whether a server's labels ask for backups.
func wantsBackups(labels map[string]string) bool {
	return labels[LabelBackups] == BackupsEnabled
}

// adopted answers the id of a server this order adopted (created by an
// earlier attempt, or by an identical order). An order with backups whose
// wish the server does not carry yet (an order that differs only in
// backups, or a server made before the label existed) records it first (1
// call), so query_server converges; if that fails the order fails
// retryably and keeps the server, since deleting it could race with an
// identical order that adopted it too. A re-order adopts it again.
func (h *Hetzner) adopted(ctx context.Context, o order, server *hcloud.Server) (protocol.IDResult, error) {
	if o.backups && server.BackupWindow == "" && !wantsBackups(server.Labels) {
		op := "order_server: server " + strconv.FormatInt(server.ID, 10) + " exists; recording its backups"
		if err := h.setBackupsWish(ctx, op, server, true); err != nil {
			return protocol.IDResult{}, err
		}
	}
	return protocol.IDResult{ID: strconv.FormatInt(server.ID, 10)}, nil
}

// setBackupsWish sets the nanobox-backups label of a server (1 call),
// keeping its other labels. op prefixes the error.
func (h *Hetzner) setBackupsWish(ctx context.Context, op string, server *hcloud.Server, on bool) error {
	labels := make(map[string]string, len(server.Labels)+1)
	for k, v := range server.Labels {
		labels[k] = v
	}
	labels[LabelBackups] = backupsValue(on)
	if _, resp, err := h.client.Server.Update(ctx, server, hcloud.ServerUpdateOpts{Labels: labels}); err != nil {
		return cloudError(op, resp, err)
	}
	server.Labels = labels
	return nil
}

// outcomeUnknown reports whether a failed create may have been carried out
// anyway: the API or the connection failed, rather than refusing.
func outcomeUnknown(err error) bool {
	var apiErr hcloud.Error
	if errors.As(err, &apiErr) {
		switch apiErr.Code {
		case hcloud.ErrorCodeTimeout, hcloud.ErrorCodeBadGateway, hcloud.ErrorCodeServiceError,
			hcloud.ErrorCodeServerError, hcloud.ErrorCodeUnknownError:
			return true
		}
		return false
	}
	return true // HTTP 5xx without a body, connection errors, deadline
}

// cleanupContext outlives the call's deadline just long enough to clean up.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// adopt answers a create that met uniqueness_error on the name: our own
// server of the same location and type (a retry whose first attempt
// succeeded) is the result; anything else is a Conflict.
func (h *Hetzner) adopt(ctx context.Context, o order, createErr *protocol.Error) (*hcloud.Server, error) {
	const op = "order_server"
	server, resp, err := h.client.Server.GetByName(ctx, o.name)
	if err != nil {
		return nil, cloudError(op+": looking up the existing server "+o.name, resp, err)
	}
	if server == nil {
		return nil, createErr
	}
	if hidden(server.Labels) || !ours(server.Labels) {
		return nil, protocol.NewError(protocol.Conflict,
			"%s: the name %q is taken by a server Nanobox did not create; choose another name", op, o.name).WithRetry(false)
	}
	if !sameOrder(server, o) {
		return nil, protocol.NewError(protocol.Conflict,
			"%s: a server named %q already exists with another region or size (%s in %s)", op, o.name, typeName(server), locationName(server)).WithRetry(false)
	}
	h.log.Infof("order_server: server %d named %s already exists (a retried order); using it", server.ID, o.name)
	return server, nil
}

func sameOrder(s *hcloud.Server, o order) bool {
	return typeName(s) == o.serverType && locationName(s) == o.location
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

// findCreated looks for the server a failed create may have made.
func (h *Hetzner) findCreated(ctx context.Context, o order) *hcloud.Server {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	server, _, err := h.client.Server.GetByName(cctx, o.name)
	if err != nil || server == nil || hidden(server.Labels) || !ours(server.Labels) || !sameOrder(server, o) {
		return nil
	}
	return server
}

// getServer fetches a server Nanobox may see: nil (and no error) when it
// does not exist, NotFound when it is labelled nanobox=false.
func (h *Hetzner) getServer(ctx context.Context, op string, id int64) (*hcloud.Server, error) {
	server, resp, err := h.client.Server.GetByID(ctx, id)
	if err != nil {
		return nil, cloudError(op, resp, err)
	}
	if server != nil && hidden(server.Labels) {
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
// call. The poll that converges a server ordered with backups (label nanobox-backups=enabled, see OrderServer): when such
// a server runs, is not locked and has no backup window yet, the poll
// enables them (1 more call, after which the snapshot reads the server
// afresh) and reports "active" with backups "enabled".
// Until then the status is the Hetzner status, or "provisioning" for a
// running server, so an orchestrator polling until "active" keeps polling:
// the server is not what was ordered yet. A locked server, or an enable
// answered with something a retry can fix (locked, conflict, rate limit,
// 5xx, timeout), is "not yet" on this poll: still one answer, no error.
// An enable Hetzner refuses for good (e.g. a read-only token) is the
// answer's error, naming update_config as the way out.
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

// convergeBackups enables the backups a server was ordered with, once it
// runs and is not locked (1 call; none when there is nothing to do or it
// is too early). complete says whether the server now has what was
// ordered; a successful enable sets server.BackupWindow so the caller
// reports backups "enabled". Only servers Nanobox created are changed.
func (h *Hetzner) convergeBackups(ctx context.Context, server *hcloud.Server) (complete bool, err error) {
	if !wantsBackups(server.Labels) || server.BackupWindow != "" || !ours(server.Labels) {
		return true, nil
	}
	if server.Status != hcloud.ServerStatusRunning || server.Locked {
		return false, nil
	}
	_, resp, err := h.client.Server.EnableBackup(ctx, server, "")
	if err != nil {
		perr := cloudError(fmt.Sprintf("query_server: enabling the backups server %d was ordered with", server.ID), resp, err)
		if perr.OkToRetry {
			h.log.Infof("%s; not yet (%s), the next poll tries again", perr.Message, perr.Type)
			return false, nil
		}
		perr.Message += "; set backups to \"disabled\" with update_config to drop the wish, or fix the cause"
		return false, perr
	}
	h.log.Infof("query_server: enabled the backups server %d was ordered with", server.ID)
	if server.BackupWindow == "" {
		server.BackupWindow = "pending" // Hetzner picks the window; reported as enabled
	}
	return true, nil
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
		return nil, cloudError(op+" "+name, resp, err)
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
			return nil, cloudError(op+" "+name, resp, err)
		}
		if pg == nil {
			return nil, protocol.NewError(protocol.CloudError, "%s %q: Hetzner answered without a placement group", op, name)
		}
		h.log.Infof("order_server: created spread placement group %d (%s)", pg.ID, name)
	}
	if hidden(pg.Labels) {
		return nil, protocol.NewError(protocol.InvalidArguments, "%s %q is labelled nanobox=false and may not be used; choose another name", op, name)
	}
	if pg.Type != hcloud.PlacementGroupTypeSpread {
		return nil, protocol.NewError(protocol.InvalidArguments, "%s %q is not a spread group", op, name)
	}
	return pg, nil
}

// CancelServer deletes a server and returns once Hetzner accepted (≤2
// calls). A server already gone is success.
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
	_, resp, err := h.client.Server.DeleteWithResult(ctx, server)
	if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		return cloudError(op, resp, err)
	}
	h.log.Infof("cancel_server: deleting server %d", id)
	return nil
}

// RebootServer asks Hetzner to reboot (≤2 calls); it does not wait.
func (h *Hetzner) RebootServer(ctx context.Context, sid string) error {
	const op = "reboot_server"
	server, err := h.ownServer(ctx, op, sid)
	if err != nil {
		return err
	}
	if _, resp, err := h.client.Server.Reboot(ctx, server); err != nil {
		return cloudError(op, resp, err)
	}
	h.log.Infof("reboot_server: rebooting server %d", server.ID)
	return nil
}

// RenameServer renames a server (≤2 calls).
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
	if _, resp, err := h.client.Server.Update(ctx, server, hcloud.ServerUpdateOpts{Name: body.Name}); err != nil {
		if hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
			return protocol.NewError(protocol.Conflict, "%s: another server is already named %q", op, body.Name).WithRetry(false)
		}
		return cloudError(op, resp, err)
	}
	h.log.Infof("rename_server: renamed server %d", server.ID)
	return nil
}

// UpdateConfig applies settings that need no rebuild: 1 call, plus one per
// changed setting. The one exception costs one more: turning backups off on
// a server ordered with them first clears its nanobox-backups wish (see
// QueryServer), or the next poll would turn them on again. Unknown keys and
// changes to rebuild settings (image, placement_group) are refused before
// anything changes.
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
	if s.image != nil && *s.image != current[FieldImage] {
		return protocol.NewError(protocol.InvalidArguments,
			"%s: changing image (from %q to %q) needs a new server (rebuild: true); order a replacement instead", op, current[FieldImage], *s.image)
	}
	if s.placementGroup != nil && *s.placementGroup != current[FieldPlacementGroup] {
		return protocol.NewError(protocol.InvalidArguments,
			"%s: changing placement_group (from %q to %q) needs a new server (rebuild: true); order a replacement instead", op, current[FieldPlacementGroup], *s.placementGroup)
	}
	if s.backups != nil {
		// Off: the wish goes first. query_server enables backups on a
		// server whose label asks for them, so the label must never ask
		// for backups the user turned off. On needs no label: a failed
		// enable is a retryable error the orchestrator retries.
		if !*s.backups && ours(server.Labels) && wantsBackups(server.Labels) {
			if err := h.setBackupsWish(ctx, op+": recording the backups setting", server, false); err != nil {
				return err
			}
		}
		on := current[FieldBackups] == BackupsEnabled
		switch {
		case *s.backups && !on:
			if _, resp, err := h.client.Server.EnableBackup(ctx, server, ""); err != nil {
				return cloudError(op+": enabling backups", resp, err)
			}
			h.log.Infof("update_config: enabled backups on server %d", server.ID)
		case !*s.backups && on:
			if _, resp, err := h.client.Server.DisableBackup(ctx, server); err != nil {
				return cloudError(op+": disabling backups", resp, err)
			}
			h.log.Infof("update_config: disabled backups on server %d", server.ID)
		}
	}
	return nil
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
