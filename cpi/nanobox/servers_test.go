package nanobox_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/nanobox"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func TestOrderServerValidatesWithoutAPICalls(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name                 string
		server, region, size string
		key                  string
		cfg                  map[string]any
		msg                  []string
	}{
		{"bad name", "bad_name!", "nbg1", "cx23", "1", nil, []string{"not a valid host name"}},
		{"label too long", "a" + string(make([]byte, 0)) + repeat("x", 64), "nbg1", "cx23", "1", nil, []string{"not a valid host name"}},
		{"leading hyphen", "-web", "nbg1", "cx23", "1", nil, []string{"not a valid host name"}},
		{"unknown region", "web1", "mars1", "cx23", "1", nil, []string{"unknown region", "fsn1", "nbg1", "ash"}},
		{"unknown size", "web1", "nbg1", "cx999", "1", nil, []string{"unknown size", "cx23", "ccx13"}},
		{"size not sold there", "web1", "ash", "cx23", "1", nil, []string{"not offered in ash", "cpx11"}},
		{"retired size", "web1", "fsn1", "cx22", "1", nil, []string{"retired in fsn1", "current alternatives: cx23"}},
		{"retired EU cpx", "web1", "nbg1", "cpx21", "1", nil, []string{"retired in nbg1", "cpx"}},
		{"missing ssh key", "web1", "nbg1", "cx23", "", nil, []string{"ssh_key"}},
		{"ssh key not an id", "web1", "nbg1", "cx23", "my-key", nil, []string{"not an SSH key id"}},
		{"unknown setting", "web1", "nbg1", "cx23", "1", map[string]any{"colour": "blue"}, []string{"unknown setting \"colour\""}},
		{"bad image", "web1", "nbg1", "cx23", "1", map[string]any{"image": "windows"}, []string{"image must be one of", "ubuntu-24.04"}},
		{"bad backups", "web1", "nbg1", "cx23", "1", map[string]any{"backups": true}, []string{"backups must be"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.budget(0, func() {
				h.fails(h.order(tc.server, tc.region, tc.size, tc.key, tc.cfg), protocol.InvalidArguments, tc.msg...)
			})
		})
	}
	require.Empty(t, h.sim.Sim.Created())
}

func repeat(s string, n int) string {
	out := ""
	for i := 0; i < n; i++ {
		out += s
	}
	return out
}

func TestOrderServerColdThenWarm(t *testing.T) {
	h := newHarness(t)
	key := h.createKey()
	var first protocol.IDResult
	h.budget(4, func() { h.ok(h.order("web1.example", "nbg1", "cx23", key, nil), &first) })

	// Warm path: the network id is cached (and checked by id), one create.
	var second protocol.IDResult
	reqs := h.budget(3, func() {
		h.ok(h.order("web2.example", "fsn1", "cx33", key, map[string]any{"image": "debian-12"}), &second)
	})
	require.Equal(t, map[string]int{"GET /v1/ssh_keys/{id}": 1, "GET /v1/networks/{id}": 1, "POST /v1/servers": 1}, reqs,
		"the budget of a warm order (docs/protocol.md): the key and the network, each read at use, and the create")

	st := h.sim.Sim.Snapshot()
	require.Len(t, st.Networks, 1)
	require.Equal(t, "nanobox", st.Networks[0].Name)
	require.Equal(t, "10.0.0.0/16", st.Networks[0].IPRange)
	require.Equal(t, "true", st.Networks[0].Labels["nanobox"])
	require.Len(t, st.Servers, 2)
	for _, s := range st.Servers {
		require.Equal(t, "true", s.Labels["nanobox"])
		require.Equal(t, "nanobox-hcloud", s.Labels["managed-by"])
		require.Len(t, s.PrivateNet, 1, "attached to the private network at create time")
		require.Equal(t, st.Networks[0].ID, s.PrivateNet[0].Network)
		require.NotEmpty(t, s.PublicNet.IPv4.IP, "public IPv4 stays enabled")
	}
	require.Equal(t, "debian-12", *st.Servers[1].Image.Name)
}

func TestOrderServerGetsASubnetInEveryZone(t *testing.T) {
	h := newHarness(t)
	key := h.createKey()
	for i, region := range []string{"nbg1", "ash", "hil", "sin", "hel1"} {
		size := "ccx13" // sold everywhere
		var res protocol.IDResult
		h.ok(h.order("node"+strconv.Itoa(i), region, size, key, nil), &res)
	}
	st := h.sim.Sim.Snapshot()
	require.Len(t, st.Networks, 1)
	zones := map[string]string{}
	for _, s := range st.Networks[0].Subnets {
		zones[s.NetworkZone] = s.IPRange
	}
	require.Equal(t, map[string]string{
		"eu-central": "10.0.0.0/18", "us-east": "10.0.64.0/18", "us-west": "10.0.128.0/18", "ap-southeast": "10.0.192.0/18",
	}, zones)
	for _, s := range st.Servers {
		require.Len(t, s.PrivateNet, 1, s.Name)
	}
}

func TestOrderServerRecoversFromStaleNetworkCache(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	id, key := h.orderOK("web1", "nbg1", "cx23")
	// Someone removes the server and the network behind the cache's back.
	h.ok(h.call("cancel_server", id), nil)
	c := h.client()
	waitGone(t, c, id)
	networks, err := c.Network.All(ctx)
	require.NoError(t, err)
	require.Len(t, networks, 1)
	_, err = c.Network.Delete(ctx, networks[0])
	require.NoError(t, err)

	var res protocol.IDResult
	h.ok(h.order("web2", "nbg1", "cx23", key, nil), &res)
	st := h.sim.Sim.Snapshot()
	require.Len(t, st.Networks, 1)
	require.NotEqual(t, networks[0].ID, st.Networks[0].ID)
	require.Len(t, st.Servers, 1)
	require.Equal(t, st.Networks[0].ID, st.Servers[0].PrivateNet[0].Network)

	// And the refreshed cache makes the next order warm again.
	h.budget(3, func() { h.ok(h.order("web3", "nbg1", "cx23", key, nil), nil) })
}

func waitGone(t *testing.T, c *hcloud.Client, id string) {
	t.Helper()
	n, _ := strconv.ParseInt(id, 10, 64)
	for i := 0; i < 100; i++ {
		s, _, err := c.Server.GetByID(context.Background(), n)
		require.NoError(t, err)
		if s == nil {
			return
		}
	}
	t.Fatalf("server %s still exists", id)
}

func TestOrderServerRefusesUnusableKeysBeforeCreatingAnything(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	hiddenKey, _, err := h.client().SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "hidden", PublicKey: newPublicKey(t, "h"), Labels: map[string]string{"NANOBOX": "false"}})
	require.NoError(t, err)
	for _, key := range []string{"987654", itoa(hiddenKey.ID)} {
		h.budget(1, func() {
			h.fails(h.order("web1", "nbg1", "cx23", key, nil), protocol.InvalidArguments, "SSH key", "does not exist")
		})
	}
	for _, c := range h.sim.Sim.Created() {
		require.Equal(t, "ssh_key", c.Kind, "nothing but the planted key was created: %+v", c)
	}
}

func TestOrderServerIsIdempotentOnItsName(t *testing.T) {
	h := newHarness(t)
	id, key := h.orderOK("web1", "nbg1", "cx23")
	var again protocol.IDResult
	// The key, the network, the create (uniqueness_error), the name.
	h.budget(4, func() { h.ok(h.order("web1", "nbg1", "cx23", key, nil), &again) })
	require.Equal(t, id, again.ID)
	require.Equal(t, 1, h.createdServers())

	// Same name, other size: not a retry.
	e := h.fails(h.order("web1", "nbg1", "cx33", key, nil), protocol.Conflict, "server "+id+" is already named", `size "cx23" (this order: "cx33")`)
	require.False(t, e.OkToRetry)
}

// TestReorderAdoptsOnlyAnExactMatch (issue 11.4): an order named like an
// existing server of Nanobox's adopts it only when it was ordered with the
// same SSH key, image, size and region (recorded at create time); any
// difference is a Conflict naming the existing server's id and what
// differs, and nothing is created or changed.
func TestReorderAdoptsOnlyAnExactMatch(t *testing.T) {
	h := newHarness(t)
	id, key := h.orderOK("web1", "nbg1", "cx23")
	otherKey := h.createKey()
	sv := h.simServer(id)
	require.Equal(t, key, sv.Labels[nanobox.LabelSSHKey], "the order's key is recorded")
	require.Equal(t, "ubuntu-24.04", sv.Labels[nanobox.LabelImage], "the order's image is recorded")
	cases := []struct {
		name, region, size, key string
		config                  map[string]any
		differs                 []string
	}{
		{"another key", "nbg1", "cx23", otherKey, nil, []string{`ssh_key "` + key + `" (this order: "` + otherKey + `")`}},
		{"another image", "nbg1", "cx23", key, map[string]any{"image": "debian-12"}, []string{`image "ubuntu-24.04" (this order: "debian-12")`}},
		{"another key and image", "nbg1", "cx23", otherKey, map[string]any{"image": "debian-12"}, []string{"ssh_key", "image"}},
		{"another region", "fsn1", "cx23", key, nil, []string{`region "nbg1" (this order: "fsn1")`}},
	}
	for _, tc := range cases {
		t.Log(tc.name)
		e := h.fails(h.order("web1", tc.region, tc.size, tc.key, tc.config), protocol.Conflict, append([]string{"server " + id + " is already named"}, tc.differs...)...)
		require.False(t, e.OkToRetry, tc.name)
	}
	require.Equal(t, 1, h.createdServers())
	require.Equal(t, sv.Labels, h.simServer(id).Labels, "the existing server is unchanged")

	// A server of Nanobox's whose order was not recorded is no match either.
	_, _, err := h.client().Server.Update(context.Background(), &hcloud.Server{ID: sv.ID},
		hcloud.ServerUpdateOpts{Labels: map[string]string{"nanobox": "true", "managed-by": "nanobox-hcloud"}})
	require.NoError(t, err)
	h.fails(h.order("web1", "nbg1", "cx23", key, nil), protocol.Conflict, "server "+id+" is already named", "(not recorded)")

	// The exact order still adopts (and records nothing new).
	_, _, err = h.client().Server.Update(context.Background(), &hcloud.Server{ID: sv.ID}, hcloud.ServerUpdateOpts{Labels: sv.Labels})
	require.NoError(t, err)
	var again protocol.IDResult
	h.ok(h.order("web1", "nbg1", "cx23", key, nil), &again)
	require.Equal(t, id, again.ID)
}

func TestOrderServerNameHeldByForeignServerIsConflict(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	key := h.createKey()
	_, _, err := h.client().Server.Create(ctx, hcloud.ServerCreateOpts{
		Name: "taken", ServerType: &hcloud.ServerType{Name: "cx23"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
		Location: &hcloud.Location{Name: "nbg1"},
	})
	require.NoError(t, err)
	h.fails(h.order("taken", "nbg1", "cx23", key, nil), protocol.Conflict, "did not create")
	require.Len(t, h.sim.Sim.Snapshot().Servers, 1)
}

func TestOrderServerCommitThenFailLeavesExactlyOneServer(t *testing.T) {
	h := newHarness(t)
	key := h.createKey()
	h.ok(h.order("warmup", "nbg1", "cx23", key, nil), nil) // network cached
	h.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	var res protocol.IDResult
	h.ok(h.order("web1", "nbg1", "cx23", key, nil), &res)
	require.Equal(t, 1, h.sim.Sim.FaultsInjected()[hcloudsim.FaultCommitThenFail])
	require.Equal(t, 2, h.createdServers(), "warmup + exactly one web1")
	var found bool
	for _, s := range h.sim.Sim.Snapshot().Servers {
		if s.Name == "web1" {
			found = true
			require.Equal(t, res.ID, strconv.FormatInt(s.ID, 10), "the id of the server the first attempt created")
		}
	}
	require.True(t, found)
}

func TestOrderServerWithoutRetriesAdoptsWhatTheFailedCreateMade(t *testing.T) {
	// hcloud-go retries a timeout; a CPI whose retries are spent (or a
	// create whose answer was lost) must still find its server.
	h := newHarness(t)
	key := h.createKey()
	h.ok(h.order("warmup", "nbg1", "cx23", key, nil), nil)
	h.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenFail, Times: 10})
	var res protocol.IDResult
	h.ok(h.order("web1", "nbg1", "cx23", key, nil), &res)
	require.Equal(t, 2, h.createdServers())
}

func TestOrderServerFailedCreateCreatesNothing(t *testing.T) {
	cases := []struct {
		kind  hcloudsim.FaultKind
		want  protocol.ErrorType
		retry bool
	}{
		{hcloudsim.FaultDrop, protocol.Unavailable, true},
		{hcloudsim.FaultResourceUnavailable, protocol.Unavailable, true},
		{hcloudsim.FaultRateLimit, protocol.RateLimited, true},
		{hcloudsim.FaultInternal, protocol.Unavailable, true},
		{hcloudsim.FaultGatewayTimeout, protocol.Timeout, true},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			h := newHarness(t)
			key := h.createKey()
			h.ok(h.order("warmup", "nbg1", "cx23", key, nil), nil)
			h.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers", Kind: tc.kind, Times: 50})
			e := h.fails(h.order("web1", "nbg1", "cx23", key, nil), tc.want, "order_server")
			require.Equal(t, tc.retry, e.OkToRetry)
			require.Equal(t, []string{"warmup"}, h.liveServers())
		})
	}
}

func TestServerLifecycle(t *testing.T) {
	h := newHarness(t)
	id, _ := h.orderOK("web1", "nbg1", "cx23")

	var srv protocol.Server
	for i := 0; i < 50 && srv.Status != "active"; i++ {
		h.budget(1, func() { h.ok(h.call("query_server", id), &srv) })
		require.Contains(t, []string{"initializing", "starting", "active"}, srv.Status)
	}
	require.Equal(t, "active", srv.Status)
	require.Equal(t, id, srv.ID)
	require.Equal(t, "web1", srv.Name)
	require.NotEmpty(t, srv.ExternalIP)
	require.Regexp(t, `^10\.0\.`, srv.InternalIP)
	require.Equal(t, map[string]any{"image": "ubuntu-24.04", "backups": "disabled", "placement_group": ""}, srv.Config)

	h.budget(2, func() { h.ok(h.call("reboot_server", id), nil) })
	h.budget(2, func() { h.ok(h.call("rename_server", id, map[string]string{"name": "web1-renamed"}), nil) })
	h.budget(0, func() {
		h.fails(h.call("rename_server", id, map[string]string{"name": "bad name"}), protocol.InvalidArguments)
	})

	// Backups: the lookup, the wish, the lookup, the enable, the wish again.
	h.budget(5, func() { h.ok(h.call("update_config", id, map[string]string{"backups": "enabled"}), nil) })
	h.budget(1, func() {
		h.ok(h.call("update_config", id, map[string]string{"backups": "enabled", "image": "ubuntu-24.04"}), nil)
	})
	h.budget(1, func() {
		h.fails(h.call("update_config", id, map[string]string{"image": "debian-12"}), protocol.InvalidArguments, "rebuild")
	})
	h.budget(0, func() {
		h.fails(h.call("update_config", id, map[string]string{"flavour": "x"}), protocol.InvalidArguments, "unknown setting")
	})
	h.ok(h.call("query_server", id), &srv)
	require.Equal(t, "web1-renamed", srv.Name)
	require.Equal(t, map[string]any{"image": "ubuntu-24.04", "backups": "enabled", "placement_group": ""}, srv.Config)
	h.budget(5, func() { h.ok(h.call("update_config", id, map[string]string{"backups": "disabled"}), nil) })
	h.ok(h.call("query_server", id), &srv)
	require.Equal(t, "disabled", srv.Config["backups"])

	h.budget(2, func() { h.ok(h.call("cancel_server", id), nil) })
	waitGone(t, h.client(), id)
	h.budget(1, func() { h.ok(h.call("cancel_server", id), nil) }) // already gone: success
	h.fails(h.call("query_server", id), protocol.NotFound)
	for _, m := range []string{"reboot_server"} {
		h.fails(h.call(m, id), protocol.NotFound)
	}
}

func TestQueryServerWithoutPrivateNetwork(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Network.Mode = config.NetworkNone })
	id, _ := h.orderOK("solo", "nbg1", "cx23")
	require.Empty(t, h.sim.Sim.Snapshot().Networks)
	var srv protocol.Server
	h.ok(h.call("query_server", id), &srv)
	require.NotEmpty(t, srv.InternalIP, "the only NIC is the internal one (rule 4)")
	require.Empty(t, srv.ExternalIP)
	require.Equal(t, h.sim.Sim.Snapshot().Servers[0].PublicNet.IPv4.IP, srv.InternalIP)
}

func TestServerOwnership(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.client()
	mk := func(name string, labels map[string]string) string {
		res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{
			Name: name, ServerType: &hcloud.ServerType{Name: "cx23"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
			Location: &hcloud.Location{Name: "nbg1"}, Labels: labels,
		})
		require.NoError(t, err)
		return strconv.FormatInt(res.Server.ID, 10)
	}
	hidden := mk("hidden", map[string]string{"Nanobox": "False"})
	foreign := mk("foreign", nil)

	for _, m := range []string{"query_server", "cancel_server", "reboot_server"} {
		h.fails(h.call(m, hidden), protocol.NotFound)
	}
	h.fails(h.call("rename_server", hidden, map[string]string{"name": "x"}), protocol.NotFound)
	h.fails(h.call("update_config", hidden, map[string]string{"backups": "enabled"}), protocol.NotFound)

	var srv protocol.Server
	h.ok(h.call("query_server", foreign), &srv) // reading is fine
	for _, m := range []string{"cancel_server", "reboot_server"} {
		h.fails(h.call(m, foreign), protocol.Forbidden, "allow_foreign")
	}
	h.fails(h.call("rename_server", foreign, map[string]string{"name": "x"}), protocol.Forbidden)
	h.fails(h.call("update_config", foreign, map[string]string{"backups": "enabled"}), protocol.Forbidden)
	require.ElementsMatch(t, []string{"hidden", "foreign"}, h.liveServers(), "nothing changed")
	require.Equal(t, 0, h.sim.Sim.Requests()["POST /v1/servers/{id}/actions/reboot"])

	allow := newHarnessOn(t, h, func(c *config.Config) { c.AllowForeign = true })
	allow.ok(allow.call("reboot_server", foreign), nil)
	allow.fails(allow.call("cancel_server", hidden), protocol.NotFound)
	allow.ok(allow.call("cancel_server", foreign), nil)
}

// TestServersMadeBeforeManagedByAreAdoptedByLabel: a server made before
// the adapter set managed-by (labelled nanobox=true only) is foreign: it
// is read, never changed, unless allow_foreign; once the operator adds
// managed-by=nanobox-hcloud it is the adapter's like any other.
func TestServersMadeBeforeManagedByAreAdoptedByLabel(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.client()
	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{
		Name: "legacy", ServerType: &hcloud.ServerType{Name: "cx23"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
		Location: &hcloud.Location{Name: "nbg1"}, Labels: map[string]string{"nanobox": "true"},
	})
	require.NoError(t, err)
	legacy := strconv.FormatInt(res.Server.ID, 10)

	var srv protocol.Server
	h.ok(h.call("query_server", legacy), &srv)
	require.Equal(t, "legacy", srv.Name)
	cases := []struct {
		method string
		args   []any
	}{
		{"reboot_server", []any{legacy}},
		{"rename_server", []any{legacy, map[string]string{"name": "renamed"}}},
		{"update_config", []any{legacy, map[string]string{"backups": "enabled"}}},
		{"cancel_server", []any{legacy}},
	}
	for _, tc := range cases {
		h.fails(h.call(tc.method, tc.args...), protocol.Forbidden, "managed-by=nanobox-hcloud", "allow_foreign")
	}
	require.Equal(t, []string{"legacy"}, h.liveServers(), "nothing changed")
	require.Zero(t, h.sim.Sim.Requests()["POST /v1/servers/{id}/actions/reboot"])

	allow := newHarnessOn(t, h, func(c *config.Config) { c.AllowForeign = true })
	allow.ok(allow.call("reboot_server", legacy), nil)

	// The operator adopts it: hcloud server add-label legacy managed-by=nanobox-hcloud.
	_, _, err = c.Server.Update(ctx, res.Server, hcloud.ServerUpdateOpts{
		Labels: map[string]string{"nanobox": "true", "managed-by": "nanobox-hcloud"},
	})
	require.NoError(t, err)
	h.ok(h.call("rename_server", legacy, map[string]string{"name": "adopted"}), nil)
	h.ok(h.call("cancel_server", legacy), nil)
	require.Empty(t, h.liveServers())
}

// TestFaultKinds drives query_server and reboot_server into every fault the
// simulator can inject and checks the protocol error each becomes.
func TestFaultKinds(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Timeouts.CallSeconds = 2 })
	id, _ := h.orderOK("web1", "nbg1", "cx23")
	cases := []struct {
		kind   hcloudsim.FaultKind
		method string
		want   protocol.ErrorType
		retry  bool
	}{
		{hcloudsim.FaultRateLimit, "GET", protocol.RateLimited, true},
		{hcloudsim.FaultInternal, "GET", protocol.Unavailable, true},
		{hcloudsim.FaultBadGateway, "GET", protocol.Unavailable, true},
		{hcloudsim.FaultUnavailable, "GET", protocol.Unavailable, true},
		{hcloudsim.FaultGatewayTimeout, "GET", protocol.Timeout, true},
		{hcloudsim.FaultLocked, "POST", protocol.Unavailable, true}, // still locked after the lock wait
		{hcloudsim.FaultConflict, "GET", protocol.Conflict, true},
		{hcloudsim.FaultResourceUnavailable, "POST", protocol.Unavailable, true},
		{hcloudsim.FaultDrop, "GET", protocol.Unavailable, true},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			h.sim.Sim.ClearFaults()
			route := "" // every read of query_server: the shared snapshot's list, then the direct GET
			if tc.method == "POST" {
				route = "/v1/servers/{id}/actions/reboot"
			}
			h.sim.Sim.AddFault(hcloudsim.Fault{Method: tc.method, Route: route, Kind: tc.kind, Times: 1000, Latency: 3e9})
			defer h.sim.Sim.ClearFaults()
			var resp response
			if tc.method == "POST" {
				resp = h.call("reboot_server", id)
			} else {
				resp = h.call("query_server", id)
			}
			e := h.fails(resp, tc.want)
			require.Equal(t, tc.retry, e.OkToRetry)
			require.Positive(t, h.sim.Sim.FaultsInjected()[tc.kind])
		})
	}
}

// TestDeadlineBoundsLatency: an API request that hangs longer than the
// call's deadline ends the call with a retryable Timeout (simtest does not
// judge the exchange the client abandoned).
func TestDeadlineBoundsLatency(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Timeouts.CallSeconds = 1 })
	id, _ := h.orderOK("web1", "nbg1", "cx23")
	// Any GET: query_server's first read is the shared snapshot's list.
	h.sim.Sim.AddFault(hcloudsim.Fault{Method: "GET", Kind: hcloudsim.FaultLatency, Latency: 30 * time.Second, Times: 1})
	e := h.fails(h.call("query_server", id), protocol.Timeout, "deadline")
	require.True(t, e.OkToRetry)
	require.Equal(t, 1, h.sim.Sim.FaultsInjected()[hcloudsim.FaultLatency])
}

func TestPlacementGroup(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	key := h.createKey()
	var a, b protocol.IDResult
	h.ok(h.order("spread-a", "nbg1", "cx23", key, map[string]any{"placement_group": "web-tier"}), &a)
	h.ok(h.order("spread-b", "fsn1", "cx23", key, map[string]any{"placement_group": "web-tier"}), &b)
	st := h.sim.Sim.Snapshot()
	require.Len(t, st.PlacementGroups, 1, "found by name the second time")
	require.Equal(t, "spread", st.PlacementGroups[0].Type)
	require.Equal(t, "true", st.PlacementGroups[0].Labels["nanobox"])
	require.Len(t, st.PlacementGroups[0].Servers, 2)

	var srv protocol.Server
	h.ok(h.call("query_server", a.ID), &srv)
	require.Equal(t, "web-tier", srv.Config["placement_group"])
	h.budget(1, func() { h.ok(h.call("update_config", a.ID, map[string]string{"placement_group": "web-tier"}), nil) })
	h.budget(1, func() {
		h.fails(h.call("update_config", a.ID, map[string]string{"placement_group": "other"}), protocol.InvalidArguments, "rebuild")
	})
	h.budget(0, func() {
		h.fails(h.order("x", "nbg1", "cx23", key, map[string]any{"placement_group": "bad name!"}), protocol.InvalidArguments, "placement_group")
	})

	_, _, err := h.client().PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: "theirs", Type: "spread", Labels: map[string]string{"nanobox": "FALSE"}})
	require.NoError(t, err)
	h.fails(h.order("x", "nbg1", "cx23", key, map[string]any{"placement_group": "theirs"}), protocol.InvalidArguments, "nanobox=false")
	require.NotContains(t, h.liveServers(), "x")
}

// TestActionsAreNotWaitedFor: reboot returns once Hetzner accepted it, so
// an action that later fails does not hold the call (and costs no polls).
func TestActionsAreNotWaitedFor(t *testing.T) {
	h := newHarness(t)
	id, _ := h.orderOK("web1", "nbg1", "cx23")
	h.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers/{id}/actions/reboot", Kind: hcloudsim.FaultActionError, Times: 1})
	reqs := h.budget(2, func() { h.ok(h.call("reboot_server", id), nil) })
	require.Equal(t, 1, reqs["POST /v1/servers/{id}/actions/reboot"])
	require.Equal(t, 1, h.sim.Sim.FaultsInjected()[hcloudsim.FaultActionError])
}

func TestNetworkNamedButHiddenIsRefused(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	_, ipnet, _ := net.ParseCIDR("10.0.0.0/16")
	_, _, err := h.client().Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "nanobox", IPRange: ipnet, Labels: map[string]string{"Nanobox": "false"}})
	require.NoError(t, err)
	key := h.createKey()
	e := h.fails(h.order("web1", "nbg1", "cx23", key, nil), protocol.Conflict, "nanobox=false", "network.name")
	require.False(t, e.OkToRetry)
	require.Empty(t, h.liveServers())
}

func TestNetworkWithAnotherRangeIsRefused(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	_, ipnet, _ := net.ParseCIDR("10.1.0.0/16")
	_, _, err := h.client().Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "nanobox", IPRange: ipnet})
	require.NoError(t, err)
	key := h.createKey()
	h.fails(h.order("web1", "nbg1", "cx23", key, nil), protocol.Conflict, "10.1.0.0/16", "network.ip_range")
	require.Empty(t, h.liveServers())
}
