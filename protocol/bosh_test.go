package protocol_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// fakeBosh implements a few BOSH methods and records what it was given;
// calling another panics, which the dispatcher contains.
type fakeBosh struct {
	protocol.BoshCPI
	got *[]any
}

func (f fakeBosh) SnapshotDisk(context.Context, string, json.RawMessage) (string, error) {
	return "", protocol.NewError(protocol.BoshNotImplemented, "snapshot_disk: Hetzner has no volume snapshots")
}

func (f fakeBosh) CreateVM(_ context.Context, vm protocol.CreateVMArgs) (string, json.RawMessage, error) {
	*f.got = append(*f.got, vm)
	return "vm-" + vm.AgentID, nil, nil
}

func (f fakeBosh) AttachDisk(_ context.Context, vmCID, diskCID string) (any, error) {
	return map[string]string{"path": "/dev/disk/by-id/scsi-0HC_Volume_" + diskCID}, nil
}

func (f fakeBosh) CreateDisk(_ context.Context, size int, props json.RawMessage, vmCID string) (string, error) {
	*f.got = append(*f.got, size, string(props), vmCID)
	return "disk-1", nil
}

func (f fakeBosh) GetDisks(context.Context, string) ([]string, error) { return nil, nil }

func (f fakeBosh) HasVM(_ context.Context, cid string) (bool, error) {
	if cid == "gone" {
		return false, nil
	}
	if cid == "slow" {
		return false, context.DeadlineExceeded
	}
	if cid == "locked" {
		return false, protocol.NewError(protocol.Conflict, "server %s is locked", cid)
	}
	if cid == "budget" {
		return false, protocol.NewError(protocol.RateLimited, "budget spent").WithRetryAfter(30 * time.Second)
	}
	return false, protocol.NewError(protocol.BoshVMNotFound, "server %s not found", cid)
}

func (f fakeBosh) DeleteVM(context.Context, string) error { return errors.New("plain failure") }

func (f fakeBosh) CalculateVMCloudProperties(_ context.Context, req protocol.VMRequirements) (any, error) {
	return map[string]any{"server_type": "cx23", "cpu": req.CPU, "ram": req.RAM}, nil
}

type fakeBoshFactory struct{ got *[]any }

func (f fakeBoshFactory) NewBosh(protocol.Call) (protocol.BoshCPI, error) {
	return fakeBosh{got: f.got}, nil
}

// TestBoshGolden sends raw JSON in and compares the whole JSON out, for
// the BOSH methods on a dispatcher that serves them.
func TestBoshGolden(t *testing.T) {
	cases := []struct{ name, in, out string }{
		{"create_vm v2 answers the pair", `{"method":"create_vm","arguments":["a1","img",{"server_type":"cx23"},{"default":{"type":"dynamic"}},[],{"bosh":{}}],"context":{"director_uuid":"d"},"api_version":2}`,
			`{"result":["vm-a1",{"default":{"type":"dynamic"}}],"error":null,"log":""}`},
		{"create_vm v1 answers the cid", `{"method":"create_vm","arguments":["a1","img",{},{},null,null],"api_version":1}`,
			`{"result":"vm-a1","error":null,"log":""}`},
		{"create_vm without api_version is v1", `{"method":"create_vm","arguments":["a1","img",{},{},[],{}]}`,
			`{"result":"vm-a1","error":null,"log":""}`},
		{"attach_disk v2 answers the hint", `{"method":"attach_disk","arguments":["1","2"],"api_version":2}`,
			`{"result":{"path":"/dev/disk/by-id/scsi-0HC_Volume_2"},"error":null,"log":""}`},
		{"attach_disk v1 answers null", `{"method":"attach_disk","arguments":["1","2"],"api_version":1}`,
			`{"result":null,"error":null,"log":""}`},
		{"create_disk with a null vm", `{"method":"create_disk","arguments":[10240,{},null],"api_version":2}`,
			`{"result":"disk-1","error":null,"log":""}`},
		{"get_disks never null", `{"method":"get_disks","arguments":["1"],"api_version":2}`,
			`{"result":[],"error":null,"log":""}`},
		{"has_vm false", `{"method":"has_vm","arguments":["gone"],"api_version":2}`,
			`{"result":false,"error":null,"log":""}`},
		{"a BOSH error type is kept", `{"method":"has_vm","arguments":["x"],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::VMNotFound","message":"server x not found","ok_to_retry":false},"log":""}`},
		{"a Nanobox error type is translated", `{"method":"has_vm","arguments":["locked"],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::CloudError","message":"server locked is locked","ok_to_retry":true},"log":""}`},
		{"a BOSH answer carries no retry delay", `{"method":"has_vm","arguments":["budget"],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::CloudError","message":"budget spent","ok_to_retry":true},"log":""}`},
		{"a deadline is a retryable CloudError", `{"method":"has_vm","arguments":["slow"],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::CloudError","message":"deadline exceeded before the cloud answered","ok_to_retry":true},"log":""}`},
		{"a plain error is a CloudError", `{"method":"delete_vm","arguments":["1"],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::CloudError","message":"plain failure","ok_to_retry":false},"log":""}`},
		{"an unimplemented method", `{"method":"snapshot_disk","arguments":["1",{}],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::NotImplemented","message":"snapshot_disk: Hetzner has no volume snapshots","ok_to_retry":false},"log":""}`},
		{"a panic is contained", `{"method":"reboot_vm","arguments":["1"],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::CloudError","message":"reboot_vm failed unexpectedly (a bug in the CPI); see its log","ok_to_retry":false},"log":""}`},
		{"a method without binding", `{"method":"current_vm_id","arguments":[],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::NotImplemented","message":"current_vm_id is not implemented by this CPI","ok_to_retry":false},"log":""}`},
		{"too few arguments", `{"method":"attach_disk","arguments":["1"],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::CpiError","message":"attach_disk takes 2 argument(s) (vm_cid, disk_cid), got 1","ok_to_retry":false},"log":""}`},
		{"extra arguments are ignored", `{"method":"attach_disk","arguments":["1","2",{"tags":{}}],"api_version":2}`,
			`{"result":{"path":"/dev/disk/by-id/scsi-0HC_Volume_2"},"error":null,"log":""}`},
		{"an empty cid", `{"method":"has_vm","arguments":[""],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::CpiError","message":"has_vm: argument 1 (vm_cid) must not be empty","ok_to_retry":false},"log":""}`},
		{"size not an integer", `{"method":"create_disk","arguments":["big",{},null],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::CpiError","message":"create_disk: argument 1 (size_mib) must be an integer","ok_to_retry":false},"log":""}`},
		{"cloud properties not an object", `{"method":"create_disk","arguments":[1024,[],null],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::CpiError","message":"create_disk: argument 2 (cloud_properties) must be a JSON object","ok_to_retry":false},"log":""}`},
		{"disk cids with an empty one", `{"method":"create_vm","arguments":["a1","img",{},{},[""],{}],"api_version":2}`,
			`{"result":null,"error":{"type":"Bosh::Clouds::CpiError","message":"create_vm: argument 5 (disk_cids) must be an array of non-empty strings","ok_to_retry":false},"log":""}`},
		{"calculate_vm_cloud_properties", `{"method":"calculate_vm_cloud_properties","arguments":[{"cpu":2,"ram":4096,"ephemeral_disk_size":10240}],"api_version":2}`,
			`{"result":{"cpu":2,"ram":4096,"server_type":"cx23"},"error":null,"log":""}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []any
			d := testDispatcher()
			d.Bosh = fakeBoshFactory{got: &got}
			var out bytes.Buffer
			require.NoError(t, serve(context.Background(), d, strings.NewReader(tc.in), &out))
			assert.JSONEq(t, tc.out, out.String())
		})
	}
}

// TestBoshArgumentsReachTheCPI: create_vm's and create_disk's arguments
// arrive decoded by their shapes.
func TestBoshArgumentsReachTheCPI(t *testing.T) {
	var got []any
	d := testDispatcher()
	d.Bosh = fakeBoshFactory{got: &got}
	in := `{"method":"create_vm","arguments":["a1","img",{"x":1},{"n":{}},["d1","d2"],null],"api_version":2}` + "\n"
	require.NoError(t, serve(context.Background(), d, strings.NewReader(in), &bytes.Buffer{}))
	in = `{"method":"create_disk","arguments":[2048,{"type":"ssd"},"vm-9"],"api_version":2}`
	require.NoError(t, serve(context.Background(), d, strings.NewReader(in), &bytes.Buffer{}))
	require.Len(t, got, 4)
	assert.Equal(t, protocol.CreateVMArgs{AgentID: "a1", StemcellCID: "img", CloudProperties: json.RawMessage(`{"x":1}`),
		Networks: json.RawMessage(`{"n":{}}`), DiskCIDs: []string{"d1", "d2"}}, got[0])
	assert.Equal(t, []any{2048, `{"type":"ssd"}`, "vm-9"}, got[1:])
}

// TestBoshMethodsWithoutFactory: until a BOSH factory is wired, every BOSH
// method answers Bosh::Clouds::NotImplemented and info lists none.
func TestBoshMethodsWithoutFactory(t *testing.T) {
	d := testDispatcher()
	for _, m := range protocol.Table {
		if m.Family != protocol.FamilyBosh {
			continue
		}
		assert.NotContains(t, d.MethodNames(), m.Name)
		_, err := d.Dispatch(context.Background(), &protocol.Request{Method: m.Name, Arguments: []json.RawMessage{}, APIVersion: 2})
		var pe *protocol.Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, protocol.BoshNotImplemented, pe.Type, m.Name)
	}
	d.Bosh = fakeBoshFactory{got: new([]any)}
	assert.Contains(t, d.MethodNames(), protocol.MethodCreateVM)
	assert.NotContains(t, d.MethodNames(), protocol.MethodPing, "a method without binding is not listed")
}

// TestBoshErrorTable: the BOSH error types the director knows, with the
// ok_to_retry defaults the reference gives.
func TestBoshErrorTable(t *testing.T) {
	want := map[protocol.ErrorType]bool{
		protocol.BoshCloudError: false, protocol.BoshCpiError: false, protocol.BoshNotImplemented: false,
		protocol.BoshNotSupported: false, protocol.BoshVMNotFound: false, protocol.BoshNetworkNotFound: false,
		protocol.BoshNoDiskSpace: true, protocol.BoshDiskNotAttached: false, protocol.BoshDiskNotFound: false,
		protocol.BoshVMCreationFailed: true,
	}
	require.Len(t, protocol.BoshErrorTypes(), len(want))
	for typ, retry := range want {
		assert.True(t, typ.Known(), typ)
		assert.Equal(t, retry, typ.Retryable(), typ)
		assert.True(t, strings.HasPrefix(string(typ), "Bosh::Clouds::"), typ)
		assert.Equal(t, typ, protocol.NewError(typ, "x").ForBosh().Type, "a BOSH type stays")
	}
	for _, typ := range protocol.ErrorTypes() {
		e := protocol.NewError(typ, "m").WithRetry(true)
		b := e.ForBosh()
		assert.Contains(t, want, b.Type, "%s becomes a type the director knows", typ)
		assert.Equal(t, e.Message, b.Message)
		assert.True(t, b.OkToRetry, "ok_to_retry is kept")
	}
}
