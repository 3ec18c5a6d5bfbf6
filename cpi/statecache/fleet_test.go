package statecache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statecache"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

// fleet is a project with 1000 running servers of ours, 20 of someone
// else's, and 5 of ours just created (off, not yet started): the ones a
// poller watches.
type fleet struct {
	sim     *simtest.Env
	client  *hcloud.Client
	cache   *statecache.Cache
	now     time.Time
	old     []int64
	watched []int64
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	env := simtest.Start(t, hcloudsim.Options{})
	old, err := env.Sim.SeedFleet(hcloudsim.Fleet{Count: 1000, NamePrefix: "old", Labels: map[string]string{"managed-by": "nanobox-hcloud"}})
	require.NoError(t, err)
	_, err = env.Sim.SeedFleet(hcloudsim.Fleet{Count: 20, NamePrefix: "theirs"})
	require.NoError(t, err)
	f := &fleet{sim: env, client: env.Client(), now: time.Now(), old: old}
	for _, name := range []string{"w1", "w2", "w3", "w4", "w5"} {
		res, _, err := f.client.Server.Create(t.Context(), hcloud.ServerCreateOpts{Name: name, ServerType: &hcloud.ServerType{Name: "cx23"},
			Image: &hcloud.Image{Name: "ubuntu-24.04"}, Labels: map[string]string{"managed-by": "nanobox-hcloud"}, StartAfterCreate: hcloud.Ptr(false)})
		require.NoError(t, err)
		f.watched = append(f.watched, res.Server.ID)
	}
	p, err := statedir.Open(t.TempDir(), env.URL, env.Token)
	require.NoError(t, err)
	f.cache = statecache.New(p, selector, f.client, func() time.Time { return f.now })
	return f
}

// poll reads ids once each from the snapshot, as a poller does in one
// window, and returns the list requests that cost and how each was
// answered. Every answer is the answer of a direct read.
func (f *fleet) poll(t *testing.T, ids []int64) (int, []statecache.Result) {
	t.Helper()
	f.sim.Sim.ResetRequests()
	var results []statecache.Result
	for _, id := range ids {
		srv, res, err := f.cache.Server(context.Background(), id, time.Second)
		require.NoError(t, err)
		results = append(results, res)
		if res == statecache.Miss {
			continue
		}
		direct, _, err := f.client.Server.GetByID(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, direct, srv, "server %d from the snapshot", id)
	}
	reqs := f.sim.Sim.Requests()
	return reqs["GET /v1/servers"], results
}

// TestRefreshCostFollowsTheWatchedServers: with 1000 running servers and 5
// watched ones, a refresh costs at most 2 requests, where listing the
// fleet costs 21; the servers not in the snapshot are misses (read
// directly), never wrong answers.
func TestRefreshCostFollowsTheWatchedServers(t *testing.T) {
	f := newFleet(t)
	startAll := func(t *testing.T) {
		for _, id := range f.watched {
			_, _, err := f.client.Server.Poweron(context.Background(), &hcloud.Server{ID: id})
			require.NoError(t, err)
		}
	}
	stopOld := func(t *testing.T) {
		_, _, err := f.client.Server.Poweroff(context.Background(), &hcloud.Server{ID: f.old[0]})
		require.NoError(t, err)
	}
	misses := func(n int) []statecache.Result { return make([]statecache.Result, n) }
	hits := func(n int) []statecache.Result {
		out := make([]statecache.Result, n)
		for i := range out {
			out[i] = statecache.Hit
		}
		return out
	}
	refreshed := []statecache.Result{statecache.Refreshed, statecache.Hit, statecache.Hit, statecache.Hit, statecache.Hit}
	for _, tt := range []struct {
		name    string
		before  func(t *testing.T)
		ids     []int64
		lists   int
		results []statecache.Result
		status  hcloud.ServerStatus
	}{
		{"five new servers not yet running: the newest page", nil, f.watched, 1, refreshed, hcloud.ServerStatusOff},
		{"within the window: no request", nil, f.watched, 0, []statecache.Result{statecache.Hit, statecache.Hit, statecache.Hit, statecache.Hit, statecache.Hit}, hcloud.ServerStatusOff},
		{"the five started: the newest page", startAll, f.watched, 1, refreshed, hcloud.ServerStatusRunning},
		{"an old running server: the newest page and those not running, then read directly", nil, f.old[:1], 2, []statecache.Result{statecache.Miss}, ""},
		{"an old server stopped: the newest page and those not running", stopOld, f.old[:1], 2, []statecache.Result{statecache.Refreshed}, hcloud.ServerStatusOff},
		{"eight old running servers read: each missed once", nil, f.old[800:808], 2, misses(8), ""},
		{"the eight read again: sought through the newest pages while they outnumber the requests", nil, f.old[800:808], 6, append([]statecache.Result{statecache.Refreshed}, hits(7)...), hcloud.ServerStatusRunning},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before(t)
			}
			if tt.lists > 0 {
				f.now = f.now.Add(2 * time.Second)
			}
			lists, results := f.poll(t, tt.ids)
			assert.Equal(t, tt.lists, lists, "list requests")
			assert.Equal(t, tt.results, results)
			for _, id := range tt.ids {
				srv, res, err := f.cache.Server(context.Background(), id, time.Second)
				require.NoError(t, err)
				if res != statecache.Miss {
					assert.Equal(t, tt.status, srv.Status)
				}
			}
			assert.Zero(t, f.sim.Abandoned())
		})
	}
}

// TestAllListsEveryServer: All answers every server of ours from a
// complete snapshot, which then also answers reads of old servers; a
// change to one makes the snapshot incomplete, and All lists again.
func TestAllListsEveryServer(t *testing.T) {
	f := newFleet(t)
	f.sim.Sim.ResetRequests()
	all, res, err := f.cache.All(context.Background(), time.Second)
	require.NoError(t, err)
	require.Equal(t, statecache.Refreshed, res)
	require.Len(t, all, 1005)
	assert.Equal(t, 21, f.sim.Sim.Requests()["GET /v1/servers"])
	for i := 1; i < len(all); i++ {
		require.Less(t, all[i-1].ID, all[i].ID, "by id")
	}

	lists, results := f.poll(t, f.old[:3])
	assert.Zero(t, lists)
	assert.Equal(t, []statecache.Result{statecache.Hit, statecache.Hit, statecache.Hit}, results)

	_, res, err = f.cache.All(context.Background(), time.Second)
	require.NoError(t, err)
	assert.Equal(t, statecache.Hit, res)

	require.NoError(t, f.cache.Forget(context.Background(), f.old[0]))
	f.sim.Sim.ResetRequests()
	all, res, err = f.cache.All(context.Background(), time.Second)
	require.NoError(t, err)
	assert.Equal(t, statecache.Refreshed, res, "a changed server: the snapshot is not complete")
	assert.Len(t, all, 1005)
	assert.Equal(t, 21, f.sim.Sim.Requests()["GET /v1/servers"])

	f.now = f.now.Add(2 * time.Second)
	lists, _ = f.poll(t, f.watched[:1])
	assert.Equal(t, 1, lists, "a read's refresh is not complete")
	_, res, err = f.cache.All(context.Background(), time.Second)
	require.NoError(t, err)
	assert.Equal(t, statecache.Refreshed, res)
}

// TestTwoPagesAreListedWhole: when the servers fit two pages, a read lists
// both (no targeted list would be cheaper) and the snapshot is complete.
func TestTwoPagesAreListedWhole(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	ids, err := env.Sim.SeedFleet(hcloudsim.Fleet{Count: 60, NamePrefix: "s", Labels: map[string]string{"managed-by": "nanobox-hcloud"}})
	require.NoError(t, err)
	p, err := statedir.Open(t.TempDir(), env.URL, env.Token)
	require.NoError(t, err)
	cache := statecache.New(p, selector, env.Client(), nil)
	env.Sim.ResetRequests()
	srv, res, err := cache.Server(context.Background(), ids[0], time.Minute)
	require.NoError(t, err)
	require.Equal(t, statecache.Refreshed, res)
	require.Equal(t, ids[0], srv.ID)
	all, res, err := cache.All(context.Background(), time.Minute)
	require.NoError(t, err)
	require.Equal(t, statecache.Hit, res)
	require.Len(t, all, 60)
	require.Equal(t, map[string]int{"GET /v1/servers": 2}, env.Sim.Requests())
}

// TestMostServersWatched: when most servers are being created, a refresh
// costs no more than listing them all: the first lists the newest page and
// those not running (nothing known yet), the next, knowing how many were
// not running, lists every page (complete).
func TestMostServersWatched(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	client := env.Client()
	var ids []int64
	for i := range 120 {
		res, _, err := client.Server.Create(t.Context(), hcloud.ServerCreateOpts{Name: "n" + strconv.Itoa(i), ServerType: &hcloud.ServerType{Name: "cx23"},
			Image: &hcloud.Image{Name: "ubuntu-24.04"}, Labels: map[string]string{"managed-by": "nanobox-hcloud"}, StartAfterCreate: hcloud.Ptr(false)})
		require.NoError(t, err)
		ids = append(ids, res.Server.ID)
	}
	p, err := statedir.Open(t.TempDir(), env.URL, env.Token)
	require.NoError(t, err)
	now := time.Now()
	cache := statecache.New(p, selector, client, func() time.Time { return now })
	for _, tt := range []struct {
		name     string
		requests int
		complete bool
	}{
		{"nothing known: the newest page, then the 120 not running", 4, false},
		{"120 were not running: the other two pages", 3, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now = now.Add(2 * time.Second)
			env.Sim.ResetRequests()
			_, res, err := cache.Server(context.Background(), ids[0], time.Second)
			require.NoError(t, err)
			require.Equal(t, statecache.Refreshed, res)
			require.Equal(t, tt.requests, env.Sim.Requests()["GET /v1/servers"])
			_, res, err = cache.All(context.Background(), time.Second)
			require.NoError(t, err)
			if tt.complete {
				require.Equal(t, statecache.Hit, res, "complete")
			} else {
				require.Equal(t, statecache.Refreshed, res)
			}
		})
	}
}
