package hcloudsim

import (
	"fmt"
	"net/http"
)

// apiError is an error as the Hetzner Cloud API reports it: a machine code, a human message and optional
// details, served as {"error":{"code","message","details"}} with the HTTP status the API documents for the code.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details any
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// statusByCode is the "Error Codes" table of Hetzner's OpenAPI document (info.description), plus the codes
// hcloud-go knows that the table omits.
var statusByCode = map[string]int{
	"json_error":              http.StatusBadRequest,
	"unauthorized":            http.StatusUnauthorized,
	"token_readonly":          http.StatusUnauthorized,
	"forbidden":               http.StatusForbidden,
	"maintenance":             http.StatusForbidden,
	"resource_limit_exceeded": http.StatusForbidden,
	"not_found":               http.StatusNotFound,
	"method_not_allowed":      http.StatusMethodNotAllowed,
	"uniqueness_error":        http.StatusConflict,
	"conflict":                http.StatusConflict,
	"deprecated_api_endpoint": http.StatusGone,
	"resource_unavailable":    http.StatusPreconditionFailed,
	"invalid_input":           http.StatusUnprocessableEntity,
	"service_error":           http.StatusUnprocessableEntity,
	"unsupported_error":       http.StatusUnprocessableEntity,
	"locked":                  http.StatusLocked,
	"protected":               http.StatusLocked,
	"rate_limit_exceeded":     http.StatusTooManyRequests,
	"server_error":            http.StatusInternalServerError,
	"bad_gateway":             http.StatusBadGateway,
	"unavailable":             http.StatusServiceUnavailable,
	"timeout":                 http.StatusGatewayTimeout,
	// Resource-specific codes (hcloud-go error.go), with the status of the document's "Operation specific
	// errors" tables (422 for all it lists, except firewall_resource_not_found: 404 on the firewall actions,
	// 422 on POST /firewalls); the two it does not list are answered 422 like their siblings.
	"server_not_stopped":                 http.StatusUnprocessableEntity,
	"placement_error":                    http.StatusUnprocessableEntity,
	"server_already_attached":            http.StatusUnprocessableEntity,
	"server_already_added":               http.StatusUnprocessableEntity,
	"networks_overlap":                   http.StatusUnprocessableEntity,
	"ip_not_available":                   http.StatusUnprocessableEntity,
	"no_subnet_available":                http.StatusUnprocessableEntity,
	"firewall_already_applied":           http.StatusUnprocessableEntity,
	"firewall_resource_not_found":        http.StatusNotFound,
	"resource_in_use":                    http.StatusUnprocessableEntity,
	"firewall_already_removed":           http.StatusUnprocessableEntity,
	"private_net_only_server":            http.StatusUnprocessableEntity,
	"server_not_attached_to_network":     http.StatusUnprocessableEntity,
	"firewall_managed_by_label_selector": http.StatusUnprocessableEntity,
	"volume_already_attached":            http.StatusUnprocessableEntity,
}

// newError builds an apiError with the documented status for code (500 for an unknown code).
func newError(code, format string, args ...any) *apiError {
	status, ok := statusByCode[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalidField is invalid_input with the documented details shape {"fields":[{"name","messages"}]}.
func invalidField(field, msg string) *apiError {
	e := newError("invalid_input", "invalid input in field '%s': %s", field, msg)
	e.Details = map[string]any{"fields": []map[string]any{{"name": field, "messages": []string{msg}}}}
	return e
}

// notUnique is uniqueness_error with details naming the field.
func notUnique(field, msg string) *apiError {
	e := newError("uniqueness_error", "%s", msg)
	e.Details = map[string]any{"fields": []map[string]any{{"name": field}}}
	return e
}

func notFound(kind string, id any) *apiError {
	return newError("not_found", "%s with ID '%v' not found", kind, id)
}
