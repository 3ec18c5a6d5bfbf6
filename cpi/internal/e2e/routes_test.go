package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// TestRouteSupportAgreesEverywhere: the README's route table, the landing
// page and /openapi.json of the shim over the real CPI list the same
// routes, route by route: those protocol.Route.Unsupported allows for
// what the CPI says of itself. Every other route is absent from all three
// and still answers 501 with a message saying why.
func TestRouteSupportAgreesEverywhere(t *testing.T) {
	a := startAdapter(t)
	get := func(path, accept string) []byte {
		req, err := http.NewRequest(http.MethodGet, a.url+path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		return body
	}
	var meta protocol.Meta
	require.NoError(t, json.Unmarshal(get("/meta", "application/json"), &meta))
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(get("/openapi.json", "application/json"), &doc))
	page := string(get("/", "text/html"))
	readmeData, err := os.ReadFile(repotest.RepoFile(t, "README.md"))
	require.NoError(t, err)
	readme := string(readmeData)
	readmeRow := regexp.MustCompile("(?m)^\\| `([A-Z]+) (/[^`]*)` \\| `([a-z_]+)` \\|")

	inReadme := map[string]bool{}
	for _, m := range readmeRow.FindAllStringSubmatch(readme, -1) {
		inReadme[m[1]+" "+m[2]] = true
	}
	supported := 0
	for _, rt := range protocol.Routes {
		key := rt.Verb + " " + rt.Path
		_, inOpenAPI := doc.Paths[rt.Path][strings.ToLower(rt.Verb)]
		inPage := strings.Contains(page, `<tr data-operation="`+rt.OperationID+`">`)
		why := rt.Unsupported(meta, protocol.Info{})
		want := why == ""
		assert.Equal(t, want, inOpenAPI, "%s in /openapi.json", key)
		assert.Equal(t, want, inPage, "%s on the landing page", key)
		assert.Equal(t, want, inReadme[key], "%s in the README's route table", key)
		if want {
			supported++
			continue
		}
		path := strings.ReplaceAll(rt.Path, "{id}", "1")
		body := ""
		if rt.Body {
			body = `{}`
		}
		status, data := a.call(t, rt.Verb, path, rt.Path, body, a.token)
		assert.Equal(t, http.StatusNotImplemented, status, "%s answers 501: %s", key, data)
		assert.Contains(t, string(data), "is not supported", key)
		assert.Contains(t, string(data), rt.Method, key)
	}
	assert.Len(t, inReadme, supported, "the README lists no other route")
	assert.Equal(t, supported, strings.Count(page, "<tr data-operation="), "the page lists no other route")
	assert.Less(t, supported, len(protocol.Routes), "the Hetzner CPI leaves a route out (Install Server Key)")
}
