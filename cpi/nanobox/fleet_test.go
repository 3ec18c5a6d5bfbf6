package nanobox_test

import (
	"strconv"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// plant creates a server as someone else would, with labels.
func (h *harness) plant(name string, labels map[string]string) string {
	h.t.Helper()
	res, _, err := h.client().Server.Create(h.t.Context(), hcloudCreateOpts(name, labels))
	require.NoError(h.t, err)
	return itoa(res.Server.ID)
}

func (h *harness) listServers() []protocol.ListedServer {
	h.t.Helper()
	var out []protocol.ListedServer
	h.ok(h.call("list_servers"), &out)
	return out
}

// TestListServersListsOnlyOurs: list_servers answers the adapter's servers
// with query_server's status and addresses, and never a foreign server or
// one labelled nanobox=false (even one the adapter created).
func TestListServersListsOnlyOurs(t *testing.T) {
	for _, coalesced := range []bool{true, false} {
		t.Run("coalesce "+strconv.FormatBool(coalesced), func(t *testing.T) {
			h := newHarness(t, coalesce(coalesced, 60000))
			id, _ := h.orderOK("web1", "nbg1", "cx23")
			h.plant("foreign", nil)
			h.plant("hidden", map[string]string{"managed-by": "nanobox-hcloud", "Nanobox": "False"})
			h.plant("by-hand", map[string]string{"managed-by": "someone-else", "nanobox": "false"})

			list := h.listServers()
			require.Len(t, list, 1)
			got := list[0]
			var q protocol.Server
			h.ok(h.call("query_server", id), &q)
			sv := h.simServer(id)
			require.Equal(t, protocol.ListedServer{
				ID: id, Name: "web1", Status: q.Status, ExternalIP: q.ExternalIP, InternalIP: q.InternalIP,
				Region: "nbg1", Size: "cx23", Image: "ubuntu-24.04", Created: sv.Created.UTC().Format("2006-01-02T15:04:05Z07:00"),
				Labels: sv.Labels,
			}, got)
			require.Equal(t, "active", got.Status)
			require.NotEmpty(t, got.ExternalIP)
			require.NotEmpty(t, got.InternalIP)
		})
	}
}

// TestListServersWithoutPrivateNetwork: the public address is external_ip,
// whatever the network mode.
func TestListServersWithoutPrivateNetwork(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Network.Mode = config.NetworkNone })
	id, _ := h.orderOK("web1", "nbg1", "cx23")
	list := h.listServers()
	require.Len(t, list, 1)
	require.Equal(t, id, list[0].ID)
	require.NotEmpty(t, list[0].ExternalIP)
	require.Empty(t, list[0].InternalIP)
}

// TestListServersFromTheSnapshot: within the window, list_servers and
// query_server share one list request; a change to a server (which drops
// it from the snapshot) and a new server make the next list refresh, so
// neither is missing from it.
func TestListServersFromTheSnapshot(t *testing.T) {
	h := newHarness(t, coalesce(true, 60000))
	id, key := h.orderOK("web1", "nbg1", "cx23")
	reqs := h.budget(1, func() { require.Len(t, h.listServers(), 1) })
	require.Equal(t, 1, reqs[listRoute])
	h.budget(0, func() {
		require.Len(t, h.listServers(), 1)
		h.ok(h.call("query_server", id), nil)
	})

	h.ok(h.call("reboot_server", id), nil) // drops web1 from the snapshot
	reqs = h.budget(1, func() { require.Len(t, h.listServers(), 1) })
	require.Equal(t, 1, reqs[listRoute], "a snapshot missing a changed server is refreshed")

	h.ok(h.order("web2", "nbg1", "cx23", key, nil), nil) // marks the snapshot stale
	require.Len(t, h.listServers(), 2)
}

// TestListServersBudget: without the snapshot, one list request per 50
// servers.
func TestListServersBudget(t *testing.T) {
	h := newHarness(t, coalesce(false, 1000))
	h.orderOK("web1", "nbg1", "cx23")
	reqs := h.budget(1, func() { require.Len(t, h.listServers(), 1) })
	require.Equal(t, 1, reqs[listRoute])
}

func (h *harness) status(id string) string {
	h.t.Helper()
	return h.simServer(id).Status
}

// TestStopAndStartServer walks a server through stop and start, counting
// requests: a graceful stop of an obeying guest is the read, the shutdown
// and one read that sees it off; stopping an off server or starting a
// running one is the read alone.
func TestStopAndStartServer(t *testing.T) {
	h := newHarness(t, coalesce(false, 1000))
	id, _ := h.orderOK("web1", "nbg1", "cx23")
	require.Equal(t, "running", h.status(id))

	reqs := h.budget(3, func() { h.ok(h.call("stop_server", id, map[string]bool{"force": false}), nil) })
	require.Equal(t, 1, reqs["POST /v1/servers/{id}/actions/shutdown"])
	require.Zero(t, reqs["POST /v1/servers/{id}/actions/poweroff"])
	require.Equal(t, "off", h.status(id))

	h.budget(1, func() { h.ok(h.call("stop_server", id, map[string]bool{"force": true}), nil) })
	h.budget(1, func() { h.ok(h.call("stop_server", id, map[string]bool{}), nil) })

	reqs = h.budget(2, func() { h.ok(h.call("start_server", id), nil) })
	require.Equal(t, 1, reqs["POST /v1/servers/{id}/actions/poweron"])
	require.Equal(t, "running", h.status(id))
	h.budget(1, func() { h.ok(h.call("start_server", id), nil) })

	reqs = h.budget(2, func() { h.ok(h.call("stop_server", id, map[string]bool{"force": true}), nil) })
	require.Equal(t, 1, reqs["POST /v1/servers/{id}/actions/poweroff"])
	require.Zero(t, reqs["POST /v1/servers/{id}/actions/shutdown"])
	require.Equal(t, "off", h.status(id))
}

// TestStopServerPowersOffADeafGuest: a guest that ignores the ACPI shutdown
// is powered off once timeouts.shutdown_seconds have passed.
func TestStopServerPowersOffADeafGuest(t *testing.T) {
	h := newHarness(t, coalesce(false, 1000), func(c *config.Config) { c.Timeouts.ShutdownSeconds = 1 })
	id, _ := h.orderOK("web1", "nbg1", "cx23")
	n, _ := strconv.ParseInt(id, 10, 64)
	require.NoError(t, h.sim.Sim.IgnoreShutdown(n, true))

	reqs := h.budget(1000, func() { h.ok(h.call("stop_server", id, map[string]bool{"force": false}), nil) })
	require.Equal(t, 1, reqs["POST /v1/servers/{id}/actions/shutdown"])
	require.Equal(t, 1, reqs["POST /v1/servers/{id}/actions/poweroff"])
	require.GreaterOrEqual(t, reqs["GET /v1/servers/{id}"], 2, "the server was read while it was waited for")
	require.Equal(t, "off", h.status(id))
	require.Contains(t, h.logs.String(), "powering it off")
}

// TestStartStopOwnership: a foreign server is Forbidden, a hidden or
// missing one NotFound, and neither is touched; bad arguments change
// nothing.
func TestStartStopOwnership(t *testing.T) {
	h := newHarness(t)
	foreign := h.plant("foreign", nil)
	hidden := h.plant("hidden", map[string]string{"nanobox": "false"})
	for _, tc := range []struct {
		method string
		args   []any
		typ    protocol.ErrorType
	}{
		{"start_server", []any{foreign}, protocol.Forbidden},
		{"stop_server", []any{foreign, map[string]bool{"force": true}}, protocol.Forbidden},
		{"stop_server", []any{foreign, map[string]bool{}}, protocol.Forbidden},
		{"start_server", []any{hidden}, protocol.NotFound},
		{"stop_server", []any{hidden, map[string]bool{"force": true}}, protocol.NotFound},
		{"stop_server", []any{"999999", map[string]bool{}}, protocol.NotFound},
		{"stop_server", []any{"01", map[string]bool{}}, protocol.NotFound},
		{"stop_server", []any{foreign}, protocol.InvalidArguments},
		{"stop_server", []any{foreign, map[string]any{"force": "yes"}}, protocol.InvalidArguments},
		{"stop_server", []any{foreign, map[string]any{"forse": true}}, protocol.InvalidArguments},
		{"list_servers", []any{"x"}, protocol.InvalidArguments},
	} {
		h.fails(h.call(tc.method, tc.args...), tc.typ)
	}
	for _, r := range []string{"poweron", "poweroff", "shutdown"} {
		require.Zero(t, h.sim.Sim.Requests()["POST /v1/servers/{id}/actions/"+r], r)
	}
	require.Equal(t, "running", h.status(foreign))
	require.Equal(t, "running", h.status(hidden))
}

// TestListImages: the system images of both architectures, in one request.
func TestListImages(t *testing.T) {
	h := newHarness(t)
	var images []protocol.Image
	reqs := h.budget(1, func() { h.ok(h.call("list_images"), &images) })
	require.Equal(t, 1, reqs["GET /v1/images"])
	require.Len(t, images, 16)
	seen := map[string]bool{}
	for _, im := range images {
		seen[im.Name+"/"+im.Architecture] = true
		require.NotEmpty(t, im.ID)
		require.NotEmpty(t, im.OSFlavor)
		require.NotEmpty(t, im.OSVersion)
		require.Contains(t, []string{"x86", "arm"}, im.Architecture)
	}
	require.True(t, seen["ubuntu-24.04/x86"] && seen["ubuntu-24.04/arm"])
	require.Contains(t, images, protocol.Image{ID: "114690387", Name: "debian-12", Description: "Debian 12", OSFlavor: "debian", OSVersion: "12", Architecture: "x86"})
}

// TestListKeys: the adapter's keys as query_key answers them; foreign and
// hidden keys are not listed.
func TestListKeys(t *testing.T) {
	h := newHarness(t)
	id := h.createKey()
	_, _, err := h.client().SSHKey.Create(t.Context(), hcloud.SSHKeyCreateOpts{Name: "foreign", PublicKey: newPublicKey(t, "f")})
	require.NoError(t, err)
	_, _, err = h.client().SSHKey.Create(t.Context(), hcloud.SSHKeyCreateOpts{Name: "hidden", PublicKey: newPublicKey(t, "h"),
		Labels: map[string]string{"managed-by": "nanobox-hcloud", "nanobox": "false"}})
	require.NoError(t, err)
	var keys []protocol.Key
	h.budget(1, func() { h.ok(h.call("list_keys"), &keys) })
	var one protocol.Key
	h.ok(h.call("query_key", id), &one)
	require.Equal(t, []protocol.Key{one}, keys)
}

// TestExtensionsNeedAToken: every extension answers Unauthorized without
// a token and with a token Hetzner rejects.
func TestExtensionsNeedAToken(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { f := false; c.OperatorTokenForCalls = &f })
	for _, args := range [][]any{{"list_servers"}, {"list_images"}, {"list_keys"}, {"start_server", "1"}, {"stop_server", "1", map[string]bool{}}} {
		h.fails(h.callWith("", args[0].(string), args[1:]...), protocol.Unauthorized)
		h.fails(h.callWith("wrong-token", args[0].(string), args[1:]...), protocol.Unauthorized)
	}
}
