package nanobox_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

const (
	listRoute = "GET /v1/servers"
	getRoute  = "GET /v1/servers/{id}"
)

func coalesce(on bool, windowMS int) func(*config.Config) {
	return func(c *config.Config) {
		c.Polling.Coalesce = &on
		c.Polling.WindowMS = windowMS
		c.Polling.LowBudgetWindowMS = max(c.Polling.LowBudgetWindowMS, windowMS)
	}
}

// queryRaw is query_server's result bytes.
func (h *harness) queryRaw(id string) json.RawMessage {
	h.t.Helper()
	resp := h.call("query_server", id)
	h.ok(resp, nil)
	return resp.Result
}

// TestCoalescedAnswerIsTheDirectAnswer: for servers in every shape (private
// network, backups, placement group, public only, booting, hidden, foreign,
// gone), query_server answers the same bytes from the snapshot as from a
// direct read.
func TestCoalescedAnswerIsTheDirectAnswer(t *testing.T) {
	h := newHarness(t, coalesce(true, 60000))
	direct := newHarnessOn(t, h, coalesce(false, 1000))
	key := h.createKey()
	var ids []string
	for i, cfg := range []map[string]any{nil, {"backups": "enabled"}, {"placement_group": "spread-1"}} {
		var res protocol.IDResult
		h.ok(h.order("web"+strconv.Itoa(i), "nbg1", "cx23", key, cfg), &res)
		ids = append(ids, res.ID)
	}
	// A foreign server, one hidden from Nanobox, and an id that never existed.
	foreign, _, err := h.client().Server.Create(t.Context(), hcloudCreateOpts("foreign", nil))
	require.NoError(t, err)
	hiddenSrv, _, err := h.client().Server.Create(t.Context(), hcloudCreateOpts("hidden", map[string]string{"managed-by": "nanobox-hcloud", "nanobox": "false"}))
	require.NoError(t, err)
	ids = append(ids, itoa(foreign.Server.ID), itoa(hiddenSrv.Server.ID), "999999")

	for _, id := range ids {
		a, b := h.call("query_server", id), direct.call("query_server", id)
		require.JSONEq(t, string(b.Result), string(a.Result), "server %s", id)
		require.True(t, bytes.Equal(b.Result, a.Result), "server %s: %s != %s", id, a.Result, b.Result)
		require.Equal(t, b.Error, a.Error, "server %s", id)
	}
}

// TestNoAnswerStalerThanTheWindow polls a booting server and checks every
// answer against the simulator's timeline: the status answered held at
// some moment between (call start - window) and the call's end.
func TestNoAnswerStalerThanTheWindow(t *testing.T) {
	const window = 500 * time.Millisecond
	delays := hcloudsim.Delays{Initializing: time.Second, Starting: time.Second}
	h := newHarnessWith(t, hcloudsim.Options{Delays: delays}, coalesce(true, int(window/time.Millisecond)))
	id, _ := h.orderOK("web1", "nbg1", "cx23")
	var created time.Time
	for _, c := range h.sim.Sim.Created() {
		if c.Kind == "server" && itoa(c.ID) == id {
			created = c.At
		}
	}
	require.False(t, created.IsZero())
	rank := map[string]int{"initializing": 0, "starting": 1, "active": 2}
	truth := func(at time.Time) int {
		switch d := at.Sub(created); {
		case d < delays.Initializing:
			return 0
		case d < delays.Initializing+delays.Starting:
			return 1
		}
		return 2
	}
	hits := 0
	for {
		// Two polls back to back: the second is usually answered by the
		// snapshot the first fetched.
		for range 2 {
			start := time.Now()
			h.sim.Sim.ResetRequests()
			var srv protocol.Server
			h.ok(h.call("query_server", id), &srv)
			end := time.Now()
			if h.sim.Sim.TotalRequests() == 0 {
				hits++
			}
			got, known := rank[srv.Status]
			require.True(t, known, "status %q", srv.Status)
			require.GreaterOrEqual(t, got, truth(start.Add(-window)), "answer older than the window")
			require.LessOrEqual(t, got, truth(end), "answer from the future")
			if srv.Status == "active" {
				require.Positive(t, hits, "some answers came from the snapshot")
				return
			}
		}
		require.Less(t, time.Since(created), 20*time.Second, "never active")
	}
}

// TestWriteVisibleInNextQuery: with a window far longer than the test, each
// change the adapter makes shows in the very next query_server.
func TestWriteVisibleInNextQuery(t *testing.T) {
	h := newHarness(t, coalesce(true, 60000))
	id, key := h.orderOK("web1", "nbg1", "cx23")
	var srv protocol.Server
	h.ok(h.call("query_server", id), &srv)
	require.Equal(t, "web1", srv.Name)

	// Served from the snapshot now: no request.
	h.budget(0, func() { h.ok(h.call("query_server", id), &srv) })

	// order: the new server is in the next answer.
	var res protocol.IDResult
	h.ok(h.order("web2", "nbg1", "cx23", key, nil), &res)
	h.ok(h.call("query_server", res.ID), &srv)
	require.Equal(t, "web2", srv.Name)

	// rename
	h.ok(h.call("rename_server", id, map[string]string{"name": "renamed"}), nil)
	h.ok(h.call("query_server", id), &srv)
	require.Equal(t, "renamed", srv.Name)

	// update_config
	h.ok(h.call("update_config", id, map[string]string{"backups": "enabled"}), nil)
	h.ok(h.call("query_server", id), &srv)
	require.Equal(t, "enabled", srv.Config["backups"])

	// reboot: the next answer is a fresh read (what the API says now).
	h.ok(h.call("reboot_server", id), nil)
	reqs := h.budget(1, func() { h.ok(h.call("query_server", id), &srv) })
	require.Equal(t, 1, reqs[getRoute]+reqs[listRoute], "a fresh read after the reboot")

	// cancel: gone (or deleting) in the next answer, as the direct read says.
	h.ok(h.call("cancel_server", id), nil)
	direct := newHarnessOn(t, h, coalesce(false, 1000))
	a, b := h.call("query_server", id), direct.call("query_server", id)
	require.Equal(t, string(b.Result), string(a.Result))
	require.Equal(t, b.Error, a.Error)
}

// TestConcurrentPollersCauseOneRefresh: 50 pollers, each a CPI of its own
// (its own client and file handles, as separate processes have), polling
// 10 new servers at once cost one list request, counted by the simulator.
func TestConcurrentPollersCauseOneRefresh(t *testing.T) {
	h := newHarness(t, coalesce(true, 60000))
	key := h.createKey()
	var ids []string
	for i := 0; i < 10; i++ {
		var res protocol.IDResult
		h.ok(h.order("web"+strconv.Itoa(i), "nbg1", "cx23", key, nil), &res)
		ids = append(ids, res.ID)
	}
	h.sim.Sim.ResetRequests()
	start := make(chan struct{})
	var wg sync.WaitGroup
	answers := make([]protocol.Server, 50)
	errs := make([]*protocol.Error, 50)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			poller := newHarnessOn(t, h, func(*config.Config) {})
			<-start
			resp := poller.call("query_server", ids[i%len(ids)])
			errs[i] = resp.Error
			if resp.Error == nil {
				_ = json.Unmarshal(resp.Result, &answers[i])
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range answers {
		require.Nil(t, errs[i])
		require.Equal(t, ids[i%len(ids)], answers[i].ID)
	}
	require.Equal(t, map[string]int{listRoute: 1}, h.sim.Sim.Requests())
}

// TestCorruptSnapshotIsRebuilt: a truncated or garbled snapshot file is
// ignored (the answer is right) and replaced by a good one.
func TestCorruptSnapshotIsRebuilt(t *testing.T) {
	h := newHarness(t, coalesce(true, 60000))
	id, _ := h.orderOK("web1", "nbg1", "cx23")
	want := h.queryRaw(id)
	files, err := filepath.Glob(filepath.Join(h.cfg.StateDir, "servers-*.json"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	good, err := os.ReadFile(files[0])
	require.NoError(t, err)
	for name, bad := range map[string][]byte{
		"truncated":   good[:len(good)/2],
		"empty":       {},
		"garbage":     []byte("\x00\xff not json"),
		"wrong shape": []byte(`{"version":1,"servers":[1,2]}`),
		"other id":    bytes.ReplaceAll(good, []byte(`"id":`+id), []byte(`"id":"x"`)),
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(files[0], bad, 0o600))
			reqs := h.budget(2, func() { require.Equal(t, string(want), string(h.queryRaw(id))) })
			require.Equal(t, 1, reqs[listRoute]+reqs[getRoute], "%v", reqs)
			rebuilt, err := os.ReadFile(files[0])
			require.NoError(t, err)
			require.True(t, json.Valid(rebuilt), "the snapshot was rebuilt")
			h.budget(0, func() { require.Equal(t, string(want), string(h.queryRaw(id))) })
		})
	}
}

// TestNoTokenOnDisk: after every kind of call the state dir holds no byte
// sequence of the token, its files are 0600 and its directories 0700.
func TestNoTokenOnDisk(t *testing.T) {
	h := newHarness(t, coalesce(true, 1000))
	h.cfg.StateDir = filepath.Join(t.TempDir(), "state") // created by the CPI
	h.cfg.Catalog.CacheDir = h.cfg.StateDir
	id, key := h.orderOK("web1", "nbg1", "cx23")
	h.ok(h.call("query_server", id), nil)
	h.ok(h.call("rename_server", id, map[string]string{"name": "web2"}), nil)
	h.ok(h.call("query_server", id), nil)
	h.ok(h.call("cancel_server", id), nil)
	h.ok(h.call("query_key", key), nil)
	h.ok(h.call("catalog"), nil)
	seen := 0
	require.NoError(t, filepath.WalkDir(h.cfg.StateDir, func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		info, err := d.Info()
		require.NoError(t, err)
		if d.IsDir() {
			require.Equal(t, fs.FileMode(0o700), info.Mode().Perm(), path)
			return nil
		}
		seen++
		require.Equal(t, fs.FileMode(0o600), info.Mode().Perm(), path)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NotContains(t, string(data), h.token, path)
		require.NotContains(t, filepath.Base(path), h.token)
		return nil
	}))
	require.GreaterOrEqual(t, seen, 4, "snapshot, budget, its metric and the HMAC secret")
}

// TestWriteRefusedWhenBudgetSpent: once the project's bucket is empty, a
// write is refused with RateLimited before it is sent, and says when to
// retry; reads still go out (Hetzner answers them).
func TestWriteRefusedWhenBudgetSpent(t *testing.T) {
	h := newHarnessWith(t, hcloudsim.Options{RateLimit: 8, RateRefill: time.Hour}, coalesce(true, 1000))
	id, _ := h.orderOK("web1", "nbg1", "cx23") // 3-4 requests
	for h.sim.Sim.TotalRequests() < 8 {
		h.call("query_key", "1")
	}
	h.sim.Sim.ResetRequests()
	// create_key's first request is its write.
	e := h.fails(h.call("create_key", map[string]string{"id": "k2", "key": newPublicKey(t, "k2")}), protocol.RateLimited, "not sent", "retry after")
	require.True(t, e.OkToRetry)
	require.InDelta(t, 3600, e.RetryAfterSeconds, 5, "one request refills in an hour (the reset time says so)")
	require.Zero(t, h.sim.Sim.TotalRequests(), "the write was never sent")
	// A read is sent, and Hetzner's own answer is RateLimited too, with
	// the wait its headers give.
	e = h.fails(h.call("query_server", id), protocol.RateLimited)
	require.InDelta(t, 3600, e.RetryAfterSeconds, 5)
	require.Positive(t, h.sim.Sim.TotalRequests())
}

func hcloudCreateOpts(name string, labels map[string]string) hcloud.ServerCreateOpts {
	return hcloud.ServerCreateOpts{
		Name: name, ServerType: &hcloud.ServerType{Name: "cx23"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
		Location: &hcloud.Location{Name: "nbg1"}, Labels: labels,
	}
}

// TestLowBudgetLengthensTheWindow: below twice the reserve, a snapshot
// older than the window but within the widened window still answers.
func TestLowBudgetLengthensTheWindow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		limit    int
		wantList int
	}{
		{"budget above the reserve", 3600, 1},
		{"budget below twice the reserve", 20, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, hcloudsim.Options{RateLimit: tc.limit, RateRefill: time.Hour}, func(c *config.Config) {
				coalesce(true, 100)(c)
				c.Polling.LowBudgetWindowMS = 600000
				c.Polling.ReservePercent = 45
			})
			id, _ := h.orderOK("web1", "nbg1", "cx23")
			want := h.queryRaw(id)
			time.Sleep(150 * time.Millisecond) // the snapshot outlives the 100 ms window
			reqs := h.budget(1, func() { require.Equal(t, string(want), string(h.queryRaw(id))) })
			require.Equal(t, tc.wantList, reqs[listRoute])
		})
	}
}
