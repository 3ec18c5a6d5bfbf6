package bosh_test

import (
	"context"
	"encoding/json"
	"strconv"
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

func dynamicNetworks() map[string]any {
	return map[string]any{"default": map[string]any{"type": "dynamic", "dns": []string{"1.1.1.1"}, "default": []string{"dns", "gateway"}, "cloud_properties": map[string]any{}}}
}

func manualNetworks(network string) map[string]any {
	return map[string]any{"private": map[string]any{
		"type": "manual", "ip": "10.0.1.6", "netmask": "255.255.255.0", "gateway": "10.0.1.1",
		"dns": []string{"1.1.1.1"}, "default": []string{"dns", "gateway"},
		"cloud_properties": map[string]any{"network": network},
	}}
}

// createEnv is a create_vm env as bosh-deployment's bosh.yml gives it
// (plus the director's group keys), with the local blobstore.
var createEnv = map[string]any{"bosh": map[string]any{"password": "*", "group": "g", "groups": []string{"g"},
	"blobstores": []any{map[string]any{"provider": "local", "options": map[string]any{"blobstore_path": "/var/vcap/micro_bosh/data/cache"}}}}}

// createVM runs create_vm at v2 and returns the cid and the networks.
func (f *fixture) createVM(agentID string, props, networks map[string]any) (string, map[string]any) {
	f.t.Helper()
	res, err := f.call(2, protocol.MethodCreateVM, agentID, strconv.FormatInt(f.ubuntuID(), 10), props, networks, []string{}, createEnv)
	require.NoError(f.t, err)
	pair, ok := res.([]any)
	require.True(f.t, ok, "v2 create_vm answers [vm_cid, networks], got %T", res)
	require.Len(f.t, pair, 2)
	cid, ok := pair[0].(string)
	require.True(f.t, ok)
	data, err := json.Marshal(pair[1])
	require.NoError(f.t, err)
	var nets map[string]any
	require.NoError(f.t, json.Unmarshal(data, &nets))
	return cid, nets
}

func TestCreateVMWithADynamicNetwork(t *testing.T) {
	f := newFixture(t)
	agent := uuid.NewString()
	cid, nets := f.createVM(agent, map[string]any{"server_type": "cx23", "location": "fsn1", "labels": map[string]string{"team": "platform"}}, dynamicNetworks())
	id, err := strconv.ParseInt(cid, 10, 64)
	require.NoError(t, err)
	s := f.server(id)
	require.NotNil(t, s)
	assert.Equal(t, bosh.ServerName(agent), s.Name)
	assert.Equal(t, "cx23", s.ServerType.Name)
	assert.Equal(t, "fsn1", s.Location.Name)
	assert.Equal(t, hcloud.ServerStatusRunning, s.Status)
	assert.Equal(t, agent, s.Labels[bosh.LabelAgentID])
	assert.Equal(t, "nanobox-hcloud", s.Labels["managed-by"])
	assert.Equal(t, "platform", s.Labels["team"])
	assert.Equal(t, s.PublicNet.IPv4.IP.String(), nets["default"].(map[string]any)["ip"], "the dynamic network answers the public IPv4")

	// The v1 answer is the cid alone.
	res, err := f.call(1, protocol.MethodCreateVM, uuid.NewString(), strconv.FormatInt(f.ubuntuID(), 10), map[string]any{}, dynamicNetworks(), nil, createEnv)
	require.NoError(t, err)
	_, isString := res.(string)
	assert.True(t, isString, "v1 create_vm answers the cid, got %T", res)
}

// userData is the agent settings a server was created with, as the CPI
// sent them (the simulator does not serve user_data back).
func (f *fixture) userData(name string) map[string]any {
	f.t.Helper()
	body, ok := f.rec.createBody(name)
	require.True(f.t, ok, "no POST /servers for %s", name)
	var req struct {
		UserData string `json:"user_data"`
	}
	require.NoError(f.t, json.Unmarshal(body, &req))
	var m map[string]any
	require.NoError(f.t, json.Unmarshal([]byte(req.UserData), &m), "user_data is JSON")
	return m
}

func TestCreateVMPassesTheAgentSettingsInUserData(t *testing.T) {
	f := newFixture(t)
	f.network("bosh", nil)
	agent := uuid.NewString()
	f.createVM(agent, map[string]any{}, manualNetworks("bosh"))
	ud := f.userData(bosh.ServerName(agent))
	assert.Equal(t, agent, ud["agent_id"])
	assert.Equal(t, testMbus, ud["mbus"])
	assert.Equal(t, []any{"ntp.hetzner.de"}, ud["ntp"])
	assert.Equal(t, map[string]any{"name": bosh.ServerName(agent)}, ud["vm"])
	assert.Equal(t, "10.0.1.6", ud["networks"].(map[string]any)["private"].(map[string]any)["ip"])
	assert.Equal(t, map[string]any{"system": "/dev/sda", "ephemeral": nil, "persistent": map[string]any{}}, ud["disks"])
	assert.Equal(t, createEnv["bosh"].(map[string]any)["password"], ud["env"].(map[string]any)["bosh"].(map[string]any)["password"])
	assert.NotContains(t, ud, "blobstore", "no blobstore is configured: the env's is the agent's")
}

func TestCreateVMAttachesManualNetworksWithTheStaticIP(t *testing.T) {
	f := newFixture(t)
	n := f.network("bosh", nil)
	cid, _ := f.createVM(uuid.NewString(), map[string]any{}, manualNetworks(strconv.FormatInt(n.ID, 10)))
	id, _ := strconv.ParseInt(cid, 10, 64)
	s := f.server(id)
	require.Len(t, s.PrivateNet, 1)
	assert.Equal(t, n.ID, s.PrivateNet[0].Network.ID)
	assert.Equal(t, "10.0.1.6", s.PrivateNet[0].IP.String())
	assert.Equal(t, hcloud.ServerStatusRunning, s.Status, "started after the attach")
}

func TestCreateVMRefusesBadInputAndCreatesNothing(t *testing.T) {
	f := newFixture(t)
	f.network("bosh", nil)
	f.network("hidden", map[string]string{"nanobox": "false"})
	image := strconv.FormatInt(f.ubuntuID(), 10)
	noMbus := *f.cfg
	noMbus.Agent.Mbus = ""
	tests := []struct {
		name     string
		agent    string
		props    any
		networks any
		want     string
	}{
		{"unknown cloud property", uuid.NewString(), map[string]any{"instance_type": "m5"}, dynamicNetworks(), "instance_type"},
		{"reserved label", uuid.NewString(), map[string]any{"labels": map[string]string{"managed-by": "me"}}, dynamicNetworks(), "managed-by"},
		{"bad label value", uuid.NewString(), map[string]any{"labels": map[string]string{"a": "b/c"}}, dynamicNetworks(), "label"},
		{"agent id", "not a uuid!", map[string]any{}, dynamicNetworks(), "agent id"},
		{"manual network without a Hetzner network", uuid.NewString(), map[string]any{}, map[string]any{"p": map[string]any{"type": "manual", "ip": "10.0.1.6"}}, "cloud_properties.network"},
		{"manual network without an ip", uuid.NewString(), map[string]any{}, map[string]any{"p": map[string]any{"type": "manual", "cloud_properties": map[string]any{"network": "bosh"}}}, "IPv4"},
		{"missing Hetzner network", uuid.NewString(), map[string]any{}, manualNetworks("nope"), "does not exist"},
		{"hidden Hetzner network", uuid.NewString(), map[string]any{}, manualNetworks("hidden"), "does not exist"},
		{"vip network", uuid.NewString(), map[string]any{}, map[string]any{"v": map[string]any{"type": "vip", "ip": "1.2.3.4"}}, "vip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.call(2, protocol.MethodCreateVM, tt.agent, image, tt.props, tt.networks, []string{}, createEnv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	for name, tt := range map[string]struct {
		env  any
		want string
	}{
		"no blobstore: the agent could not start": {map[string]any{"bosh": map[string]any{"password": "*"}}, "no blobstore"},
		"a blobstore without a provider":          {map[string]any{"bosh": map[string]any{"blobstores": []any{map[string]any{"options": map[string]any{}}}}}, "no provider"},
		"env not an object":                       {[]any{"x"}, "env"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.call(2, protocol.MethodCreateVM, uuid.NewString(), image, map[string]any{}, dynamicNetworks(), []string{}, tt.env)
			pe := boshErr(t, err, bosh.CpiError)
			assert.Contains(t, pe.Message, tt.want)
		})
	}
	t.Run("no agent.mbus", func(t *testing.T) {
		env := f.env()
		env.Config = &noMbus
		c, err := bosh.New(env)
		require.NoError(t, err)
		_, err = c.CreateVM(context.Background(), uuid.NewString(), image, bosh.VMProperties{}, map[string]json.RawMessage{}, nil, nil)
		boshErr(t, err, bosh.CpiError)
	})
	assert.Empty(t, f.sim.Sim.Snapshot().Servers, "a refused create_vm creates nothing")
}

func TestCreateVMRetriedAfterALostAnswerAdoptsItsServer(t *testing.T) {
	// Servers take a while to create and start, so the adopted server is
	// still locked by its create when the retry finds it.
	f := newFixtureWith(t, hcloudsim.Options{RateLimit: 100000, Delays: hcloudsim.Delays{Initializing: 300 * time.Millisecond, Starting: 100 * time.Millisecond, Action: 50 * time.Millisecond}})
	n := f.network("bosh", nil)
	// Hetzner makes the server but the answer is lost; hcloud-go retries
	// the POST, which meets the name it made.
	f.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	agent := uuid.NewString()
	cid, _ := f.createVM(agent, map[string]any{}, manualNetworks(n.Name))
	// The whole call retried (the first answer lost too): same server.
	again, _ := f.createVM(agent, map[string]any{}, manualNetworks(n.Name))
	assert.Equal(t, cid, again)
	servers := f.sim.Sim.Snapshot().Servers
	require.Len(t, servers, 1, "one server per agent id")
	assert.Equal(t, 1, f.sim.Sim.FaultsInjected()[hcloudsim.FaultCommitThenFail], "the fault fired")
	id, _ := strconv.ParseInt(cid, 10, 64)
	s := f.server(id)
	require.Len(t, s.PrivateNet, 1, "the adopted server is finished: attached")
	assert.Equal(t, hcloud.ServerStatusRunning, s.Status)
}

func TestCreateVMDeletesAServerItCouldNotFinish(t *testing.T) {
	f := newFixture(t)
	n := f.network("bosh", nil)
	f.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers/{id}/actions/attach_to_network", Kind: hcloudsim.FaultInternal, Times: 10})
	_, err := f.call(2, protocol.MethodCreateVM, uuid.NewString(), strconv.FormatInt(f.ubuntuID(), 10), map[string]any{}, manualNetworks(n.Name), []string{}, createEnv)
	pe := boshErr(t, err, bosh.VMCreationFailed)
	assert.True(t, pe.OkToRetry)
	assert.Empty(t, f.sim.Sim.Snapshot().Servers, "nothing left behind")
}

func TestVMLifecycle(t *testing.T) {
	f := newFixture(t)
	cid, _ := f.createVM(uuid.NewString(), map[string]any{"placement_group": "bosh-spread"}, dynamicNetworks())
	id, _ := strconv.ParseInt(cid, 10, 64)
	s := f.server(id)
	require.NotNil(t, s.PlacementGroup)
	assert.Equal(t, "bosh-spread", s.PlacementGroup.Name)

	has, err := f.call(2, protocol.MethodHasVM, cid)
	require.NoError(t, err)
	assert.Equal(t, true, has)

	_, err = f.call(2, protocol.MethodRebootVM, cid)
	require.NoError(t, err)

	_, err = f.call(2, protocol.MethodSetVMMetadata, cid, map[string]any{
		"director": "bosh-init", "deployment": "bosh", "name": "bosh/0", "index": "0",
		"created_at": "2026-11-30T11:38:35Z", "managed-by": "someone",
	})
	require.NoError(t, err)
	s = f.server(id)
	assert.Equal(t, "bosh-0", s.Labels["name"])
	assert.Equal(t, "2026-11-30T11-38-35Z", s.Labels["created_at"])
	assert.Equal(t, "nanobox-hcloud", s.Labels["managed-by"], "the CPI's own labels stay")
	assert.Equal(t, "someone", s.Labels["bosh-managed-by"])

	_, err = f.call(2, protocol.MethodDeleteVM, cid)
	require.NoError(t, err)
	assert.Nil(t, f.server(id))
	_, err = f.call(2, protocol.MethodDeleteVM, cid)
	require.NoError(t, err, "delete_vm of a server already gone is success")
	has, err = f.call(2, protocol.MethodHasVM, cid)
	require.NoError(t, err)
	assert.Equal(t, false, has)
	_, err = f.call(2, protocol.MethodRebootVM, cid)
	boshErr(t, err, bosh.VMNotFound)
}

func TestForeignAndHiddenServersAreNeverChanged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	foreign, hiddenOurs := f.foreignAndHidden(protocol.MethodHasVM, func(name string, labels map[string]string) int64 {
		res, _, err := f.api.Server.Create(ctx, hcloud.ServerCreateOpts{Name: name, ServerType: &hcloud.ServerType{Name: "cx23"},
			Image: &hcloud.Image{Name: "ubuntu-24.04"}, Labels: labels})
		require.NoError(t, err)
		return res.Server.ID
	})
	for _, cid := range []string{foreign, hiddenOurs} {
		_, err := f.call(2, protocol.MethodSetVMMetadata, cid, map[string]any{"a": "b"})
		require.Error(t, err)
		_, err = f.call(2, protocol.MethodRebootVM, cid)
		require.Error(t, err)
	}
	f.deleteLeavesAlone(protocol.MethodDeleteVM, foreign, hiddenOurs)
	assert.Len(t, f.sim.Sim.Snapshot().Servers, 2, "both servers are still there")
	for _, s := range f.sim.Sim.Snapshot().Servers {
		assert.NotContains(t, s.Labels, "a")
	}
}

// placementGroup is the placement group of that name; nil when there is
// none.
func (f *fixture) placementGroup(name string) *hcloud.PlacementGroup {
	f.t.Helper()
	pg, _, err := f.api.PlacementGroup.GetByName(context.Background(), name)
	require.NoError(f.t, err)
	return pg
}

// TestPlacementGroupsGoWithTheirLastServer: a placement group create_vm
// made is deleted with its last server, by delete_vm or by a create_vm
// that fails; a user's group, or one labelled nanobox=false, stays, and a
// group that cannot be deleted does not fail delete_vm.
func TestPlacementGroupsGoWithTheirLastServer(t *testing.T) {
	ctx := context.Background()
	inGroup := func(name string) map[string]any { return map[string]any{"placement_group": name} }

	t.Run("ours, with its last server", func(t *testing.T) {
		f := newFixture(t)
		first, _ := f.createVM(uuid.NewString(), inGroup("spread"), dynamicNetworks())
		second, _ := f.createVM(uuid.NewString(), inGroup("spread"), dynamicNetworks())
		_, err := f.call(2, protocol.MethodDeleteVM, first)
		require.NoError(t, err)
		require.NotNil(t, f.placementGroup("spread"), "the group still holds a server")
		_, err = f.call(2, protocol.MethodDeleteVM, second)
		require.NoError(t, err)
		assert.Nil(t, f.placementGroup("spread"), "the group went with its last server")
		_, err = f.call(2, protocol.MethodDeleteVM, second)
		require.NoError(t, err, "delete_vm repeated")
	})
	t.Run("a user's group stays", func(t *testing.T) {
		f := newFixture(t)
		_, _, err := f.api.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: "users", Type: hcloud.PlacementGroupTypeSpread})
		require.NoError(t, err)
		vm, _ := f.createVM(uuid.NewString(), inGroup("users"), dynamicNetworks())
		_, err = f.call(2, protocol.MethodDeleteVM, vm)
		require.NoError(t, err)
		assert.NotNil(t, f.placementGroup("users"))
	})
	t.Run("ours but labelled nanobox=false stays", func(t *testing.T) {
		f := newFixture(t)
		vm, _ := f.createVM(uuid.NewString(), inGroup("hidden"), dynamicNetworks())
		pg := f.placementGroup("hidden")
		labels := pg.Labels
		labels["nanobox"] = "false"
		_, _, err := f.api.PlacementGroup.Update(ctx, pg, hcloud.PlacementGroupUpdateOpts{Labels: labels})
		require.NoError(t, err)
		_, err = f.call(2, protocol.MethodDeleteVM, vm)
		require.NoError(t, err)
		assert.NotNil(t, f.placementGroup("hidden"))
	})
	t.Run("a group that cannot be deleted does not fail delete_vm", func(t *testing.T) {
		f := newFixture(t)
		vm, _ := f.createVM(uuid.NewString(), inGroup("stuck"), dynamicNetworks())
		f.sim.Sim.AddFault(hcloudsim.Fault{Method: "DELETE", Route: "/v1/placement_groups/{id}", Kind: hcloudsim.FaultInternal, Times: 10})
		_, err := f.call(2, protocol.MethodDeleteVM, vm)
		require.NoError(t, err)
		assert.NotNil(t, f.placementGroup("stuck"), "left, and logged")
		assert.Nil(t, f.server(mustID(t, vm)), "the server is gone")
	})
	t.Run("a create_vm that fails takes back the group it made", func(t *testing.T) {
		f := newFixture(t)
		f.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/servers", Kind: hcloudsim.FaultResourceUnavailable, Times: 1})
		_, err := f.call(2, protocol.MethodCreateVM, uuid.NewString(), strconv.FormatInt(f.ubuntuID(), 10), inGroup("fresh"), dynamicNetworks(), []string{}, createEnv)
		boshErr(t, err, bosh.VMCreationFailed)
		assert.Empty(t, f.sim.Sim.Snapshot().Servers)
		assert.Nil(t, f.placementGroup("fresh"))
	})
}
