package protocol

import (
	"net/http"
	"strings"
)

// Route maps one Nanobox endpoint onto one method. Path parameters, in the
// order they appear in Path, become the method's leading arguments; a JSON
// body, when Body is set, becomes its last.
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
// order of the spec.
var Routes = []Route{
	{http.MethodGet, "/meta", MethodMeta, http.StatusOK, false, true, "meta"},
	{http.MethodGet, "/catalog", MethodCatalog, http.StatusOK, false, true, "catalog"},
	{http.MethodPost, "/verify", MethodVerify, http.StatusOK, false, false, "verify"},
	{http.MethodPost, "/keys", MethodCreateKey, http.StatusCreated, true, true, "create-ssh-key"},
	{http.MethodGet, "/keys/{id}", MethodQueryKey, http.StatusCreated, false, true, "query-ssh-key"},
	{http.MethodDelete, "/keys/{id}", MethodDeleteKey, http.StatusOK, false, false, "delete-ssh-key"},
	{http.MethodPost, "/servers", MethodOrderServer, http.StatusCreated, true, true, "order-server"},
	{http.MethodGet, "/servers/{id}", MethodQueryServer, http.StatusCreated, false, true, "query-server"},
	{http.MethodDelete, "/servers/{id}", MethodCancelServer, http.StatusOK, false, false, "cancel-server"},
	{http.MethodPatch, "/servers/{id}/keys", MethodInstallKey, http.StatusOK, true, false, "install-server-key"},
	{http.MethodPatch, "/servers/{id}/config", MethodUpdateConfig, http.StatusOK, true, false, "update-server-config"},
	{http.MethodPatch, "/servers/{id}/reboot", MethodRebootServer, http.StatusOK, false, false, "reboot-server"},
	{http.MethodPatch, "/servers/{id}/rename", MethodRenameServer, http.StatusOK, true, false, "rename-server"},
}

// Pattern is the route as a net/http ServeMux pattern under basePath,
// e.g. "GET /api/servers/{id}".
func (r Route) Pattern(basePath string) string {
	return r.Verb + " " + strings.TrimSuffix(basePath, "/") + r.Path
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

// RouteFor returns the route that serves method.
func RouteFor(method string) (Route, bool) {
	for _, r := range Routes {
		if r.Method == method {
			return r, true
		}
	}
	return Route{}, false
}
