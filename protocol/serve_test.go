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

func TestCLI(t *testing.T) {
	var seen []protocol.Context
	c := protocol.CLI{Name: "test-cpi", Usage: "a test CPI", Version: "1.2.3", Description: "Environment: NONE.",
		Setup: func(string) protocol.Setup { return recordingSetup(&seen, nil) }}
	cases := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string // stdout contains
		err   string // stderr contains
	}{
		{"stdin mode", []string{"cpi"}, `{"method":"reboot_server","arguments":["1"]}`, 0, `{"result":null,"error":null,"log":"log of "}` + "\n", ""},
		{"stdin mode with the config flag", []string{"cpi", "--config", "/c.json"}, `{"method":"nope"}`, 0, `"type":"NotImplemented"`, ""},
		{"methods", []string{"cpi", "methods"}, "", 0, "cancel_server\ncatalog\n", ""},
		{"call", []string{"cpi", "call", "query_key", "42"}, "", 0, "\"id\": \"42\"", ""},
		{"call answering an error exits 1", []string{"cpi", "call", "query_key"}, "", 1, `"InvalidArguments"`, ""},
		{"call without a method", []string{"cpi", "call"}, "", 2, "", "METHOD is required"},
		{"call with an empty method", []string{"cpi", "call", ""}, "", 1, `"method\" is missing`, ""},
		{"help", []string{"cpi", "--help"}, "", 0, "Environment: NONE.", ""},
		{"version", []string{"cpi", "--version"}, "", 0, "1.2.3", ""},
		{"unknown command", []string{"cpi", "frobnicate"}, "", 2, "", "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := c.Run(context.Background(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			assert.Equal(t, tc.code, code, stderr.String())
			assert.Contains(t, stdout.String(), tc.out)
			assert.Contains(t, stderr.String(), tc.err)
		})
	}
}
