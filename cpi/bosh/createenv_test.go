package bosh_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/testsupport"
)

// The create-env harness drives the CPI binary the way bosh-cli's
// create-env and delete-env do (cloud/cpi_cmd_runner.go and deployment/):
// one process per call, each call preceded by its own info call at
// api_version 1, then the call at the version info reported (2), with the
// CLI's context (director_uuid, vm.stemcell.api_version) and no request id.

// cliCPI runs the binary as bosh-cli does.
type cliCPI struct {
	t          *testing.T
	sim        *simtest.Env
	bin        string
	configPath string
	env        []string
	director   string
	calls      []string // every method called, info included, in order
}

func newCLICPI(t *testing.T) *cliCPI {
	t.Helper()
	sim := simtest.Start(t, hcloudsim.Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "cpi.json")
	require.NoError(t, os.WriteFile(path, simConfig(t, sim, 60), 0o600))
	return &cliCPI{
		t: t, sim: sim, bin: testsupport.Binary(t, "nanobox-hcloud-cpi"), configPath: path,
		// The CLI passes the operator's environment plus these two.
		env:      []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "BOSH_PACKAGES_DIR=" + dir, "BOSH_JOBS_DIR=" + dir},
		director: uuid.NewString(),
	}
}

// response is the CPI's answer, every key required by the director's
// schema check present.
type response struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Type      *string `json:"type"`
		Message   *string `json:"message"`
		OkToRetry *bool   `json:"ok_to_retry"`
	} `json:"error"`
	Log *string `json:"log"`
}

// run executes one request and checks the envelope: exit 0, exactly one
// JSON line on stdout, log a string, error null or complete.
func (c *cliCPI) run(method string, apiVersion int, args []any) response {
	c.t.Helper()
	c.calls = append(c.calls, method)
	if args == nil {
		args = []any{}
	}
	ctx := map[string]any{"director_uuid": c.director, "vm": map[string]any{"stemcell": map[string]any{"api_version": 3}}}
	req, err := json.Marshal(map[string]any{"method": method, "arguments": args, "context": ctx, "api_version": apiVersion})
	require.NoError(c.t, err)
	cmd := exec.Command(c.bin, "-configPath", c.configPath)
	cmd.Env = c.env
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(c.t, cmd.Run(), "%s: the CLI fails on a non-zero exit; stderr: %s", method, stderr.String())
	require.Equal(c.t, 1, strings.Count(stdout.String(), "\n"), "%s: one response line: %q", method, stdout.String())
	var resp response
	require.NoError(c.t, json.Unmarshal(stdout.Bytes(), &resp), "%s: %s", method, stdout.String())
	require.NotNil(c.t, resp.Log, "%s: log must be a string", method)
	if resp.Error != nil {
		require.NotNil(c.t, resp.Error.Type)
		require.NotNil(c.t, resp.Error.Message)
		require.NotNil(c.t, resp.Error.OkToRetry)
	}
	assert.NotContains(c.t, stdout.String()+stderr.String(), c.sim.Token, "the token never reaches the output")
	return resp
}

// call is info (api_version 1) then method at the version info reported.
func (c *cliCPI) call(method string, args ...any) response {
	c.t.Helper()
	info := c.run("info", 1, nil)
	require.Nil(c.t, info.Error)
	var got struct {
		APIVersion      int              `json:"api_version"`
		StemcellFormats *json.RawMessage `json:"stemcell_formats"`
	}
	require.NoError(c.t, json.Unmarshal(info.Result, &got))
	require.Equal(c.t, 2, got.APIVersion, "create-env needs a v2 CPI")
	require.NotNil(c.t, got.StemcellFormats, "the CLI extracts stemcell_formats")
	var formats []string
	require.NoError(c.t, json.Unmarshal(*got.StemcellFormats, &formats))
	require.Contains(c.t, formats, "hetzner-light")
	return c.run(method, min(got.APIVersion, 2), args)
}

// ok is call, requiring success, decoding the result into v.
func (c *cliCPI) ok(v any, method string, args ...any) {
	c.t.Helper()
	resp := c.call(method, args...)
	require.Nil(c.t, resp.Error, "%s: %s: %s", method, deref(resp.Error), string(resp.Result))
	if v != nil {
		require.NoError(c.t, json.Unmarshal(resp.Result, v), "%s result %s", method, resp.Result)
	}
}

func deref(e *struct {
	Type      *string `json:"type"`
	Message   *string `json:"message"`
	OkToRetry *bool   `json:"ok_to_retry"`
}) string {
	if e == nil || e.Type == nil || e.Message == nil {
		return ""
	}
	return *e.Type + ": " + *e.Message
}

// cliEnv is the resource pool's env of bosh-deployment's bosh.yml.
var cliEnv = map[string]any{"bosh": map[string]any{"mbus": map[string]any{"cert": map[string]any{"ca": "CA"}}, "blobstores": []any{
	map[string]any{"provider": "local", "options": map[string]any{"blobstore_path": "/var/vcap/micro_bosh/data/cache"}}}}}

// deployState is what bosh-cli keeps in its state file.
type deployState struct {
	stemcellCID, vmCID, diskCID string
}

// manifest is the part of a create-env manifest the CPI sees.
type manifest struct {
	stemcellProps map[string]any
	vmProps       map[string]any
	networks      map[string]any
	diskMiB       int
}

// createEnv is bosh-cli's create-env: stemcell, then (the state holding a
// VM) has_vm and delete_vm, create_vm with the state's disks,
// set_vm_metadata, then the disk: created and attached the first time,
// re-attached to a new VM after.
func (c *cliCPI) createEnv(st *deployState, m manifest, image string) {
	c.t.Helper()
	failed, resp := c.tryCreateEnv(st, m, image)
	require.Empty(c.t, failed, "create-env failed at %s: %s", failed, deref(resp.Error))
}

// tryCreateEnv is createEnv stopping at the first failed call, as the CLI
// does, with the state saved as far as it got; it answers the failed
// method and its response ("" when create-env succeeded).
func (c *cliCPI) tryCreateEnv(st *deployState, m manifest, image string) (string, response) {
	c.t.Helper()
	// call runs one step: its response, and whether it succeeded (its
	// result decoded into v).
	call := func(v any, method string, args ...any) (response, bool) {
		resp := c.call(method, args...)
		if resp.Error != nil {
			return resp, false
		}
		if v != nil {
			require.NoError(c.t, json.Unmarshal(resp.Result, v), "%s result %s", method, resp.Result)
		}
		return resp, true
	}
	if st.stemcellCID == "" {
		if resp, ok := call(&st.stemcellCID, "create_stemcell", image, m.stemcellProps); !ok {
			return "create_stemcell", resp
		}
	}
	if st.vmCID != "" {
		var exists bool
		if resp, ok := call(&exists, "has_vm", st.vmCID); !ok {
			return "has_vm", resp
		}
		// (the CLI stops the jobs and unmounts the disk through the agent)
		if exists {
			if resp, ok := call(nil, "delete_vm", st.vmCID); !ok {
				return "delete_vm", resp
			}
		}
		st.vmCID = ""
	}
	disks := []string{}
	if st.diskCID != "" {
		disks = append(disks, st.diskCID)
	}
	var created []json.RawMessage
	if resp, ok := call(&created, "create_vm", uuid.NewString(), st.stemcellCID, m.vmProps, m.networks, disks, cliEnv); !ok {
		return "create_vm", resp
	}
	require.Len(c.t, created, 2, "v2 create_vm answers [vm_cid, networks]")
	require.NoError(c.t, json.Unmarshal(created[0], &st.vmCID))
	var nets map[string]any
	require.NoError(c.t, json.Unmarshal(created[1], &nets))
	require.Equal(c.t, sortedStrings(m.networks), sortedStrings(nets), "the networks come back")
	if resp, ok := call(nil, "set_vm_metadata", st.vmCID, map[string]any{
		"deployment": "bosh", "job": "bosh", "instance_group": "bosh", "index": "0", "director": "bosh-init",
		"name": "bosh/0", "created_at": "2026-11-30T12:00:00Z"}); !ok {
		return "set_vm_metadata", resp
	}
	if st.diskCID == "" {
		if resp, ok := call(&st.diskCID, "create_disk", m.diskMiB, map[string]any{}, st.vmCID); !ok {
			return "create_disk", resp
		}
	}
	var hint map[string]any
	if resp, ok := call(&hint, "attach_disk", st.vmCID, st.diskCID); !ok {
		return "attach_disk", resp
	}
	require.Equal(c.t, map[string]any{"path": "/dev/disk/by-id/scsi-0HC_Volume_" + st.diskCID}, hint, "v2 attach_disk answers the disk hint")
	if resp, ok := call(nil, "set_disk_metadata", st.diskCID, map[string]any{
		"deployment": "bosh", "instance_group": "bosh", "director": "bosh-init", "instance_index": "0", "attached_at": "2026-11-30T12:00:01Z"}); !ok {
		return "set_disk_metadata", resp
	}
	return "", response{}
}

// deleteEnv is bosh-cli's delete-env: has_vm, delete_vm, delete_disk,
// delete_stemcell.
func (c *cliCPI) deleteEnv(st *deployState) {
	c.t.Helper()
	var exists bool
	c.ok(&exists, "has_vm", st.vmCID)
	if exists {
		c.ok(nil, "delete_vm", st.vmCID)
	}
	c.ok(nil, "delete_disk", st.diskCID)
	c.ok(nil, "delete_stemcell", st.stemcellCID)
}

// assertNothingLeft: no server, volume, placement group or image made by
// the CPI.
func (c *cliCPI) assertNothingLeft() {
	c.t.Helper()
	ctx := context.Background()
	api := c.sim.Client()
	servers, err := api.Server.All(ctx)
	require.NoError(c.t, err)
	assert.Empty(c.t, servers, "servers left")
	volumes, err := api.Volume.All(ctx)
	require.NoError(c.t, err)
	assert.Empty(c.t, volumes, "volumes left")
	groups, err := api.PlacementGroup.All(ctx)
	require.NoError(c.t, err)
	assert.Empty(c.t, groups, "placement groups left")
	images, err := api.Image.AllWithOpts(ctx, hcloud.ImageListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "managed-by=nanobox-hcloud"}})
	require.NoError(c.t, err)
	assert.Empty(c.t, images, "images made by the CPI left")
	system, err := api.Image.AllWithOpts(ctx, hcloud.ImageListOpts{Type: []hcloud.ImageType{hcloud.ImageTypeSystem}, Name: "ubuntu-24.04"})
	require.NoError(c.t, err)
	assert.NotEmpty(c.t, system, "the light stemcell's image is not the CPI's to delete")
}

func lightStemcellImage(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image")
	require.NoError(t, os.WriteFile(p, nil, 0o600))
	return p
}

func firstManifest(network string) manifest {
	return manifest{
		stemcellProps: map[string]any{"image_name": "ubuntu-24.04", "architecture": "x86"},
		vmProps:       map[string]any{"server_type": "cx23", "location": "nbg1", "placement_group": "bosh"},
		networks: map[string]any{"default": map[string]any{
			"type": "manual", "ip": "10.0.1.6", "netmask": "255.255.255.0", "gateway": "10.0.1.1",
			"dns": []string{"185.12.64.1"}, "default": []string{"dns", "gateway"},
			"cloud_properties": map[string]any{"network": network}}},
		diskMiB: 20 * 1024,
	}
}

func (c *cliCPI) hetznerNetwork(name string) {
	c.t.Helper()
	_, ipRange, _ := net.ParseCIDR("10.0.0.0/16")
	_, subnet, _ := net.ParseCIDR("10.0.1.0/24")
	_, _, err := c.sim.Client().Network.Create(context.Background(), hcloud.NetworkCreateOpts{
		Name: name, IPRange: ipRange,
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneEUCentral, IPRange: subnet}},
	})
	require.NoError(c.t, err)
}

// TestCreateEnvThenDeleteEnvThroughTheBinary: create-env, a second
// create-env with changed cloud properties (the VM is recreated, the disk
// kept and re-attached), then delete-env; nothing is left.
func TestCreateEnvThenDeleteEnvThroughTheBinary(t *testing.T) {
	c := newCLICPI(t)
	c.hetznerNetwork("bosh")
	image := lightStemcellImage(t)
	var st deployState
	m := firstManifest("bosh")
	c.createEnv(&st, m, image)
	first := st
	vm := c.server(st.vmCID)
	assert.Equal(t, "cx23", vm.ServerType.Name)
	assert.Equal(t, "10.0.1.6", vm.PrivateNet[0].IP.String())
	require.NotNil(t, vm.PlacementGroup)
	assert.Equal(t, "bosh", vm.PlacementGroup.Name)
	assert.Equal(t, "bosh-0", vm.Labels["name"])
	c.assertVolumeOn(st.diskCID, st.vmCID, 20)

	m.vmProps = map[string]any{"server_type": "cx33", "location": "nbg1", "placement_group": "bosh", "labels": map[string]string{"role": "director"}}
	c.createEnv(&st, m, image)
	assert.NotEqual(t, first.vmCID, st.vmCID, "a new VM")
	assert.Equal(t, first.diskCID, st.diskCID, "the same disk")
	assert.Equal(t, first.stemcellCID, st.stemcellCID)
	assert.Nil(t, c.server(first.vmCID), "the old VM is gone")
	vm = c.server(st.vmCID)
	assert.Equal(t, "cx33", vm.ServerType.Name)
	assert.Equal(t, "director", vm.Labels["role"])
	c.assertVolumeOn(st.diskCID, st.vmCID, 20)

	c.deleteEnv(&st)
	c.assertNothingLeft()

	// The call order, as create-env and delete-env make it.
	var methods []string
	for i, m := range c.calls {
		if i%2 == 0 {
			require.Equal(t, "info", m, "call %d: info before every call", i)
		} else {
			methods = append(methods, m)
		}
	}
	assert.Equal(t, []string{
		"create_stemcell", "create_vm", "set_vm_metadata", "create_disk", "attach_disk", "set_disk_metadata",
		"has_vm", "delete_vm", "create_vm", "set_vm_metadata", "attach_disk", "set_disk_metadata",
		"has_vm", "delete_vm", "delete_disk", "delete_stemcell",
	}, methods)
}

func (c *cliCPI) server(cid string) *hcloud.Server {
	c.t.Helper()
	id, err := strconv.ParseInt(cid, 10, 64)
	require.NoError(c.t, err)
	s, _, err := c.sim.Client().Server.GetByID(context.Background(), id)
	require.NoError(c.t, err)
	return s
}

func (c *cliCPI) assertVolumeOn(diskCID, vmCID string, gb int) {
	c.t.Helper()
	id, err := strconv.ParseInt(diskCID, 10, 64)
	require.NoError(c.t, err)
	v, _, err := c.sim.Client().Volume.GetByID(context.Background(), id)
	require.NoError(c.t, err)
	require.NotNil(c.t, v)
	require.NotNil(c.t, v.Server, "volume %s is attached", diskCID)
	assert.Equal(c.t, vmCID, strconv.FormatInt(v.Server.ID, 10))
	assert.Equal(c.t, gb, v.Size)
	assert.Equal(c.t, "nbg1", v.Location.Name, "in the VM's location")
}

// TestEveryCallIsIdempotentUnderLostAnswers runs create-env and delete-env
// with Hetzner carrying out create_vm's, create_disk's and attach_disk's
// requests but losing the answer (commit_then_fail), and repeats every call
// once more after it succeeded, as a caller that lost the CPI's answer
// would: each repeat answers the same, and nothing is duplicated or left.
func TestEveryCallIsIdempotentUnderLostAnswers(t *testing.T) {
	c := newCLICPI(t)
	c.hetznerNetwork("bosh")
	for _, route := range []string{"/v1/servers", "/v1/volumes", "/v1/volumes/{id}/actions/attach"} {
		c.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: route, Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	}
	image := lightStemcellImage(t)
	m := firstManifest("bosh")
	var st deployState

	twice := func(method string, args ...any) json.RawMessage {
		t.Helper()
		first := c.call(method, args...)
		require.Nil(t, first.Error, "%s: %s", method, deref(first.Error))
		again := c.call(method, args...)
		require.Nil(t, again.Error, "%s repeated: %s", method, deref(again.Error))
		assert.JSONEq(t, string(first.Result), string(again.Result), "%s answers the same when repeated", method)
		return first.Result
	}
	require.NoError(t, json.Unmarshal(twice("create_stemcell", image, m.stemcellProps), &st.stemcellCID))
	agent := uuid.NewString()
	var created []json.RawMessage
	require.NoError(t, json.Unmarshal(twice("create_vm", agent, st.stemcellCID, m.vmProps, m.networks, []string{}, cliEnv), &created))
	require.NoError(t, json.Unmarshal(created[0], &st.vmCID))
	twice("set_vm_metadata", st.vmCID, map[string]any{"name": "bosh/0"})
	// create_disk is not repeated: two calls are two disks. Its lost
	// answer inside the call is the fault above.
	c.ok(&st.diskCID, "create_disk", m.diskMiB, map[string]any{}, st.vmCID)
	twice("attach_disk", st.vmCID, st.diskCID)
	twice("set_disk_metadata", st.diskCID, map[string]any{"attached_at": "now"})
	twice("has_vm", st.vmCID)
	twice("has_disk", st.diskCID)
	twice("get_disks", st.vmCID)
	twice("reboot_vm", st.vmCID)
	twice("resize_disk", st.diskCID, 30*1024)
	twice("detach_disk", st.vmCID, st.diskCID)
	twice("attach_disk", st.vmCID, st.diskCID)

	injected := c.sim.Sim.FaultsInjected()[hcloudsim.FaultCommitThenFail]
	assert.Equal(t, 3, injected, "each commit-then-fault fired")
	servers, err := c.sim.Client().Server.All(context.Background())
	require.NoError(t, err)
	assert.Len(t, servers, 1, "one server")
	volumes, err := c.sim.Client().Volume.All(context.Background())
	require.NoError(t, err)
	assert.Len(t, volumes, 1, "one volume")
	c.assertVolumeOn(st.diskCID, st.vmCID, 30)

	twice("delete_vm", st.vmCID)
	twice("has_vm", st.vmCID)
	twice("delete_disk", st.diskCID)
	twice("has_disk", st.diskCID)
	twice("delete_stemcell", st.stemcellCID)
	c.assertNothingLeft()
}

// TestCreateEnvUnderAnOutageThenARerun: Hetzner goes down in the middle of
// create-env, twice, and the operator reruns create-env (each run with a
// new agent id, as bosh-cli makes one for every VM). First the outage hits
// after the server was made and attached to its network with the static
// IP: its start and the clean-up's delete fail, so the server stays,
// stopped, holding the IP. Then, on a rerun, it hits after the volume was
// made: the answer is lost and so are the look-ups that would find it. The
// next rerun succeeds and leaves exactly one server and one volume, with
// the static IP reused and no unfinished object left.
func TestCreateEnvUnderAnOutageThenARerun(t *testing.T) {
	c := newCLICPI(t)
	c.hetznerNetwork("bosh")
	image := lightStemcellImage(t)
	m := firstManifest("bosh")
	var st deployState
	sim := c.sim.Sim

	outage := func(rules ...hcloudsim.Fault) {
		for _, r := range rules {
			r.Kind, r.Times = hcloudsim.FaultUnavailable, 1000
			sim.AddFault(r)
		}
	}
	outage(hcloudsim.Fault{Method: "POST", Route: "/v1/servers/{id}/actions/poweron"}, hcloudsim.Fault{Method: "DELETE", Route: "/v1/servers/{id}"})
	failed, resp := c.tryCreateEnv(&st, m, image)
	require.Equal(t, "create_vm", failed, "the outage fails create_vm: %s", deref(resp.Error))
	left := sim.Snapshot().Servers
	require.Len(t, left, 1, "the outage left the server behind")
	require.Len(t, left[0].PrivateNet, 1)
	assert.Equal(t, "10.0.1.6", left[0].PrivateNet[0].IP, "holding the static IP")
	assert.Contains(t, left[0].Labels, bosh.LabelCreating, "marked as unfinished")

	sim.ClearFaults()
	sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/volumes", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	outage(hcloudsim.Fault{Method: "GET", Route: "/v1/volumes"})
	failed, resp = c.tryCreateEnv(&st, m, image)
	require.Equal(t, "create_disk", failed, "the outage fails create_disk: %s", deref(resp.Error))
	require.True(t, *resp.Error.OkToRetry, "the volume may exist: %s", deref(resp.Error))
	require.Len(t, sim.Snapshot().Volumes, 1, "the outage left the volume behind")

	sim.ClearFaults()
	c.createEnv(&st, m, image)
	servers := sim.Snapshot().Servers
	require.Len(t, servers, 1, "exactly one server")
	assert.Equal(t, st.vmCID, strconv.FormatInt(servers[0].ID, 10))
	require.Len(t, servers[0].PrivateNet, 1)
	assert.Equal(t, "10.0.1.6", servers[0].PrivateNet[0].IP, "the static IP is reused")
	assert.NotContains(t, servers[0].Labels, bosh.LabelCreating)
	volumes := sim.Snapshot().Volumes
	require.Len(t, volumes, 1, "exactly one volume")
	assert.Equal(t, st.diskCID, strconv.FormatInt(volumes[0].ID, 10))
	assert.NotContains(t, volumes[0].Labels, bosh.LabelCreating)
	c.assertVolumeOn(st.diskCID, st.vmCID, 20)

	c.deleteEnv(&st)
	c.assertNothingLeft()
}
