package bosh_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// unavailable is Hetzner's 503 answer, as hcloud-go parses it.
func unavailable(req *http.Request) *http.Response {
	body := `{"error": {"code": "unavailable", "message": "a service is currently not available (injected by the test)"}}`
	return &http.Response{
		StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Request: req,
		Header: http.Header{"Content-Type": []string{"application/json"}}, Body: io.NopCloser(strings.NewReader(body)),
	}
}

// failNameLookups makes the next n look-ups by name (GET ...?name=...) of
// path answer 503, after Hetzner carried out the create.
func (f *fixture) failNameLookups(path string, n int) {
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	f.rec.intercept = func(req *http.Request) *http.Response {
		if n > 0 && req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, path) && req.URL.Query().Get("name") != "" {
			n--
			return unavailable(req)
		}
		return nil
	}
}

// TestALostAnswerThenAFailedLookUpNeverAbandonsTheObject: Hetzner makes
// the server (the volume) but its answer is lost, and the look-up by name
// that would find it fails. The call either finds it (the look-up is
// retried) or answers a retryable error naming it; a retry then ends with
// exactly one server (volume), never a refusal while it exists.
func TestALostAnswerThenAFailedLookUpNeverAbandonsTheObject(t *testing.T) {
	for _, tt := range []struct {
		name   string
		fails  int  // look-ups that answer 503
		settle bool // the call itself succeeds
	}{
		{"one failed look-up is retried", 1, true},
		{"an outage of look-ups is a retryable error", 100, false},
	} {
		t.Run("create_vm: "+tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
			f.failNameLookups("/v1/servers", tt.fails)
			agent := uuid.NewString()
			args := []any{agent, strconv.FormatInt(f.ubuntuID(), 10), map[string]any{}, dynamicNetworks(), []string{}, createEnv}
			res, err := f.call(2, protocol.MethodCreateVM, args...)
			if !tt.settle {
				pe := boshErr(t, err, bosh.VMCreationFailed)
				assert.True(t, pe.OkToRetry, "the server may exist: a retry must be allowed")
				assert.Contains(t, pe.Message, bosh.ServerName(agent), "the error names the server")
				f.failNameLookups("/v1/servers", 0)
				res, err = f.call(2, protocol.MethodCreateVM, args...) // the director's retry
			}
			require.NoError(t, err)
			servers := f.sim.Sim.Snapshot().Servers
			require.Len(t, servers, 1, "exactly one server")
			assert.Equal(t, strconv.FormatInt(servers[0].ID, 10), res.([]any)[0])
		})
		t.Run("create_disk: "+tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/volumes", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
			f.failNameLookups("/v1/volumes", tt.fails)
			res, err := f.call(2, protocol.MethodCreateDisk, 10*1024, map[string]any{}, nil)
			if !tt.settle {
				pe := boshErr(t, err, bosh.CloudError)
				assert.True(t, pe.OkToRetry, "the volume may exist: a retry must be allowed")
				assert.Contains(t, pe.Message, "disk-", "the error names the volume")
				f.failNameLookups("/v1/volumes", 0)
				res, err = f.call(2, protocol.MethodCreateDisk, 10*1024, map[string]any{}, nil) // a retry
			}
			require.NoError(t, err)
			volumes := f.sim.Sim.Snapshot().Volumes
			require.Len(t, volumes, 1, "exactly one volume: the unfinished one is swept by the retry")
			assert.Equal(t, strconv.FormatInt(volumes[0].ID, 10), res)
		})
	}
}

// TestOverlappingCreateVMForOneAgentMakeOneServer: two create_vm for one
// agent at once (a caller that gave up on the first and sent it again).
// Both answer that one server, or one answers a retryable error that a
// retry turns into it; the server is never deleted by the call that
// adopted it.
func TestOverlappingCreateVMForOneAgentMakeOneServer(t *testing.T) {
	for round := range 3 {
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			f := newFixtureWith(t, hcloudsim.Options{RateLimit: 100000, Delays: hcloudsim.Delays{Initializing: 200 * time.Millisecond, Starting: 100 * time.Millisecond, Action: 100 * time.Millisecond}})
			n := f.network("bosh", nil)
			args := []any{uuid.NewString(), strconv.FormatInt(f.ubuntuID(), 10), map[string]any{}, manualNetworks(n.Name), []string{}, createEnv}
			var wg sync.WaitGroup
			cids := make([]any, 2)
			errs := make([]error, 2)
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := f.call(2, protocol.MethodCreateVM, args...)
					errs[i] = err
					if err == nil {
						cids[i] = res.([]any)[0]
					}
				}()
			}
			wg.Wait()
			for i := range 2 {
				if errs[i] != nil {
					pe := boshErr(t, errs[i], bosh.VMCreationFailed)
					require.True(t, pe.OkToRetry, "a failed overlap may be retried: %s", pe.Message)
					res, err := f.call(2, protocol.MethodCreateVM, args...)
					require.NoError(t, err, "the retry")
					cids[i] = res.([]any)[0]
				}
			}
			servers := f.sim.Sim.Snapshot().Servers
			require.Len(t, servers, 1, "exactly one server")
			want := strconv.FormatInt(servers[0].ID, 10)
			assert.Equal(t, []any{want, want}, cids, "both calls answer that server")
		})
	}
}

func TestDiskSizesAreExact(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name    string
		sizeMiB int64
		wantGB  int // 0: refused
	}{
		{"the largest int64 overflows nothing", math.MaxInt64, 0},
		{"one MiB above Hetzner's maximum", 10240*1024 + 1, 0},
		{"Hetzner's maximum", 10240 * 1024, 10240},
		{"rounded up to a whole GB", 10*1024 + 1, 11},
		{"at least 10 GB", 1, 10},
		{"negative", -1024, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.sim.Sim.Snapshot().Volumes)
			res, err := f.call(2, protocol.MethodCreateDisk, tt.sizeMiB, map[string]any{}, nil)
			if tt.wantGB == 0 {
				boshErr(t, err, bosh.CpiError)
				assert.Len(t, f.sim.Sim.Snapshot().Volumes, before, "nothing created")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantGB, f.volume(res.(string)).Size)
		})
	}
	cid := f.createDisk(10*1024, map[string]any{}, nil)
	for _, size := range []int64{math.MaxInt64, 10240*1024 + 1} {
		_, err := f.call(2, protocol.MethodResizeDisk, cid, size)
		boshErr(t, err, bosh.CpiError)
		assert.Equal(t, 10, f.volume(cid).Size, "unchanged")
	}
	_, err := f.call(2, protocol.MethodResizeDisk, cid, 20*1024+1)
	require.NoError(t, err)
	assert.Equal(t, 21, f.volume(cid).Size, "resized as asked, rounded up")
}

// serverKeys are the SSH key ids the CPI sent in a server's create.
func (f *fixture) serverKeys(name string) []int64 {
	f.t.Helper()
	body, ok := f.rec.createBody(name)
	require.True(f.t, ok, "no POST /servers for %s", name)
	var sent struct {
		SSHKeys []int64 `json:"ssh_keys"`
	}
	require.NoError(f.t, json.Unmarshal(body, &sent))
	return sent.SSHKeys
}

func TestSSHKeysAreResolvedByNameOrID(t *testing.T) {
	f := newFixture(t)
	key := func(name string, labels map[string]string) *hcloud.SSHKey {
		k, _, err := f.api.SSHKey.Create(context.Background(), hcloud.SSHKeyCreateOpts{Name: name, PublicKey: testPublicKey(t), Labels: labels})
		require.NoError(t, err)
		return k
	}
	ops := key("ops", map[string]string{"team": "ops"})
	hidden := key("hidden", map[string]string{"nanobox": "false"})
	image := strconv.FormatInt(f.ubuntuID(), 10)
	create := func(keys ...string) (string, error) {
		agent := uuid.NewString()
		_, err := f.call(2, protocol.MethodCreateVM, agent, image, map[string]any{"ssh_keys": keys}, dynamicNetworks(), []string{}, createEnv)
		return bosh.ServerName(agent), err
	}
	for _, keys := range [][]string{{"ops"}, {strconv.FormatInt(ops.ID, 10)}} {
		name, err := create(keys...)
		require.NoError(t, err, "key %v", keys)
		assert.Equal(t, []int64{ops.ID}, f.serverKeys(name), "key %v is sent by its id", keys)
	}
	before := len(f.sim.Sim.Snapshot().Servers)
	for _, keys := range [][]string{{"hidden"}, {strconv.FormatInt(hidden.ID, 10)}, {"ops", "missing"}, {"987654"}} {
		_, err := create(keys...)
		pe := boshErr(t, err, bosh.CpiError)
		assert.Contains(t, pe.Message, keys[len(keys)-1], "the error names the key")
		assert.Len(t, f.sim.Sim.Snapshot().Servers, before, "key %v: nothing created", keys)
	}
}

// TestAnUnfinishedVolumeThatCannotBeDeletedIsMarkedAgain: create_disk's
// unmark is carried out but its answer is lost, the retry of the unmark is
// refused, and so is the clean-up's delete. The volume must carry the
// creating mark again (the lost unmark removed it), so that the next call
// sweeps it instead of leaving a volume nobody knows about.
func TestAnUnfinishedVolumeThatCannotBeDeletedIsMarkedAgain(t *testing.T) {
	f := newFixture(t)
	f.sim.Sim.AddFault(hcloudsim.Fault{Method: "PUT", Route: "/v1/volumes/{id}", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	f.sim.Sim.AddFault(hcloudsim.Fault{Method: "PUT", Route: "/v1/volumes/{id}", Kind: hcloudsim.FaultLocked, Times: 1})
	f.sim.Sim.AddFault(hcloudsim.Fault{Method: "DELETE", Route: "/v1/volumes/{id}", Kind: hcloudsim.FaultLocked, Times: 1})
	_, err := f.call(2, protocol.MethodCreateDisk, 10*1024, map[string]any{}, nil)
	pe := boshErr(t, err, bosh.CloudError)
	assert.True(t, pe.OkToRetry, "a retry is safe: the left volume is swept")
	assert.Contains(t, pe.Message, "left behind, labelled "+bosh.LabelCreating)
	left := f.sim.Sim.Snapshot().Volumes
	require.Len(t, left, 1, "the volume the delete could not remove")
	assert.Contains(t, left[0].Labels, bosh.LabelCreating, "marked as unfinished again after the lost unmark")

	res, err := f.call(2, protocol.MethodCreateDisk, 10*1024, map[string]any{}, nil) // the director's retry
	require.NoError(t, err)
	volumes := f.sim.Sim.Snapshot().Volumes
	require.Len(t, volumes, 1, "the unfinished volume was swept")
	assert.Equal(t, strconv.FormatInt(volumes[0].ID, 10), res)
	assert.NotEqual(t, left[0].ID, volumes[0].ID)
	assert.NotContains(t, volumes[0].Labels, bosh.LabelCreating)
}

// TestAnUnfinishedServerThatCannotBeDeletedIsMarkedAgain is the same for
// create_vm: the lost unmark, its refused retry and a refused delete leave
// the server marked, and the next create_vm (bosh-cli's, for a new agent
// id) sweeps it.
func TestAnUnfinishedServerThatCannotBeDeletedIsMarkedAgain(t *testing.T) {
	f := newFixture(t)
	f.sim.Sim.AddFault(hcloudsim.Fault{Method: "PUT", Route: "/v1/servers/{id}", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	f.sim.Sim.AddFault(hcloudsim.Fault{Method: "PUT", Route: "/v1/servers/{id}", Kind: hcloudsim.FaultLocked, Times: 1})
	f.sim.Sim.AddFault(hcloudsim.Fault{Method: "DELETE", Route: "/v1/servers/{id}", Kind: hcloudsim.FaultLocked, Times: 1})
	stemcell := strconv.FormatInt(f.ubuntuID(), 10)
	_, err := f.call(2, protocol.MethodCreateVM, uuid.NewString(), stemcell, map[string]any{}, dynamicNetworks(), []string{}, createEnv)
	pe := boshErr(t, err, bosh.VMCreationFailed)
	assert.True(t, pe.OkToRetry, "a retry is safe: the left server is adopted or swept")
	assert.Contains(t, pe.Message, "left behind, labelled "+bosh.LabelCreating)
	left := f.sim.Sim.Snapshot().Servers
	require.Len(t, left, 1, "the server the delete could not remove")
	assert.Contains(t, left[0].Labels, bosh.LabelCreating, "marked as unfinished again after the lost unmark")

	res, err := f.call(2, protocol.MethodCreateVM, uuid.NewString(), stemcell, map[string]any{}, dynamicNetworks(), []string{}, createEnv)
	require.NoError(t, err)
	servers := f.sim.Sim.Snapshot().Servers
	require.Len(t, servers, 1, "the unfinished server was swept")
	assert.Equal(t, strconv.FormatInt(servers[0].ID, 10), res.([]any)[0])
	assert.NotEqual(t, left[0].ID, servers[0].ID)
	assert.NotContains(t, servers[0].Labels, bosh.LabelCreating)
}
