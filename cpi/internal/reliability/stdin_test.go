package reliability

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// TestHostileStdin sends bad requests straight to the CPI binary's stdin:
// each gets exactly one JSON response line with the right error type and a
// clear message, a non-null log, and exit status 0. The API endpoint is a
// closed port: none of these may get as far as the cloud.
func TestHostileStdin(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	cases := []struct {
		name     string
		stdin    string
		wantType protocol.ErrorType
		wantMsg  string
	}{
		{"empty", "", protocol.InvalidRequest, "empty request"},
		{"whitespace", " \n\t ", protocol.InvalidRequest, "empty request"},
		{"truncated", `{"method":"order_server","arguments":[{"name":"a"`, protocol.InvalidRequest, "truncated JSON"},
		{"NUL bytes", "\x00\x00\x00", protocol.InvalidRequest, "invalid JSON"},
		{"NUL inside JSON", "{\"method\":\"meta\x00\"}", protocol.InvalidRequest, "invalid JSON"},
		{"two MB", `{"method":"meta","arguments":["` + strings.Repeat("a", 2<<20) + `"]}`, protocol.InvalidRequest, "larger than"},
		{"two objects", `{"method":"meta"}{"method":"meta"}`, protocol.InvalidRequest, "data after the JSON object"},
		{"array", `[{"method":"meta"}]`, protocol.InvalidRequest, "must be an object"},
		{"method is a number", `{"method":7}`, protocol.InvalidRequest, `"method" must be a string`},
		{"method missing", `{"arguments":[]}`, protocol.InvalidRequest, `"method" is missing`},
		{"arguments is an object", `{"method":"query_server","arguments":{"id":"1"}}`, protocol.InvalidRequest, `"arguments" must be an array`},
		{"api_version 3", `{"method":"meta","api_version":3}`, protocol.InvalidRequest, "unsupported api_version 3"},
		{"deep nesting", `{"method":"meta","arguments":` + deep + `}`, protocol.InvalidRequest, "invalid JSON"},
		{"unknown method", `{"method":"format_disk","arguments":[]}`, protocol.NotImplemented, "unknown method"},
		{"method with NUL", `{"method":"meta\u0000","arguments":[]}`, protocol.NotImplemented, "unknown method"},
		{"too few arguments", `{"method":"query_server","arguments":[]}`, protocol.InvalidArguments, "server id"},
		{"too many arguments", `{"method":"query_server","arguments":["1","2"]}`, protocol.InvalidArguments, "query_server"},
		{"huge argument list", `{"method":"query_server","arguments":[` + strings.TrimSuffix(strings.Repeat(`"1",`, 100000), ",") + `]}`, protocol.InvalidArguments, "query_server"},
		{"id is a number", `{"method":"query_server","arguments":[42]}`, protocol.InvalidArguments, "server id"},
		{"body is a string", `{"method":"order_server","arguments":["{\"name\":\"web\"}"]}`, protocol.InvalidArguments, "order_server"},
		{"credentials are a list", `{"method":"meta","context":{"credentials":["tok"]}}`, protocol.InvalidRequest, `"context.credentials" must be an object`},
		{"path traversal id", `{"method":"cancel_server","arguments":["../../keys/1"],"context":{"credentials":{"api-token":"tok-123456789"}}}`, protocol.NotFound, "is not a server id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bins.cpi)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HCLOUD_ENDPOINT=http://127.0.0.1:1/v1"}
			cmd.Stdin = strings.NewReader(tc.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "exit status; stderr: %s", stderr.String())
			out := stdout.Bytes()
			require.Equal(t, 1, bytes.Count(out, []byte("\n")), "one response line: %q", out)
			var resp protocol.RawResponse
			require.NoError(t, json.Unmarshal(out, &resp), "%q", out)
			require.NotNil(t, resp.Log, "log is never null")
			require.NotNil(t, resp.Error, "an error: %s", out)
			assert.Equal(t, tc.wantType, resp.Error.Type, "%s", out)
			assert.Contains(t, resp.Error.Message, tc.wantMsg)
			assert.Equal(t, tc.wantType.Retryable(), resp.Error.OkToRetry)
			assert.LessOrEqual(t, len(resp.Error.Message), 1000, "a message is short")
		})
	}
}
