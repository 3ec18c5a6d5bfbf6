package bosh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
)

// The BOSH CPI methods (info aside, which the dispatcher answers).
const (
	MethodCreateStemcell   = "create_stemcell"
	MethodDeleteStemcell   = "delete_stemcell"
	MethodCreateVM         = "create_vm"
	MethodDeleteVM         = "delete_vm"
	MethodHasVM            = "has_vm"
	MethodRebootVM         = "reboot_vm"
	MethodSetVMMetadata    = "set_vm_metadata"
	MethodCalculateVMProps = "calculate_vm_cloud_properties"
	MethodCreateDisk       = "create_disk"
	MethodDeleteDisk       = "delete_disk"
	MethodAttachDisk       = "attach_disk"
	MethodDetachDisk       = "detach_disk"
	MethodHasDisk          = "has_disk"
	MethodGetDisks         = "get_disks"
	MethodSetDiskMetadata  = "set_disk_metadata"
	MethodResizeDisk       = "resize_disk"
	MethodSnapshotDisk     = "snapshot_disk"
	MethodDeleteSnapshot   = "delete_snapshot"
)

// Call is one BOSH request as a method sees it.
type Call struct {
	Method     string
	Arguments  []json.RawMessage
	Context    json.RawMessage
	APIVersion int // 0 or 1: v1 answers; 2: v2 answers
}

// Method is one BOSH method: the names of its arguments in order (more are
// ignored, fewer are a CpiError, as bosh-cpi-go does) and what it does.
type Method struct {
	Args []string
	Run  func(ctx context.Context, c *CPI, a args) (any, error)
}

// Methods is the BOSH method table.
var Methods = map[string]Method{
	MethodCreateStemcell: {[]string{"image_path", "cloud_properties"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		var props StemcellProperties
		if err := a.object(1, &props, false); err != nil {
			return nil, err
		}
		path, err := a.str(0)
		if err != nil {
			return nil, err
		}
		return c.CreateStemcell(ctx, path, props)
	}},
	MethodDeleteStemcell: {[]string{"stemcell_cid"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		return a.withCID(0, func(cid string) (any, error) { return nil, c.DeleteStemcell(ctx, cid) })
	}},
	MethodCreateVM: {[]string{"agent_id", "stemcell_cid", "cloud_properties", "networks", "disk_cids", "env"}, runCreateVM},
	MethodDeleteVM: {[]string{"vm_cid"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		return a.withCID(0, func(cid string) (any, error) { return nil, c.DeleteVM(ctx, cid) })
	}},
	MethodHasVM: {[]string{"vm_cid"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		return a.withCID(0, func(cid string) (any, error) { return c.HasVM(ctx, cid) })
	}},
	MethodRebootVM: {[]string{"vm_cid"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		return a.withCID(0, func(cid string) (any, error) { return nil, c.RebootVM(ctx, cid) })
	}},
	MethodSetVMMetadata: {[]string{"vm_cid", "metadata"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		var md map[string]any
		if err := a.object(1, &md, false); err != nil {
			return nil, err
		}
		return a.withCID(0, func(cid string) (any, error) { return nil, c.SetVMMetadata(ctx, cid, md) })
	}},
	MethodCalculateVMProps: {[]string{"vm_resources"}, func(_ context.Context, c *CPI, a args) (any, error) {
		var res VMResources
		if err := a.object(0, &res, true); err != nil {
			return nil, err
		}
		return c.CalculateVMCloudProperties(res)
	}},
	MethodCreateDisk: {[]string{"size", "cloud_properties", "vm_cid"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		var size int64
		if err := a.decode(0, &size, "a whole number of MiB"); err != nil {
			return nil, err
		}
		var props DiskProperties
		if err := a.object(1, &props, true); err != nil {
			return nil, err
		}
		vm, err := a.optStr(2)
		if err != nil {
			return nil, err
		}
		return c.CreateDisk(ctx, size, props, vm)
	}},
	MethodDeleteDisk: {[]string{"disk_cid"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		return a.withCID(0, func(cid string) (any, error) { return nil, c.DeleteDisk(ctx, cid) })
	}},
	MethodAttachDisk: {[]string{"vm_cid", "disk_cid"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		return a.withCIDs(func(vm, disk string) (any, error) {
			hint, err := c.AttachDisk(ctx, vm, disk)
			if err != nil || a.apiVersion < 2 {
				return nil, err
			}
			return hint, nil
		})
	}},
	MethodDetachDisk: {[]string{"vm_cid", "disk_cid"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		return a.withCIDs(func(vm, disk string) (any, error) { return nil, c.DetachDisk(ctx, vm, disk) })
	}},
	MethodHasDisk: {[]string{"disk_cid"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		return a.withCID(0, func(cid string) (any, error) { return c.HasDisk(ctx, cid) })
	}},
	MethodGetDisks: {[]string{"vm_cid"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		return a.withCID(0, func(cid string) (any, error) { return c.GetDisks(ctx, cid) })
	}},
	MethodSetDiskMetadata: {[]string{"disk_cid", "metadata"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		var md map[string]any
		if err := a.object(1, &md, false); err != nil {
			return nil, err
		}
		return a.withCID(0, func(cid string) (any, error) { return nil, c.SetDiskMetadata(ctx, cid, md) })
	}},
	MethodResizeDisk: {[]string{"disk_cid", "new_size"}, func(ctx context.Context, c *CPI, a args) (any, error) {
		var size int64
		if err := a.decode(1, &size, "a whole number of MiB"); err != nil {
			return nil, err
		}
		return a.withCID(0, func(cid string) (any, error) { return nil, c.ResizeDisk(ctx, cid, size) })
	}},
	MethodSnapshotDisk: {[]string{"disk_cid", "metadata"}, func(context.Context, *CPI, args) (any, error) {
		return nil, errNoSnapshots(MethodSnapshotDisk)
	}},
	MethodDeleteSnapshot: {[]string{"snapshot_cid"}, func(context.Context, *CPI, args) (any, error) {
		return nil, errNoSnapshots(MethodDeleteSnapshot)
	}},
}

func runCreateVM(ctx context.Context, c *CPI, a args) (any, error) {
	agentID, err := a.str(0)
	if err != nil {
		return nil, err
	}
	stemcell, err := a.str(1)
	if err != nil {
		return nil, err
	}
	var props VMProperties
	if err := a.object(2, &props, true); err != nil {
		return nil, err
	}
	var networks map[string]json.RawMessage
	if err := a.object(3, &networks, false); err != nil {
		return nil, err
	}
	var disks []string
	if !a.null(4) {
		if err := a.decode(4, &disks, "an array of disk cids"); err != nil {
			return nil, err
		}
	}
	env := a.raw[5]
	if !a.null(5) && !bytes.HasPrefix(bytes.TrimSpace(env), []byte("{")) {
		return nil, a.wrong(5, "an object")
	}
	vm, err := c.CreateVM(ctx, agentID, stemcell, props, networks, disks, env)
	if err != nil {
		return nil, err
	}
	if a.apiVersion < 2 {
		return vm.CID, nil
	}
	return []any{vm.CID, vm.Networks}, nil
}

// MethodNames lists the BOSH methods, sorted.
func MethodNames() []string {
	return sortedKeys(Methods)
}

// Serve runs one BOSH call: it checks the arguments' count, makes the
// call's CPI from env and runs the method under the call's deadline. An
// unknown method is NotImplemented.
func Serve(ctx context.Context, env Env, call Call) (any, error) {
	m, ok := Methods[call.Method]
	if !ok {
		return nil, newError(NotImplemented, "Method is not known, got %q", truncate(call.Method, 64))
	}
	if len(call.Arguments) < len(m.Args) {
		return nil, newError(CpiError, "%s: Not enough arguments: it takes %d (%s), got %d",
			call.Method, len(m.Args), strings.Join(m.Args, ", "), len(call.Arguments))
	}
	env.Context = call.Context
	c, err := New(env)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	return m.Run(ctx, c, args{method: call.Method, names: m.Args, raw: call.Arguments, apiVersion: call.APIVersion})
}

// args decodes a call's positional arguments; every wrong one is a
// CpiError naming it.
type args struct {
	method     string
	names      []string
	raw        []json.RawMessage
	apiVersion int
}

func (a args) wrong(i int, want string) error {
	return newError(CpiError, "%s: argument %d (%s) must be %s", a.method, i+1, a.names[i], want)
}

func (a args) null(i int) bool {
	t := bytes.TrimSpace(a.raw[i])
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// decode reads argument i into v.
func (a args) decode(i int, v any, want string) error {
	if err := json.Unmarshal(a.raw[i], v); err != nil {
		return a.wrong(i, want)
	}
	return nil
}

// str is a non-empty string argument.
func (a args) str(i int) (string, error) {
	var s string
	if err := json.Unmarshal(a.raw[i], &s); err != nil || s == "" {
		return "", a.wrong(i, "a non-empty string")
	}
	return s, nil
}

// optStr is a string argument that may be null or "".
func (a args) optStr(i int) (string, error) {
	if a.null(i) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(a.raw[i], &s); err != nil {
		return "", a.wrong(i, "a string or null")
	}
	return s, nil
}

func (a args) withCID(i int, fn func(string) (any, error)) (any, error) {
	cid, err := a.str(i)
	if err != nil {
		return nil, err
	}
	return fn(cid)
}

func (a args) withCIDs(fn func(string, string) (any, error)) (any, error) {
	first, err := a.str(0)
	if err != nil {
		return nil, err
	}
	second, err := a.str(1)
	if err != nil {
		return nil, err
	}
	return fn(first, second)
}

// object decodes an object argument (null reads as {}); strict rejects
// unknown keys, naming them and the known ones.
func (a args) object(i int, v any, strict bool) error {
	if a.null(i) {
		return nil
	}
	t := bytes.TrimSpace(a.raw[i])
	if len(t) == 0 || t[0] != '{' {
		return a.wrong(i, "an object")
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return newError(CpiError, "%s: argument %d (%s): %q has the wrong type (%s given)", a.method, i+1, a.names[i], typeErr.Field, typeErr.Value)
	case strict && strings.HasPrefix(err.Error(), "json: unknown field "):
		return newError(CpiError, "%s: argument %d (%s): unknown key %s (known: %s)", a.method, i+1, a.names[i],
			strings.TrimPrefix(err.Error(), "json: unknown field "), strings.Join(jsonFields(v), ", "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return a.wrong(i, "a complete JSON object")
	}
	return newError(CpiError, "%s: argument %d (%s): %s", a.method, i+1, a.names[i], truncate(err.Error(), 200))
}

// jsonFields lists the JSON keys of the struct v points to.
func jsonFields(v any) []string {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	keys := sortedKeys(m)
	sort.Strings(keys)
	return keys
}
