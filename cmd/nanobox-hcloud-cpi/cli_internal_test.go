package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStdinModeArgs(t *testing.T) {
	cases := []struct {
		args []string
		path string
		ok   bool
	}{
		{[]string{"cpi"}, "", true},
		{[]string{"cpi", "-configPath", "/c.json"}, "/c.json", true},
		{[]string{"cpi", "--configPath", "/c.json"}, "/c.json", true},
		{[]string{"cpi", "--config", "/c.json"}, "/c.json", true},
		{[]string{"cpi", "-config=/c.json"}, "/c.json", true},
		{[]string{"cpi", "--configPath=/c.json"}, "/c.json", true},
		{[]string{"cpi", "---config", "/c.json"}, "", false},
		{[]string{"cpi", "--config"}, "", false},
		{[]string{"cpi", "--config="}, "", false},
		{[]string{"cpi", "--config", "--help"}, "", false},
		{[]string{"cpi", "--help"}, "", false},
		{[]string{"cpi", "--version"}, "", false},
		{[]string{"cpi", "methods"}, "", false},
		{[]string{"cpi", "--config", "/c.json", "call", "meta"}, "", false},
		{[]string{"cpi", "--other", "x"}, "", false},
	}
	for _, tc := range cases {
		path, ok := stdinModeArgs(tc.args)
		require.Equal(t, tc.ok, ok, "%q", tc.args)
		require.Equal(t, tc.path, path, "%q", tc.args)
	}
}
