package shim_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
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
		{"curl", http.MethodGet, []string{"Accept: */*"}, true},
		{"no Accept", http.MethodGet, nil, true},
		{"JSON or anything", http.MethodGet, []string{"Accept: application/json, */*;q=0.1"}, false},
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

// TestLandingPageSaysWhatToDoNext reads the page as curl gets it: titled by
// the CPI's name, the URL to register and the credential fields from meta,
// the docs, and the OpenAPI document embedded for Swagger UI.
func TestLandingPageSaysWhatToDoNext(t *testing.T) {
	for _, tc := range []struct {
		name, basePath, mode string
		wantRegister         string // after the shim's URL
		wantSpec             bool
	}{
		{name: "root", wantRegister: "", wantSpec: true},
		{name: "base path", basePath: "/api/v1", wantRegister: "/api/v1", wantSpec: true},
		{name: "CPI broken", mode: "crash", wantSpec: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := shim.Options{BasePath: tc.basePath}
			if tc.mode != "" {
				opts.Env = []string{"PATH=" + os.Getenv("PATH"), "STUB_MODE=" + tc.mode}
			}
			ts := startShim(t, opts)
			path := tc.basePath
			if path == "" {
				path = "/"
			}
			resp := ts.do(t, http.MethodGet, path, "", "Accept: */*")
			require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
			page := string(resp.Body)
			spec := regexp.MustCompile(`(?s)<script type="application/json" id="openapi-spec">(.*?)</script>`).FindStringSubmatch(page)
			require.Len(t, spec, 2, "the page embeds the OpenAPI document")
			if !tc.wantSpec {
				assert.Contains(t, page, "<title>nanobox-cpi-shim</title>", "without the CPI, the shim's own name")
				assert.Empty(t, strings.TrimSpace(spec[1]))
				assert.Contains(t, page, `<p id="spec-problem">Not available: `)
				return
			}
			assert.Contains(t, page, "<title>stubcpi</title>")
			assert.Contains(t, page, "<h1>stubcpi</h1>")
			assert.Contains(t, page, "The Stub Cloud adapter for Nanobox")
			assert.Contains(t, page, `data-base-path="`+path+`">`+ts.URL+tc.wantRegister+`</code>`)
			assert.Contains(t, page, `<code class="credential">api-token</code> (API Token; it reaches this adapter as the <code>Auth-Api-Token</code> header)`)
			for _, doc := range []string{`<a href="/docs/bosh.md">BOSH: the release of this adapter</a>`, `<a href="/docs/shim.md">`, `<a href="/docs/protocol.md">`} {
				assert.Contains(t, page, doc)
			}
			served := ts.do(t, http.MethodGet, "/openapi.json", "")
			require.Equal(t, http.StatusOK, served.Status)
			assert.JSONEq(t, string(served.Body), spec[1], "the embedded document is the served one")
		})
	}
}

func TestDocsAreServed(t *testing.T) {
	ts := startShim(t, shim.Options{BasePath: "/api/v1"})
	readme, err := os.ReadFile(filepath.Join(repotest.RepoRoot(t), "docs", "shim.md"))
	require.NoError(t, err)
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/docs/shim.md", http.StatusOK, string(readme)},
		{http.MethodGet, "/docs/third-party-notices.txt", http.StatusOK, ""},
		{http.MethodHead, "/docs/shim.md", http.StatusOK, ""},
		{http.MethodGet, "/docs/", http.StatusNotFound, ""},
		{http.MethodGet, "/docs/nope.md", http.StatusNotFound, ""},
		{http.MethodGet, "/docs/bench/latency.png", http.StatusNotFound, ""},
		{http.MethodGet, "/docs/pages.go", http.StatusNotFound, ""},
		{http.MethodPost, "/docs/shim.md", http.StatusMethodNotAllowed, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp := ts.do(t, tc.method, tc.path, "")
			require.Equal(t, tc.status, resp.Status, "%s", resp.Body)
			if tc.status != http.StatusOK {
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				return
			}
			assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
			if tc.body != "" {
				assert.Equal(t, tc.body, string(resp.Body))
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
			documented, rows := routesOf(doc), 0
			for _, rt := range protocol.Routes {
				if !slices.Contains(documented, rt.Verb+" "+rt.Path) {
					assert.NotContains(t, page, `data-operation="`+rt.OperationID+`"`)
					continue
				}
				rows++
				verbs := rt.Verb
				if rt.Verb == http.MethodGet {
					verbs += ", HEAD" // every GET route answers HEAD
				}
				row := `<tr data-operation="` + rt.OperationID + `"><td class="verb verb-` + rt.Verb + `">` + verbs +
					`</td><td><code>` + prefix + rt.Path + `</code></td><td><code>` + rt.Method + `</code></td>`
				assert.Contains(t, page, row)
			}
			assert.Equal(t, rows, strings.Count(page, "<tr data-operation="))
			assert.Less(t, rows, len(protocol.Routes), "the stub CPI leaves a route out (Install Server Key)")
			for _, link := range []string{`href="/openapi.json"`, `href="/metrics"`, `href="/healthz"`,
				`href="` + shim.LivenessPath + `"`, `href="` + shim.ReadinessPath + `"`,
				`src="` + prefix + `/ui/swagger-ui/swagger-ui-bundle.js"`, `src="` + prefix + `/ui/landing.js"`} {
				assert.Contains(t, page, link)
			}
			assert.NotRegexp(t, `(src|href)="(https?:)?//`, page, "the page loads and links nothing from elsewhere")
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
