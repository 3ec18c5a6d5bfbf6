package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCLI: the command line of the binary, through run (no network: the
// methods used need no account).
func TestCLI(t *testing.T) {
	config := filepath.Join(t.TempDir(), "cpi.json")
	require.NoError(t, os.WriteFile(config, []byte(`{}`), 0o600))
	cases := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string // stdout contains
		err   string // stderr contains
	}{
		{"stdin mode", []string{"cpi"}, `{"method":"meta","arguments":[]}`, 0, `"result":{"id":"hetzner"`, ""},
		{"stdin mode with the config flag", []string{"cpi", "--config", config}, `{"method":"nope"}`, 0, `"type":"NotImplemented"`, ""},
		{"methods", []string{"cpi", "methods"}, "", 0, "cancel_server\ncatalog\n", ""},
		{"call", []string{"cpi", "call", "meta"}, "", 0, "\"id\": \"hetzner\"", ""},
		{"call answering an error exits 1", []string{"cpi", "call", "query_server"}, "", 1, `"InvalidArguments"`, ""},
		{"call without a method", []string{"cpi", "call"}, "", 2, "", "METHOD is required"},
		{"call with an empty method", []string{"cpi", "call", ""}, "", 1, `"method\" is missing`, ""},
		{"help", []string{"cpi", "--help"}, "", 0, "Environment: HCLOUD_TOKEN", ""},
		{"version", []string{"cpi", "--version"}, "", 0, version, ""},
		{"unknown command", []string{"cpi", "frobnicate"}, "", 2, "", "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr, hermeticEnv(t, nil))
			assert.Equal(t, tc.code, code, stderr.String())
			assert.Contains(t, stdout.String(), tc.out)
			assert.Contains(t, stderr.String(), tc.err)
		})
	}
}
