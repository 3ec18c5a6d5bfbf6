package shim_test

import (
	"bytes"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

// TestCommandAnswersWithoutServing: --help, --version and flag problems
// answer on their stream and never listen.
func TestCommandAnswersWithoutServing(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		out, err []string
		not      string // stderr lacks
	}{
		{"help", []string{"--help"}, map[string]string{"NANOBOX_SHIM_LISTEN": "127.0.0.1:9"}, shim.ExitOK,
			[]string{"--cpi-config", "[$NANOBOX_SHIM_CPI_CONFIG]", `(default "127.0.0.1:9")`}, nil, ""},
		{"short help", []string{"-h"}, nil, shim.ExitOK, []string{"--shutdown-grace"}, nil, ""},
		{"version", []string{"--version"}, nil, shim.ExitOK, []string{"test-shim version 1.2.3"}, nil, ""},
		{"problems together", []string{"--timeout", "soon", "--nope", "stray", "--max-queue"}, nil, shim.ExitUsage, nil,
			[]string{"5 problem(s)", `--timeout "soon"`, "unknown flag --nope", `unexpected argument "stray"`, "flag --max-queue needs a value", "--cpi is required"}, ""},
		{"from the environment", nil, map[string]string{"NANOBOX_SHIM_MAX_BODY": "0", "NANOBOX_SHIM_LOG_FORMAT": "xml"}, shim.ExitUsage, nil,
			[]string{"--max-body must be positive", `--log-format "xml"`}, ""},
		{"the command line wins over the environment", []string{"--max-body", "10"}, map[string]string{"NANOBOX_SHIM_MAX_BODY": "0"}, shim.ExitUsage, nil,
			[]string{"--cpi is required"}, "max-body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := shim.Command{
				Name: "test-shim", Version: "1.2.3", Getenv: func(k string) string {
					if v, ok := tc.env[k]; ok || k != "NANOBOX_SHIM_LISTEN" {
						return v
					}
					return "127.0.0.1:0" // not the default port, which a running shim (make run) may hold
				},
				Stdout: &stdout, Stderr: &stderr, Logger: logrus.New(),
			}.Run(tc.args)
			assert.Equal(t, tc.code, code, stderr.String())
			for _, s := range tc.out {
				assert.Contains(t, stdout.String(), s)
			}
			for _, s := range tc.err {
				assert.Contains(t, stderr.String(), s)
			}
			if tc.not != "" {
				assert.NotContains(t, stderr.String(), tc.not)
			}
		})
	}
}
