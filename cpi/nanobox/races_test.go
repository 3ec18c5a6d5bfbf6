package nanobox_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Regression tests of issue 11 (points 1, 2, 3 and 5): faults and races
// that broke the adapter's promises.

// TestOrderFindsItsServerWhenCapacityVanishesAfterTheCommit (11.1): the
// create is carried out but answered 504; hcloud-go retries inside the
// call, and meanwhile the size sold out, so the call's last error is
// resource_unavailable. The order must still find the server it made and
// answer its id; a re-order answers the same id, and a re-order elsewhere
// a Conflict naming it.
func TestOrderFindsItsServerWhenCapacityVanishesAfterTheCommit(t *testing.T) {
	h := newHarness(t)
	key := h.createKey()
	h.ok(h.order("warmup", "nbg1", "cx23", key, nil), nil)
	h.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	h.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers", Kind: hcloudsim.FaultResourceUnavailable, Times: 100})

	var res protocol.IDResult
	h.ok(h.order("web1", "nbg1", "cx23", key, nil), &res)
	require.Equal(t, 1, h.sim.Sim.FaultsInjected()[hcloudsim.FaultCommitThenFail])
	require.Positive(t, h.sim.Sim.FaultsInjected()[hcloudsim.FaultResourceUnavailable], "the retried create met the sold-out size")
	require.Equal(t, "web1", h.simServer(res.ID).Name)

	var again protocol.IDResult
	h.ok(h.order("web1", "nbg1", "cx23", key, nil), &again)
	require.Equal(t, res.ID, again.ID, "a re-order finds its own server")
	h.fails(h.order("web1", "fsn1", "cx23", key, nil), protocol.Conflict, "server "+res.ID+" is already named")
	require.Equal(t, 2, h.createdServers(), "warmup + exactly one web1")
}

// TestConfigChangeRacingAConvergingQueryIsNotUndone (11.2): a query_server
// is enabling the backups a server was ordered with (its enable held back
// in flight) while update_config {"backups":"disabled"} runs and answers
// success. Afterwards the server must have backups off, as acknowledged,
// and the label must say so.
func TestConfigChangeRacingAConvergingQueryIsNotUndone(t *testing.T) {
	cases := []struct {
		name       string
		readFaults int // 500s on the converging query's reads after update_config answered
	}{
		{"the query reads the wish again", 0},
		{"that read fails twice", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			res, _ := h.orderWithBackups()
			h.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers/{id}/actions/enable_backup", Kind: hcloudsim.FaultLatency, Latency: time.Second, Times: 1})
			h.sim.Sim.ResetRequests()

			query := make(chan response, 1)
			go func() { query <- h.call("query_server", res.ID) }()
			require.Eventually(t, func() bool { return h.sim.Sim.Requests()[enableBackupRoute] == 1 }, 10*time.Second, time.Millisecond,
				"the converging query never sent its enable")
			h.ok(h.call("update_config", res.ID, map[string]string{"backups": "disabled"}), nil)
			if tc.readFaults > 0 {
				h.sim.Sim.AddFault(hcloudsim.Fault{Method: "GET", Route: "/v1/servers/{id}", Kind: hcloudsim.FaultInternal, Times: tc.readFaults})
			}
			h.ok(<-query, nil)

			sv := h.simServer(res.ID)
			require.Equal(t, "disabled", sv.Labels["nanobox-backups"], "the acknowledged wish")
			require.Nil(t, sv.BackupWindow, "backups were switched off and acknowledged; the converging query switched them on again")
			srv, _ := h.query(res.ID, 1)
			require.Equal(t, "disabled", srv.Config["backups"])
			require.Equal(t, "active", srv.Status)
		})
	}
}

// TestObjectsRelabelledHiddenAreNotUsed (11.3): the first order caches the
// private network's id; then the network, the SSH key or the placement
// group is labelled Nanobox=false. The next order must not use it: refused,
// nothing created, the object unchanged.
func TestObjectsRelabelledHiddenAreNotUsed(t *testing.T) {
	ctx := context.Background()
	hiddenLabels := map[string]string{"Nanobox": "false"}
	cases := []struct {
		name    string
		relabel func(h *harness, c *hcloud.Client) error
		want    protocol.ErrorType
		msg     string
	}{
		{"network", func(h *harness, c *hcloud.Client) error {
			n := h.sim.Sim.Snapshot().Networks[0]
			_, _, err := c.Network.Update(ctx, &hcloud.Network{ID: n.ID}, hcloud.NetworkUpdateOpts{Labels: hiddenLabels})
			return err
		}, protocol.Conflict, "labelled nanobox=false"},
		{"ssh key", func(h *harness, c *hcloud.Client) error {
			k := h.sim.Sim.Snapshot().SSHKeys[0]
			_, _, err := c.SSHKey.Update(ctx, &hcloud.SSHKey{ID: k.ID}, hcloud.SSHKeyUpdateOpts{Labels: hiddenLabels})
			return err
		}, protocol.InvalidArguments, "does not exist"},
		{"placement group", func(h *harness, c *hcloud.Client) error {
			pg, _, err := c.PlacementGroup.GetByName(ctx, "spread1")
			if err != nil {
				return err
			}
			_, _, err = c.PlacementGroup.Update(ctx, pg, hcloud.PlacementGroupUpdateOpts{Labels: hiddenLabels})
			return err
		}, protocol.InvalidArguments, "labelled nanobox=false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			key := h.createKey()
			group := map[string]any{"placement_group": "spread1"}
			h.ok(h.order("first", "nbg1", "cx23", key, group), nil)
			require.NoError(t, tc.relabel(h, h.client()))
			before := h.sim.Sim.Snapshot()
			h.fails(h.order("second", "nbg1", "cx23", key, group), tc.want, tc.msg)
			after := h.sim.Sim.Snapshot()
			require.Equal(t, []string{"first"}, h.liveServers(), "the order used an object labelled Nanobox=false")
			require.Equal(t, before.Networks, after.Networks)
			require.Equal(t, before.SSHKeys, after.SSHKeys)
		})
	}
}

// TestChangesWaitOutARunningAction (11.5): two changes in a row on one
// server (reboot then config, config then reboot, reboot twice, rename
// after a reboot) succeed: the second waits for the first's action. A
// server still locked after timeouts.lock_wait_seconds is a retryable 503
// Unavailable, not a 409.
func TestChangesWaitOutARunningAction(t *testing.T) {
	h := newHarnessWith(t, hcloudsim.Options{Delays: hcloudsim.Delays{Action: 300 * time.Millisecond}})
	id, _ := h.orderOK("web1", "nbg1", "cx23")
	require.Eventually(t, func() bool { return !h.simServer(id).Locked }, 10*time.Second, 10*time.Millisecond)
	steps := []struct {
		method string
		args   []any
	}{
		{"reboot_server", []any{id}},
		{"update_config", []any{id, map[string]string{"backups": "enabled"}}},
		{"reboot_server", []any{id}},
		{"reboot_server", []any{id}},
		{"update_config", []any{id, map[string]string{"backups": "disabled"}}},
		{"rename_server", []any{id, map[string]string{"name": "web1-renamed"}}},
		{"cancel_server", []any{id}},
	}
	for _, s := range steps {
		h.ok(h.call(s.method, s.args...), nil)
	}

	// Locked for good: the wait is bounded, the answer retryable.
	long := newHarnessWith(t, hcloudsim.Options{Delays: hcloudsim.Delays{Action: time.Hour}}, func(c *config.Config) { c.Timeouts.LockWaitSeconds = 1 })
	id2, _ := long.orderOK("web2", "nbg1", "cx23")
	n, _ := strconv.ParseInt(id2, 10, 64)
	_, _, err := long.client().Server.Reboot(context.Background(), &hcloud.Server{ID: n})
	require.NoError(t, err)
	e := long.fails(long.call("reboot_server", id2), protocol.Unavailable, "still locked by another action after 1s")
	require.True(t, e.OkToRetry)
}
