package hcloudsim_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

// TestVolumeLifecycleWithHcloudGo drives every volume route with hcloud-go; simtest validates each
// response against the OpenAPI document.
func TestVolumeLifecycleWithHcloudGo(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)

	res, _, err := c.Server.Create(ctx, createOpts("vm-1"))
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))
	srv := res.Server

	vres, _, err := c.Volume.Create(ctx, hcloud.VolumeCreateOpts{
		Name: "disk-1", Size: 10, Location: srv.Location, Labels: map[string]string{"bosh": "disk", "Nanobox": "true"},
		Format: hcloud.Ptr("ext4"),
	})
	require.NoError(t, err)
	assert.Equal(t, hcloud.VolumeStatusCreating, vres.Volume.Status)
	assert.Empty(t, vres.NextActions)
	require.NoError(t, c.Action.WaitFor(ctx, vres.Action))
	vol, _, err := c.Volume.GetByID(ctx, vres.Volume.ID)
	require.NoError(t, err)
	require.NotNil(t, vol)
	assert.Equal(t, hcloud.VolumeStatusAvailable, vol.Status)
	assert.Equal(t, "/dev/disk/by-id/scsi-0HC_Volume_"+strconv.FormatInt(vol.ID, 10), vol.LinuxDevice)
	assert.Equal(t, srv.Location.Name, vol.Location.Name)
	assert.Nil(t, vol.Server)

	byName, _, err := c.Volume.GetByName(ctx, "disk-1")
	require.NoError(t, err)
	require.NotNil(t, byName)
	assert.Equal(t, vol.ID, byName.ID)
	listed, err := c.Volume.AllWithOpts(ctx, hcloud.VolumeListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "bosh=disk"}})
	require.NoError(t, err)
	assert.Len(t, listed, 1)
	listed, err = c.Volume.AllWithOpts(ctx, hcloud.VolumeListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "bosh=other"}})
	require.NoError(t, err)
	assert.Empty(t, listed)

	act, _, err := c.Volume.AttachWithOpts(ctx, vol, hcloud.VolumeAttachOpts{Server: srv, Automount: hcloud.Ptr(false)})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	vol, _, err = c.Volume.GetByID(ctx, vol.ID)
	require.NoError(t, err)
	require.NotNil(t, vol.Server)
	assert.Equal(t, srv.ID, vol.Server.ID)
	got, _, err := c.Server.GetByID(ctx, srv.ID)
	require.NoError(t, err)
	require.Len(t, got.Volumes, 1, "the server lists its volume")
	assert.Equal(t, vol.ID, got.Volumes[0].ID)

	_, _, err = c.Volume.Attach(ctx, vol, srv)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeVolumeAlreadyAttached), "%v", err)

	act, _, err = c.Volume.Resize(ctx, vol, 20)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	_, _, err = c.Volume.Resize(ctx, vol, 15)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "a volume cannot shrink: %v", err)

	vol, _, err = c.Volume.Update(ctx, vol, hcloud.VolumeUpdateOpts{Name: "disk-2", Labels: map[string]string{"bosh": "disk", "Nanobox": "false"}})
	require.NoError(t, err)
	assert.Equal(t, "disk-2", vol.Name)
	assert.Equal(t, 20, vol.Size)
	assert.Equal(t, "false", vol.Labels["Nanobox"])

	_, err = c.Volume.Delete(ctx, vol)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeVolumeAlreadyAttached), "an attached volume is not deleted: %v", err)

	act, _, err = c.Volume.Detach(ctx, vol)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	_, _, err = c.Volume.Detach(ctx, vol)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "%v", err)

	act, _, err = c.Volume.ChangeProtection(ctx, vol, hcloud.VolumeChangeProtectionOpts{Delete: hcloud.Ptr(true)})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	_, err = c.Volume.Delete(ctx, vol)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeProtected), "%v", err)
	act, _, err = c.Volume.ChangeProtection(ctx, vol, hcloud.VolumeChangeProtectionOpts{Delete: hcloud.Ptr(false)})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))

	_, err = c.Volume.Delete(ctx, vol)
	require.NoError(t, err)
	gone, _, err := c.Volume.GetByID(ctx, vol.ID)
	require.NoError(t, err)
	assert.Nil(t, gone)
	assert.Equal(t, "volume", env.Sim.Created()[len(env.Sim.Created())-1].Kind)
}

// TestVolumeCreatedOnAServer: a volume created with a server lives in the server's location and is
// attached by the next action; deleting the server detaches it and keeps it.
func TestVolumeCreatedOnAServer(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("vm-1"))
	require.NoError(t, err)

	vres, _, err := c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "d", Size: 10, Server: res.Server, Automount: hcloud.Ptr(true), Format: hcloud.Ptr("xfs")})
	require.NoError(t, err)
	require.Len(t, vres.NextActions, 1)
	assert.Equal(t, "attach_volume", vres.NextActions[0].Command)
	require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{vres.Action}, vres.NextActions...)...))
	vol, _, err := c.Volume.GetByID(ctx, vres.Volume.ID)
	require.NoError(t, err)
	require.NotNil(t, vol.Server)
	assert.Equal(t, res.Server.ID, vol.Server.ID)
	assert.Equal(t, res.Server.Location.Name, vol.Location.Name)

	del, _, err := c.Server.DeleteWithResult(ctx, res.Server)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, del.Action))
	vol, _, err = c.Volume.GetByID(ctx, vol.ID)
	require.NoError(t, err)
	require.NotNil(t, vol, "deleting a server keeps its volumes")
	assert.Nil(t, vol.Server, "and detaches them")
}

// TestVolumeRefusals: every bad create or attach answers a typed error and changes nothing.
func TestVolumeRefusals(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("vm-1")) // createOpts orders in nbg1
	require.NoError(t, err)
	other, _, err := c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "far", Size: 10, Location: &hcloud.Location{Name: "hel1"}})
	require.NoError(t, err)
	before := env.Sim.Snapshot()

	tests := []struct {
		name string
		body string
		code hcloud.ErrorCode
	}{
		{"too small", `{"name":"a","size":9,"location":"nbg1"}`, hcloud.ErrorCodeInvalidInput},
		{"too large", `{"name":"a","size":10241,"location":"nbg1"}`, hcloud.ErrorCodeInvalidInput},
		{"bad name", `{"name":"-a","size":10,"location":"nbg1"}`, hcloud.ErrorCodeInvalidInput},
		{"name taken", `{"name":"far","size":10,"location":"nbg1"}`, hcloud.ErrorCodeUniquenessError},
		{"no location or server", `{"name":"a","size":10}`, hcloud.ErrorCodeInvalidInput},
		{"both location and server", `{"name":"a","size":10,"location":"nbg1","server":` + strconv.FormatInt(res.Server.ID, 10) + `}`, hcloud.ErrorCodeInvalidInput},
		{"unknown location", `{"name":"a","size":10,"location":"xyz1"}`, hcloud.ErrorCodeInvalidInput},
		{"unknown server", `{"name":"a","size":10,"server":999999}`, hcloud.ErrorCodeInvalidInput},
		{"bad format", `{"name":"a","size":10,"location":"nbg1","format":"ntfs"}`, hcloud.ErrorCodeInvalidInput},
		{"automount without server", `{"name":"a","size":10,"location":"nbg1","automount":true}`, hcloud.ErrorCodeInvalidInput},
		{"bad label", `{"name":"a","size":10,"location":"nbg1","labels":{"-x":"y"}}`, hcloud.ErrorCodeInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawCall(t, env, http.MethodPost, "/volumes", tt.body)
			assert.GreaterOrEqual(t, status, 400, body)
			assert.Contains(t, body, `"code":"`+string(tt.code)+`"`)
		})
	}
	_, _, err = c.Volume.Attach(ctx, other.Volume, res.Server)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "a volume attaches only in its own location: %v", err)
	after := env.Sim.Snapshot()
	assert.Equal(t, before.Volumes, after.Volumes, "refusals change nothing")
}

// TestVolumesPerServerLimit: a server holds at most 16 volumes.
func TestVolumesPerServerLimit(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("vm-1"))
	require.NoError(t, err)
	for i := range 16 {
		_, _, err := c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "d" + strconv.Itoa(i), Size: 10, Server: res.Server})
		require.NoError(t, err)
	}
	_, _, err = c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "d16", Size: 10, Server: res.Server})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeResourceLimitExceeded), "%v", err)
	loose, _, err := c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "d17", Size: 10, Location: res.Server.Location})
	require.NoError(t, err)
	_, _, err = c.Volume.Attach(ctx, loose.Volume, res.Server)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeResourceLimitExceeded), "%v", err)
	srv, _, err := c.Server.GetByID(ctx, res.Server.ID)
	require.NoError(t, err)
	assert.Len(t, srv.Volumes, 16)
}

// TestFaultsApplyToVolumeRoutes: commit_then_fail on create carries out the create and answers 504 (hcloud-go
// retries and meets uniqueness_error, as with servers); action_error makes attach's action end in error.
func TestFaultsApplyToVolumeRoutes(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("vm-1"))
	require.NoError(t, err)

	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/volumes", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	_, _, err = c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "d", Size: 10, Location: res.Server.Location})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeUniquenessError), "%v", err)
	vol, _, err := c.Volume.GetByName(ctx, "d")
	require.NoError(t, err)
	require.NotNil(t, vol, "the create was committed")

	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/volumes/{id}/actions/attach", Kind: hcloudsim.FaultActionError, Times: 1})
	act, _, err := c.Volume.Attach(ctx, vol, res.Server)
	require.NoError(t, err)
	assert.Error(t, c.Action.WaitFor(ctx, act), "the attach action ends in error")

	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodDelete, Route: "/v1/volumes/{id}", Kind: hcloudsim.FaultLocked, Times: 1})
	_, err = c.Volume.Delete(ctx, vol)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeLocked), "%v", err)
	assert.Equal(t, 1, env.Sim.FaultsInjected()[hcloudsim.FaultCommitThenFail])
	assert.Equal(t, 1, env.Sim.FaultsInjected()[hcloudsim.FaultActionError])
}

// rawCall sends body to path below the API endpoint and returns the status and the response body.
func rawCall(t *testing.T, env *simtest.Env, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, env.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+env.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
