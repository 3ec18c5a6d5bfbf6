package nanobox_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/nanobox"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Backups cannot be part of Hetzner's create, and a new server is locked by
// its create action while it boots: order_server records the wish as the
// label nanobox-backups and query_server enables backups once the server
// runs, reporting "active" only then.

const enableBackupRoute = "POST /v1/servers/{id}/actions/enable_backup"

// simServer is the live server with that id, as the simulator holds it.
func (h *harness) simServer(id string) schema.Server {
	h.t.Helper()
	for _, s := range h.sim.Sim.Snapshot().Servers {
		if strconv.FormatInt(s.ID, 10) == id {
			return s
		}
	}
	h.t.Fatalf("no server %s", id)
	return schema.Server{}
}

// orderWithBackups creates a key and orders web1 (nbg1, cx23) with
// backups; it returns the order's answer and the key's id.
func (h *harness) orderWithBackups() (protocol.IDResult, string) {
	h.t.Helper()
	key := h.createKey()
	var res protocol.IDResult
	h.ok(h.order("web1", "nbg1", "cx23", key, map[string]any{"backups": "enabled"}), &res)
	return res, key
}

// query asserts query_server answers, within max API requests, and returns
// the server and the requests made.
func (h *harness) query(id string, max int) (protocol.Server, map[string]int) {
	h.t.Helper()
	var srv protocol.Server
	reqs := h.budget(max, func() { h.ok(h.call("query_server", id), &srv) })
	return srv, reqs
}

func TestOrderWithBackupsConvergesOnTheFirstRunningPoll(t *testing.T) {
	h := newHarness(t)
	key := h.createKey()
	h.ok(h.order("warmup", "nbg1", "cx23", key, nil), nil) // network cached

	var res protocol.IDResult
	reqs := h.budget(3, func() { h.ok(h.order("web1", "nbg1", "cx23", key, map[string]any{"backups": "enabled"}), &res) })
	require.Zero(t, reqs[enableBackupRoute], "order_server does not wait for the server")
	sv := h.simServer(res.ID)
	require.Equal(t, "enabled", sv.Labels[cpi.LabelBackups])
	require.Nil(t, sv.BackupWindow)

	// The converging poll: 3 calls (the enable, then the wish read again),
	// and the server is what was ordered.
	srv, reqs := h.query(res.ID, 3)
	require.Equal(t, map[string]int{"GET /v1/servers": 1, enableBackupRoute: 1, "GET /v1/servers/{id}": 1}, reqs,
		"the budget of the converging poll (docs/protocol.md): the read (here the shared snapshot's list request), the switch, the wish read again")
	require.Equal(t, "active", srv.Status)
	require.Equal(t, "enabled", srv.Config["backups"])
	require.NotNil(t, h.simServer(res.ID).BackupWindow)

	// Every later poll: 1 call.
	for i := 0; i < 3; i++ {
		srv, _ = h.query(res.ID, 1)
		require.Equal(t, "active", srv.Status)
		require.Equal(t, "enabled", srv.Config["backups"])
	}

	// Without backups the wish is recorded too, and nothing converges.
	var plain protocol.IDResult
	h.ok(h.order("web2", "nbg1", "cx23", key, nil), &plain)
	require.Equal(t, "disabled", h.simServer(plain.ID).Labels[cpi.LabelBackups])
	srv, _ = h.query(plain.ID, 1)
	require.Equal(t, "active", srv.Status)
	require.Equal(t, "disabled", srv.Config["backups"])
}

// TestOrderWithBackupsOnASlowBoot: the simulator boots in about a second;
// the order answers at once, the server is never "active" without its
// backups, and once active it has them. Also when the create's answer was
// lost (commit_then_fail) and the retried create adopted the server.
func TestOrderWithBackupsOnASlowBoot(t *testing.T) {
	cases := []struct {
		name  string
		fault *hcloudsim.Fault
	}{
		{"create answered", nil},
		{"create answer lost", &hcloudsim.Fault{Method: "POST", Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenFail, Times: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, hcloudsim.Options{Delays: hcloudsim.Delays{Initializing: time.Second, Starting: 200 * time.Millisecond}})
			key := h.createKey()
			if tc.fault != nil {
				h.sim.Sim.AddFault(*tc.fault)
			}
			var res protocol.IDResult
			reqs := h.budget(6, func() { h.ok(h.order("web1", "nbg1", "cx23", key, map[string]any{"backups": "enabled"}), &res) })
			require.Zero(t, reqs[enableBackupRoute])
			require.Zero(t, reqs["PUT /v1/servers/{id}"], "the create carried the wish")
			if tc.fault != nil {
				require.Equal(t, 1, h.sim.Sim.FaultsInjected()[hcloudsim.FaultCommitThenFail])
			}
			require.Equal(t, 1, h.createdServers())

			var seen []string
			enables := 0
			deadline := time.Now().Add(20 * time.Second)
			for {
				srv, reqs := h.query(res.ID, 3)
				enables += reqs[enableBackupRoute]
				seen = append(seen, srv.Status)
				if srv.Status == "active" {
					require.Equal(t, "enabled", srv.Config["backups"])
					break
				}
				require.Contains(t, []string{"initializing", "starting", nanobox.StatusProvisioning}, srv.Status)
				require.Equal(t, "disabled", srv.Config["backups"], "the real setting until it is applied")
				require.Zero(t, reqs[enableBackupRoute], "no enable before the server runs")
				require.True(t, time.Now().Before(deadline), "never active; statuses: %v", seen)
				time.Sleep(20 * time.Millisecond) // poll interval of the test's orchestrator
			}
			require.Equal(t, "initializing", seen[0], "the first poll comes while the server boots")
			require.Equal(t, 1, enables)
			srv, _ := h.query(res.ID, 1)
			require.Equal(t, "active", srv.Status)
			require.Equal(t, "enabled", srv.Config["backups"])
		})
	}
}

// TestBackupsNotYetIsNotAnError: a server that runs but is locked, or whose
// enable Hetzner answers with something a retry can fix, is "provisioning"
// on that poll (no error, 1 extra call at most); a later poll converges.
func TestBackupsNotYetIsNotAnError(t *testing.T) {
	cases := []struct {
		kind hcloudsim.FaultKind
	}{
		{hcloudsim.FaultLocked},
		{hcloudsim.FaultInternal},
		{hcloudsim.FaultResourceUnavailable},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			h := newHarness(t)
			res, _ := h.orderWithBackups()
			h.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers/{id}/actions/enable_backup", Kind: tc.kind, Times: 1})
			srv, reqs := h.query(res.ID, 2)
			require.Equal(t, 1, reqs[enableBackupRoute])
			require.Equal(t, nanobox.StatusProvisioning, srv.Status)
			require.Equal(t, "disabled", srv.Config["backups"])
			require.Equal(t, 1, h.sim.Sim.FaultsInjected()[tc.kind])

			srv, _ = h.query(res.ID, 3)
			require.Equal(t, "active", srv.Status)
			require.Equal(t, "enabled", srv.Config["backups"])
		})
	}

	t.Run("server locked by another action", func(t *testing.T) {
		h := newHarnessWith(t, hcloudsim.Options{Delays: hcloudsim.Delays{Action: time.Hour}})
		res, _ := h.orderWithBackups()
		id, _ := strconv.ParseInt(res.ID, 10, 64)
		_, _, err := h.client().Server.ChangeProtection(context.Background(), &hcloud.Server{ID: id}, hcloud.ServerChangeProtectionOpts{Delete: hcloud.Ptr(false)})
		require.NoError(t, err)
		srv, reqs := h.query(res.ID, 1)
		require.Zero(t, reqs[enableBackupRoute], "a locked server is not asked")
		require.Equal(t, nanobox.StatusProvisioning, srv.Status)
		require.Equal(t, "disabled", srv.Config["backups"])
	})
}

// TestBackupsRefusedForGoodIsTheAnswer: an enable Hetzner refuses for good
// (a read-only token) is the poll's error, pointing at update_config, which
// drops the wish; after that the server is active without backups.
func TestBackupsRefusedForGoodIsTheAnswer(t *testing.T) {
	h := newHarness(t)
	res, _ := h.orderWithBackups()
	e := h.fails(h.callWith("read-only-token", "query_server", res.ID), protocol.Forbidden, "backups", "update_config")
	require.False(t, e.OkToRetry)

	h.budget(3, func() { h.ok(h.call("update_config", res.ID, map[string]string{"backups": "disabled"}), nil) })
	require.Equal(t, "disabled", h.simServer(res.ID).Labels[cpi.LabelBackups])
	var srv protocol.Server
	h.budget(1, func() { h.ok(h.callWith("read-only-token", "query_server", res.ID), &srv) })
	require.Equal(t, "active", srv.Status)
	require.Equal(t, "disabled", srv.Config["backups"])
}

// TestUpdateConfigKeepsTheBackupsWishInStep: update_config records the
// wish before it switches (so query_server converges to it, never against
// it), reads the server again, switches, and reads the wish again; a
// switch that meets a lock waits the other action out.
func TestUpdateConfigKeepsTheBackupsWishInStep(t *testing.T) {
	h := newHarness(t)
	res, _ := h.orderWithBackups()
	srv, _ := h.query(res.ID, 3)
	require.Equal(t, "enabled", srv.Config["backups"])

	// Off: read, record, read again, disable, read the wish again.
	reqs := h.budget(5, func() { h.ok(h.call("update_config", res.ID, map[string]string{"backups": "disabled"}), nil) })
	require.Equal(t, map[string]int{"GET /v1/servers/{id}": 3, "PUT /v1/servers/{id}": 1, "POST /v1/servers/{id}/actions/disable_backup": 1}, reqs,
		"the budget of update_config changing backups (docs/protocol.md)")
	require.Equal(t, "disabled", h.simServer(res.ID).Labels[cpi.LabelBackups])
	require.Equal(t, "true", h.simServer(res.ID).Labels["nanobox"], "the other labels stay")
	srv, _ = h.query(res.ID, 1)
	require.Equal(t, "active", srv.Status)
	require.Equal(t, "disabled", srv.Config["backups"])

	// On again; the enable meets a lock once: waited out, then done.
	h.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers/{id}/actions/enable_backup", Kind: hcloudsim.FaultLocked, Times: 1})
	reqs = h.budget(7, func() { h.ok(h.call("update_config", res.ID, map[string]string{"backups": "enabled"}), nil) })
	require.Equal(t, 2, reqs[enableBackupRoute])
	require.Equal(t, "enabled", h.simServer(res.ID).Labels[cpi.LabelBackups])
	srv, _ = h.query(res.ID, 1)
	require.Equal(t, "active", srv.Status)
	require.Equal(t, "enabled", srv.Config["backups"])

	// Already as wished: just the lookup.
	h.budget(1, func() { h.ok(h.call("update_config", res.ID, map[string]string{"backups": "enabled"}), nil) })
}

// TestReorderWithBackupsRecordsTheWishOnTheAdoptedServer: an order that
// adopts a server made without the wish (here: an earlier order without
// backups under the same name) records it (1 call), so query_server
// converges; if recording fails the order fails retryably and the server
// stays.
func TestReorderWithBackupsRecordsTheWishOnTheAdoptedServer(t *testing.T) {
	h := newHarness(t)
	key := h.createKey()
	var first protocol.IDResult
	h.ok(h.order("web1", "nbg1", "cx23", key, nil), &first)

	h.sim.Sim.AddFault(hcloudsim.Fault{Method: "PUT", Route: "/v1/servers/{id}", Kind: hcloudsim.FaultInternal, Times: 1})
	e := h.fails(h.order("web1", "nbg1", "cx23", key, map[string]any{"backups": "enabled"}), protocol.Unavailable, "exists", "backups")
	require.True(t, e.OkToRetry)
	require.Equal(t, []string{"web1"}, h.liveServers())

	var again protocol.IDResult
	reqs := h.budget(5, func() { h.ok(h.order("web1", "nbg1", "cx23", key, map[string]any{"backups": "enabled"}), &again) })
	require.Equal(t, 1, reqs["PUT /v1/servers/{id}"])
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, 1, h.createdServers())
	srv, _ := h.query(again.ID, 3)
	require.Equal(t, "active", srv.Status)
	require.Equal(t, "enabled", srv.Config["backups"])
}

// TestLabelBackupsIsReserved: the config cannot set the adapter's label.
func TestLabelBackupsIsReserved(t *testing.T) {
	h := newHarness(t)
	h.cfg.Labels = map[string]string{cpi.LabelBackups: "enabled"}
	require.ErrorContains(t, h.cfg.Validate(), "set by the adapter")
}
