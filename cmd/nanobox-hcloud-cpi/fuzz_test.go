package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// FuzzRequest feeds arbitrary bytes to stdin mode. Whatever comes in, the
// binary writes exactly one JSON response line with a known error type (or
// a result), a non-null log, exit 0, and never echoes the credential.
// Seeds: testdata/fuzz/FuzzRequest. The API endpoint is a closed port, so
// cloud methods fail fast without a network.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"method":"meta","arguments":[],"context":{}}`,
		`{"method":"order_server","arguments":[{"name":"a","region":"nbg1","size":"cx23","ssh_key":"1","config":{"image":"debian-12"}}],"context":{"credentials":{"api-token":"fuzz-secret-token"}}}`,
		`{"method":"create_key","arguments":[{"name":"k","key":"ssh-ed25519 AAAA"}]}`,
		`{"method":"update_config","arguments":["1",{"backups":"enabled"}],"api_version":1}`,
		`{"method":"info"}`,
		`[]`, `null`, `{"method":""}`, "\x00\xff", `{"method":"query_server","arguments":[1e309]}`,
	} {
		f.Add([]byte(s))
	}
	env := hermeticEnv(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"nanobox-hcloud-cpi"}, bytes.NewReader(data), &stdout, &stderr, env)
		if code != 0 {
			t.Fatalf("exit %d; stderr %s", code, stderr.String())
		}
		out := stdout.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("not one response line: %q", out)
		}
		var resp protocol.RawResponse
		if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
			t.Fatalf("response is not JSON: %v: %q", err, out)
		}
		if resp.Log == nil {
			t.Fatal("log is null")
		}
		if resp.Error != nil {
			if !resp.Error.Type.Known() || resp.Error.Message == "" {
				t.Fatalf("bad error: %+v", resp.Error)
			}
			if string(resp.Result) != "null" {
				t.Fatalf("error with a result: %s", resp.Result)
			}
			if resp.Error.Type == protocol.InternalError && !strings.Contains(resp.Error.Message, "config") {
				t.Fatalf("internal error: %+v", resp.Error)
			}
		}
		if strings.Contains(out, "fuzz-secret-token") || strings.Contains(stderr.String(), "fuzz-secret-token") {
			t.Fatal("the credential leaked")
		}
	})
}
