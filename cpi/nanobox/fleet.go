package nanobox

import (
	"context"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statecache"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// The extension methods (protocol.Extension): what the libcloud driver and
// the Vagrant provider need beyond the Nanobox spec.

// ListServers lists the servers that are ours (cpi.Ours: label managed-by,
// not nanobox=false); a server that carries only nanobox=true is foreign
// and not listed (query_server still reads it). It is answered
// from the shared snapshot when that is fresh (see polling.window_ms; a
// refresh is one list request, a page per 50 servers), else it lists them
// (the same requests). Status is query_server's, read without converging
// backups: a running server whose backups wish is not met yet is
// "provisioning". external_ip is the public IPv4 address and internal_ip
// the private network's ("" in network mode none): the Nanobox rule that
// reports a lone NIC as internal is query_server's, not this method's.
func (h *Hetzner) ListServers(ctx context.Context) ([]protocol.ListedServer, error) {
	const op = "list_servers"
	servers, err := h.readServers(ctx, op)
	if err != nil {
		return nil, err
	}
	out := []protocol.ListedServer{}
	for _, s := range servers {
		if !cpi.Ours(s.Labels) {
			continue
		}
		out = append(out, h.listed(s))
	}
	return out, nil
}

// readServers lists the servers of OwnedSelector: from the snapshot when
// it is fresh, else from the API.
func (h *Hetzner) readServers(ctx context.Context, op string) ([]*hcloud.Server, error) {
	if p := h.polls; p != nil && p.cache != nil {
		servers, res, err := p.cache.All(ctx, p.readWindow())
		if err != nil {
			h.log.WithError(err).Debug("shared server snapshot unavailable; listing the servers directly")
		}
		if res != statecache.Miss {
			return servers, nil
		}
	}
	servers, err := h.client.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: OwnedSelector, PerPage: 50}})
	if err != nil {
		return nil, cpi.CloudError(op, nil, err)
	}
	return servers, nil
}

// listed is one entry of list_servers.
func (h *Hetzner) listed(s *hcloud.Server) protocol.ListedServer {
	status := string(s.Status)
	if s.Status == hcloud.ServerStatusRunning {
		status = "active"
		if wantsBackups(s.Labels) && s.BackupWindow == "" {
			status = StatusProvisioning
		}
	}
	out := protocol.ListedServer{
		ID: strconv.FormatInt(s.ID, 10), Name: s.Name, Status: status,
		Region: locationName(s), Size: typeName(s), Image: imageName(s), Labels: s.Labels,
	}
	if !s.Created.IsZero() {
		out.Created = s.Created.UTC().Format(time.RFC3339)
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.ExternalIP = ipString(s.PublicNet.IPv4.IP)
	if h.cfg.Network.Mode != config.NetworkNone {
		out.InternalIP = h.privateIP(s)
	}
	return out
}

// imageName is the server's image by name, by id when it has none, ""
// when the image is gone.
func imageName(s *hcloud.Server) string {
	switch {
	case s.Image == nil || s.Image.ID == 0 && s.Image.Name == "":
		return ""
	case s.Image.Name != "":
		return s.Image.Name
	}
	return strconv.FormatInt(s.Image.ID, 10)
}

// StartServer powers a server on (≤2 calls, more while it waits out
// another action) and returns without waiting for it to run. A server that
// is running or starting already is left as it is (1 call).
func (h *Hetzner) StartServer(ctx context.Context, sid string) error {
	const op = "start_server"
	server, err := h.ownServer(ctx, op, sid)
	if err != nil {
		return err
	}
	if server.Status == hcloud.ServerStatusRunning || server.Status == hcloud.ServerStatusStarting {
		return nil
	}
	resp, err := h.whenUnlocked(ctx, op, server.ID, func() (*hcloud.Response, error) {
		_, resp, err := h.client.Server.Poweron(ctx, server)
		return resp, err
	})
	if err != nil {
		return cpi.CloudError(op, resp, err)
	}
	h.log.Infof("start_server: starting server %d", server.ID)
	return nil
}

// StopServer stops a server. Forced: a power-off (≤2 calls), not waited
// for. Graceful: Hetzner's ACPI shutdown (≤2 calls), then the server is
// read every poll interval until it is off, for at most
// timeouts.shutdown_seconds (ShutdownWait); one still not off then is
// powered off (1 call more). A server that is off already is left as it is
// (1 call).
func (h *Hetzner) StopServer(ctx context.Context, sid string, body protocol.StopBody) error {
	const op = "stop_server"
	server, err := h.ownServer(ctx, op, sid)
	if err != nil {
		return err
	}
	if server.Status == hcloud.ServerStatusOff {
		return nil
	}
	if !body.Force {
		off, err := h.shutdown(ctx, op, server)
		if err != nil || off {
			return err
		}
		h.log.Warnf("stop_server: server %d is not off %s after the shutdown; powering it off", server.ID, h.cfg.ShutdownWait())
	}
	resp, err := h.whenUnlocked(ctx, op, server.ID, func() (*hcloud.Response, error) {
		_, resp, err := h.client.Server.Poweroff(ctx, server)
		return resp, err
	})
	if err != nil {
		return cpi.CloudError(op, resp, err)
	}
	h.log.Infof("stop_server: powering server %d off", server.ID)
	return nil
}

// shutdown sends the ACPI shutdown and waits up to ShutdownWait for the
// server to be off; off reports whether it is.
func (h *Hetzner) shutdown(ctx context.Context, op string, server *hcloud.Server) (off bool, err error) {
	resp, err := h.whenUnlocked(ctx, op, server.ID, func() (*hcloud.Response, error) {
		_, resp, err := h.client.Server.Shutdown(ctx, server)
		return resp, err
	})
	if err != nil {
		return false, cpi.CloudError(op, resp, err)
	}
	h.log.Infof("stop_server: shutting server %d down", server.ID)
	deadline := time.Now().Add(h.cfg.ShutdownWait())
	for {
		current, err := h.getServer(ctx, op, server.ID)
		switch {
		case err != nil:
			return false, err
		case current == nil:
			return false, protocol.NewError(protocol.NotFound, "%s: server %d was deleted while it shut down", op, server.ID)
		case current.Status == hcloud.ServerStatusOff:
			return true, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		timer := time.NewTimer(min(h.cfg.PollInterval(), left))
		select {
		case <-ctx.Done():
			timer.Stop()
			return false, cpi.CloudError(op+": waiting for the shutdown", nil, ctx.Err())
		case <-timer.C:
		}
	}
}

// ListImages lists Hetzner's system images, for both architectures (1
// call, a page per 50 images).
func (h *Hetzner) ListImages(ctx context.Context) ([]protocol.Image, error) {
	images, err := h.client.Image.AllWithOpts(ctx, hcloud.ImageListOpts{
		ListOpts: hcloud.ListOpts{PerPage: 50}, Type: []hcloud.ImageType{hcloud.ImageTypeSystem},
	})
	if err != nil {
		return nil, cpi.CloudError("list_images", nil, err)
	}
	out := make([]protocol.Image, 0, len(images))
	for _, im := range images {
		out = append(out, protocol.Image{
			ID: strconv.FormatInt(im.ID, 10), Name: im.Name, Description: im.Description,
			OSFlavor: im.OSFlavor, OSVersion: im.OSVersion, Architecture: string(im.Architecture),
		})
	}
	return out, nil
}

// ListKeys lists the SSH keys the adapter created (label managed-by),
// except those labelled nanobox=false, as query_key answers them (1 call, a
// page per 50 keys).
func (h *Hetzner) ListKeys(ctx context.Context) ([]protocol.Key, error) {
	keys, err := h.client.SSHKey.AllWithOpts(ctx, hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{LabelSelector: OwnedSelector, PerPage: 50}})
	if err != nil {
		return nil, cpi.CloudError("list_keys", nil, err)
	}
	out := []protocol.Key{}
	for _, k := range keys {
		if !cpi.Ours(k.Labels) {
			continue
		}
		out = append(out, keyOf(k))
	}
	return out, nil
}
