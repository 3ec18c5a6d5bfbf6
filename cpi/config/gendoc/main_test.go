package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/testsupport"
)

// TestConfigurationPageIsCurrent: docs/configuration.md is what gendoc
// writes from the config package as it is.
func TestConfigurationPageIsCurrent(t *testing.T) {
	root := testsupport.RepoRoot(t)
	want, err := Page(filepath.Join(root, "cpi", "config"))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "docs/configuration.md is stale: run go generate ./cpi/config")
}

// TestPageListsEveryKeyWithItsDefault: each key of the file is in the
// page, nested keys by their dotted path, with its default.
func TestPageListsEveryKeyWithItsDefault(t *testing.T) {
	page, err := Page(filepath.Join(testsupport.RepoRoot(t), "cpi", "config"))
	require.NoError(t, err)
	for _, row := range []string{
		"| `token` | string |  | The operator's Hetzner API token",
		"| `operator_token_for_calls` | boolean | `true` |",
		"| `images` | list of strings | `[\"ubuntu-22.04\",\"ubuntu-24.04\",\"debian-12\",\"debian-13\"]` |",
		"| `timeouts.call_seconds` | integer | `45` |",
		"| `catalog.eur_to_usd` | number | `1.08` |",
		"## `network`",
	} {
		assert.Contains(t, string(page), row)
	}
}

// TestAFieldWithoutACommentFailsTheGenerator: the page never has a blank
// description.
func TestAFieldWithoutACommentFailsTheGenerator(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(testsupport.RepoRoot(t), "cpi", "config", "config.go"))
	require.NoError(t, err)
	cut := strings.Replace(string(src), "\t// The bounds of every call.\n", "", 1)
	require.NotEqual(t, string(src), cut)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.go"), []byte(cut), 0o644))
	_, err = Page(dir)
	require.ErrorContains(t, err, "fields without a comment")
	require.ErrorContains(t, err, "Config.Timeouts")

	_, err = Page(t.TempDir())
	require.ErrorContains(t, err, "holds no package config")
}
