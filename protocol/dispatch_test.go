package protocol_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// fakeCPI answers a few Nanobox methods the way the cases below expect;
// the others are not implemented (calling one panics, which the
// dispatcher contains).
type fakeCPI struct{ protocol.NanoboxCPI }

func (fakeCPI) QueryKey(_ context.Context, id string) (protocol.Key, error) {
	return protocol.Key{ID: id, Name: "k", PublicKey: "ssh-ed25519 AAAA"}, nil
}
func (fakeCPI) CreateKey(_ context.Context, body protocol.KeyBody) (protocol.IDResult, error) {
	return protocol.IDResult{ID: body.KeyName()}, nil
}
func (fakeCPI) RebootServer(context.Context, string) error { return nil }
func (fakeCPI) RenameServer(context.Context, string, protocol.RenameBody) error {
	return protocol.NewError(protocol.RateLimited, "budget spent").WithRetryAfter(1500 * time.Millisecond)
}
func (fakeCPI) CancelServer(context.Context, string) error { return errors.New("boom") }
func (fakeCPI) DeleteKey(context.Context, string) error    { return context.DeadlineExceeded }
func (fakeCPI) QueryServer(context.Context, string) (protocol.Server, error) {
	panic("bug")
}

// fakeFactory makes a fakeCPI for every call.
type fakeFactory struct{}

func (fakeFactory) NewNanobox(protocol.Call) (protocol.NanoboxCPI, error) { return fakeCPI{}, nil }

func testDispatcher() *protocol.Dispatcher {
	return &protocol.Dispatcher{
		Name:            "test-cpi",
		Version:         "0.0.1",
		StemcellFormats: []string{"test-light"},
		Log:             func() string { return "" },
		Nanobox:         fakeFactory{},
	}
}

// TestDispatcherGolden sends raw JSON in and compares the whole JSON out.
func TestDispatcherGolden(t *testing.T) {
	cases := []struct{ name, in, out string }{
		{"result", `{"method":"query_key","arguments":["42"],"context":{},"api_version":1}`,
			`{"result":{"id":"42","name":"k","public_key":"ssh-ed25519 AAAA"},"error":null,"log":""}`},
		{"body with name instead of id", `{"method":"create_key","arguments":[{"name":"old","key":"x"}],"context":{}}`,
			`{"result":{"id":"old"},"error":null,"log":""}`},
		{"empty result is null", `{"method":"reboot_server","arguments":["1"],"context":{}}`,
			`{"result":null,"error":null,"log":""}`},
		{"info", `{"method":"info","arguments":[]}`,
			`{"result":{"api_version":2,"name":"test-cpi","version":"0.0.1","methods":["cancel_server","catalog","create_key","delete_key","info","install_key","list_images","list_keys","list_servers","meta","order_server","query_key","query_server","reboot_server","rename_server","start_server","stop_server","update_config","verify"],"stemcell_formats":["test-light"]},"error":null,"log":""}`},
		{"info under api_version 1", `{"method":"info","arguments":[],"api_version":1}`,
			`{"result":{"api_version":2,"name":"test-cpi","version":"0.0.1","methods":["cancel_server","catalog","create_key","delete_key","info","install_key","list_images","list_keys","list_servers","meta","order_server","query_key","query_server","reboot_server","rename_server","start_server","stop_server","update_config","verify"],"stemcell_formats":["test-light"]},"error":null,"log":""}`},
		{"info under api_version 2", `{"method":"info","arguments":[],"api_version":2,"context":{"director_uuid":"d-1","vm":{"stemcell":{"api_version":3}}}}`,
			`{"result":{"api_version":2,"name":"test-cpi","version":"0.0.1","methods":["cancel_server","catalog","create_key","delete_key","info","install_key","list_images","list_keys","list_servers","meta","order_server","query_key","query_server","reboot_server","rename_server","start_server","stop_server","update_config","verify"],"stemcell_formats":["test-light"]},"error":null,"log":""}`},
		{"unknown method", `{"method":"drop_tables","arguments":[]}`,
			`{"result":null,"error":{"type":"NotImplemented","message":"unknown method \"drop_tables\"; this CPI implements: cancel_server, catalog, create_key, delete_key, info, install_key, list_images, list_keys, list_servers, meta, order_server, query_key, query_server, reboot_server, rename_server, start_server, stop_server, update_config, verify","ok_to_retry":false},"log":""}`},
		{"not JSON", `{"method":`,
			`{"result":null,"error":{"type":"InvalidRequest","message":"malformed request: truncated JSON","ok_to_retry":false},"log":""}`},
		{"empty", ``,
			`{"result":null,"error":{"type":"InvalidRequest","message":"empty request: expected one JSON object","ok_to_retry":false},"log":""}`},
		{"trailing data", `{"method":"info"} {}`,
			`{"result":null,"error":{"type":"InvalidRequest","message":"malformed request: data after the JSON object","ok_to_retry":false},"log":""}`},
		{"method not a string", `{"method":7}`,
			`{"result":null,"error":{"type":"InvalidRequest","message":"malformed request: \"method\" must be a string, not number","ok_to_retry":false},"log":""}`},
		{"credential not a string", `{"method":"info","context":{"credentials":{"api-token":1}}}`,
			`{"result":null,"error":{"type":"InvalidRequest","message":"malformed request: \"context.credentials\" must be a string, not number","ok_to_retry":false},"log":""}`},
		{"wrong api version", `{"method":"info","api_version":3}`,
			`{"result":null,"error":{"type":"InvalidRequest","message":"unsupported api_version 3: this CPI speaks 1 to 2","ok_to_retry":false},"log":""}`},
		{"wrong arity", `{"method":"query_key","arguments":[]}`,
			`{"result":null,"error":{"type":"InvalidArguments","message":"query_key takes 1 argument(s) (key id), got 0","ok_to_retry":false},"log":""}`},
		{"param not a string", `{"method":"query_key","arguments":[42]}`,
			`{"result":null,"error":{"type":"InvalidArguments","message":"query_key: argument 1 (key id) must be a string","ok_to_retry":false},"log":""}`},
		{"body not an object", `{"method":"create_key","arguments":["x"]}`,
			`{"result":null,"error":{"type":"InvalidArguments","message":"create_key: the last argument must be a JSON object","ok_to_retry":false},"log":""}`},
		{"body field of wrong type", `{"method":"create_key","arguments":[{"id":1,"key":"x"}]}`,
			`{"result":null,"error":{"type":"InvalidArguments","message":"create_key: \"id\" must be a string, not number","ok_to_retry":false},"log":""}`},
		{"plain error is internal", `{"method":"cancel_server","arguments":["1"]}`,
			`{"result":null,"error":{"type":"InternalError","message":"boom","ok_to_retry":false},"log":""}`},
		{"deadline is a timeout", `{"method":"delete_key","arguments":["1"]}`,
			`{"result":null,"error":{"type":"Timeout","message":"deadline exceeded before the cloud answered","ok_to_retry":true},"log":""}`},
		{"a known retry delay is sent", `{"method":"rename_server","arguments":["1",{"name":"n"}]}`,
			`{"result":null,"error":{"type":"RateLimited","message":"budget spent","ok_to_retry":true,"retry_after_seconds":2},"log":""}`},
		{"panic is contained", `{"method":"query_server","arguments":["1"]}`,
			`{"result":null,"error":{"type":"InternalError","message":"query_server failed unexpectedly (a bug in the CPI); see its log","ok_to_retry":false},"log":""}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, testDispatcher().Serve(context.Background(), strings.NewReader(tc.in), &out))
			assert.JSONEq(t, tc.out, out.String())
			assert.True(t, strings.HasSuffix(out.String(), "}\n"), "one JSON line")
		})
	}
}

// TestRetryAfterOnTheWire: retry_after_seconds is whole seconds rounded
// up, at least 1, and absent when unknown, so that an error without it
// encodes exactly as it did before the field existed.
func TestRetryAfterOnTheWire(t *testing.T) {
	cases := []struct {
		name string
		err  *protocol.Error
		want string
	}{
		{"unknown", protocol.NewError(protocol.RateLimited, "m"),
			`{"type":"RateLimited","message":"m","ok_to_retry":true}`},
		{"zero is unknown", protocol.NewError(protocol.RateLimited, "m").WithRetryAfter(0),
			`{"type":"RateLimited","message":"m","ok_to_retry":true}`},
		{"negative is unknown", protocol.NewError(protocol.RateLimited, "m").WithRetryAfter(-time.Second),
			`{"type":"RateLimited","message":"m","ok_to_retry":true}`},
		{"under a second is one", protocol.NewError(protocol.RateLimited, "m").WithRetryAfter(time.Millisecond),
			`{"type":"RateLimited","message":"m","ok_to_retry":true,"retry_after_seconds":1}`},
		{"rounded up", protocol.NewError(protocol.RateLimited, "m").WithRetryAfter(29*time.Second + time.Millisecond),
			`{"type":"RateLimited","message":"m","ok_to_retry":true,"retry_after_seconds":30}`},
		{"whole seconds", protocol.NewError(protocol.Unavailable, "m").WithRetryAfter(time.Hour),
			`{"type":"Unavailable","message":"m","ok_to_retry":true,"retry_after_seconds":3600}`},
		{"bounded by MaxRetryAfter", protocol.NewError(protocol.RateLimited, "m").WithRetryAfter(30 * 24 * time.Hour),
			`{"type":"RateLimited","message":"m","ok_to_retry":true,"retry_after_seconds":3600}`},
		{"kept by WithRetry", protocol.NewError(protocol.RateLimited, "m").WithRetryAfter(5 * time.Second).WithRetry(false),
			`{"type":"RateLimited","message":"m","ok_to_retry":false,"retry_after_seconds":5}`},
		{"dropped for BOSH", protocol.NewError(protocol.RateLimited, "m").WithRetryAfter(5 * time.Second).ForBosh(),
			`{"type":"Bosh::Clouds::CloudError","message":"m","ok_to_retry":true}`},
		{"dropped from a BOSH type", protocol.NewError(protocol.BoshNoDiskSpace, "m").WithRetryAfter(5 * time.Second).ForBosh(),
			`{"type":"Bosh::Clouds::NoDiskSpace","message":"m","ok_to_retry":true}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.err)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(data))
			var back protocol.Error
			require.NoError(t, json.Unmarshal(data, &back))
			assert.Equal(t, *tc.err, back)
		})
	}
	orig := protocol.NewError(protocol.RateLimited, "m")
	_ = orig.WithRetryAfter(time.Second)
	assert.Zero(t, orig.RetryAfterSeconds, "WithRetryAfter returns a copy")
}

func TestOversizedRequest(t *testing.T) {
	big := `{"method":"info","arguments":[],"context":{"request_id":"` + strings.Repeat("a", protocol.MaxRequestBytes) + `"}}`
	var out bytes.Buffer
	require.NoError(t, testDispatcher().Serve(context.Background(), strings.NewReader(big), &out))
	assert.Contains(t, out.String(), `"type":"InvalidRequest"`)
	assert.Contains(t, out.String(), "larger than")
}

func TestErrorTable(t *testing.T) {
	want := map[protocol.ErrorType]struct {
		status int
		retry  bool
	}{
		protocol.InvalidRequest: {400, false}, protocol.InvalidArguments: {422, false},
		protocol.Unauthorized: {401, false}, protocol.Forbidden: {403, false},
		protocol.NotFound: {404, false}, protocol.Conflict: {409, true},
		protocol.RateLimited: {429, true}, protocol.InternalError: {500, false},
		protocol.NotImplemented: {501, false}, protocol.CloudError: {502, false},
		protocol.Unavailable: {503, true}, protocol.Timeout: {504, true},
	}
	require.Len(t, protocol.ErrorTypes(), len(want))
	for typ, w := range want {
		assert.Equal(t, w.status, typ.HTTPStatus(), typ)
		assert.Equal(t, w.retry, typ.Retryable(), typ)
	}
	assert.Equal(t, 502, protocol.ErrorType("Bosh::Clouds::CloudError").HTTPStatus())
}

func TestCredentialsNeverPrint(t *testing.T) {
	c := protocol.Credentials{"api-token": "s3cr3t-canary"}
	for _, s := range []string{c.String(), c.GoString()} {
		assert.NotContains(t, s, "s3cr3t-canary")
		assert.Contains(t, s, "api-token")
	}
}

// TestTableIsConsistent: each method is declared once, a route's path
// parameters are exactly its method's ID arguments, a body is the last
// argument, and only Nanobox methods have routes: every one of the spec,
// no extension.
func TestTableIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range protocol.Table {
		require.False(t, seen[m.Name], "%s declared twice", m.Name)
		seen[m.Name] = true
		got, ok := protocol.Lookup(m.Name)
		require.True(t, ok)
		assert.Equal(t, m.Name, got.Name)
		assert.Equal(t, m.Family == protocol.FamilyNanobox && !m.Extension, m.HTTP != nil, "%s: a route exactly for a Nanobox method of the spec", m.Name)
		assert.False(t, m.Extension && m.Family != protocol.FamilyNanobox, "%s: only Nanobox-family methods are extensions", m.Name)
		for i, a := range m.Args {
			if a.Kind == protocol.KindBody {
				assert.Equal(t, len(m.Args)-1, i, "%s: the body is the last argument", m.Name)
			}
		}
	}
	require.Len(t, protocol.Routes, 13)
	for _, r := range protocol.Routes {
		sig := protocol.Signatures[r.Method]
		assert.Equal(t, len(sig.Params), len(r.ParamNames()), r.Path)
		assert.Equal(t, sig.Body, r.Body, r.Path)
	}
	assert.Equal(t, protocol.Signature{Params: []string{"server id"}, Body: true}, protocol.Signatures[protocol.MethodRenameServer])
	assert.NotContains(t, protocol.Signatures, protocol.MethodCreateVM, "Signatures are the Nanobox methods'")
	assert.Equal(t, protocol.Route{Verb: "POST", Path: "/keys", Method: "create_key", Status: 201, Body: true, Result: true, OperationID: "create-ssh-key"}, protocol.Routes[3])
	for _, r := range protocol.Routes {
		m, _ := protocol.Lookup(r.Method)
		assert.Equal(t, protocol.FamilyNanobox, m.Family, "%s: only Nanobox methods have routes", r.Method)
	}
}

// TestRetrySafe: among the Nanobox methods only reboot_server acts again
// when repeated; orders and keys are idempotent by name. Every read (a GET
// route) is safe.
func TestRetrySafe(t *testing.T) {
	for _, m := range protocol.Table {
		if m.Family == protocol.FamilyBosh {
			continue
		}
		assert.Equal(t, m.Name != protocol.MethodRebootServer, m.RetrySafe, m.Name)
	}
	for _, r := range protocol.Routes {
		m, _ := protocol.Lookup(r.Method)
		if r.Verb == "GET" {
			assert.True(t, m.RetrySafe, "%s: a read", r.Method)
		}
	}
	for _, name := range []string{protocol.MethodCreateVM, protocol.MethodRebootVM, protocol.MethodCreateDisk, protocol.MethodSnapshotDisk} {
		m, _ := protocol.Lookup(name)
		assert.False(t, m.RetrySafe, "%s may act twice", name)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"0123456789abc", 10, "0123456789..."},
		{"ab\u00e9cd", 3, "ab..."}, // never cuts a character in two
		{"", 0, ""},
	} {
		assert.Equal(t, tc.want, protocol.Truncate(tc.in, tc.n), "%q", tc.in)
	}
}

func TestContextError(t *testing.T) {
	for _, tc := range []struct {
		op   string
		err  error
		want *protocol.Error
	}{
		{"", context.DeadlineExceeded, &protocol.Error{Type: protocol.Timeout, Message: "deadline exceeded before the cloud answered", OkToRetry: true}},
		{"order_server", fmt.Errorf("waiting: %w", context.Canceled), &protocol.Error{Type: protocol.Timeout, Message: "order_server: call cancelled before the cloud answered", OkToRetry: true}},
		{"x", errors.New("other"), nil},
	} {
		assert.Equal(t, tc.want, protocol.ContextError(tc.op, tc.err), "%v", tc.err)
	}
}

func TestDescribeJSONError(t *testing.T) {
	var v struct {
		A struct{ B int } `json:"a"`
	}
	for in, want := range map[string]string{
		`{"a":{"B":"secret-value"}}`: `"a.B" must be a number, not string`,
		`{"a":`:                      "invalid JSON at byte 5",
		`{"a" 1}`:                    "invalid JSON at byte 6",
		`[1]`:                        "the request must be an object, not array",
	} {
		err := json.Unmarshal([]byte(in), &v)
		require.Error(t, err, in)
		got := protocol.DescribeJSONError(err)
		assert.Equal(t, want, got, in)
		assert.NotContains(t, got, "secret-value", "input is never echoed")
	}
}
