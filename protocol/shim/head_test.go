package shim_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

// TestHEADOnEveryGETRoute: every GET route of the shim, the Nanobox ones
// and the operator's, answers HEAD with GET's status and headers and no
// body, on success and on error; /openapi.json documents HEAD beside each
// GET, and the landing page lists it.
func TestHEADOnEveryGETRoute(t *testing.T) {
	ts := startShim(t, shim.Options{})
	var paths []string
	for _, rt := range protocol.Routes {
		if rt.Verb == http.MethodGet {
			paths = append(paths, strings.ReplaceAll(rt.Path, "{id}", "42"))
		}
	}
	require.NotEmpty(t, paths)
	paths = append(paths, shim.LivenessPath, shim.ReadinessPath, "/metrics", "/openapi.json")
	// Headers that differ between any two answers.
	varying := []string{"Date", "X-Request-Id", "Content-Length"}
	for _, p := range paths {
		for _, mode := range []string{"ok", "error:NotFound", "error:RateLimited:after=7"} {
			t.Run(p+"/"+mode, func(t *testing.T) {
				get := ts.do(t, http.MethodGet, p, "", "Auth-Api-Token: t", "Auth-Stub-Mode: "+mode)
				head := ts.do(t, http.MethodHead, p, "", "Auth-Api-Token: t", "Auth-Stub-Mode: "+mode)
				require.Equal(t, get.Status, head.Status, "%s %s", p, get.Body)
				assert.Empty(t, head.Body)
				for name := range get.Header {
					if !slices.Contains(varying, name) {
						assert.Equal(t, get.Header.Values(name), head.Header.Values(name), name)
					}
				}
				if p != "/metrics" { // a scrape's size changes with the counters
					assert.Equal(t, get.Header.Get("Content-Length"), head.Header.Get("Content-Length"))
				}
			})
		}
	}

	doc := ts.do(t, http.MethodGet, "/openapi.json", "")
	require.Equal(t, http.StatusOK, doc.Status)
	var served struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(doc.Body, &served))
	for _, rt := range protocol.Routes {
		item, ok := served.Paths[rt.Path]
		if !ok || rt.Verb != http.MethodGet {
			continue
		}
		get, _ := item["get"].(map[string]any)
		desc, _ := get["description"].(string)
		assert.True(t, strings.HasSuffix(desc, shim.HeadNote), "GET %s documents HEAD: %q", rt.Path, desc)
	}
	page := ts.do(t, http.MethodGet, "/", "", "Accept: text/html")
	require.Equal(t, http.StatusOK, page.Status)
	assert.Contains(t, string(page.Body), "GET, HEAD</td>")
}
