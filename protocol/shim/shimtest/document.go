package shimtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Document is a Swagger 2.0 document, as an adapter serves it at
// /openapi.json, loaded to validate it and answers against it.
type Document struct {
	v2 *openapi2.T
	v3 *openapi3.T
}

// LoadDocument parses a Swagger 2.0 document and converts it to OpenAPI 3
// with kin-openapi's openapi2conv.
func LoadDocument(data []byte) (*Document, error) {
	var v2 openapi2.T
	if err := json.Unmarshal(data, &v2); err != nil {
		return nil, fmt.Errorf("not a Swagger 2.0 document: %w", err)
	}
	if v2.Swagger != "2.0" {
		return nil, fmt.Errorf("swagger is %q, not 2.0", v2.Swagger)
	}
	v3, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return nil, fmt.Errorf("converting to OpenAPI 3: %w", err)
	}
	return &Document{v2: &v2, v3: v3}, nil
}

// Validate checks the document with kin-openapi's validator, schema
// formats included: a format the specification does not define (such as
// "currency") is an error, as it is for contract testers like Dredd.
func (d *Document) Validate() error {
	return d.v3.Validate(context.Background(), openapi3.EnableSchemaFormatValidation())
}

// Operation is one documented operation and a request that exercises it.
type Operation struct {
	Verb         string
	PathTemplate string // e.g. /servers/{id}
	Path         string // with every path parameter filled in
	Body         string // a JSON body built from the body parameter's schema, or ""
	OperationID  string
}

// Operations lists every documented operation, sorted by path and verb,
// each with a request built from its parameters as a contract tester
// builds it: a path parameter is its x-example, else pathValue; a body is
// its schema's example, else a value of its schema (every property,
// strings "example-<name>").
func (d *Document) Operations(pathValue string) ([]Operation, error) {
	var ops []Operation
	for tmpl, item := range d.v2.Paths {
		for verb, op := range item.Operations() {
			o := Operation{Verb: verb, PathTemplate: tmpl, OperationID: op.OperationID, Path: tmpl}
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				switch p.In {
				case "path":
					v := pathValue
					if x, ok := p.Extensions["x-example"].(string); ok {
						v = x
					}
					o.Path = strings.ReplaceAll(o.Path, "{"+p.Name+"}", v)
				case "body":
					example := p.Schema.Value.Example
					if example == nil {
						example = exampleOf(p.Schema.Value, "payload")
					}
					body, err := json.Marshal(example)
					if err != nil {
						return nil, err
					}
					o.Body = string(body)
				}
			}
			ops = append(ops, o)
		}
	}
	slices.SortFunc(ops, func(a, b Operation) int {
		return strings.Compare(a.PathTemplate+" "+a.Verb, b.PathTemplate+" "+b.Verb)
	})
	return ops, nil
}

// exampleOf is a value of schema s: every property of an object, one item
// of an array.
func exampleOf(s *openapi2.Schema, name string) any {
	if s == nil {
		return nil
	}
	switch {
	case s.Type.Is("object") || len(s.Properties) > 0:
		obj := map[string]any{}
		for prop, ref := range s.Properties {
			obj[prop] = exampleOf(ref.Value, prop)
		}
		return obj
	case s.Type.Is("array"):
		if s.Items == nil {
			return []any{}
		}
		return []any{exampleOf(s.Items.Value, name)}
	case s.Type.Is("integer"), s.Type.Is("number"):
		return 1
	case s.Type.Is("boolean"):
		return true
	}
	return "example-" + name
}

// APIKeyHeaders are the headers of the document's apiKey security
// definitions, each with a value.
func (d *Document) APIKeyHeaders() map[string]string {
	out := map[string]string{}
	for _, def := range d.v2.SecurityDefinitions {
		if def.Type == "apiKey" && def.In == "header" {
			out[def.Name] = "example-" + strings.ToLower(def.Name)
		}
	}
	return out
}

// ValidateResponse checks one answer of the operation (verb, path
// template) against the document: its status must be documented (or
// covered by "default"), its headers and body must match.
func (d *Document) ValidateResponse(verb, pathTemplate string, status int, header http.Header, body []byte) error {
	item := d.v3.Paths.Find(pathTemplate)
	if item == nil {
		return fmt.Errorf("the document has no path %s", pathTemplate)
	}
	op := item.GetOperation(verb)
	if op == nil {
		return fmt.Errorf("the document has no %s %s", verb, pathTemplate)
	}
	return validateResponse(d.v3, item, op, verb, pathTemplate, status, header, body)
}

func validateResponse(doc *openapi3.T, item *openapi3.PathItem, op *openapi3.Operation,
	verb, pathTemplate string, status int, header http.Header, body []byte) error {
	req, err := http.NewRequest(verb, "http://adapter.test"+pathTemplate, nil)
	if err != nil {
		return err
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req,
			Route:   &routers.Route{Spec: doc, Path: pathTemplate, PathItem: item, Method: verb, Operation: op},
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	return openapi3filter.ValidateResponse(context.Background(), input)
}
