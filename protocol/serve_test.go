package protocol_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// recordingSetup is a Setup that records the context it was given and
// redacts the call's credential values from the response.
func recordingSetup(seen *[]protocol.Context, fail error) protocol.Setup {
	return func(_ context.Context, rc protocol.Context) (*protocol.Dispatcher, error) {
		*seen = append(*seen, rc)
		d := testDispatcher()
		d.Log = func() string { return "log of " + rc.RequestID }
		d.Redact = func(s string) string {
			for _, v := range rc.Credentials.Values() {
				s = strings.ReplaceAll(s, v, "[REDACTED]")
			}
			return s
		}
		return d, fail
	}
}

func TestServeOnce(t *testing.T) {
	cases := []struct {
		name, in string
		fail     error
		out      string
		ctx      protocol.Context
	}{
		{"the setup sees the request's context", `{"method":"create_key","arguments":[{"id":"s3cr3t","key":"k"}],"context":{"credentials":{"api-token":"s3cr3t"},"request_id":"r-1"}}`, nil,
			`{"result":{"id":"[REDACTED]"},"error":null,"log":"log of r-1"}`,
			protocol.Context{Credentials: protocol.Credentials{"api-token": "s3cr3t"}, RequestID: "r-1"}},
		{"a malformed request: the zero context", `{"method":`, nil,
			`{"result":null,"error":{"type":"InvalidRequest","message":"malformed request: truncated JSON","ok_to_retry":false},"log":"log of "}`,
			protocol.Context{}},
		{"a failed setup answers first", `{"method":`, errors.New("config: bad"),
			`{"result":null,"error":{"type":"InternalError","message":"config: bad","ok_to_retry":false},"log":"log of "}`,
			protocol.Context{}},
		{"a failed setup's dispatcher writes its error", `{"method":"meta","context":{"request_id":"r-2"}}`, protocol.NewError(protocol.InternalError, "CPI config: x"),
			`{"result":null,"error":{"type":"InternalError","message":"CPI config: x","ok_to_retry":false},"log":"log of r-2"}`,
			protocol.Context{RequestID: "r-2"}},
		{"a BOSH method's failed setup answers a BOSH type", `{"method":"has_vm","arguments":["1"],"context":{"request_id":"r-3"}}`, protocol.NewError(protocol.InternalError, "CPI config: x"),
			`{"result":null,"error":{"type":"Bosh::Clouds::CloudError","message":"CPI config: x","ok_to_retry":false},"log":"log of r-3"}`,
			protocol.Context{RequestID: "r-3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var seen []protocol.Context
			var out bytes.Buffer
			require.NoError(t, protocol.ServeOnce(context.Background(), strings.NewReader(tc.in), &out, recordingSetup(&seen, tc.fail)))
			assert.JSONEq(t, tc.out, out.String())
			require.Len(t, seen, 1, "set up once")
			assert.Equal(t, tc.ctx.Credentials, seen[0].Credentials)
			assert.Equal(t, tc.ctx.RequestID, seen[0].RequestID)
		})
	}
}
