package protocol

import (
	"context"
	"encoding/json"
)

// The BOSH CPI API v2 method names.
const (
	MethodCreateStemcell             = "create_stemcell"
	MethodDeleteStemcell             = "delete_stemcell"
	MethodCreateVM                   = "create_vm"
	MethodDeleteVM                   = "delete_vm"
	MethodHasVM                      = "has_vm"
	MethodRebootVM                   = "reboot_vm"
	MethodSetVMMetadata              = "set_vm_metadata"
	MethodCalculateVMCloudProperties = "calculate_vm_cloud_properties"
	MethodCreateDisk                 = "create_disk"
	MethodDeleteDisk                 = "delete_disk"
	MethodAttachDisk                 = "attach_disk"
	MethodDetachDisk                 = "detach_disk"
	MethodHasDisk                    = "has_disk"
	MethodGetDisks                   = "get_disks"
	MethodSetDiskMetadata            = "set_disk_metadata"
	MethodResizeDisk                 = "resize_disk"
	MethodUpdateDisk                 = "update_disk"
	MethodSnapshotDisk               = "snapshot_disk"
	MethodDeleteSnapshot             = "delete_snapshot"
	MethodCurrentVMID                = "current_vm_id"
	MethodPing                       = "ping"
	MethodCreateNetwork              = "create_network"
	MethodDeleteNetwork              = "delete_network"
)

// BoshCPI is a CPI's side of the BOSH methods (CPI API v2), one Go method
// per protocol method. A BoshFactory makes one for each call.
//
// Registration point. Package cpi/bosh implements BoshCPI and a
// BoshFactory (bosh.Factory); cmd/nanobox-hcloud-cpi wires that factory
// in (cpi.Process.Bosh, which becomes cpi.Env.Bosh and so
// Dispatcher.Bosh), and the dispatcher then serves the BOSH methods and
// lists them in info. Without a factory every BOSH method answers
// Bosh::Clouds::NotImplemented. A new BOSH method is one entry in
// boshMethods (name, argument shapes, binding) plus its Go method here.
//
// The dispatcher has checked and decoded the arguments by the shapes in
// Table (a bad argument answers Bosh::Clouds::CpiError), and it shapes the
// results by the call's api_version: create_vm answers [vm_cid, networks]
// under v2 and vm_cid under v1; attach_disk answers the disk hint under v2
// and null under v1. Objects (cloud properties, networks, env, metadata)
// arrive raw (nil for JSON null). Errors: return a *Error of a BOSH type
// (BoshVMNotFound, ...); a Nanobox type is translated by Error.ForBosh and
// any other error is a Bosh::Clouds::CloudError (a context's error a
// retryable one). The call's context is Call.Context.Raw.
type BoshCPI interface {
	CreateStemcell(ctx context.Context, imagePath string, cloudProps json.RawMessage) (stemcellCID string, err error)
	DeleteStemcell(ctx context.Context, stemcellCID string) error
	CreateVM(ctx context.Context, vm CreateVMArgs) (vmCID string, networks json.RawMessage, err error)
	DeleteVM(ctx context.Context, vmCID string) error
	HasVM(ctx context.Context, vmCID string) (bool, error)
	RebootVM(ctx context.Context, vmCID string) error
	SetVMMetadata(ctx context.Context, vmCID string, metadata json.RawMessage) error
	CalculateVMCloudProperties(ctx context.Context, req VMRequirements) (cloudProps any, err error)
	CreateDisk(ctx context.Context, sizeMiB int, cloudProps json.RawMessage, vmCID string) (diskCID string, err error)
	DeleteDisk(ctx context.Context, diskCID string) error
	AttachDisk(ctx context.Context, vmCID, diskCID string) (hint any, err error)
	DetachDisk(ctx context.Context, vmCID, diskCID string) error
	HasDisk(ctx context.Context, diskCID string) (bool, error)
	GetDisks(ctx context.Context, vmCID string) ([]string, error)
	SetDiskMetadata(ctx context.Context, diskCID string, metadata json.RawMessage) error
	ResizeDisk(ctx context.Context, diskCID string, newSizeMiB int) error
	UpdateDisk(ctx context.Context, diskCID string, newSizeMiB int, cloudProps json.RawMessage) (newDiskCID string, err error)
	SnapshotDisk(ctx context.Context, diskCID string, metadata json.RawMessage) (snapshotCID string, err error)
	DeleteSnapshot(ctx context.Context, snapshotCID string) error
}

// BoshFactory makes the BoshCPI that serves one call (the shape of
// bosh-cpi-go's apiv1.CPIFactory). It may refuse the call with an error,
// which is answered as the call's error.
type BoshFactory interface {
	NewBosh(call Call) (BoshCPI, error)
}

// CreateVMArgs are the arguments of create_vm, in the order of the wire.
type CreateVMArgs struct {
	AgentID         string
	StemcellCID     string
	CloudProperties json.RawMessage
	Networks        json.RawMessage
	DiskCIDs        []string // never nil
	Env             json.RawMessage
}

// VMRequirements is the argument of calculate_vm_cloud_properties. RAM and
// EphemeralDiskSize are MiB.
type VMRequirements struct {
	CPU               int `json:"cpu"`
	RAM               int `json:"ram"`
	EphemeralDiskSize int `json:"ephemeral_disk_size"`
}

// boshNotImplemented is the answer of a BOSH method nobody serves.
func boshNotImplemented(method string) *Error {
	return NewError(BoshNotImplemented, "%s is not implemented by this CPI", method)
}

// none answers null on success, as bosh-cpi-go does.
func none(err error) (any, error) { return nil, err }

// cidOrNull answers a cid, or null for "".
func cidOrNull(cid string, err error) (any, error) {
	if err != nil || cid == "" {
		return nil, err
	}
	return cid, nil
}

// boshMethods is the BOSH part of the method table, in the order of the
// BOSH reference. The last four have no binding: they always answer
// Bosh::Clouds::NotImplemented, which the director tolerates. RetrySafe
// marks reads, deletes and metadata: creates, attaches, resizes, snapshots
// and reboots may act twice.
var boshMethods = []Method{
	{Name: MethodCreateStemcell, Args: []Arg{String("image_path"), Object("cloud_properties")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) {
			return c.CreateStemcell(ctx, k.ID(0), k.Raw(1))
		}},
	{Name: MethodDeleteStemcell, RetrySafe: true, Args: []Arg{ID("stemcell_cid")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) { return none(c.DeleteStemcell(ctx, k.ID(0))) }},
	{Name: MethodCreateVM, Args: []Arg{ID("agent_id"), ID("stemcell_cid"), Object("cloud_properties"), Object("networks"), IDList("disk_cids"), Object("env")},
		bosh: createVM},
	{Name: MethodDeleteVM, RetrySafe: true, Args: []Arg{ID("vm_cid")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) { return none(c.DeleteVM(ctx, k.ID(0))) }},
	{Name: MethodHasVM, RetrySafe: true, Args: []Arg{ID("vm_cid")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) { return c.HasVM(ctx, k.ID(0)) }},
	{Name: MethodRebootVM, Args: []Arg{ID("vm_cid")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) { return none(c.RebootVM(ctx, k.ID(0))) }},
	{Name: MethodSetVMMetadata, RetrySafe: true, Args: []Arg{ID("vm_cid"), Object("metadata")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) {
			return none(c.SetVMMetadata(ctx, k.ID(0), k.Raw(1)))
		}},
	{Name: MethodCalculateVMCloudProperties, RetrySafe: true, Args: []Arg{Object("vm_resources")},
		bosh: calculateVMCloudProperties},
	{Name: MethodCreateDisk, Args: []Arg{Int("size_mib"), Object("cloud_properties"), IDOrNull("vm_cid")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) {
			return c.CreateDisk(ctx, k.Int(0), k.Raw(1), k.ID(2))
		}},
	{Name: MethodDeleteDisk, RetrySafe: true, Args: []Arg{ID("disk_cid")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) { return none(c.DeleteDisk(ctx, k.ID(0))) }},
	{Name: MethodAttachDisk, Args: []Arg{ID("vm_cid"), ID("disk_cid")},
		bosh: attachDisk},
	{Name: MethodDetachDisk, Args: []Arg{ID("vm_cid"), ID("disk_cid")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) {
			return none(c.DetachDisk(ctx, k.ID(0), k.ID(1)))
		}},
	{Name: MethodHasDisk, RetrySafe: true, Args: []Arg{ID("disk_cid")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) { return c.HasDisk(ctx, k.ID(0)) }},
	{Name: MethodGetDisks, RetrySafe: true, Args: []Arg{ID("vm_cid")},
		bosh: getDisks},
	{Name: MethodSetDiskMetadata, RetrySafe: true, Args: []Arg{ID("disk_cid"), Object("metadata")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) {
			return none(c.SetDiskMetadata(ctx, k.ID(0), k.Raw(1)))
		}},
	{Name: MethodResizeDisk, Args: []Arg{ID("disk_cid"), Int("new_size_mib")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) {
			return none(c.ResizeDisk(ctx, k.ID(0), k.Int(1)))
		}},
	{Name: MethodUpdateDisk, Args: []Arg{ID("disk_cid"), Int("new_size_mib"), Object("cloud_properties")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) {
			return cidOrNull(c.UpdateDisk(ctx, k.ID(0), k.Int(1), k.Raw(2)))
		}},
	{Name: MethodSnapshotDisk, Args: []Arg{ID("disk_cid"), Object("metadata")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) {
			return c.SnapshotDisk(ctx, k.ID(0), k.Raw(1))
		}},
	{Name: MethodDeleteSnapshot, RetrySafe: true, Args: []Arg{ID("snapshot_cid")},
		bosh: func(ctx context.Context, c BoshCPI, k Call) (any, error) { return none(c.DeleteSnapshot(ctx, k.ID(0))) }},
	{Name: MethodCurrentVMID, RetrySafe: true},
	{Name: MethodPing, RetrySafe: true},
	{Name: MethodCreateNetwork},
	{Name: MethodDeleteNetwork},
}

// createVM answers [vm_cid, networks] under api_version 2, vm_cid under 1.
func createVM(ctx context.Context, c BoshCPI, k Call) (any, error) {
	vm := CreateVMArgs{AgentID: k.ID(0), StemcellCID: k.ID(1), CloudProperties: k.Raw(2), Networks: k.Raw(3), DiskCIDs: k.IDs(4), Env: k.Raw(5)}
	cid, networks, err := c.CreateVM(ctx, vm)
	if err != nil {
		return nil, err
	}
	if k.APIVersion < 2 {
		return cid, nil
	}
	if networks == nil {
		networks = vm.Networks
	}
	if networks == nil {
		networks = json.RawMessage("{}")
	}
	return []any{cid, networks}, nil
}

// attachDisk answers the disk hint under api_version 2, null under 1.
func attachDisk(ctx context.Context, c BoshCPI, k Call) (any, error) {
	hint, err := c.AttachDisk(ctx, k.ID(0), k.ID(1))
	if err != nil || k.APIVersion < 2 {
		return nil, err
	}
	return hint, nil
}

// getDisks answers [] rather than null.
func getDisks(ctx context.Context, c BoshCPI, k Call) (any, error) {
	cids, err := c.GetDisks(ctx, k.ID(0))
	if err != nil {
		return nil, err
	}
	if cids == nil {
		cids = []string{}
	}
	return cids, nil
}

// calculateVMCloudProperties decodes its one argument, an object.
func calculateVMCloudProperties(ctx context.Context, c BoshCPI, k Call) (any, error) {
	var req VMRequirements
	if raw := k.Raw(0); raw != nil {
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, NewError(BoshCpiError, "%s: %s", MethodCalculateVMCloudProperties, DescribeJSONError(err))
		}
	}
	return c.CalculateVMCloudProperties(ctx, req)
}
