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

// TestGeneratedDocsAreCurrent: docs/configuration.md and the generated
// tables of README.md and docs/protocol.md are what docgen writes from the
// code as it is.
func TestGeneratedDocsAreCurrent(t *testing.T) {
	root := testsupport.RepoRoot(t)
	pages, err := Pages(root)
	require.NoError(t, err)
	require.Len(t, pages, 3)
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join(root, name))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "%s is stale: run make docs", name)
	}
}

// TestConfigurationPageListsEveryKeyWithItsDefault: each key of the file
// is in the page, nested keys by their dotted path, with its default.
func TestConfigurationPageListsEveryKeyWithItsDefault(t *testing.T) {
	page, err := configurationPage(filepath.Join(testsupport.RepoRoot(t), "cpi", "config"))
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
	_, err = configurationPage(dir)
	require.ErrorContains(t, err, "fields without a comment")
	require.ErrorContains(t, err, "Config.Timeouts")

	_, err = configurationPage(t.TempDir())
	require.ErrorContains(t, err, "holds no package config")
}

// TestReadmeTablesComeFromTheProtocolTables: every route and every error
// type is a row, with the status the protocol gives it.
func TestReadmeTablesComeFromTheProtocolTables(t *testing.T) {
	assert.Contains(t, routeTable(), "| `POST /servers` | `order_server` | 201 Created, JSON |")
	assert.Contains(t, routeTable(), "| `DELETE /keys/{id}` | `delete_key` | 200 OK, empty body |")
	assert.Equal(t, 2+13, strings.Count(routeTable(), "\n"), "a header, a rule and the 13 Nanobox routes")

	docs, err := errorTypeDocs(filepath.Join(testsupport.RepoRoot(t), "protocol"))
	require.NoError(t, err)
	table, err := errorTable(docs)
	require.NoError(t, err)
	assert.Contains(t, table, "| `Conflict` | 409 Conflict | true | clashes with the current state |")
	assert.Contains(t, table, "| `InvalidArguments` | 422 Unprocessable Entity | false |")
	_, err = errorTable(map[string]string{})
	require.ErrorContains(t, err, "has no comment in protocol")

	_, err = replaceBlock([]byte("no markers\n"), "routes", "x")
	require.ErrorContains(t, err, "no block")
	out, err := replaceBlock([]byte("a\n<!-- generated: routes (make docs) -->\nold\n<!-- end of generated routes -->\nb\n"), "routes", "new\n")
	require.NoError(t, err)
	assert.Equal(t, "a\n<!-- generated: routes (make docs) -->\nnew\n<!-- end of generated routes -->\nb\n", string(out))
}

// TestProtocolPageTablesComeFromTheTables: docs/protocol.md has a row for
// every method and error type, with the facts of the method and error
// tables, and a page without the markers is an error.
func TestProtocolPageTablesComeFromTheTables(t *testing.T) {
	methods := nanoboxMethodTable()
	assert.Equal(t, 2+14+5, strings.Count(methods, "\n"), "a header, a rule, info, the 13 Nanobox methods and the 5 extensions")
	assert.Contains(t, methods, "| `reboot_server` | `PATCH /servers/{id}/reboot` | 200 OK, empty body | `[\"<server id>\"]` | no |")
	assert.Contains(t, methods, "| `order_server` | `POST /servers` | 201 Created, JSON | `[{\"name\", \"region\", \"size\", \"ssh_key\", \"config\", \"user_data\", \"labels\"}]` | yes |")
	assert.Contains(t, methods, "| `stop_server` | – | – | `[\"<server id>\", {\"force\"}]` | yes |")
	bosh := boshMethodTable()
	assert.Contains(t, bosh, "| `create_disk` | `size_mib` (an integer), `cloud_properties` (an object or null), `vm_cid` (a non-empty string or null) | no |")
	assert.Contains(t, bosh, "| `ping` | none; always answers `Bosh::Clouds::NotImplemented` | yes |")

	docs, err := errorTypeDocs(filepath.Join(testsupport.RepoRoot(t), "protocol"))
	require.NoError(t, err)
	errs, err := boshErrorTable(docs)
	require.NoError(t, err)
	assert.Contains(t, errs, "| `Bosh::Clouds::CpiError` | false | a malformed request or config | `InvalidArguments`, `InvalidRequest` |")
	assert.Contains(t, errs, "| `Bosh::Clouds::VMNotFound` | false | no such server | – |")
	_, err = boshErrorTable(map[string]string{})
	require.ErrorContains(t, err, "has no comment in protocol")

	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "docs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "docs", "protocol.md"), []byte("# no markers\n"), 0o644))
	_, err = protocolPage(root, docs)
	require.ErrorContains(t, err, "docs/protocol.md: no block")
}
