// Package specvalidate checks HTTP exchanges with the simulated Hetzner Cloud API against Hetzner's official
// OpenAPI 3.1 document (kin-openapi, JSON Schema 2020-12). The simulator's tests and hcloud-sim
// --validate-spec use it.
//
// testdata/hetzner-cloud-openapi.json is the repository's copy of that document (Hetzner Cloud API, "openapi":
// "3.1.2", mid-2026), trimmed to the operations the simulator serves by
//
//	go run ./cpi/hcloudsim/trimspec -in <Hetzner's full document>
//
// (see package cpi/hcloudsim/trimspec and testdata/README.md).
package specvalidate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Validator checks HTTP exchanges against the document. It is safe for concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router

	// passed remembers exchanges that validated: kin-openapi compiles a JSON Schema per check, and
	// tests repeat identical exchanges (action polls, error bodies) many times.
	mu     sync.Mutex
	passed map[[sha256.Size]byte]bool
}

// maxPassed bounds the memory of validated exchanges.
const maxPassed = 1 << 16

// Load loads and prepares the document at path (see LoadBytes).
func Load(path string) (*Validator, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("specvalidate: reading %s: %w", path, err)
	}
	return LoadBytes(raw)
}

// LoadBytes loads and prepares a document:
//   - response keys "4xx"/"5xx" are read as the "4XX"/"5XX" ranges OpenAPI defines;
//   - request fields documented as "ID or name" strings, and string "location" fields, also accept
//     integers (hcloud-go sends IDs as numbers and the real API accepts both);
//   - the request fields hcloud-go sends as null when unset (hcloudGoNulls) accept null;
//   - servers are replaced by "/v1" so any host matches.
func LoadBytes(raw []byte) (*Validator, error) {
	raw = bytes.ReplaceAll(raw, []byte(`"4xx":`), []byte(`"4XX":`))
	raw = bytes.ReplaceAll(raw, []byte(`"5xx":`), []byte(`"5XX":`))
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("specvalidate: loading: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("specvalidate: the document is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	doc.Servers = openapi3.Servers{{URL: "/v1"}}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			for _, mt := range op.RequestBody.Value.Content {
				if mt.Schema != nil {
					widenIDOrName(mt.Schema.Value, map[*openapi3.Schema]bool{})
				}
			}
		}
	}
	allowHcloudGoNulls(doc)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("specvalidate: routing: %w", err)
	}
	return &Validator{doc: doc, router: router, passed: map[[sha256.Size]byte]bool{}}, nil
}

// hcloudGoNulls are request fields hcloud-go sends as null when unset, which the API takes as absent though
// the document types them without null: operation path, method, top-level field.
var hcloudGoNulls = []struct{ path, method, field string }{
	{"/servers/{id}/actions/create_image", http.MethodPost, "type"},
	{"/servers/{id}/actions/create_image", http.MethodPost, "description"},
}

// allowHcloudGoNulls adds null to the type (and enum) of each field in hcloudGoNulls.
func allowHcloudGoNulls(doc *openapi3.T) {
	for _, n := range hcloudGoNulls {
		item := doc.Paths.Value(n.path)
		if item == nil || item.GetOperation(n.method) == nil || item.GetOperation(n.method).RequestBody == nil {
			continue
		}
		for _, mt := range item.GetOperation(n.method).RequestBody.Value.Content {
			if mt.Schema == nil || mt.Schema.Value == nil || mt.Schema.Value.Properties[n.field] == nil {
				continue
			}
			f := mt.Schema.Value.Properties[n.field].Value
			if f.Type != nil && !f.Type.Includes("null") {
				types := append(openapi3.Types{}, *f.Type...)
				f.Type = &types
				*f.Type = append(*f.Type, "null")
			}
			if len(f.Enum) > 0 {
				f.Enum = append(f.Enum, nil)
			}
		}
	}
}

// widenIDOrName lets string fields described as "ID or name" also be integers, in s and below it.
func widenIDOrName(s *openapi3.Schema, seen map[*openapi3.Schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	desc := strings.ToLower(s.Description)
	if isString(s) && strings.Contains(desc, "id or name") {
		s.Type = &openapi3.Types{"string", "integer"}
	}
	// "SSH key IDs (`integer`) or names (`string`)" typed as an array of strings.
	if s.Type != nil && s.Type.Is("array") && strings.Contains(desc, "ids") && strings.Contains(desc, "names") &&
		s.Items != nil && isString(s.Items.Value) {
		s.Items.Value.Type = &openapi3.Types{"string", "integer"}
	}
	// POST /volumes documents its location as "either the ID or the name" in the operation's description
	// only; the field itself is typed string.
	if p := s.Properties["location"]; p != nil && isString(p.Value) {
		p.Value.Type = &openapi3.Types{"string", "integer"}
	}
	for _, child := range subschemas(s) {
		widenIDOrName(child, seen)
	}
}

func isString(s *openapi3.Schema) bool {
	return s != nil && s.Type != nil && s.Type.Is("string")
}

// subschemas are the schemas directly below s: properties, items, allOf, anyOf, oneOf.
func subschemas(s *openapi3.Schema) []*openapi3.Schema {
	var out []*openapi3.Schema
	for _, p := range s.Properties {
		out = append(out, p.Value)
	}
	if s.Items != nil {
		out = append(out, s.Items.Value)
	}
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, r := range group {
			out = append(out, r.Value)
		}
	}
	return out
}

// Exchange is one request and the response the simulator gave.
type Exchange struct {
	Request     *http.Request
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// Check validates one exchange: the response always (status, headers, body against the operation's
// schema), the request body only when the response was a success (a request the document rejects must
// not succeed). Unknown routes answered with 404 or 405 are not checked.
func (v *Validator) Check(ctx context.Context, ex Exchange) error {
	req := ex.Request.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(ex.RequestBody))
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		if ex.Status == http.StatusNotFound || ex.Status == http.StatusMethodNotAllowed {
			return nil
		}
		return fmt.Errorf("%s %s: route not in the document: %v", req.Method, req.URL.Path, err)
	}
	key := exchangeKey(route.Method+" "+route.Path, ex)
	v.mu.Lock()
	seen := v.passed[key]
	v.mu.Unlock()
	if seen {
		return nil
	}
	if err := v.check(ctx, req, route, params, ex); err != nil {
		return err
	}
	v.mu.Lock()
	if len(v.passed) >= maxPassed {
		clear(v.passed)
	}
	v.passed[key] = true
	v.mu.Unlock()
	return nil
}

// exchangeKey identifies everything a check depends on: the operation and the response (status, content
// type, body), plus the request (query, content type, body) when the request is validated too, i.e. on
// success. Error messages are free text in the document, so an error body's message only counts as "a
// string".
func exchangeKey(op string, ex Exchange) [sha256.Size]byte {
	body := ex.Body
	parts := [][]byte{[]byte(op), []byte(strconv.Itoa(ex.Status)), []byte(ex.Header.Get("Content-Type"))}
	if ex.Status >= 200 && ex.Status < 300 {
		parts = append(parts, []byte(ex.Request.URL.RawQuery), []byte(ex.Request.Header.Get("Content-Type")), ex.RequestBody)
	} else {
		body = normalizedErrorBody(body)
	}
	parts = append(parts, body)
	h := sha256.New()
	for _, part := range parts {
		_, _ = h.Write([]byte(strconv.Itoa(len(part)) + ":"))
		_, _ = h.Write(part)
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}

// normalizedErrorBody replaces error.message by a placeholder when it is a JSON string, keeping everything
// else; a body of another shape is returned unchanged.
func normalizedErrorBody(body []byte) []byte {
	var outer map[string]json.RawMessage
	if json.Unmarshal(body, &outer) != nil || len(outer) != 1 || outer["error"] == nil {
		return body
	}
	var inner map[string]json.RawMessage
	if json.Unmarshal(outer["error"], &inner) != nil {
		return body
	}
	var msg string
	if raw, ok := inner["message"]; ok && json.Unmarshal(raw, &msg) == nil {
		inner["message"] = json.RawMessage(`"<message>"`)
	}
	b, err := json.Marshal(map[string]any{"error": inner})
	if err != nil {
		return body
	}
	return b
}

// check validates one exchange against its operation.
func (v *Validator) check(ctx context.Context, req *http.Request, route *routers.Route, params map[string]string, ex Exchange) error {
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if ex.Status >= 200 && ex.Status < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("%s %s succeeded (%d) with a request the document rejects: %v", req.Method, req.URL.Path, ex.Status, err)
		}
	}
	if len(ex.Body) > 0 && !strings.HasPrefix(ex.Header.Get("Content-Type"), "application/json") {
		return fmt.Errorf("%s %s: response Content-Type %q, want application/json", req.Method, req.URL.Path, ex.Header.Get("Content-Type"))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: ex.Status, Header: ex.Header, Options: opts,
	}
	out.SetBodyBytes(ex.Body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s %s -> %d: %v", req.Method, req.URL.Path, ex.Status, err)
	}
	return nil
}

// Handler serves next and checks every exchange with a Validator, keeping the failures.
//
// An exchange the client abandoned is not checked: when the request's context was done before next wrote
// anything (a latency fault or a slow handler outlived the client's deadline, or the client hung up), no
// client can see the response, and next typically writes none at all, which would otherwise read as "200
// with no Content-Type". Such exchanges are counted by Abandoned instead. A handler that writes nothing
// while its client still waits is checked, and fails.
type Handler struct {
	next http.Handler
	v    *Validator

	mu        sync.Mutex
	failures  []string
	abandoned int
}

// NewHandler wraps next, checking every exchange with v.
func NewHandler(v *Validator, next http.Handler) *Handler {
	return &Handler{next: next, v: v}
}

// Failures returns the failures so far.
func (h *Handler) Failures() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.failures...)
}

// Abandoned returns how many exchanges were not checked because the client had gone before a response was
// written.
func (h *Handler) Abandoned() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.abandoned
}

// ServeHTTP serves the request through next and validates the exchange, unless the connection was hijacked
// or the client abandoned the request before next wrote.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	if err != nil {
		http.Error(w, "reading the request failed", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recordingWriter{ResponseWriter: w, status: http.StatusOK, ctx: r.Context()}
	h.next.ServeHTTP(rec, r)
	if rec.hijacked || !strings.HasPrefix(r.URL.Path, "/v1/") {
		return
	}
	if rec.goneBeforeWrite() {
		h.mu.Lock()
		h.abandoned++
		h.mu.Unlock()
		return
	}
	ex := Exchange{Request: r, RequestBody: body, Status: rec.status, Header: w.Header().Clone(), Body: rec.body.Bytes()}
	if err := h.v.Check(context.Background(), ex); err != nil {
		h.mu.Lock()
		h.failures = append(h.failures, err.Error())
		h.mu.Unlock()
	}
}

// recordingWriter tees the response, notes whether the request's context was done when the response began,
// and passes Hijack through.
type recordingWriter struct {
	http.ResponseWriter
	ctx      context.Context
	status   int
	body     bytes.Buffer
	hijacked bool

	wrote       bool // WriteHeader or Write was called
	goneAtWrite bool // ctx was done at the first WriteHeader or Write
}

// began records the state of the request's context at the first write.
func (w *recordingWriter) began() {
	if !w.wrote {
		w.wrote = true
		w.goneAtWrite = w.ctx.Err() != nil
	}
}

// goneBeforeWrite reports whether the client had gone before the handler wrote: at its first write, or, if
// it wrote nothing, by the time it returned.
func (w *recordingWriter) goneBeforeWrite() bool {
	if w.wrote {
		return w.goneAtWrite
	}
	return w.ctx.Err() != nil
}

func (w *recordingWriter) WriteHeader(status int) {
	w.began()
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.began()
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("specvalidate: response writer cannot hijack")
	}
	w.hijacked = true
	return hj.Hijack()
}
