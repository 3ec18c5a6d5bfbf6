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

// browserAccept is what Chromium and Firefox send for a page.
const browserAccept = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

func TestLandingPageNegotiatesOnAccept(t *testing.T) {
	ts := startShim(t, shim.Options{Version: "1.2.3"})
	for _, tc := range []struct {
		name     string
		method   string
		headers  []string
		wantHTML bool
	}{
		{"browser", http.MethodGet, []string{browserAccept}, true},
		{"html only", http.MethodGet, []string{"Accept: text/html"}, true},
		{"browser HEAD", http.MethodHead, []string{browserAccept}, true},
		{"JSON client", http.MethodGet, []string{"Accept: application/json"}, false},
		{"JSON preferred", http.MethodGet, []string{"Accept: application/json, text/html;q=0.5"}, false},
		{"curl", http.MethodGet, []string{"Accept: */*"}, false},
		{"no Accept", http.MethodGet, nil, false},
		{"browser POST", http.MethodPost, []string{browserAccept}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.do(t, tc.method, "/", "", tc.headers...)
			assert.Contains(t, resp.Header.Values("Vary"), "Accept")
			if !tc.wantHTML {
				require.Equal(t, http.StatusNotFound, resp.Status)
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				var body struct{ Errors []string }
				require.NoError(t, json.Unmarshal(resp.Body, &body), "%s", resp.Body)
				require.Len(t, body.Errors, 1)
				assert.Contains(t, body.Errors[0], "no such endpoint: "+tc.method+" /")
				return
			}
			require.Equal(t, http.StatusOK, resp.Status)
			assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			if tc.method == http.MethodHead {
				assert.Empty(t, resp.Body)
			} else {
				assert.Contains(t, string(resp.Body), `<dd id="shim-version">1.2.3</dd>`)
			}
		})
	}
}

// TestLandingPageListsTheSupportedRoutesUnderTheBasePath: the page's route
// table is the routes of /openapi.json (both read
// protocol.Route.Unsupported for what the CPI says of itself), under the
// base path.
func TestLandingPageListsTheSupportedRoutesUnderTheBasePath(t *testing.T) {
	for _, base := range []string{"/", "/api/v1"} {
		t.Run(base, func(t *testing.T) {
			ts := startShim(t, shim.Options{BasePath: base})
			prefix := strings.TrimSuffix(base, "/")
			resp := ts.do(t, http.MethodGet, prefix+"/", "", browserAccept)
			if base != "/" {
				// The page lives at the base path itself, as the API's routes do.
				require.Equal(t, http.StatusNotFound, resp.Status, "%s/ is not canonical", prefix)
				resp = ts.do(t, http.MethodGet, prefix, "", browserAccept)
			}
			require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
			page := string(resp.Body)
			docResp := ts.do(t, http.MethodGet, "/openapi.json", "")
			require.Equal(t, http.StatusOK, docResp.Status, "%s", docResp.Body)
			var doc served
			require.NoError(t, json.Unmarshal(docResp.Body, &doc))
			documented := routesOf(doc)
			for _, rt := range protocol.Routes {
				verbs := rt.Verb
				if rt.Verb == http.MethodGet {
					verbs += ", HEAD" // every GET route answers HEAD
				}
				row := `<tr data-operation="` + rt.OperationID + `"><td class="verb verb-` + rt.Verb + `">` + verbs +
					`</td><td><code>` + prefix + rt.Path + `</code></td><td><code>` + rt.Method + `</code></td>`
				if slices.Contains(documented, rt.Verb+" "+rt.Path) {
					assert.Contains(t, page, row)
				} else {
					assert.NotContains(t, page, `data-operation="`+rt.OperationID+`"`)
				}
			}
			assert.Equal(t, len(documented), strings.Count(page, "<tr data-operation="))
			for _, link := range []string{`href="/openapi.json"`, `href="/metrics"`, `href="/healthz"`,
				`href="` + shim.LivenessPath + `"`, `href="` + shim.ReadinessPath + `"`,
				`src="` + prefix + `/ui/swagger-ui/swagger-ui-bundle.js"`, `src="` + prefix + `/ui/landing.js"`} {
				assert.Contains(t, page, link)
			}
			assert.NotContains(t, page, "https://", "the page loads nothing from elsewhere")
		})
	}
}

func TestLandingAssets(t *testing.T) {
	ts := startShim(t, shim.Options{})
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/ui/swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"},
		{"/ui/swagger-ui/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"},
		{"/ui/swagger-ui/LICENSE", "text/plain; charset=utf-8", "Apache License"},
		{"/ui/swagger-ui/NOTICE", "text/plain; charset=utf-8", "swagger-ui"},
		{"/ui/swagger-ui/favicon-32x32.png", "image/png", "PNG"},
		{"/ui/landing.js", "text/javascript; charset=utf-8", "SwaggerUIBundle("},
		{"/ui/landing.css", "text/css; charset=utf-8", "data-state"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp := ts.do(t, http.MethodGet, tc.path, "")
			require.Equal(t, http.StatusOK, resp.Status)
			assert.Equal(t, tc.contentType, resp.Header.Get("Content-Type"))
			assert.Contains(t, string(resp.Body), tc.contains)
			etag := resp.Header.Get("ETag")
			require.NotEmpty(t, etag)
			again := ts.do(t, http.MethodGet, tc.path, "", "If-None-Match: "+etag)
			assert.Equal(t, http.StatusNotModified, again.Status)
		})
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/ui/page.html", http.StatusNotFound},
		{http.MethodGet, "/ui/", http.StatusNotFound},
		{http.MethodGet, "/ui/swagger-ui/README.md", http.StatusNotFound},
		{http.MethodGet, "/ui/swagger-ui/", http.StatusNotFound},
		{http.MethodPost, "/ui/landing.js", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp := ts.do(t, tc.method, tc.path, "")
			assert.Equal(t, tc.status, resp.Status)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		})
	}
}
