package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
)

// copyPath is the repository's trimmed copy, relative to this package.
var copyPath = filepath.Join("..", "specvalidate", "testdata", "hetzner-cloud-openapi.json")

const sampleDoc = `{
  "openapi": "3.1.2",
  "info": {"title": "t", "description": "| ` + "`422`" + ` | ` + "`invalid_input`" + ` |"},
  "security": [{"APIToken": []}],
  "tags": [{"name": "Servers"}, {"name": "Volumes"}],
  "x-tagGroups": [{"name": "Compute", "tags": ["Servers", "Volumes"]}, {"name": "Storage", "tags": ["Volumes"]}],
  "paths": {
    "/servers/{id}": {
      "parameters": [{"name": "id", "in": "path"}],
      "get": {"tags": ["Servers"], "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}},
      "delete": {"tags": ["Servers"], "responses": {}}
    },
    "/volumes": {"get": {"tags": ["Volumes"], "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/C"}}}}}}}
  },
  "components": {
    "securitySchemes": {"APIToken": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "A": {"discriminator": {"mapping": {"b": "#/components/schemas/B"}}, "maximum": 9007199254740991},
      "B": {"type": "string"},
      "C": {"type": "integer"}
    }
  }
}`

func TestTrimKeepsServedOperationsAndWhatTheyNeed(t *testing.T) {
	out, err := TrimBytes([]byte(sampleDoc), []string{"GET /v1/servers/{server_id}"})
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(out, &got))

	paths := got["paths"].(map[string]any)
	require.Len(t, paths, 1, "the unserved path is dropped")
	item := paths["/servers/{id}"].(map[string]any)
	assert.Contains(t, item, "get")
	assert.NotContains(t, item, "delete", "an unserved method of a served path is dropped")
	assert.Contains(t, item, "parameters", "path-level fields are kept")

	schemas := got["components"].(map[string]any)["schemas"].(map[string]any)
	assert.Contains(t, schemas, "A", "referenced by $ref")
	assert.Contains(t, schemas, "B", "referenced by a kept component's discriminator mapping")
	assert.NotContains(t, schemas, "C", "referenced only by a dropped operation")
	assert.Contains(t, got["components"].(map[string]any)["securitySchemes"], "APIToken")

	assert.Equal(t, []any{map[string]any{"name": "Servers"}}, got["tags"])
	assert.Equal(t, []any{map[string]any{"name": "Compute", "tags": []any{"Servers"}}}, got["x-tagGroups"])
	assert.Equal(t, sampleInfo(t), got["info"], "info (with the general error table) is kept whole")
	assert.Contains(t, string(out), "9007199254740991", "numbers are kept exactly")

	again, err := TrimBytes(out, []string{"GET /v1/servers/{server_id}"})
	require.NoError(t, err)
	assert.Equal(t, string(out), string(again), "trimming is idempotent")
}

func sampleInfo(t *testing.T) any {
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(sampleDoc), &doc))
	return doc["info"]
}

func TestTrimNamesEveryRouteTheDocumentLacks(t *testing.T) {
	_, err := TrimBytes([]byte(sampleDoc), []string{"GET /v1/servers/{id}", "POST /v1/volumes", "GET /v1/images"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "get /images")
	assert.Contains(t, err.Error(), "post /volumes")
	assert.NotContains(t, err.Error(), "/servers")

	_, err = TrimBytes([]byte(`{"openapi":"3.1.2"}`), nil)
	assert.Error(t, err, "a document without paths")
	_, err = TrimBytes([]byte(`{`), nil)
	assert.Error(t, err, "not JSON")
}

// TestRepositoryCopyIsCurrent: the trimmed copy under specvalidate/testdata keeps every operation the
// simulator routes, and nothing else (trimming it again changes nothing). When the simulator gains routes,
// regenerate it from Hetzner's full document: go run ./cpi/hcloudsim/trimspec -in <document>.
func TestRepositoryCopyIsCurrent(t *testing.T) {
	raw, err := os.ReadFile(copyPath)
	require.NoError(t, err)
	out, err := TrimBytes(raw, hcloudsim.Routes())
	require.NoError(t, err, "the copy lacks routes the simulator serves: regenerate it with go run ./cpi/hcloudsim/trimspec -in <Hetzner's document>")
	assert.True(t, bytes.Equal(raw, out), "the copy holds operations the simulator does not serve, or is not in the generator's format: regenerate it")
}

func TestRunWritesTheTrimmedDocument(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "full.json")
	require.NoError(t, os.WriteFile(in, []byte(sampleDoc), 0o600))
	var stderr bytes.Buffer
	err := run([]string{"-in", in, "-out", filepath.Join(dir, "out.json")}, &stderr)
	require.Error(t, err, "the simulator's routes are not in the sample")
	assert.Contains(t, err.Error(), "get /servers")

	require.NoError(t, run([]string{"-in", copyPath, "-out", filepath.Join(dir, "out.json")}, &stderr))
	want, err := os.ReadFile(copyPath)
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(dir, "out.json"))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))

	assert.Error(t, run(nil, &stderr), "-in is required")
	assert.Error(t, run([]string{"-in", filepath.Join(dir, "missing.json")}, &stderr))
}
