package protocol_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// bodyCPI records the bodies it is given.
type bodyCPI struct {
	protocol.NanoboxCPI
	got *[]any
}

func (c bodyCPI) CreateKey(_ context.Context, b protocol.KeyBody) (protocol.IDResult, error) {
	*c.got = append(*c.got, b)
	return protocol.IDResult{ID: b.KeyName()}, nil
}
func (c bodyCPI) OrderServer(_ context.Context, b protocol.OrderServerBody) (protocol.IDResult, error) {
	*c.got = append(*c.got, b)
	return protocol.IDResult{ID: "1"}, nil
}
func (c bodyCPI) InstallKey(_ context.Context, _ string, b protocol.KeyBody) error {
	*c.got = append(*c.got, b)
	return nil
}
func (c bodyCPI) RenameServer(_ context.Context, _ string, b protocol.RenameBody) error {
	*c.got = append(*c.got, b)
	return nil
}
func (c bodyCPI) UpdateConfig(_ context.Context, _ string, b protocol.ConfigBody) error {
	*c.got = append(*c.got, b)
	return nil
}

type bodyFactory struct{ got *[]any }

func (f bodyFactory) NewNanobox(protocol.Call) (protocol.NanoboxCPI, error) {
	return bodyCPI{got: f.got}, nil
}

// TestRequestBodies: every body is checked against its type's keys before
// the CPI sees it; an unknown key answers InvalidArguments (422 through
// the shim) naming it and the known ones, and changes nothing.
func TestRequestBodies(t *testing.T) {
	cases := []struct {
		name, in string
		want     any    // what the CPI got; nil: it was not called
		err      string // the error's message; "" for success
	}{
		{"misspelt order fields", `{"method":"order_server","arguments":[{"name":"t1","regoin":"hel1","sise":"cx53"}]}`, nil,
			`order_server: unknown fields "regoin", "sise" (known: name, region, size, ssh_key, config, user_data, labels)`},
		{"an extra order field", `{"method":"order_server","arguments":[{"name":"t1","region":"hel1","size":"cx23","ssh_key":"1","colour":"red"}]}`, nil,
			`order_server: unknown field "colour" (known: name, region, size, ssh_key, config, user_data, labels)`},
		{"region and size left to meta's defaults", `{"method":"order_server","arguments":[{"name":"t1","ssh_key":"1"}]}`,
			protocol.OrderServerBody{Name: "t1", SSHKey: "1"}, ""},
		{"an order with config", `{"method":"order_server","arguments":[{"name":"t1","region":"hel1","size":"cx23","ssh_key":"1","config":{"image":"debian-12"}}]}`,
			protocol.OrderServerBody{Name: "t1", Region: "hel1", Size: "cx23", SSHKey: "1", Config: map[string]any{"image": "debian-12"}}, ""},
		{"keys match ignoring case, as encoding/json", `{"method":"order_server","arguments":[{"Name":"t1","REGION":"hel1"}]}`,
			protocol.OrderServerBody{Name: "t1", Region: "hel1"}, ""},
		{"a key with id", `{"method":"create_key","arguments":[{"id":"acct","key":"ssh-ed25519 AAAA"}]}`,
			protocol.KeyBody{ID: "acct", Key: "ssh-ed25519 AAAA"}, ""},
		{"an older client's key with name", `{"method":"create_key","arguments":[{"name":"acct","key":"ssh-ed25519 AAAA"}]}`,
			protocol.KeyBody{Name: "acct", Key: "ssh-ed25519 AAAA"}, ""},
		{"a key with an unknown field", `{"method":"create_key","arguments":[{"id":"acct","key":"k","fingerprint":"x"}]}`, nil,
			`create_key: unknown field "fingerprint" (known: id, name, key)`},
		{"install_key with an unknown field", `{"method":"install_key","arguments":["7",{"id":"acct","key":"k","user":"root"}]}`, nil,
			`install_key: unknown field "user" (known: id, name, key)`},
		{"rename", `{"method":"rename_server","arguments":["7",{"name":"web2"}]}`, protocol.RenameBody{Name: "web2"}, ""},
		{"rename with an unknown field", `{"method":"rename_server","arguments":["7",{"name":"web2","hostname":"web2"}]}`, nil,
			`rename_server: unknown field "hostname" (known: name)`},
		{"config settings are the CPI's to judge", `{"method":"update_config","arguments":["7",{"colour":"blue"}]}`,
			protocol.ConfigBody{"colour": "blue"}, ""},
		{"a wrong type is reported before unknown keys", `{"method":"rename_server","arguments":["7",{"name":7,"x":1}]}`, nil,
			`rename_server: "name" must be a string, not number`},
		{"a long unknown key is cut", `{"method":"rename_server","arguments":["7",{"` + strings.Repeat("k", 100) + `":1}]}`, nil,
			`rename_server: unknown field "` + strings.Repeat("k", 64) + `..." (known: name)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []any
			d := &protocol.Dispatcher{Nanobox: bodyFactory{got: &got}}
			_, err := d.Dispatch(context.Background(), mustParse(t, tc.in))
			if tc.err != "" {
				require.Error(t, err)
				pe := protocol.AsError(err)
				assert.Equal(t, protocol.InvalidArguments, pe.Type)
				assert.Equal(t, 422, pe.Type.HTTPStatus())
				assert.Equal(t, tc.err, pe.Message)
				assert.Empty(t, got, "the CPI is not called")
				return
			}
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, tc.want, got[0])
		})
	}
}

// TestDecodeBodyRefusesUnknownKeys: Call.DecodeBody, for CPIs that decode
// bodies themselves, judges keys the same way.
func TestDecodeBodyRefusesUnknownKeys(t *testing.T) {
	_, perr := protocol.CheckArguments(mustParse(t, `{"method":"create_key","arguments":[{"id":"a","key":"k","colour":1}]}`))
	require.NotNil(t, perr)
	assert.Contains(t, perr.Message, `unknown field "colour"`)
	call := protocol.Call{Method: "x", Body: []byte(`{"id":"a","colour":1}`)}
	var body protocol.KeyBody
	perr = call.DecodeBody(&body)
	require.NotNil(t, perr)
	assert.Equal(t, `x: unknown field "colour" (known: id, name, key)`, perr.Message)
}

func mustParse(t *testing.T, in string) *protocol.Request {
	t.Helper()
	req, perr := protocol.DecodeRequest(bytes.NewReader([]byte(in)))
	require.Nil(t, perr)
	return req
}

// TestDecodeObject: the strict decoding other packages use for object
// arguments (BOSH cloud properties): null leaves the value alone, and a
// BOSH method answers its error as a CpiError.
func TestDecodeObject(t *testing.T) {
	type props struct {
		ServerType string `json:"server_type"`
		Location   string `json:"location,omitempty"`
	}
	p := props{ServerType: "cx23"}
	for _, raw := range []string{"", "null", " null "} {
		require.Nil(t, protocol.DecodeObject("create_vm: cloud_properties", []byte(raw), &p))
		assert.Equal(t, "cx23", p.ServerType)
	}
	require.Nil(t, protocol.DecodeObject("create_vm: cloud_properties", []byte(`{"server_type":"cx33","Location":"hel1"}`), &p))
	assert.Equal(t, props{ServerType: "cx33", Location: "hel1"}, p)
	perr := protocol.DecodeObject("create_vm: cloud_properties", []byte(`{"server_typ":"cx33"}`), &p)
	require.NotNil(t, perr)
	assert.Equal(t, `create_vm: cloud_properties: unknown field "server_typ" (known: server_type, location)`, perr.Message)
	assert.Equal(t, protocol.BoshCpiError, perr.ForBosh().Type)
	var anything map[string]any
	require.Nil(t, protocol.DecodeObject("set_vm_metadata: metadata", []byte(`{"any":"key"}`), &anything))
}

// TestArgumentShapes: a body argument knows its type's keys (none for a
// map, which takes any key), and a BOSH method without a binding is not
// Bound.
func TestArgumentShapes(t *testing.T) {
	createKey, _ := protocol.Lookup(protocol.MethodCreateKey)
	assert.Equal(t, []string{"id", "name", "key"}, createKey.Args[0].BodyKeys())
	assert.Equal(t, "an object with the keys id, name, key", createKey.Args[0].Shape())
	update, _ := protocol.Lookup(protocol.MethodUpdateConfig)
	assert.Nil(t, update.Args[0].BodyKeys(), "a server id")
	assert.Nil(t, update.Args[1].BodyKeys(), "a map takes any key")
	assert.Equal(t, "a non-empty string", update.Args[0].Shape())
	for name, bound := range map[string]bool{protocol.MethodInfo: true, protocol.MethodMeta: true, protocol.MethodCreateVM: true, protocol.MethodPing: false} {
		m, _ := protocol.Lookup(name)
		assert.Equal(t, bound, m.Bound(), name)
	}
}
