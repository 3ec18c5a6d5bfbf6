package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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

// logTime matches the time of a log line in a response's log field (JSON
// escaped), which the golden files hold as TIME.
var logTime = regexp.MustCompile(`time=\\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(Z|[+-][0-9:]{5})\\"`)

// TestGolden sends each testdata/golden/NAME.in.json to the binary's run
// (stdin mode) and compares the whole output with NAME.out.json. When
// NAME.config.json exists, the run gets it as its config file.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/golden/*.in.json")
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			req, err := os.ReadFile(in)
			require.NoError(t, err)
			args := []string{"nanobox-hcloud-cpi"}
			if configPath := strings.TrimSuffix(in, ".in.json") + ".config.json"; fileExists(t, configPath) {
				args = append(args, "-configPath", configPath)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, bytes.NewReader(req), &stdout, &stderr, hermeticEnv(t, nil))
			require.Equal(t, 0, code, stderr.String())
			got := logTime.ReplaceAllString(stdout.String(), `time=\"TIME\"`)
			outPath := strings.TrimSuffix(in, ".in.json") + ".out.json"
			if *update {
				require.NoError(t, os.WriteFile(outPath, []byte(got), 0o644))
			}
			want, err := os.ReadFile(outPath)
			require.NoError(t, err)
			require.Equal(t, string(want), got)
		})
	}
}

func fileExists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	require.NoError(t, err)
	return true
}
