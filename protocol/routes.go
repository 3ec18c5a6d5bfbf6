package protocol

import (
	"strings"
)

// Route maps one Nanobox endpoint onto one method. Path parameters, in the
// order they appear in Path, become the method's leading arguments; a JSON
// body, when Body is set, becomes its last. Routes are derived from Table.
type Route struct {
	Verb        string // HTTP method
	Path        string // relative to the base path, with {id} parameters
	Method      string // CPI method
	Status      int    // status on success
	Body        bool   // the request carries a JSON object body
	Result      bool   // the success response carries the result as its body
	OperationID string // the operationId in the Nanobox OpenAPI document
}

// Routes is the route table of the Nanobox custom-provider API, in the
// order of the spec: one route per Table entry with an Endpoint.
var Routes = func() []Route {
	var out []Route
	for _, m := range Table {
		if e := m.HTTP; e != nil {
			out = append(out, Route{Verb: e.Verb, Path: e.Path, Method: m.Name, Status: e.Status,
				Body: m.takesBody(), Result: e.Result, OperationID: e.OperationID})
		}
	}
	return out
}()

// ParamNames lists the route's path parameters in order.
func (r Route) ParamNames() []string {
	var names []string
	for _, seg := range strings.Split(r.Path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, seg[1:len(seg)-1])
		}
	}
	return names
}

// Signature is the shape of a Nanobox method's arguments: its path
// parameters in order (each a JSON string), then its JSON body (an object)
// when Body is set. Signatures are derived from Table.
type Signature struct {
	Params []string // human names of the path parameters, for messages
	Body   bool
}

// Signatures holds the signature of info and of every Nanobox method (the
// methods a shim or a Nanobox client calls), derived from Table.
var Signatures = func() map[string]Signature {
	out := map[string]Signature{}
	for _, m := range Table {
		if m.Family == FamilyBosh {
			continue
		}
		sig := Signature{Body: m.takesBody()}
		for _, a := range m.Args {
			if a.Kind == KindID {
				sig.Params = append(sig.Params, a.Name)
			}
		}
		out[m.Name] = sig
	}
	return out
}()

func (m Method) takesBody() bool {
	for _, a := range m.Args {
		if a.Kind == KindBody {
			return true
		}
	}
	return false
}
