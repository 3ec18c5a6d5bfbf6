package shim

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/munnerz/goautoneg"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// The landing page: GET <base path>/ answers a browser (an Accept header
// that prefers text/html) with a page that says what the adapter is, its
// version and health, its route table (the routes of protocol.Routes the
// CPI supports, by what its meta and info say; see
// protocol.Route.Unsupported, which /openapi.json reads too) and an
// interactive API reference rendered by Swagger UI from /openapi.json. The
// page's script asks the liveness and readiness endpoints.
// Every other client gets the 404 {"errors": [...]} it always got: the
// Nanobox spec defines no route at the base path itself.
//
// The page's assets are embedded and served under <base path>/ui/: no CDN,
// nothing fetched from elsewhere. landing/swagger-ui/README.md records the
// vendored Swagger UI's version, licence and how to update it.

// landingUIPath is where the page's assets are served, under the base path.
const landingUIPath = "/ui/"

// landingOpsLinks are the shim's operational endpoints, linked from the
// page (served at the server root, not under the base path).
var landingOpsLinks = []struct{ Path, What string }{
	{"/openapi.json", "the OpenAPI (Swagger 2.0) document of this adapter"},
	{"/metrics", "Prometheus metrics"},
	{LivenessPath, "liveness: the process and its CPI work (a busy shim is alive)"},
	{LivenessLegacyPath, "the same as " + LivenessPath},
	{ReadinessPath, "readiness: a new call would be taken now"},
}

//go:embed landing/page.html landing/landing.js landing/landing.css
//go:embed landing/swagger-ui/swagger-ui-bundle.js landing/swagger-ui/swagger-ui.css
//go:embed landing/swagger-ui/favicon-32x32.png landing/swagger-ui/LICENSE landing/swagger-ui/NOTICE
//go:embed landing/swagger-ui/swagger-ui-bundle.js.LICENSE.txt
var landingFS embed.FS

// landingPage is the page's template, parsed on first use.
var landingPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.ParseFS(landingFS, "landing/page.html"))
})

// landingAsset is one embedded file served under landingUIPath.
type landingAsset struct {
	contentType string
	data        []byte
	etag        string
}

// landingAssets maps a path under landingUIPath to its file: every
// embedded file except the page template. Built on first use, so a process
// that only imports the package pays nothing.
var landingAssets = sync.OnceValue(func() map[string]landingAsset {
	assets := map[string]landingAsset{}
	err := fs.WalkDir(landingFS, "landing", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "landing/page.html" {
			return err
		}
		data, err := landingFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		assets[strings.TrimPrefix(p, "landing/")] = landingAsset{
			contentType: assetContentType(p),
			data:        data,
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("reading the embedded landing page assets: %v", err))
	}
	return assets
})

func assetContentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".png":
		return "image/png"
	}
	return "text/plain; charset=utf-8" // LICENSE, NOTICE, *.txt
}

// landingCSP allows only the page's own assets and calls to its own origin
// (the health check, /openapi.json and Swagger UI's "Try it out").
// Swagger UI sets style attributes, hence 'unsafe-inline' for styles only.
const landingCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// landingRoute is one row of the page's route table.
type landingRoute struct {
	Verb, Path, Method, OperationID string
	Status                          int
	Body, Result                    bool
	Head                            bool // also answers HEAD (every GET route)
}

// landingData is what page.html renders.
type landingData struct {
	Version   string
	BasePath  string
	UI        string // the assets' URL prefix
	Liveness  string
	Readiness string
	Ops       []struct{ Path, What string }
	Routes    []landingRoute
	// RoutesError, when not "", says why the route table is missing (the
	// CPI did not describe itself).
	RoutesError string
}

// registerLanding adds the page and its assets to mux.
func (s *Shim) registerLanding(mux *http.ServeMux) {
	var data landingData
	data.Version = s.opts.Version
	if data.Version == "" {
		data.Version = "unknown"
	}
	data.BasePath = s.basePath
	if data.BasePath == "" {
		data.BasePath = "/"
	}
	data.UI = s.basePath + strings.TrimSuffix(landingUIPath, "/")
	data.Liveness, data.Readiness = LivenessPath, ReadinessPath
	data.Ops = landingOpsLinks
	landingAssets() // hashed once per process, before the first request
	// The page is at the base path itself: "/", or "/api/v1" without a
	// trailing slash (cleanPathsOnly refuses paths that are not canonical).
	pagePattern := s.basePath
	if pagePattern == "" {
		pagePattern = "/{$}"
	}
	mux.Handle(pagePattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveLanding(w, r, data)
	}))
	assetPrefix := s.basePath + landingUIPath
	mux.Handle(assetPrefix, s.opsEndpoint(landingUIPath+"*", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveLandingAsset(w, r, strings.TrimPrefix(r.URL.Path, assetPrefix))
	})))
}

// landingHTML renders the page: data with the routes the CPI supports.
// When the CPI does not describe itself, the page says so instead of a
// route table (and the next request asks again).
func (s *Shim) landingHTML(w http.ResponseWriter, r *http.Request, data landingData) []byte {
	a, cerr := s.adapter(r.Context(), requestID(w))
	if cerr != nil {
		data.RoutesError = cerr.message
	} else {
		for _, rt := range protocol.Routes {
			if !rt.SupportedBy(a.meta, a.info) {
				continue
			}
			data.Routes = append(data.Routes, landingRoute{
				Verb: rt.Verb, Path: s.basePath + rt.Path, Method: rt.Method, OperationID: rt.OperationID,
				Status: rt.Status, Body: rt.Body, Result: rt.Result, Head: rt.Verb == http.MethodGet,
			})
		}
	}
	var page bytes.Buffer
	if err := landingPage().Execute(&page, data); err != nil {
		panic(fmt.Sprintf("rendering the landing page: %v", err)) // the template and data are fixed
	}
	return page.Bytes()
}

// wantsHTML reports whether the request's Accept header prefers an HTML
// page to JSON (a browser's does; curl's */* and API clients' do not).
func wantsHTML(r *http.Request) bool {
	return goautoneg.Negotiate(r.Header.Get("Accept"), []string{"application/json", "text/html"}) == "text/html"
}

func (s *Shim) serveLanding(w http.ResponseWriter, r *http.Request, data landingData) {
	w.Header().Add("Vary", "Accept")
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !wantsHTML(r) {
		setRoute(w, "unmatched")
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s (a browser gets the adapter's page here; /openapi.json describes the API)",
			r.Method, shownPath(r)))
		return
	}
	setRoute(w, "GET /")
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", landingCSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(s.landingHTML(w, r, data)))
}

func serveLandingAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := landingAssets()[name]
	if !ok {
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("no such file: %s", shownPath(r)))
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-cache") // revalidated by ETag: a new shim may bring new assets
	hdr.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}
