package bosh_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func (f *fixture) volume(cid string) *hcloud.Volume {
	f.t.Helper()
	id, err := strconv.ParseInt(cid, 10, 64)
	require.NoError(f.t, err)
	v, _, err := f.api.Volume.GetByID(context.Background(), id)
	require.NoError(f.t, err)
	return v
}

func (f *fixture) createDisk(sizeMiB int, props map[string]any, vm any) string {
	f.t.Helper()
	res, err := f.call(2, protocol.MethodCreateDisk, sizeMiB, props, vm)
	require.NoError(f.t, err)
	cid, ok := res.(string)
	require.True(f.t, ok, "create_disk answers a cid, got %T", res)
	return cid
}

func TestCreateDiskSizesAndPlaces(t *testing.T) {
	f := newFixture(t)
	vm, _ := f.createVM(uuid.NewString(), map[string]any{"location": "hel1"}, dynamicNetworks())
	tests := []struct {
		name     string
		sizeMiB  int
		props    map[string]any
		vm       any
		wantGB   int
		location string
	}{
		{"rounded up to whole GB", 20*1024 + 1, map[string]any{}, vm, 21, "hel1"},
		{"at least 10 GB", 1, map[string]any{}, vm, 10, "hel1"},
		{"without a VM: defaults.region", 10 * 1024, map[string]any{}, nil, 10, "nbg1"},
		{"without a VM: the cloud properties' location", 10 * 1024, map[string]any{"location": "fsn1"}, nil, 10, "fsn1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := f.volume(f.createDisk(tt.sizeMiB, tt.props, tt.vm))
			require.NotNil(t, v)
			assert.Equal(t, tt.wantGB, v.Size)
			assert.Equal(t, tt.location, v.Location.Name)
			assert.Nil(t, v.Server, "not attached by create_disk")
			assert.Equal(t, "nanobox-hcloud", v.Labels["managed-by"])
			assert.Empty(t, v.Format, "unformatted: the agent partitions it")
		})
	}
	for name, args := range map[string][]any{
		"zero size":            {0, map[string]any{}, nil},
		"over 10240 GB":        {10241 * 1024, map[string]any{}, nil},
		"location not the VMs": {10240, map[string]any{"location": "fsn1"}, vm},
		"reserved label":       {10240, map[string]any{"labels": map[string]string{"nanobox": "x"}}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.call(2, protocol.MethodCreateDisk, args...)
			boshErr(t, err, bosh.CpiError)
		})
	}
	_, err := f.call(2, protocol.MethodCreateDisk, 10240, map[string]any{}, "987654")
	boshErr(t, err, bosh.VMNotFound)
}

func TestCreateDiskAdoptsTheVolumeOfALostAnswer(t *testing.T) {
	f := newFixture(t)
	f.sim.Sim.AddFault(hcloudsim.Fault{Method: "POST", Route: "/v1/volumes", Kind: hcloudsim.FaultCommitThenFail, Times: 1})
	cid := f.createDisk(10240, map[string]any{}, nil)
	assert.Equal(t, 1, f.sim.Sim.FaultsInjected()[hcloudsim.FaultCommitThenFail])
	volumes, err := f.api.Volume.All(context.Background())
	require.NoError(t, err)
	require.Len(t, volumes, 1, "no duplicate")
	assert.Equal(t, cid, strconv.FormatInt(volumes[0].ID, 10))
}

// TestPersistentDisksNeedAPIv2: at API v1 (or none) attach_disk would
// answer no hint, and without a registry the agent would never learn the
// volume's path, so create_disk and attach_disk refuse and change nothing.
func TestPersistentDisksNeedAPIv2(t *testing.T) {
	f := newFixture(t)
	vm, _ := f.createVM(uuid.NewString(), map[string]any{}, dynamicNetworks())
	disk := f.createDisk(10240, map[string]any{}, vm)
	for _, apiVersion := range []int{0, 1} {
		for _, tt := range []struct {
			method string
			args   []any
		}{
			{protocol.MethodCreateDisk, []any{10240, map[string]any{}, vm}},
			{protocol.MethodAttachDisk, []any{vm, disk}},
		} {
			_, err := f.call(apiVersion, tt.method, tt.args...)
			pe := boshErr(t, err, bosh.NotSupported)
			assert.Contains(t, pe.Message, "API v2", "%s at v%d", tt.method, apiVersion)
		}
	}
	assert.Len(t, f.sim.Sim.Snapshot().Volumes, 1, "no volume created")
	assert.Nil(t, f.volume(disk).Server, "not attached")
}

func TestDiskLifecycle(t *testing.T) {
	f := newFixture(t)
	vm, _ := f.createVM(uuid.NewString(), map[string]any{}, dynamicNetworks())
	disk := f.createDisk(10240, map[string]any{"labels": map[string]string{"pool": "db"}}, vm)

	hint, err := f.call(2, protocol.MethodAttachDisk, vm, disk)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"path": "/dev/disk/by-id/scsi-0HC_Volume_" + disk}, hint)
	again, err := f.call(2, protocol.MethodAttachDisk, vm, disk)
	require.NoError(t, err)
	assert.Equal(t, hint, again, "attaching again answers the same hint")
	assert.Equal(t, vm, strconv.FormatInt(f.volume(disk).Server.ID, 10))

	disks, err := f.call(2, protocol.MethodGetDisks, vm)
	require.NoError(t, err)
	assert.Equal(t, []any{disk}, disks)
	has, err := f.call(2, protocol.MethodHasDisk, disk)
	require.NoError(t, err)
	assert.Equal(t, true, has)

	_, err = f.call(2, protocol.MethodSetDiskMetadata, disk, map[string]any{"attached_at": "2026-11-30T12:00:00Z", "instance_index": "0"})
	require.NoError(t, err)
	v := f.volume(disk)
	assert.Equal(t, "2026-11-30T12-00-00Z", v.Labels["attached_at"])
	assert.Equal(t, "db", v.Labels["pool"])

	_, err = f.call(2, protocol.MethodResizeDisk, disk, 20*1024)
	require.NoError(t, err)
	assert.Equal(t, 20, f.volume(disk).Size)
	_, err = f.call(2, protocol.MethodResizeDisk, disk, 20*1024)
	require.NoError(t, err, "the same size is success")
	_, err = f.call(2, protocol.MethodResizeDisk, disk, 15*1024)
	boshErr(t, err, bosh.NotSupported)

	other, _ := f.createVM(uuid.NewString(), map[string]any{}, dynamicNetworks())
	_, err = f.call(2, protocol.MethodDetachDisk, other, disk)
	boshErr(t, err, bosh.DiskNotAttached)
	_, err = f.call(2, protocol.MethodAttachDisk, other, disk)
	boshErr(t, err, bosh.CloudError)

	_, err = f.call(2, protocol.MethodDetachDisk, vm, disk)
	require.NoError(t, err)
	assert.Nil(t, f.volume(disk).Server)
	_, err = f.call(2, protocol.MethodDetachDisk, vm, disk)
	require.NoError(t, err, "detaching a detached disk is success")
	disks, err = f.call(2, protocol.MethodGetDisks, vm)
	require.NoError(t, err)
	assert.Equal(t, []any{}, disks, "[] and never null")

	// delete_disk detaches first.
	_, err = f.call(2, protocol.MethodAttachDisk, vm, disk)
	require.NoError(t, err)
	_, err = f.call(2, protocol.MethodDeleteDisk, disk)
	require.NoError(t, err)
	assert.Nil(t, f.volume(disk))
	_, err = f.call(2, protocol.MethodDeleteDisk, disk)
	require.NoError(t, err, "deleting a deleted disk is success")
	has, err = f.call(2, protocol.MethodHasDisk, disk)
	require.NoError(t, err)
	assert.Equal(t, false, has)
	_, err = f.call(2, protocol.MethodAttachDisk, vm, disk)
	boshErr(t, err, bosh.DiskNotFound)
}

func TestAttachDiskRefusesAnotherLocation(t *testing.T) {
	f := newFixture(t)
	vm, _ := f.createVM(uuid.NewString(), map[string]any{"location": "fsn1"}, dynamicNetworks())
	disk := f.createDisk(10240, map[string]any{"location": "hel1"}, nil)
	_, err := f.call(2, protocol.MethodAttachDisk, vm, disk)
	pe := boshErr(t, err, bosh.CloudError)
	assert.Contains(t, pe.Message, "own location")
	// create_vm with the disk as a hint goes where the disk is.
	cid, _ := f.createVMWithDisks(uuid.NewString(), map[string]any{}, []string{disk})
	id, _ := strconv.ParseInt(cid, 10, 64)
	assert.Equal(t, "hel1", f.server(id).Location.Name)
	_, err = f.call(2, protocol.MethodCreateVM, uuid.NewString(), strconv.FormatInt(f.ubuntuID(), 10), map[string]any{"location": "nbg1"}, dynamicNetworks(), []string{disk}, createEnv)
	boshErr(t, err, bosh.CpiError)
}

func (f *fixture) createVMWithDisks(agentID string, props map[string]any, disks []string) (string, any) {
	f.t.Helper()
	res, err := f.call(2, protocol.MethodCreateVM, agentID, strconv.FormatInt(f.ubuntuID(), 10), props, dynamicNetworks(), disks, createEnv)
	require.NoError(f.t, err)
	pair := res.([]any)
	return pair[0].(string), pair[1]
}

func TestForeignAndHiddenVolumesAreNeverChanged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	vm, _ := f.createVM(uuid.NewString(), map[string]any{}, dynamicNetworks())
	foreign, hidden := f.foreignAndHidden(protocol.MethodHasDisk, func(name string, labels map[string]string) int64 {
		res, _, err := f.api.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: name, Size: 10, Location: &hcloud.Location{Name: "nbg1"}, Labels: labels})
		require.NoError(t, err)
		return res.Volume.ID
	})
	for _, cid := range []string{foreign, hidden} {
		_, err := f.call(2, protocol.MethodAttachDisk, vm, cid)
		require.Error(t, err)
		_, err = f.call(2, protocol.MethodSetDiskMetadata, cid, map[string]any{"a": "b"})
		require.Error(t, err)
		_, err = f.call(2, protocol.MethodResizeDisk, cid, 20480)
		require.Error(t, err)
	}
	f.deleteLeavesAlone(protocol.MethodDeleteDisk, foreign, hidden)
	volumes, err := f.api.Volume.All(ctx)
	require.NoError(t, err)
	require.Len(t, volumes, 2, "both volumes are still there")
	for _, v := range volumes {
		assert.Equal(t, 10, v.Size)
		assert.Nil(t, v.Server)
		assert.NotContains(t, v.Labels, "a")
	}
}

func TestDeleteStemcellDeletesOnlyImagesItMade(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	vm, _ := f.createVM(uuid.NewString(), map[string]any{}, dynamicNetworks())
	id, _ := strconv.ParseInt(vm, 10, 64)
	snap := func(labels map[string]string) string {
		res, _, err := f.api.Server.CreateImage(ctx, &hcloud.Server{ID: id}, &hcloud.ServerCreateImageOpts{Type: hcloud.ImageTypeSnapshot, Labels: labels})
		require.NoError(t, err)
		require.NoError(t, f.api.Action.WaitFor(ctx, res.Action))
		return strconv.FormatInt(res.Image.ID, 10)
	}
	mine := snap(cpi.OwnLabels())
	users := snap(map[string]string{"stemcell": "bosh-hetzner"})
	// A light stemcell may name a user's snapshot by selector.
	got, err := f.call(2, protocol.MethodCreateStemcell, emptyImage(t), map[string]any{"image_selector": "stemcell=bosh-hetzner"})
	require.NoError(t, err)
	assert.Equal(t, users, got)

	for _, cid := range []string{mine, users} {
		_, err := f.call(2, protocol.MethodDeleteStemcell, cid)
		require.NoError(t, err)
	}
	gone, _, err := f.api.Image.GetByID(ctx, mustID(t, mine))
	require.NoError(t, err)
	assert.Nil(t, gone, "the CPI's own image is deleted")
	kept, _, err := f.api.Image.GetByID(ctx, mustID(t, users))
	require.NoError(t, err)
	assert.NotNil(t, kept, "the user's snapshot stays")
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return id
}
