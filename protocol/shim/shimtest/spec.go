// Package shimtest holds test helpers for the Nanobox HTTP API: a validator
// of responses against the Nanobox adapter Swagger 2.0 document (the copy
// the shim embeds, shim.BaseOpenAPI). Only tests import it.
package shimtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

var (
	specOnce sync.Once
	specDoc  *openapi3.T
	specErr  error
)

// Spec is the Nanobox adapter document converted to OpenAPI 3 for kin-openapi,
// loaded once per process.
func Spec() (*openapi3.T, error) {
	specOnce.Do(func() {
		var doc2 openapi2.T
		if err := json.Unmarshal(shim.BaseOpenAPI, &doc2); err != nil {
			specErr = fmt.Errorf("the embedded Nanobox adapter document: %w", err)
			return
		}
		specDoc, specErr = openapi2conv.ToV3(&doc2)
	})
	return specDoc, specErr
}

// ValidateResponse checks one response of the operation (verb, path
// template, e.g. "/servers/{id}") against the reference document. Every
// status must be declared or covered by "default"; /meta and /catalog,
// which declare no error response, are checked against the shared
// {"errors"} response, since the spec's text says it "is shared by all
// endpoints".
func ValidateResponse(verb, pathTemplate string, status int, header http.Header, body []byte) error {
	doc, err := Spec()
	if err != nil {
		return err
	}
	item := doc.Paths.Find(pathTemplate)
	if item == nil {
		return fmt.Errorf("the spec has no path %s", pathTemplate)
	}
	op := item.GetOperation(verb)
	if op == nil {
		return fmt.Errorf("the spec has no %s %s", verb, pathTemplate)
	}
	if op.Responses.Status(status) == nil && op.Responses.Default() == nil {
		shared := doc.Components.Responses["default"]
		if shared == nil {
			return fmt.Errorf("the spec has no shared default response")
		}
		patched := *op
		patched.Responses = openapi3.NewResponses()
		for code, r := range op.Responses.Map() {
			patched.Responses.Set(code, r)
		}
		patched.Responses.Set("default", shared)
		op = &patched
	}
	return validateResponse(doc, item, op, verb, pathTemplate, status, header, body)
}
