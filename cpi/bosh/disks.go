package bosh

import (
	"context"
	"maps"
	"strconv"

	"github.com/google/uuid"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
)

// Hetzner Volume sizes, in GB.
const (
	MinVolumeGB = 10
	MaxVolumeGB = 10240
)

// DiskProperties are create_disk's cloud_properties (a disk_type's or disk
// pool's). Unknown keys are a CpiError.
type DiskProperties struct {
	Location string            `json:"location"` // only without a VM; default defaults.region
	Labels   map[string]string `json:"labels"`
}

// DiskHint is attach_disk's v2 answer: where the agent finds the volume.
type DiskHint struct {
	Path string `json:"path"`
}

// DevicePath is where a Hetzner Volume appears on its server (the API's
// linux_device).
func DevicePath(volumeID int64) string {
	return "/dev/disk/by-id/scsi-0HC_Volume_" + strconv.FormatInt(volumeID, 10)
}

// volumeGB is a size in MiB as whole GB for Hetzner: rounded up, at least
// MinVolumeGB. Hetzner's "GB" are counted as GiB here. A size that is not
// positive, or above MaxVolumeGB (checked before any arithmetic, so no
// size overflows), is a CpiError.
func volumeGB(op string, sizeMiB int64) (int, error) {
	if sizeMiB <= 0 {
		return 0, newError(CpiError, "%s: size %d MiB must be positive", op, sizeMiB)
	}
	if sizeMiB > MaxVolumeGB*1024 {
		return 0, newError(CpiError, "%s: %d MiB is more than a Hetzner Volume holds (%d GB = %d MiB)", op, sizeMiB, MaxVolumeGB, MaxVolumeGB*1024)
	}
	gb := (sizeMiB + 1023) / 1024
	return max(int(gb), MinVolumeGB), nil
}

// CreateDisk answers create_disk: a Hetzner Volume, unformatted (the agent
// partitions it), in the VM's location (or the cloud properties', or
// defaults.region without a VM). A create whose answer was lost, or that
// hcloud-go retried after Hetzner had made it, adopts the volume by its
// name, unique to this call. A whole call repeated makes a second volume:
// nothing in create_disk's arguments or context identifies a disk across
// calls (docs/bosh-cpi.md, known limits).
func (c *CPI) CreateDisk(ctx context.Context, sizeMiB int64, props DiskProperties, vmCID string) (string, error) {
	const op = "create_disk"
	gb, err := volumeGB(op, sizeMiB)
	if err != nil {
		return "", err
	}
	if err := checkLabels(op, props.Labels); err != nil {
		return "", err
	}
	location := props.Location
	if vmCID != "" {
		server, err := c.existingServer(ctx, op, vmCID)
		if err != nil {
			return "", err
		}
		if location != "" && server.Location != nil && location != server.Location.Name {
			return "", newError(CpiError, "%s: cloud_properties.location %s differs from the VM's location %s", op, location, server.Location.Name)
		}
		if server.Location != nil {
			location = server.Location.Name
		}
	}
	if location == "" {
		location = c.cfg.Defaults.Region
	}
	client, err := c.hcloud()
	if err != nil {
		return "", err
	}
	c.sweep(ctx, op)
	name := "disk-" + uuid.NewString()
	h, err := c.holdWait(ctx, op, name)
	if err != nil {
		return "", err
	}
	defer h.release()
	labels := c.ownLabels("disk", props.Labels)
	c.markCreating(labels)
	v, err := c.createVolume(ctx, op, client, hcloud.VolumeCreateOpts{
		Name: name, Size: gb, Location: &hcloud.Location{Name: location}, Labels: labels,
	})
	if err != nil {
		return "", err
	}
	if _, _, err := client.Volume.Update(ctx, v, hcloud.VolumeUpdateOpts{Labels: unmarked(v.Labels)}); err != nil {
		return "", c.undoDisk(ctx, op, client, v, cloudError(op+": removing the creating mark of volume "+name, err))
	}
	c.log.Infof("%s: created volume %d (%d GB in %s)", op, v.ID, gb, location)
	return strconv.FormatInt(v.ID, 10), nil
}

// createVolume creates the volume, marked as being created, and waits for
// it. A create whose answer was lost adopts the volume by its name, unique
// to this call; a failed look-up then is a retryable error naming it.
func (c *CPI) createVolume(ctx context.Context, op string, client *hcloud.Client, opts hcloud.VolumeCreateOpts) (*hcloud.Volume, error) {
	result, _, err := client.Volume.Create(ctx, opts)
	if err != nil {
		if !hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) && !cpi.OutcomeUnknown(err) {
			return nil, cloudError(op, err)
		}
		v, ferr := c.findVolume(ctx, client, opts.Name)
		switch {
		case ferr != nil:
			return nil, newError(CloudError, "%s: creating volume %s answered %s, and looking it up failed (%s); it may exist, carrying the creating mark %s, and a later call deletes it",
				op, opts.Name, cloudError("", err).Message, cloudError("", ferr).Message, LabelCreating).WithRetry(true)
		case v == nil:
			return nil, cloudError(op, err)
		}
		c.log.Warnf("%s: the create answered %v, but volume %d (%s) exists; using it", op, err, v.ID, opts.Name)
		return v, nil
	}
	if result.Volume == nil {
		return nil, newError(CloudError, "%s: Hetzner answered without a volume", op)
	}
	if err := c.wait(ctx, op, result.Action); err != nil {
		return nil, c.undoDisk(ctx, op, client, result.Volume, err)
	}
	return result.Volume, nil
}

// undoDisk deletes a volume its create_disk could not finish; when that
// fails, the volume is marked again (its unmark may have been carried out
// with its answer lost) for a later call to delete.
func (c *CPI) undoDisk(ctx context.Context, op string, client *hcloud.Client, v *hcloud.Volume, cause error) error {
	e := cloudError(op, cause)
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if _, err := client.Volume.Delete(cctx, v); err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		c.log.Errorf("%s: could not delete volume %d after the failure: %v", op, v.ID, err)
		// Its mark may be gone (the unmark's answer was lost): put it back
		// for a later sweep.
		labels := maps.Clone(v.Labels)
		c.markCreating(labels)
		if _, _, uerr := client.Volume.Update(cctx, v, hcloud.VolumeUpdateOpts{Labels: labels}); uerr != nil {
			c.log.Errorf("%s: could not mark volume %d as unfinished either: %v", op, v.ID, uerr)
		}
		return newError(CloudError, "%s; volume %d (%s) was left behind, labelled %s: a later call deletes it", e.Message, v.ID, v.Name, LabelCreating).WithRetry(true)
	}
	c.log.Warnf("%s: deleted volume %d after the failure", op, v.ID)
	return e
}

// findVolume is the CPI's volume of that name: nil when there is none, an
// error when the look-up failed (the transport has retried it).
func (c *CPI) findVolume(ctx context.Context, client *hcloud.Client, name string) (*hcloud.Volume, error) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	v, _, err := client.Volume.GetByName(cctx, name)
	if err != nil {
		return nil, err
	}
	if v == nil || !cpi.Ours(v.Labels) {
		return nil, nil
	}
	return v, nil
}

// lookupVolume fetches a volume as lookup does.
func (c *CPI) lookupVolume(ctx context.Context, op, cid string) (v *hcloud.Volume, foreign bool, err error) {
	return lookup(ctx, c, op, "disk", cid, func(ctx context.Context, client *hcloud.Client, id int64) (*hcloud.Volume, map[string]string, error) {
		v, _, err := client.Volume.GetByID(ctx, id)
		if v == nil {
			return nil, nil, err
		}
		return v, v.Labels, err
	})
}

// ownVolume is lookupVolume for a change: DiskNotFound when missing,
// CloudError when foreign.
func (c *CPI) ownVolume(ctx context.Context, op, cid string) (*hcloud.Volume, error) {
	v, foreign, err := c.lookupVolume(ctx, op, cid)
	switch {
	case err != nil:
		return nil, err
	case v == nil:
		return nil, newError(DiskNotFound, "%s: disk %s does not exist", op, cid)
	case foreign:
		return nil, newError(CloudError, "%s: volume %d was not created by this CPI (no managed-by=%s label); it is left alone", op, v.ID, managedByValue)
	}
	return v, nil
}

// DeleteDisk answers delete_disk: success when the volume is already gone;
// an attached volume is detached first.
func (c *CPI) DeleteDisk(ctx context.Context, cid string) error {
	const op = "delete_disk"
	if _, err := parseCID(op, "disk", cid); err != nil {
		return err
	}
	c.sweep(ctx, op)
	v, foreign, err := c.lookupVolume(ctx, op, cid)
	switch {
	case err != nil:
		return err
	case v == nil:
		c.log.Infof("%s: disk %s is already gone", op, cid)
		return nil
	case foreign:
		return newError(CloudError, "%s: volume %d was not created by this CPI (no managed-by=%s label); it is left alone", op, v.ID, managedByValue)
	}
	client, _ := c.hcloud()
	if v.Server != nil {
		if err := c.detach(ctx, op, client, v); err != nil {
			return err
		}
	}
	if _, err := client.Volume.Delete(ctx, v); err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		return cloudError(op, err)
	}
	c.log.Infof("%s: deleted volume %d", op, v.ID)
	return nil
}

func (c *CPI) detach(ctx context.Context, op string, client *hcloud.Client, v *hcloud.Volume) error {
	action, _, err := client.Volume.Detach(ctx, v)
	if err != nil {
		return cloudError(op+": detaching the volume", err)
	}
	return c.wait(ctx, op+": detaching the volume", action)
}

// AttachDisk answers attach_disk and returns the disk hint. A volume
// already on that server is success with the same hint; one on another
// server is a CloudError (detach it first).
func (c *CPI) AttachDisk(ctx context.Context, vmCID, diskCID string) (DiskHint, error) {
	const op = "attach_disk"
	server, err := c.existingServer(ctx, op, vmCID)
	if err != nil {
		return DiskHint{}, err
	}
	v, err := c.ownVolume(ctx, op, diskCID)
	if err != nil {
		return DiskHint{}, err
	}
	hint := DiskHint{Path: DevicePath(v.ID)}
	switch {
	case v.Server != nil && v.Server.ID == server.ID:
		return hint, nil
	case v.Server != nil:
		return DiskHint{}, newError(CloudError, "%s: volume %d is attached to server %d; detach it first", op, v.ID, v.Server.ID)
	case v.Location != nil && server.Location != nil && v.Location.Name != server.Location.Name:
		return DiskHint{}, newError(CloudError, "%s: volume %d is in %s and server %d in %s; a volume attaches only to a server in its own location",
			op, v.ID, v.Location.Name, server.ID, server.Location.Name)
	}
	client, _ := c.hcloud()
	action, _, err := client.Volume.AttachWithOpts(ctx, v, hcloud.VolumeAttachOpts{Server: server, Automount: hcloud.Ptr(false)})
	if err != nil {
		if hcloud.IsError(err, hcloud.ErrorCodeVolumeAlreadyAttached) || cpi.OutcomeUnknown(err) {
			// A retried attach that Hetzner had carried out.
			if now, _, gerr := client.Volume.GetByID(ctx, v.ID); gerr == nil && now != nil && now.Server != nil && now.Server.ID == server.ID {
				return hint, nil
			}
		}
		return DiskHint{}, cloudError(op, err)
	}
	if err := c.wait(ctx, op, action); err != nil {
		return DiskHint{}, err
	}
	c.log.Infof("%s: attached volume %d to server %d", op, v.ID, server.ID)
	return hint, nil
}

// DetachDisk answers detach_disk: success when the volume is not attached
// at all; DiskNotAttached when it is on another server.
func (c *CPI) DetachDisk(ctx context.Context, vmCID, diskCID string) error {
	const op = "detach_disk"
	vmID, err := parseCID(op, "VM", vmCID)
	if err != nil {
		return err
	}
	v, err := c.ownVolume(ctx, op, diskCID)
	if err != nil {
		return err
	}
	switch {
	case v.Server == nil:
		return nil
	case v.Server.ID != vmID:
		return newError(DiskNotAttached, "%s: volume %d is attached to server %d, not %d", op, v.ID, v.Server.ID, vmID)
	}
	client, _ := c.hcloud()
	return c.detach(ctx, op, client, v)
}

// HasDisk answers has_disk: whether the volume exists and is this CPI's.
func (c *CPI) HasDisk(ctx context.Context, cid string) (bool, error) {
	v, foreign, err := c.lookupVolume(ctx, "has_disk", cid)
	if err != nil {
		return false, err
	}
	return v != nil && !foreign, nil
}

// GetDisks answers get_disks: the ids of the volumes attached to the
// server ([] when none).
func (c *CPI) GetDisks(ctx context.Context, vmCID string) ([]string, error) {
	const op = "get_disks"
	server, err := c.existingServer(ctx, op, vmCID)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, v := range server.Volumes {
		if v != nil {
			out = append(out, strconv.FormatInt(v.ID, 10))
		}
	}
	return out, nil
}

// SetDiskMetadata answers set_disk_metadata like set_vm_metadata.
func (c *CPI) SetDiskMetadata(ctx context.Context, cid string, metadata map[string]any) error {
	const op = "set_disk_metadata"
	v, err := c.ownVolume(ctx, op, cid)
	if err != nil {
		return err
	}
	client, _ := c.hcloud()
	if _, _, err := client.Volume.Update(ctx, v, hcloud.VolumeUpdateOpts{Labels: mergeLabels(v.Labels, MetadataLabels(metadata))}); err != nil {
		return cloudError(op, err)
	}
	return nil
}

// ResizeDisk answers resize_disk: grow only; a smaller size is
// NotSupported, the same size is success.
func (c *CPI) ResizeDisk(ctx context.Context, cid string, sizeMiB int64) error {
	const op = "resize_disk"
	gb, err := volumeGB(op, sizeMiB)
	if err != nil {
		return err
	}
	v, err := c.ownVolume(ctx, op, cid)
	if err != nil {
		return err
	}
	switch {
	case gb < v.Size:
		return newError(NotSupported, "%s: volume %d has %d GB and Hetzner Volumes cannot shrink (asked for %d GB)", op, v.ID, v.Size, gb)
	case gb == v.Size:
		return nil
	}
	client, _ := c.hcloud()
	action, _, err := client.Volume.Resize(ctx, v, gb)
	if err != nil {
		return cloudError(op, err)
	}
	return c.wait(ctx, op, action)
}

// errNoSnapshots answers snapshot_disk and delete_snapshot.
func errNoSnapshots(op string) error {
	return newError(NotSupported, "%s: Hetzner Volumes have no snapshots", op)
}
