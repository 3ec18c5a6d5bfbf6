package shim

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// BaseOpenAPI is the Nanobox adapter Swagger 2.0 document the shim's
// /openapi.json is built from, embedded so the shim needs no file at run
// time. It is the repository's only copy of that document (docs/development.md
// says where it came from); the shim's contract tests validate against it.
//
//go:embed nanobox-adapter-openapi.json
var BaseOpenAPI []byte

// openapiCache holds the built document once the CPI's meta was read.
// A failure is not cached: the next request tries again.
type openapiCache struct {
	mu   sync.Mutex
	doc  []byte
	meta protocol.Meta // what doc was built from (the landing page reads them)
	info protocol.Info
}

func (s *Shim) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	doc, cerr := s.openAPIDocument(r.Context(), requestID(w))
	if cerr != nil {
		cerr.write(w)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc)
	}
}

// openAPIDocument returns the cached document, fetching meta and info from
// the CPI the first time.
func (s *Shim) openAPIDocument(ctx context.Context, rid string) ([]byte, *callError) {
	s.openapi.mu.Lock()
	defer s.openapi.mu.Unlock()
	if s.openapi.doc != nil {
		return s.openapi.doc, nil
	}
	var meta protocol.Meta
	var info protocol.Info
	for _, c := range []struct {
		method string
		into   any
	}{{protocol.MethodMeta, &meta}, {protocol.MethodInfo, &info}} {
		result, cerr := s.callWithin(ctx, &protocol.Request{
			Method: c.method, Arguments: []json.RawMessage{},
			Context: protocol.Context{RequestID: rid}, APIVersion: protocol.APIVersion,
		}, s.healthTimeout())
		if cerr != nil {
			if cerr.status != statusClientClosed && cerr.status != http.StatusServiceUnavailable {
				cerr.status = http.StatusBadGateway
				cerr.message = "building the OpenAPI document: the CPI's " + c.method + ": " + cerr.message
			}
			return nil, cerr
		}
		if err := json.Unmarshal(result, c.into); err != nil {
			return nil, &callError{status: http.StatusBadGateway,
				message: fmt.Sprintf("building the OpenAPI document: the CPI's %s result has the wrong shape", c.method)}
		}
	}
	doc, err := BuildOpenAPI(meta, info, s.basePath)
	if err != nil {
		s.log.WithError(err).Error("building the OpenAPI document")
		return nil, &callError{status: http.StatusInternalServerError, message: "building the OpenAPI document failed; see the shim's log"}
	}
	s.openapi.doc, s.openapi.meta, s.openapi.info = doc, meta, info
	return doc, nil
}

// CredentialHeader is the header that carries credential field key:
// "Auth-" plus the key in canonical case (api-token -> Auth-Api-Token).
func CredentialHeader(key string) string {
	return textproto.CanonicalMIMEHeaderKey("Auth-" + key)
}

// BuildOpenAPI fills BaseOpenAPI in for one adapter, as the Nanobox spec
// asks adapters to: info, basePath, one Auth- apiKey security definition
// per credential field, and only the routes the adapter supports.
func BuildOpenAPI(meta protocol.Meta, info protocol.Info, basePath string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(BaseOpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("the embedded OpenAPI base is not JSON: %w", err)
	}
	name := meta.Name
	if name == "" {
		name = info.Name
	}
	docInfo, _ := doc["info"].(map[string]any)
	if docInfo == nil {
		docInfo = map[string]any{}
	}
	docInfo["title"] = "Nanobox Adapter: " + name
	desc := "An adapter for deploying Nanobox apps to " + name + "."
	if info.Name != "" {
		desc += fmt.Sprintf(" Served by nanobox-cpi-shim in front of the %s CPI", info.Name)
		if info.Version != "" {
			desc += " " + info.Version
		}
		desc += "."
	}
	docInfo["description"] = desc
	if info.Version != "" {
		docInfo["version"] = info.Version
	}
	delete(docInfo, "contact") // placeholders in the base
	delete(docInfo, "license")
	doc["info"] = docInfo

	if basePath == "" {
		basePath = "/"
	}
	doc["basePath"] = basePath

	basePaths, _ := doc["paths"].(map[string]any)
	paths, err := supportedPaths(basePaths, meta, info)
	if err != nil {
		return nil, err
	}
	doc["paths"] = paths

	defs := map[string]any{}
	requirement := map[string]any{}
	for _, f := range meta.CredentialFields {
		if f.Key == "" {
			continue
		}
		hdr := CredentialHeader(f.Key)
		def := map[string]any{"type": "apiKey", "in": "header", "name": hdr}
		if f.Label != "" {
			def["description"] = f.Label
		}
		defs[hdr] = def
		requirement[hdr] = []string{}
	}
	if len(defs) > 0 {
		doc["securityDefinitions"] = defs
		doc["security"] = []any{requirement}
	} else {
		delete(doc, "securityDefinitions")
		delete(doc, "security")
	}
	dropNonStandardFormats(doc)
	return json.MarshalIndent(doc, "", "  ")
}

// supportedPaths are the operations of basePaths the adapter supports (see
// protocol.Route.Unsupported). Each documents the shared {"errors"} response as its
// default: the spec says every endpoint answers errors that way, though the
// reference document omits it for /meta and /catalog.
func supportedPaths(basePaths map[string]any, meta protocol.Meta, info protocol.Info) (map[string]any, error) {
	paths := map[string]any{}
	for _, rt := range protocol.Routes {
		if !rt.SupportedBy(meta, info) {
			continue
		}
		item, _ := basePaths[rt.Path].(map[string]any)
		op, ok := item[strings.ToLower(rt.Verb)].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the OpenAPI base has no %s %s", rt.Verb, rt.Path)
		}
		if responses, ok := op["responses"].(map[string]any); ok && responses["default"] == nil {
			responses["default"] = map[string]any{"$ref": "#/responses/default"}
		}
		addExamples(op, requestExample(rt.Method, meta))
		if rt.Path == "/meta" && rt.Verb == http.MethodGet {
			documentMetaExtensions(op)
		}
		out, _ := paths[rt.Path].(map[string]any)
		if out == nil {
			out = map[string]any{}
			paths[rt.Path] = out
		}
		out[strings.ToLower(rt.Verb)] = op
		if rt.Verb == http.MethodGet {
			noteHead(op)
		}
	}
	return paths, nil
}

// MetaExtensions are the fields meta answers beyond the spec's, with their
// descriptions; the served document adds them to /meta's schema (clients
// that do not know them ignore them).
var MetaExtensions = map[string]map[string]any{
	"bootstrap_timeout": {"type": "integer", "description": "how long, in seconds, Nanobox waits for a new server to bootstrap (this adapter's addition)"},
	"version":           {"type": "string", "description": "the adapter's version (this adapter's addition)"},
}

// documentMetaExtensions adds MetaExtensions to the properties of /meta's
// 200 schema.
func documentMetaExtensions(get map[string]any) {
	responses, _ := get["responses"].(map[string]any)
	ok, _ := responses["200"].(map[string]any)
	schema, _ := ok["schema"].(map[string]any)
	props, _ := schema["properties"].(map[string]any)
	if props == nil {
		return
	}
	for name, prop := range MetaExtensions {
		props[name] = prop
	}
}

// HeadNote ends the description of every GET operation: HEAD is served on
// each GET route. It is said there rather than as head operations, which
// contract testers cannot replay (Dredd sends a body with every request
// and its HTTP client refuses one on HEAD).
const HeadNote = "HEAD is answered too: GET's status and headers, without a body."

// noteHead appends HeadNote to a GET operation's description.
func noteHead(get map[string]any) {
	desc, _ := get["description"].(string)
	get["description"] = strings.TrimSpace(desc + "\n\n" + HeadNote)
}

// exampleSSHKey is a well-formed public key for the documented examples.
const exampleSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBwDB4HwCWcB24HHTjLLWTqXROmDbu+LjjThXBDnRND nanobox-example"

// requestExample is an example request body for method, or nil: values
// the spec's bodies take, with meta's default region and size.
func requestExample(method string, meta protocol.Meta) any {
	switch method {
	case protocol.MethodCreateKey, protocol.MethodInstallKey:
		return map[string]any{"id": "nanobox-example", "key": exampleSSHKey}
	case protocol.MethodOrderServer:
		return map[string]any{"name": "nanobox-example", "region": meta.DefaultRegion, "size": meta.DefaultSize, "ssh_key": "1"}
	case protocol.MethodRenameServer:
		return map[string]any{"name": "nanobox-example-2"}
	case protocol.MethodUpdateConfig:
		return map[string]any{}
	}
	return nil
}

// addExamples gives the operation's parameters the examples contract
// testers need to build a request (Dredd refuses a path parameter without
// one): x-example "1" for path parameters, body for the body's schema.
func addExamples(op map[string]any, body any) {
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		param, _ := p.(map[string]any)
		switch {
		case param == nil:
		case param["in"] == "path" && param["x-example"] == nil:
			param["x-example"] = "1"
		case param["in"] == "body" && body != nil:
			if schema, ok := param["schema"].(map[string]any); ok && schema["example"] == nil {
				schema["example"] = body
			}
		}
	}
}

// swagger2Formats are the formats Swagger 2.0 defines for its data types.
// Contract testers (Dredd, kin-openapi with format validation) refuse a
// document with any other, such as the reference's "currency".
var swagger2Formats = []string{"int32", "int64", "float", "double", "byte", "binary", "date", "date-time", "password"}

// dropNonStandardFormats removes, everywhere in the document v, every
// schema's format that Swagger 2.0 does not define; the type stays.
func dropNonStandardFormats(v any) {
	switch v := v.(type) {
	case map[string]any:
		if f, ok := v["format"].(string); ok && v["type"] != nil && !slices.Contains(swagger2Formats, f) {
			delete(v, "format")
		}
		for _, child := range v {
			dropNonStandardFormats(child)
		}
	case []any:
		for _, child := range v {
			dropNonStandardFormats(child)
		}
	}
}
