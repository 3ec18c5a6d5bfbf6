package bosh

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Factory is the protocol.BoshFactory of this package: for each call it
// makes the CPI from the job's config and the call's context (a director's
// cpi-config properties). cmd/nanobox-hcloud-cpi registers it.
type Factory struct {
	Env Env
}

var _ protocol.BoshFactory = Factory{}

// NewBosh makes the BoshCPI of one call; a bad cpi-config in the context
// is the call's CpiError.
func (f Factory) NewBosh(call protocol.Call) (protocol.BoshCPI, error) {
	env := f.Env
	env.Context = call.Context.Raw
	c, err := New(env)
	if err != nil {
		return nil, err
	}
	return boshCall{c: c, apiVersion: call.APIVersion}, nil
}

// boshCall is the protocol.BoshCPI of one call: it decodes the raw objects
// the dispatcher passes (cloud properties strictly: an unknown key is a
// CpiError naming the known ones) and runs the CPI's methods.
type boshCall struct {
	c          *CPI
	apiVersion int // 0: none sent, read as 1
}

// needV2 refuses a persistent-disk method below API v2: v1's attach_disk
// answers no disk hint, and with no registry the agent would never learn
// where the volume is.
func (b boshCall) needV2(method string) error {
	if b.apiVersion >= 2 {
		return nil
	}
	return newError(NotSupported, "%s: persistent disks need CPI API v2 (this call is v%d): at v1 attach_disk answers no disk hint and, with no registry, the agent never learns the volume's path; send api_version 2 (bosh-cli does after info; a director with director.cpi.preferred_api_version 2 or more)",
		method, max(b.apiVersion, 1))
}

var _ protocol.BoshCPI = boshCall{}

func (b boshCall) CreateStemcell(ctx context.Context, imagePath string, cloudProps json.RawMessage) (string, error) {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	var props StemcellProperties
	if err := decodeLenient(protocol.MethodCreateStemcell, "cloud_properties", cloudProps, &props); err != nil {
		return "", err
	}
	return b.c.CreateStemcell(ctx, imagePath, props)
}

func (b boshCall) DeleteStemcell(ctx context.Context, cid string) error {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	return b.c.DeleteStemcell(ctx, cid)
}

func (b boshCall) CreateVM(ctx context.Context, vm protocol.CreateVMArgs) (string, json.RawMessage, error) {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	const op = protocol.MethodCreateVM
	var props VMProperties
	if err := decodeObject(op, "cloud_properties", vm.CloudProperties, &props); err != nil {
		return "", nil, err
	}
	var networks map[string]json.RawMessage
	if err := decodeObject(op, "networks", vm.Networks, &networks); err != nil {
		return "", nil, err
	}
	if networks == nil {
		networks = map[string]json.RawMessage{}
	}
	created, err := b.c.CreateVM(ctx, vm.AgentID, vm.StemcellCID, props, networks, vm.DiskCIDs, vm.Env)
	if err != nil {
		return "", nil, err
	}
	answer, err := json.Marshal(created.Networks)
	if err != nil {
		return "", nil, newError(CloudError, "%s: encoding the networks: %v", op, err)
	}
	return created.CID, answer, nil
}

func (b boshCall) DeleteVM(ctx context.Context, cid string) error {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	return b.c.DeleteVM(ctx, cid)
}

func (b boshCall) HasVM(ctx context.Context, cid string) (bool, error) {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	return b.c.HasVM(ctx, cid)
}

func (b boshCall) RebootVM(ctx context.Context, cid string) error {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	return b.c.RebootVM(ctx, cid)
}

func (b boshCall) SetVMMetadata(ctx context.Context, cid string, metadata json.RawMessage) error {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	md, err := decodeMetadata(protocol.MethodSetVMMetadata, metadata)
	if err != nil {
		return err
	}
	return b.c.SetVMMetadata(ctx, cid, md)
}

func (b boshCall) CalculateVMCloudProperties(_ context.Context, req protocol.VMRequirements) (any, error) {
	return b.c.CalculateVMCloudProperties(VMResources{CPU: int64(req.CPU), RAM: int64(req.RAM), EphemeralDiskSize: int64(req.EphemeralDiskSize)})
}

func (b boshCall) CreateDisk(ctx context.Context, sizeMiB int, cloudProps json.RawMessage, vmCID string) (string, error) {
	if err := b.needV2(protocol.MethodCreateDisk); err != nil {
		return "", err
	}
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	var props DiskProperties
	if err := decodeObject(protocol.MethodCreateDisk, "cloud_properties", cloudProps, &props); err != nil {
		return "", err
	}
	return b.c.CreateDisk(ctx, int64(sizeMiB), props, vmCID)
}

func (b boshCall) DeleteDisk(ctx context.Context, cid string) error {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	return b.c.DeleteDisk(ctx, cid)
}

func (b boshCall) AttachDisk(ctx context.Context, vmCID, diskCID string) (any, error) {
	if err := b.needV2(protocol.MethodAttachDisk); err != nil {
		return nil, err
	}
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	return b.c.AttachDisk(ctx, vmCID, diskCID)
}

func (b boshCall) DetachDisk(ctx context.Context, vmCID, diskCID string) error {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	return b.c.DetachDisk(ctx, vmCID, diskCID)
}

func (b boshCall) HasDisk(ctx context.Context, cid string) (bool, error) {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	return b.c.HasDisk(ctx, cid)
}

func (b boshCall) GetDisks(ctx context.Context, vmCID string) ([]string, error) {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	return b.c.GetDisks(ctx, vmCID)
}

func (b boshCall) SetDiskMetadata(ctx context.Context, cid string, metadata json.RawMessage) error {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	md, err := decodeMetadata(protocol.MethodSetDiskMetadata, metadata)
	if err != nil {
		return err
	}
	return b.c.SetDiskMetadata(ctx, cid, md)
}

func (b boshCall) ResizeDisk(ctx context.Context, cid string, newSizeMiB int) error {
	ctx, cancel := b.c.deadline(ctx)
	defer cancel()
	return b.c.ResizeDisk(ctx, cid, int64(newSizeMiB))
}

// UpdateDisk is NotSupported: a Volume's size changes with resize_disk and
// it has no type to change; the director then copies to a new disk.
func (b boshCall) UpdateDisk(context.Context, string, int, json.RawMessage) (string, error) {
	return "", newError(NotSupported, "%s: Hetzner Volumes have no type to change; resize_disk grows them", protocol.MethodUpdateDisk)
}

func (b boshCall) SnapshotDisk(context.Context, string, json.RawMessage) (string, error) {
	return "", errNoSnapshots(protocol.MethodSnapshotDisk)
}

func (b boshCall) DeleteSnapshot(context.Context, string) error {
	return errNoSnapshots(protocol.MethodDeleteSnapshot)
}

// decodeObject decodes a raw object argument (nil or null leaves v as it
// is) with protocol.DecodeObject: a wrong shape, or a key v's struct type
// lacks, is a CpiError naming the field, or the unknown key and the known
// ones.
func decodeObject(method, name string, raw json.RawMessage, v any) error {
	if perr := protocol.DecodeObject(method+": "+name, raw, v); perr != nil {
		return perr.ForBosh()
	}
	return nil
}

// decodeMetadata decodes the metadata argument of set_vm_metadata and
// set_disk_metadata.
func decodeMetadata(method string, raw json.RawMessage) (map[string]any, error) {
	var md map[string]any
	if err := decodeObject(method, "metadata", raw, &md); err != nil {
		return nil, err
	}
	return md, nil
}

// decodeLenient is decodeObject ignoring the keys v's type lacks.
func decodeLenient(method, name string, raw json.RawMessage, v any) error {
	if raw = bytes.TrimSpace(raw); len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return newError(CpiError, "%s: %s: %s", method, name, protocol.DescribeJSONError(err))
	}
	return nil
}
