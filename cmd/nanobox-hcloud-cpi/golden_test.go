package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// hermeticEnv is an environment with no token, no endpoint that answers and
// a private cache dir: nothing in it can reach a network.
func hermeticEnv(t testing.TB, extra map[string]string) func(string) string {
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir(), "HCLOUD_ENDPOINT": "http://127.0.0.1:1/v1"}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// TestGolden sends each testdata/golden/NAME.in.json to the binary's run
// (stdin mode) and compares the whole output with NAME.out.json.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/golden/*.in.json")
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			req, err := os.ReadFile(in)
			require.NoError(t, err)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"nanobox-hcloud-cpi"}, bytes.NewReader(req), &stdout, &stderr, hermeticEnv(t, nil))
			require.Equal(t, 0, code, stderr.String())
			outPath := strings.TrimSuffix(in, ".in.json") + ".out.json"
			if *update {
				require.NoError(t, os.WriteFile(outPath, stdout.Bytes(), 0o644))
			}
			want, err := os.ReadFile(outPath)
			require.NoError(t, err)
			require.Equal(t, string(want), stdout.String())
		})
	}
}
