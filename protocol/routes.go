package protocol

import (
	"slices"
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

// RouteOf returns the route of method; false when it has none.
func RouteOf(method string) (Route, bool) {
	for _, r := range Routes {
		if r.Method == method {
			return r, true
		}
	}
	return Route{}, false
}

// Unsupported is the one decision whether an adapter serves a route: ""
// when the adapter described by meta and info serves r in a way Nanobox
// will use, else why not. The CPI must implement the method (when info
// lists methods); reboot and rename need meta's can_reboot and can_rename;
// the global key routes need ssh_auth_method "key" with ssh_key_method
// "reference"; Install Server Key needs ssh_auth_method "password" (with
// "key", the key reaches the server at order time). The shim's
// /openapi.json and landing page, the README's route table and the CPI's
// answer to an unsupported route all read it.
func (r Route) Unsupported(meta Meta, info Info) string {
	if len(info.Methods) > 0 && !slices.Contains(info.Methods, r.Method) {
		return "the CPI does not implement " + r.Method
	}
	keys := meta.SSHAuthMethod == "key" && meta.SSHKeyMethod == "reference"
	switch {
	case r.Method == MethodRebootServer && !meta.CanReboot:
		return "the adapter cannot reboot servers (meta can_reboot is false)"
	case r.Method == MethodRenameServer && !meta.CanRename:
		return "the adapter cannot rename servers (meta can_rename is false)"
	case (r.Method == MethodCreateKey || r.Method == MethodQueryKey || r.Method == MethodDeleteKey) && !keys:
		return "the adapter does not keep SSH keys by reference (meta ssh_auth_method \"key\" with ssh_key_method \"reference\")"
	case r.Method == MethodInstallKey && meta.SSHAuthMethod == "key":
		return "the adapter installs the SSH key when it orders the server (meta ssh_auth_method \"key\"): create the key with POST /keys and pass its id to order_server"
	}
	return ""
}

// SupportedBy reports whether the adapter described by meta and info
// serves r (see Unsupported).
func (r Route) SupportedBy(meta Meta, info Info) bool { return r.Unsupported(meta, info) == "" }

// UnsupportedError is the NotImplemented answer of a route the adapter
// does not serve, with why.
func (r Route) UnsupportedError(why string) *Error {
	return NewError(NotImplemented, "%s (%s %s) is not supported: %s", r.Method, r.Verb, r.Path, why)
}

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

func (m Method) takesBody() bool {
	for _, a := range m.Args {
		if a.Kind == KindBody {
			return true
		}
	}
	return false
}
