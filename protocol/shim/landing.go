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

	"github.com/nanobox-hcloud/nanobox-hcloud/docs"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// The landing page: GET <base path>/ answers with a page that says what
// the adapter is (the CPI's name, from info, as its title), what to do next
// (the URL to register in Nanobox and the credential fields it asks for,
// from meta; pointers to the other front doors' docs), its version and
// health, its route table (the routes of protocol.Routes the CPI supports,
// by protocol.Route.Unsupported, as /openapi.json), the repository's docs
// (package docs, served at /docs/) and an interactive API reference
// rendered by Swagger UI from the OpenAPI document embedded in the page, so
// it renders without another round trip. The page's script asks the
// liveness and readiness endpoints.
// Any client that does not prefer JSON gets the page (a browser, and curl's
// Accept: */*); a client that asks for JSON gets a 404 {"errors": [...]}:
// the Nanobox spec defines no route at the base path itself.
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
	Docs      []landingDoc

	// Per request: from the CPI's meta and info, and the request's host.
	Product     string // the CPI's name, the page's title
	Cloud       string // meta's name of the cloud
	RegisterURL string
	Credentials []landingCredential
	FrontDoors  []landingDoc // the docs of the other front doors that exist
	Spec        template.JS  // the OpenAPI document, JSON ("" when the CPI did not answer)
	SpecProblem string
}

// landingCredential is one credential field Nanobox asks its users for.
type landingCredential struct{ Key, Label, Header string }

// landingDoc is a link to one page of package docs.
type landingDoc struct{ Path, Title string }

// landingFrontDoors are the other ways in, by their docs page, shown when
// the page exists.
var landingFrontDoors = []struct{ File, What string }{
	{"bosh.md", "BOSH: the release of this adapter"},
	{"bosh-cpi.md", "BOSH: this CPI for create-env and a director"},
	{"vagrant.md", "Vagrant: the provider plugin"},
	{"libcloud.md", "Apache Libcloud: the Python driver"},
}

// docsPath is where package docs' pages are served, at the server root.
const docsPath = "/docs/"

// landingDocs lists the embedded docs pages, titled by their first heading.
func landingDocs() []landingDoc {
	entries, err := fs.ReadDir(docs.Pages, ".")
	if err != nil {
		panic(fmt.Sprintf("reading the embedded docs: %v", err)) // embedded at build time
	}
	var out []landingDoc
	for _, e := range entries {
		data, err := docs.Pages.ReadFile(e.Name())
		if err != nil {
			panic(fmt.Sprintf("reading the embedded docs: %v", err))
		}
		title, _, _ := strings.Cut(string(data), "\n")
		title = strings.TrimSpace(strings.TrimLeft(title, "# "))
		if title == "" {
			title = e.Name()
		}
		out = append(out, landingDoc{Path: docsPath + e.Name(), Title: title})
	}
	return out
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
	for _, rt := range protocol.Routes {
		data.Routes = append(data.Routes, landingRoute{
			Verb: rt.Verb, Path: s.basePath + rt.Path, Method: rt.Method, OperationID: rt.OperationID,
			Status: rt.Status, Body: rt.Body, Result: rt.Result, Head: rt.Verb == http.MethodGet,
		})
	}
	data.Docs = landingDocs()
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
	mux.Handle(docsPath, s.opsEndpoint(docsPath+"*", http.HandlerFunc(serveDoc)))
}

// serveDoc answers one embedded docs page, as plain text.
func serveDoc(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, docsPath)
	data, err := docs.Pages.ReadFile(name)
	if name == "" || strings.Contains(name, "/") || err != nil {
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("no such page: %s (the landing page lists the docs)", shownPath(r)))
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// perRequest fills in what the page says about this adapter: from the
// CPI's meta and info (read once, with /openapi.json's document) and the
// URL the client reached the shim at.
func (s *Shim) perRequest(w http.ResponseWriter, r *http.Request, data landingData) landingData {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	data.RegisterURL = scheme + "://" + r.Host + s.basePath
	data.Product = "nanobox-cpi-shim"
	doc, cerr := s.openAPIDocument(r.Context(), requestID(w))
	if cerr != nil {
		data.SpecProblem = cerr.message
		data.Routes = nil // which routes the CPI supports is not known
		return data
	}
	s.openapi.mu.Lock()
	meta, info := s.openapi.meta, s.openapi.info
	s.openapi.mu.Unlock()
	// The routes the CPI supports: the one decision /openapi.json reads too.
	var routes []landingRoute
	for _, lr := range data.Routes {
		if rt, ok := protocol.RouteOf(lr.Method); ok && rt.SupportedBy(meta, info) {
			routes = append(routes, lr)
		}
	}
	data.Routes = routes
	data.Spec = template.JS(doc) // json.Marshal escaped <, > and &: it cannot end the script element
	if info.Name != "" {
		data.Product = info.Name
	}
	data.Cloud = meta.Name
	for _, f := range meta.CredentialFields {
		data.Credentials = append(data.Credentials, landingCredential{Key: f.Key, Label: f.Label, Header: CredentialHeader(f.Key)})
	}
	for _, fd := range landingFrontDoors {
		if _, err := fs.Stat(docs.Pages, fd.File); err == nil {
			data.FrontDoors = append(data.FrontDoors, landingDoc{Path: docsPath + fd.File, Title: fd.What})
		}
	}
	return data
}

// wantsHTML reports whether the request's Accept header takes an HTML page
// at least as gladly as JSON: a browser's, curl's */* and a missing one do;
// an API client's application/json does not.
func wantsHTML(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if strings.TrimSpace(accept) == "" {
		return true
	}
	return goautoneg.Negotiate(accept, []string{"text/html", "application/json"}) == "text/html"
}

func (s *Shim) serveLanding(w http.ResponseWriter, r *http.Request, data landingData) {
	w.Header().Add("Vary", "Accept")
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !wantsHTML(r) {
		setRoute(w, "unmatched")
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s (the adapter's page is here for clients that take HTML; /openapi.json describes the API)",
			r.Method, shownPath(r)))
		return
	}
	var page bytes.Buffer
	if err := landingPage().Execute(&page, s.perRequest(w, r, data)); err != nil {
		s.log.WithError(err).Error("rendering the landing page")
		writeErrors(w, http.StatusInternalServerError, "rendering the landing page failed; see the shim's log")
		return
	}
	setRoute(w, "GET /")
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", landingCSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page.Bytes()))
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
