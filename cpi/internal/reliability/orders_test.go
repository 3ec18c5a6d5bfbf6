package reliability

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// ownKey registers a fresh key through the shim and returns its id.
func ownKey(t *testing.T, ctx context.Context, w *world, name string, seed uint64) string {
	t.Helper()
	kb, err := json.Marshal(protocol.KeyBody{ID: name, Key: newPublicKey(t, rand.New(rand.NewPCG(seed, seed)), name)})
	require.NoError(t, err)
	r, err := w.Do(ctx, http.MethodPost, "/keys", w.Auth(), kb)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, r.Status, "create_key: %s", r)
	var key protocol.IDResult
	require.NoError(t, json.Unmarshal(r.Body, &key))
	return key.ID
}

// scene starts a world for one test with a deadline of timeout and an SSH
// key of its own (named keyName, its key drawn from seed); it returns the
// world, the deadline's context and the key's id.
func scene(t *testing.T, opts worldOptions, timeout time.Duration, keyName string, seed uint64) (*world, context.Context, string) {
	t.Helper()
	w := newWorld(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return w, ctx, ownKey(t, ctx, w, keyName, seed)
}

// soloOrchestrator is an orchestrator of its own (its own statistics) with
// its backoff jitter drawn from seed.
func soloOrchestrator(w *world, seed uint64) *orchestrator {
	return &orchestrator{w: w, stats: newChaosStats(), rng: rand.New(rand.NewPCG(seed, seed))}
}

// orderRetried sends an order through o, retrying as an orchestrator does
// until it is answered 201, and returns the server's id.
func orderRetried(t *testing.T, ctx context.Context, o *orchestrator, body []byte) string {
	t.Helper()
	r, err := o.call(ctx, "order_server", http.MethodPost, "/servers", json.RawMessage(body), http.StatusCreated)
	require.NoError(t, err, "trace: %v", o.trace)
	return idOf(t, r)
}

// idOf is the id of a create's answer.
func idOf(t *testing.T, r reply) string {
	t.Helper()
	var res protocol.IDResult
	require.NoError(t, json.Unmarshal(r.Body, &res), "%s", r)
	return res.ID
}

// createdNamed counts the servers ever created under name.
func createdNamed(w *world, name string) int {
	n := 0
	for _, c := range w.Env.Sim.Created() {
		if c.Kind == "server" && c.Name == name {
			n++
		}
	}
	return n
}

func queryServer(t *testing.T, ctx context.Context, w *world, id string) (reply, protocol.Server) {
	t.Helper()
	r, err := w.Do(ctx, http.MethodGet, "/servers/"+id, w.Auth(), nil)
	require.NoError(t, err)
	var s protocol.Server
	if r.Status == http.StatusCreated {
		require.NoError(t, json.Unmarshal(r.Body, &s))
	}
	return r, s
}

// TestOrderWithBackupsSurvivesCommitThenFail: Hetzner applies the create
// but the answer is lost (504). hcloud-go retries, meets uniqueness_error,
// and the CPI adopts the server it made; the adopted server must still get
// what was ordered (backups enabled), not just the same name.
func TestOrderWithBackupsSurvivesCommitThenFail(t *testing.T) {
	t.Parallel()
	w, ctx, key := scene(t, worldOptions{}, 2*time.Minute, "backups-key", 21)
	w.Env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	body := []byte(`{"name":"web-backups","region":"nbg1","size":"cx23","ssh_key":"` + key + `","config":{"backups":"enabled"}}`)
	id := orderRetried(t, ctx, soloOrchestrator(w, 21), body)
	assert.Equal(t, 1, w.Env.Sim.FaultsInjected()[hcloudsim.FaultCommitThenFail], "the fault fired")

	r, s := queryServer(t, ctx, w, id)
	require.Equal(t, http.StatusCreated, r.Status, "query_server: %s", r)
	assert.Equal(t, "enabled", s.Config["backups"], "ordered with backups, got a server without them")
}

// TestConcurrentOrdersNeverAnswerADeletedServer: two identical orders at
// once (the orchestrator retrying before the first call returned) must
// answer the same server, created once, and every id answered must exist
// afterwards. The faults are the trap an earlier order_server fell into:
// it enabled backups right after the create and deleted the server when
// that failed (one injected 500 on enable_backup), while the other order
// had already adopted it; a latency fault holds back any clean-up DELETE so
// the second order is sure to find the server by name first. Today's
// order_server leaves backups to query_server and never deletes, so the
// faults may not fire; the assertions hold whatever the implementation.
func TestConcurrentOrdersNeverAnswerADeletedServer(t *testing.T) {
	t.Parallel()
	w, ctx, key := scene(t, worldOptions{}, 3*time.Minute, "race-key", 22)
	w.Env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/servers/{id}/actions/enable_backup", Kind: hcloudsim.FaultInternal, Times: 1})
	w.Env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodDelete, Route: "/v1/servers/{id}", Kind: hcloudsim.FaultLatency, Latency: 8 * time.Second, Times: 1})
	const name = "web-race"
	body := []byte(`{"name":"` + name + `","region":"nbg1","size":"cx23","ssh_key":"` + key + `","config":{"backups":"enabled"}}`)

	first := make(chan reply, 1)
	go func() {
		r, err := w.Do(ctx, http.MethodPost, "/servers", w.Auth(), body)
		if err != nil {
			r = reply{Body: []byte(err.Error())}
		}
		first <- r
	}()
	// The second order goes out once the first one's server exists.
	require.True(t, eventually(60*time.Second, func() bool { return createdNamed(w, name) > 0 }),
		"the first order never created its server")
	second, err := w.Do(ctx, http.MethodPost, "/servers", w.Auth(), body)
	require.NoError(t, err)
	r1 := <-first
	t.Logf("first order: %s; second order: %s", r1, second)

	ids := map[string]bool{}
	for _, r := range []reply{r1, second} {
		if r.Status != http.StatusCreated {
			assert.True(t, retryable(r), "a failed order must be retryable: %s", r)
			continue
		}
		id := idOf(t, r)
		ids[id] = true
		q, _ := queryServer(t, ctx, w, id)
		assert.Equal(t, http.StatusCreated, q.Status, "order_server answered server %s, which no longer exists: %s", id, q)
	}
	assert.LessOrEqual(t, len(ids), 1, "two identical orders answered different servers: %v", ids)
	assert.Equal(t, 1, createdNamed(w, name), "servers created under the name %q", name)
}

// TestOrderWithBackupsOnASlowBoot: on Hetzner a new server is locked by its
// create action for tens of seconds, so enable_backup right after the
// create meets "locked" for a while. Here the simulator boots servers in
// 3 s. An order with backups must still end with a server that has them:
// once the server is active, query_server reports backups enabled (a few
// more queries are allowed, for an adapter that converges lazily).
func TestOrderWithBackupsOnASlowBoot(t *testing.T) {
	t.Parallel()
	slow := worldOptions{Delays: hcloudsim.Delays{Initializing: 2 * time.Second, Starting: time.Second, Action: 500 * time.Millisecond}}
	w, ctx, key := scene(t, slow, 2*time.Minute, "slow-key", 23)
	body := []byte(`{"name":"web-slow","region":"nbg1","size":"cx23","ssh_key":"` + key + `","config":{"backups":"enabled"}}`)
	id := orderRetried(t, ctx, soloOrchestrator(w, 23), body)

	var s protocol.Server
	require.True(t, eventually(time.Minute, func() bool {
		var q reply
		q, s = queryServer(t, ctx, w, id)
		return q.Status == http.StatusCreated && s.Status == "active"
	}), "the server never became active")
	for i := 0; i < 10 && s.Config["backups"] != "enabled"; i++ {
		_, s = queryServer(t, ctx, w, id)
	}
	assert.Equal(t, "enabled", s.Config["backups"], "ordered with backups; the server is active without them")
}

// TestCancelAfterCommitThenFail: the delete of a server (and of a key) is
// carried out but the answer is lost, and hcloud-go's own retry meets a 500,
// so the cancel answers an error although the server is gone. The
// orchestrator's retry must succeed (a gone server is cancelled), and
// nothing is left.
func TestCancelAfterCommitThenFail(t *testing.T) {
	t.Parallel()
	w, ctx, key := scene(t, worldOptions{}, 2*time.Minute, "cancel-key", 24)
	r, err := w.Do(ctx, http.MethodPost, "/servers", w.Auth(), []byte(`{"name":"web-cancel","region":"nbg1","size":"cx23","ssh_key":"`+key+`"}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, r.Status, "order_server: %s", r)
	id := idOf(t, r)

	for _, step := range []struct{ name, route, path string }{
		{"cancel_server", "/v1/servers/{id}", "/servers/" + id},
		{"delete_key", "/v1/ssh_keys/{id}", "/keys/" + key},
	} {
		w.Env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodDelete, Route: step.route, Kind: hcloudsim.FaultCommitThenFail, Times: 1})
		w.Env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodDelete, Route: step.route, Kind: hcloudsim.FaultInternal, Times: 3})
		first, err := w.Do(ctx, http.MethodDelete, step.path, w.Auth(), nil)
		require.NoError(t, err)
		t.Logf("%s: first answer %s", step.name, first)
		if first.Status != http.StatusOK {
			assert.True(t, retryable(first), "%s: a lost answer must be retryable: %s", step.name, first)
		}
		o := soloOrchestrator(w, 24)
		_, err = o.call(ctx, step.name, http.MethodDelete, step.path, nil, http.StatusOK)
		require.NoError(t, err, "%s: first answer %s; retries: %v", step.name, first, o.trace)
		w.Env.Sim.ClearFaults()
	}
	st := w.Env.Sim.Snapshot()
	assert.Empty(t, st.Servers, "servers left")
	assert.Empty(t, st.SSHKeys, "keys left")
	assert.Equal(t, 2, w.Env.Sim.FaultsInjected()[hcloudsim.FaultCommitThenFail])
}

// TestOrderAfterTheCachedNetworkWasDeleted: the CPI caches the private
// network's id; someone deletes the network in the console. The next order
// must notice, set the network up again and succeed, leaving one server.
func TestOrderAfterTheCachedNetworkWasDeleted(t *testing.T) {
	t.Parallel()
	w, ctx, key := scene(t, worldOptions{}, 2*time.Minute, "net-key", 25)
	order := func(name string) string {
		o := soloOrchestrator(w, 25)
		id, err := o.orderServer(ctx, name, key)
		require.NoError(t, err, "trace: %v", o.trace)
		return id
	}
	first := order("web-net-1")
	r, err := w.Do(ctx, http.MethodDelete, "/servers/"+first, w.Auth(), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status, "cancel: %s", r)
	nets := w.Env.Sim.Snapshot().Networks
	require.Len(t, nets, 1, "the order set up one private network")
	client := w.Env.Client()
	network, _, err := client.Network.GetByID(ctx, nets[0].ID)
	require.NoError(t, err)
	require.NotNil(t, network)
	_, err = client.Network.Delete(ctx, network)
	require.NoError(t, err, "deleting the network behind the CPI's back")

	second := order("web-net-2")
	q, s := queryServer(t, ctx, w, second)
	require.Equal(t, http.StatusCreated, q.Status, "query_server: %s", q)
	assert.NotEmpty(t, s.InternalIP, "the new server has a private IP")
	st := w.Env.Sim.Snapshot()
	assert.Len(t, st.Servers, 1, "servers")
	assert.Len(t, st.Networks, 1, "networks")
}

// TestOrderAfterCapacityWentBetweenCommitAndAnswer is the capacity race
// through the binaries: the create is carried out, the size then sells out
// in that location, the answer is 504, and hcloud-go's retry ends in 412
// resource_unavailable. The order must answer the id of the server it made;
// a re-order the same id; a re-order in another region a 409 naming it.
func TestOrderAfterCapacityWentBetweenCommitAndAnswer(t *testing.T) {
	t.Parallel()
	w, ctx, key := scene(t, worldOptions{}, 2*time.Minute, "capacity-key", 26)
	w.Env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenCapacityGone, Times: 1})
	body := func(region string) []byte {
		return []byte(`{"name":"web-capacity","region":"` + region + `","size":"cx23","ssh_key":"` + key + `"}`)
	}
	r, err := w.Do(ctx, http.MethodPost, "/servers", w.Auth(), body("nbg1"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, r.Status, "order_server: %s", r)
	require.Equal(t, 1, w.Env.Sim.FaultsInjected()[hcloudsim.FaultCommitThenCapacityGone], "the fault fired")
	first := idOf(t, r)

	again, err := w.Do(ctx, http.MethodPost, "/servers", w.Auth(), body("nbg1"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, again.Status, "re-order: %s", again)
	assert.Equal(t, first, idOf(t, again), "a re-order answers the same server")

	elsewhere, err := w.Do(ctx, http.MethodPost, "/servers", w.Auth(), body("fsn1"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusConflict, elsewhere.Status, "re-order elsewhere: %s", elsewhere)
	assert.Contains(t, strings.Join(elsewhere.Messages(), " "), "server "+first+" is already named")
	assert.Equal(t, 1, createdNamed(w, "web-capacity"), "servers created under the name")
}
