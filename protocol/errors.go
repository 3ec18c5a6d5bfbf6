package protocol

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
)

// ErrorType names a class of failure. Each type has exactly one HTTP status
// (what the shim answers) and a default for ok_to_retry.
type ErrorType string

// The error types. See errorTable for their statuses.
const (
	InvalidRequest   ErrorType = "InvalidRequest"   // malformed envelope or JSON
	InvalidArguments ErrorType = "InvalidArguments" // well-formed but unacceptable arguments
	Unauthorized     ErrorType = "Unauthorized"     // missing or rejected credentials
	Forbidden        ErrorType = "Forbidden"        // read-only token, or an object the adapter may not touch
	NotFound         ErrorType = "NotFound"         // no such object (or one labelled Nanobox=false)
	Conflict         ErrorType = "Conflict"         // clashes with the current state
	RateLimited      ErrorType = "RateLimited"      // the upstream request budget is spent
	InternalError    ErrorType = "InternalError"    // a bug or local failure in the CPI
	NotImplemented   ErrorType = "NotImplemented"   // unknown method or unsupported operation
	CloudError       ErrorType = "CloudError"       // any other upstream failure
	Unavailable      ErrorType = "Unavailable"      // capacity, maintenance, upstream 5xx
	Timeout          ErrorType = "Timeout"          // the call's deadline passed
)

type errorClass struct {
	status int
	retry  bool
}

// errorTable is the one table from error type to HTTP status and the default
// ok_to_retry: true exactly where a later identical call can succeed.
var errorTable = map[ErrorType]errorClass{
	InvalidRequest:   {http.StatusBadRequest, false},
	InvalidArguments: {http.StatusUnprocessableEntity, false},
	Unauthorized:     {http.StatusUnauthorized, false},
	Forbidden:        {http.StatusForbidden, false},
	NotFound:         {http.StatusNotFound, false},
	Conflict:         {http.StatusConflict, true},
	RateLimited:      {http.StatusTooManyRequests, true},
	InternalError:    {http.StatusInternalServerError, false},
	NotImplemented:   {http.StatusNotImplemented, false},
	CloudError:       {http.StatusBadGateway, false},
	Unavailable:      {http.StatusServiceUnavailable, true},
	Timeout:          {http.StatusGatewayTimeout, true},
}

// ErrorTypes lists every error type, sorted by name.
func ErrorTypes() []ErrorType {
	out := make([]ErrorType, 0, len(errorTable))
	for t := range errorTable {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Known reports whether t is one of the error types of this protocol.
func (t ErrorType) Known() bool { _, ok := errorTable[t]; return ok }

// HTTPStatus is the status the shim answers for t; 502 for an unknown type,
// since an unknown type can only come from a CPI that does not speak this
// protocol.
func (t ErrorType) HTTPStatus() int {
	if c, ok := errorTable[t]; ok {
		return c.status
	}
	return http.StatusBadGateway
}

// Retryable is the default ok_to_retry for t.
func (t ErrorType) Retryable() bool { return errorTable[t].retry }

// Error is the error object of a response. It is also a Go error, so CPI
// code returns it up the stack unchanged and the dispatcher writes it as is.
type Error struct {
	Type      ErrorType `json:"type"`
	Message   string    `json:"message"`
	OkToRetry bool      `json:"ok_to_retry"`
}

func (e *Error) Error() string { return string(e.Type) + ": " + e.Message }

// NewError returns an error of type t with ok_to_retry set to the type's
// default.
func NewError(t ErrorType, format string, args ...any) *Error {
	return &Error{Type: t, Message: fmt.Sprintf(format, args...), OkToRetry: t.Retryable()}
}

// WithRetry returns a copy of e with ok_to_retry set to retry.
func (e *Error) WithRetry(retry bool) *Error {
	c := *e
	c.OkToRetry = retry
	return &c
}

// AsError returns err as a protocol error: err itself when it wraps one,
// otherwise an InternalError carrying err's message.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return NewError(InternalError, "%s", err.Error())
}
