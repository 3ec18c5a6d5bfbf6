package hcloudsim_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

// TestSnapshotLifecycleWithHcloudGo: create_image makes a snapshot (creating, then available) that lists
// beside the system images, boots a server, takes new labels and a description, and deletes.
func TestSnapshotLifecycleWithHcloudGo(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("vm-1"))
	require.NoError(t, err)

	img, _, err := c.Server.CreateImage(ctx, res.Server, &hcloud.ServerCreateImageOpts{
		Type: hcloud.ImageTypeSnapshot, Description: hcloud.Ptr("stemcell"), Labels: map[string]string{"bosh": "stemcell"},
	})
	require.NoError(t, err)
	assert.Equal(t, hcloud.ImageStatusCreating, img.Image.Status)
	require.NoError(t, c.Action.WaitFor(ctx, img.Action))

	snap, _, err := c.Image.GetByID(ctx, img.Image.ID)
	require.NoError(t, err)
	require.NotNil(t, snap)
	assert.Equal(t, hcloud.ImageStatusAvailable, snap.Status)
	assert.Equal(t, hcloud.ImageTypeSnapshot, snap.Type)
	assert.Equal(t, "stemcell", snap.Description)
	assert.Equal(t, hcloud.ArchitectureX86, snap.Architecture)
	assert.Equal(t, "ubuntu", snap.OSFlavor)
	assert.Equal(t, res.Server.ID, snap.CreatedFrom.ID)

	all, err := c.Image.All(ctx)
	require.NoError(t, err)
	system := 0
	for _, im := range all {
		if im.Type == hcloud.ImageTypeSystem {
			system++
		}
	}
	assert.Positive(t, system, "the system images are listed")
	assert.Len(t, all, system+1, "beside the snapshot")
	snaps, err := c.Image.AllWithOpts(ctx, hcloud.ImageListOpts{Type: []hcloud.ImageType{hcloud.ImageTypeSnapshot}, ListOpts: hcloud.ListOpts{LabelSelector: "bosh=stemcell"}})
	require.NoError(t, err)
	require.Len(t, snaps, 1)
	assert.Equal(t, snap.ID, snaps[0].ID)
	arm, err := c.Image.AllWithOpts(ctx, hcloud.ImageListOpts{Type: []hcloud.ImageType{hcloud.ImageTypeSnapshot}, Architecture: []hcloud.Architecture{hcloud.ArchitectureARM}})
	require.NoError(t, err)
	assert.Empty(t, arm)
	byName, err := c.Image.AllWithOpts(ctx, hcloud.ImageListOpts{Name: "ubuntu-24.04", Architecture: []hcloud.Architecture{hcloud.ArchitectureARM}})
	require.NoError(t, err)
	require.Len(t, byName, 1)
	assert.Equal(t, hcloud.ArchitectureARM, byName[0].Architecture)

	boot, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{
		Name: "vm-2", ServerType: &hcloud.ServerType{Name: "cx23"}, Image: &hcloud.Image{ID: snap.ID}, Location: &hcloud.Location{Name: "nbg1"},
	})
	require.NoError(t, err)
	assert.Equal(t, snap.ID, boot.Server.Image.ID, "a server boots from the snapshot")

	snap, _, err = c.Image.Update(ctx, snap, hcloud.ImageUpdateOpts{Description: hcloud.Ptr("renamed"), Labels: map[string]string{"Nanobox": "false"}})
	require.NoError(t, err)
	assert.Equal(t, "renamed", snap.Description)
	assert.Equal(t, map[string]string{"Nanobox": "false"}, snap.Labels)

	act, _, err := c.Image.ChangeProtection(ctx, snap, hcloud.ImageChangeProtectionOpts{Delete: hcloud.Ptr(true)})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	_, err = c.Image.Delete(ctx, snap)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeProtected), "%v", err)
	act, _, err = c.Image.ChangeProtection(ctx, snap, hcloud.ImageChangeProtectionOpts{Delete: hcloud.Ptr(false)})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	acts, err := c.Image.Action.All(ctx, hcloud.ActionListOpts{ID: []int64{act.ID}})
	require.NoError(t, err)
	assert.Len(t, acts, 1, "image actions list under /images/actions")

	_, err = c.Image.Delete(ctx, snap)
	require.NoError(t, err)
	gone, _, err := c.Image.GetByID(ctx, snap.ID)
	require.NoError(t, err)
	assert.Nil(t, gone)
	assert.Empty(t, env.Sim.Snapshot().Images)
}

// TestSystemImagesCannotBeChanged: a project may not update or delete a system image.
func TestSystemImagesCannotBeChanged(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	sys, _, err := c.Image.GetByNameAndArchitecture(ctx, "ubuntu-24.04", hcloud.ArchitectureX86)
	require.NoError(t, err)
	require.NotNil(t, sys)
	_, _, err = c.Image.Update(ctx, sys, hcloud.ImageUpdateOpts{Description: hcloud.Ptr("mine")})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeForbidden), "%v", err)
	_, err = c.Image.Delete(ctx, sys)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeForbidden), "%v", err)
	_, err = c.Image.Delete(ctx, &hcloud.Image{ID: 999999})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeNotFound), "%v", err)
}

// TestBackupImagesAreBoundToTheirServer: a backup needs backups enabled, is bound to the server and goes
// with it; a snapshot outlives its server.
func TestBackupImagesAreBoundToTheirServer(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("vm-1"))
	require.NoError(t, err)
	_, _, err = c.Server.CreateImage(ctx, res.Server, &hcloud.ServerCreateImageOpts{Type: hcloud.ImageTypeBackup})
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "%v", err)

	act, _, err := c.Server.EnableBackup(ctx, res.Server, "")
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	backup, _, err := c.Server.CreateImage(ctx, res.Server, &hcloud.ServerCreateImageOpts{Type: hcloud.ImageTypeBackup})
	require.NoError(t, err)
	require.NotNil(t, backup.Image.BoundTo)
	require.NoError(t, c.Action.WaitFor(ctx, backup.Action))
	snap, _, err := c.Server.CreateImage(ctx, res.Server, nil)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, snap.Action))

	bound, err := c.Image.AllWithOpts(ctx, hcloud.ImageListOpts{BoundTo: res.Server})
	require.NoError(t, err)
	require.Len(t, bound, 1)
	assert.Equal(t, backup.Image.ID, bound[0].ID)

	del, _, err := c.Server.DeleteWithResult(ctx, res.Server)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, del.Action))
	images := env.Sim.Snapshot().Images
	require.Len(t, images, 1, "the backup went with its server")
	assert.Equal(t, snap.Image.ID, images[0].ID)
}

// TestFaultsApplyToImageRoutes: commit_then_fail on create_image makes the snapshot and answers 504;
// action_error makes its action end in error; a snapshot is "creating" while its action runs.
func TestFaultsApplyToImageRoutes(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{Delays: hcloudsim.Delays{Action: time.Hour}})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("vm-1"))
	require.NoError(t, err)

	path := "/servers/" + strconv.FormatInt(res.Server.ID, 10) + "/actions/create_image"
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/servers/{id}/actions/create_image", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	status, body := rawCall(t, env, http.MethodPost, path, `{}`)
	assert.Equal(t, http.StatusGatewayTimeout, status, body)
	images := env.Sim.Snapshot().Images
	require.Len(t, images, 1, "the snapshot was made")
	assert.Equal(t, "creating", images[0].Status)

	_, _, err = c.Server.CreateImage(ctx, res.Server, nil)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeLocked), "the server is locked while its image is made: %v", err)
}

func TestCreateImageActionErrorFault(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	res, _, err := c.Server.Create(ctx, createOpts("vm-1"))
	require.NoError(t, err)
	env.Sim.AddFault(hcloudsim.Fault{Route: "/v1/servers/{id}/actions/create_image", Kind: hcloudsim.FaultActionError, Times: 1})
	img, _, err := c.Server.CreateImage(ctx, res.Server, nil)
	require.NoError(t, err)
	assert.Error(t, c.Action.WaitFor(ctx, img.Action))
}
