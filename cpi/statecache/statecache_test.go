package statecache_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statecache"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

const selector = "managed-by=nanobox-hcloud"

// world is a simulator with one labelled server and a snapshot on a
// clock the test moves.
type world struct {
	sim   *simtest.Env
	cache *statecache.Cache
	now   time.Time
	id    int64
	dir   string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := simtest.Start(t, hcloudsim.Options{})
	client := env.Client()
	res, _, err := client.Server.Create(t.Context(), hcloud.ServerCreateOpts{Name: "web1", ServerType: &hcloud.ServerType{Name: "cx23"},
		Image: &hcloud.Image{Name: "ubuntu-24.04"}, Location: &hcloud.Location{Name: "nbg1"}, Labels: map[string]string{"managed-by": "nanobox-hcloud"},
		StartAfterCreate: hcloud.Ptr(false)}) // off: a server a poller waits on, found by the first list
	require.NoError(t, err)
	dir := t.TempDir()
	p, err := statedir.Open(dir, env.URL, env.Token)
	require.NoError(t, err)
	w := &world{sim: env, now: time.Now(), id: res.Server.ID, dir: dir}
	w.cache = statecache.New(p, selector, client, func() time.Time { return w.now })
	return w
}

// read reads the server and returns how, with the list requests it cost.
func (w *world) read(t *testing.T, window time.Duration) (statecache.Result, int) {
	t.Helper()
	w.sim.Sim.ResetRequests()
	srv, res, err := w.cache.Server(context.Background(), w.id, window)
	require.NoError(t, err)
	if res != statecache.Miss {
		require.Equal(t, w.id, srv.ID)
	}
	return res, w.sim.Sim.Requests()["GET /v1/servers"]
}

func TestFreshness(t *testing.T) {
	w := newWorld(t)
	res, lists := w.read(t, time.Second)
	require.Equal(t, statecache.Refreshed, res)
	require.Equal(t, 1, lists)

	w.now = w.now.Add(999 * time.Millisecond)
	res, lists = w.read(t, time.Second)
	require.Equal(t, statecache.Hit, res, "within the window")
	require.Zero(t, lists)

	w.now = w.now.Add(time.Millisecond)
	res, lists = w.read(t, time.Second)
	require.Equal(t, statecache.Refreshed, res, "a window old: refreshed")
	require.Equal(t, 1, lists)

	w.now = w.now.Add(5 * time.Second)
	res, _ = w.read(t, 10*time.Second)
	require.Equal(t, statecache.Hit, res, "a longer window (low budget) accepts an older snapshot")

	w.now = w.now.Add(-2 * time.Minute) // the clock stepped back: the snapshot lies in the future
	res, lists = w.read(t, time.Second)
	require.Equal(t, statecache.Refreshed, res)
	require.Equal(t, 1, lists)
}

func TestWritesUpdateTheSnapshot(t *testing.T) {
	w := newWorld(t)
	w.read(t, time.Minute)

	require.NoError(t, w.cache.MarkStale(context.Background()))
	res, lists := w.read(t, time.Minute)
	require.Equal(t, statecache.Refreshed, res, "a read after a create refreshes")
	require.Equal(t, 1, lists)

	require.NoError(t, w.cache.Forget(context.Background(), w.id))
	res, lists = w.read(t, time.Minute)
	require.Equal(t, statecache.Miss, res, "a changed server is read directly")
	require.Zero(t, lists)
}

func TestUnusableSnapshotFiles(t *testing.T) {
	w := newWorld(t)
	w.read(t, time.Minute)
	path := w.snapshotPath(t)
	for name, content := range map[string]string{
		"other selector": `{"version":1,"label_selector":"x=y","fetched_at":"` + w.now.Format(time.RFC3339Nano) + `","servers":{}}`,
		"other version":  `{"version":1,"label_selector":"` + selector + `","fetched_at":"` + w.now.Format(time.RFC3339Nano) + `","servers":{}}`,
		"no fetched_at":  `{"version":1,"label_selector":"` + selector + `","servers":{}}`,
		"not JSON":       `{"version":1,`,
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			res, lists := w.read(t, time.Minute)
			require.Equal(t, statecache.Refreshed, res)
			require.Equal(t, 1, lists)
		})
	}
}

func (w *world) snapshotPath(t *testing.T) string {
	t.Helper()
	p, err := statedir.Open(w.dir, w.sim.URL, w.sim.Token)
	require.NoError(t, err)
	return p.Path("servers", "json")
}
