package cpi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// echoingBosh is a BOSH factory with a fault: it logs the request's whole
// context and the config's secrets, and fails with a message that quotes
// them, as a careless error built from input would.
type echoingBosh struct{ env cpi.Env }

func (e echoingBosh) NewBosh(call protocol.Call) (protocol.BoshCPI, error) {
	echo := string(call.Context.Raw) + " " + e.env.Config.Token + " " + e.env.Config.Agent.Mbus
	e.env.Log.Errorf("the context and config were %s", echo)
	return nil, protocol.NewError(protocol.BoshCloudError, "cannot use %s", echo)
}

// TestSetupRedactsEverySecret: whatever the CPI echoes, a secret of the
// request's context (a director's cpi-config) or of the config file never
// reaches the response (result, error, log field) or stderr.
func TestSetupRedactsEverySecret(t *testing.T) {
	const (
		ctxToken    = "ctx-token-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefgh"
		ctxMbusPass = "ctx-mbus-password-4711"
		fileToken   = "file-token-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdef"
		filePass    = "file-mbus-password-0815"
	)
	validFile := `{"token": "` + fileToken + `", "agent": {"mbus": "https://mbus:` + filePass + `@0.0.0.0:6868"}}`
	cases := []struct {
		name    string
		file    string // the config file; "" for none
		context map[string]any
		secrets []string
		loads   bool // the config loads, so the faulty factory runs
	}{
		{"a cpi-config token in the context", "", map[string]any{"request_id": "cpi-1", "token": ctxToken}, []string{ctxToken}, true},
		{"a cpi-config mbus password in the context", "",
			map[string]any{"agent": map[string]any{"mbus": "nats://nats:" + ctxMbusPass + "@10.0.0.6:4222"}}, []string{ctxMbusPass}, true},
		{"a context token next to a key of the wrong type", "",
			map[string]any{"defaults": 5, "token": ctxToken, "labels": "x"}, []string{ctxToken}, true},
		{"the config file's token and mbus password", validFile, map[string]any{"director_uuid": "d"}, []string{fileToken, filePass}, true},
		{"the secrets of a config file that does not load", `{"token": "` + fileToken + `", "agent": {"mbus": "https://mbus:` + filePass + `@0.0.0.0:6868"}, "timeouts": {"call_seconds": "` + fileToken + `"}}`,
			map[string]any{"token": ctxToken}, []string{fileToken, filePass, ctxToken}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = filepath.Join(t.TempDir(), "cpi.json")
				require.NoError(t, os.WriteFile(path, []byte(tc.file), 0o600))
			}
			var stderr, stdout bytes.Buffer
			p := cpi.Process{ConfigPath: path, Stderr: &stderr,
				Getenv: func(k string) string { return map[string]string{"XDG_CACHE_HOME": t.TempDir()}[k] },
				Bosh:   func(env cpi.Env) protocol.BoshFactory { return echoingBosh{env} }}
			req, err := json.Marshal(map[string]any{"method": protocol.MethodHasVM, "arguments": []string{"1"}, "context": tc.context, "api_version": 2})
			require.NoError(t, err)
			require.NoError(t, protocol.ServeOnce(context.Background(), bytes.NewReader(req), &stdout, p.Setup))

			var resp protocol.RawResponse
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &resp), stdout.String())
			require.NotNil(t, resp.Error, "the call fails: %s", stdout.String())
			for _, secret := range tc.secrets {
				assert.NotContains(t, stdout.String(), secret, "stdout")
				assert.NotContains(t, stderr.String(), secret, "stderr")
			}
			if tc.loads {
				assert.Contains(t, resp.Error.Message, "[REDACTED]", "the fault did echo the context")
			}
		})
	}
}
