package protocol

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"
)

// ErrorType names a class of failure. Each type has exactly one HTTP status
// (what the shim answers), a default for ok_to_retry, and the family of
// methods that answers it.
type ErrorType string

// The error types of the Nanobox methods. See errorTable for their statuses.
const (
	InvalidRequest   ErrorType = "InvalidRequest"   // malformed envelope or JSON
	InvalidArguments ErrorType = "InvalidArguments" // well-formed but unacceptable arguments
	Unauthorized     ErrorType = "Unauthorized"     // missing or rejected credentials
	Forbidden        ErrorType = "Forbidden"        // read-only token, or an object the adapter may not touch
	NotFound         ErrorType = "NotFound"         // no such object (or one labelled Nanobox=false)
	Conflict         ErrorType = "Conflict"         // clashes with the current state
	RateLimited      ErrorType = "RateLimited"      // the upstream request budget is spent; retry_after_seconds says when it refills
	InternalError    ErrorType = "InternalError"    // a bug or local failure in the CPI
	NotImplemented   ErrorType = "NotImplemented"   // unknown method or unsupported operation
	CloudError       ErrorType = "CloudError"       // any other upstream failure
	Unavailable      ErrorType = "Unavailable"      // capacity, maintenance, upstream 5xx
	Timeout          ErrorType = "Timeout"          // the call's deadline passed
)

// The error types of the BOSH methods: the director's KNOWN_RPC_ERRORS. The
// director turns any other type into an UnknownError, so a BOSH method
// answers only these (the dispatcher translates the others; see
// errorClass.bosh).
const (
	BoshCloudError       ErrorType = "Bosh::Clouds::CloudError"       // a generic IaaS failure
	BoshCpiError         ErrorType = "Bosh::Clouds::CpiError"         // a malformed request or config
	BoshNotImplemented   ErrorType = "Bosh::Clouds::NotImplemented"   // the method is not provided
	BoshNotSupported     ErrorType = "Bosh::Clouds::NotSupported"     // the request is impossible (shrink, heavy stemcell)
	BoshVMNotFound       ErrorType = "Bosh::Clouds::VMNotFound"       // no such server
	BoshNetworkNotFound  ErrorType = "Bosh::Clouds::NetworkNotFound"  // no such network
	BoshNoDiskSpace      ErrorType = "Bosh::Clouds::NoDiskSpace"      // no room for the disk
	BoshDiskNotAttached  ErrorType = "Bosh::Clouds::DiskNotAttached"  // detach of a volume not on that server
	BoshDiskNotFound     ErrorType = "Bosh::Clouds::DiskNotFound"     // no such volume
	BoshVMCreationFailed ErrorType = "Bosh::Clouds::VMCreationFailed" // create_vm failed, nothing left behind
)

type errorClass struct {
	status int
	retry  bool
	family Family
	// bosh is the type a BOSH method answers in place of this Nanobox
	// type; the message and ok_to_retry are kept.
	bosh ErrorType
}

// errorTable is the one table of error types: HTTP status, the default
// ok_to_retry (true exactly where a later identical call can succeed), the
// family, and for a Nanobox type its BOSH counterpart. The BOSH types never
// cross the shim; their statuses only keep HTTPStatus total.
var errorTable = map[ErrorType]errorClass{
	InvalidRequest:   {http.StatusBadRequest, false, FamilyNanobox, BoshCpiError},
	InvalidArguments: {http.StatusUnprocessableEntity, false, FamilyNanobox, BoshCpiError},
	Unauthorized:     {http.StatusUnauthorized, false, FamilyNanobox, BoshCloudError},
	Forbidden:        {http.StatusForbidden, false, FamilyNanobox, BoshCloudError},
	NotFound:         {http.StatusNotFound, false, FamilyNanobox, BoshCloudError},
	Conflict:         {http.StatusConflict, true, FamilyNanobox, BoshCloudError},
	RateLimited:      {http.StatusTooManyRequests, true, FamilyNanobox, BoshCloudError},
	InternalError:    {http.StatusInternalServerError, false, FamilyNanobox, BoshCloudError},
	NotImplemented:   {http.StatusNotImplemented, false, FamilyNanobox, BoshNotImplemented},
	CloudError:       {http.StatusBadGateway, false, FamilyNanobox, BoshCloudError},
	Unavailable:      {http.StatusServiceUnavailable, true, FamilyNanobox, BoshCloudError},
	Timeout:          {http.StatusGatewayTimeout, true, FamilyNanobox, BoshCloudError},

	BoshCloudError:       {http.StatusBadGateway, false, FamilyBosh, ""},
	BoshCpiError:         {http.StatusBadRequest, false, FamilyBosh, ""},
	BoshNotImplemented:   {http.StatusNotImplemented, false, FamilyBosh, ""},
	BoshNotSupported:     {http.StatusUnprocessableEntity, false, FamilyBosh, ""},
	BoshVMNotFound:       {http.StatusNotFound, false, FamilyBosh, ""},
	BoshNetworkNotFound:  {http.StatusNotFound, false, FamilyBosh, ""},
	BoshNoDiskSpace:      {http.StatusInsufficientStorage, true, FamilyBosh, ""},
	BoshDiskNotAttached:  {http.StatusConflict, false, FamilyBosh, ""},
	BoshDiskNotFound:     {http.StatusNotFound, false, FamilyBosh, ""},
	BoshVMCreationFailed: {http.StatusBadGateway, true, FamilyBosh, ""},
}

// ErrorTypes lists the error types of the Nanobox methods (those the shim
// can answer), sorted by name.
func ErrorTypes() []ErrorType { return errorTypes(FamilyNanobox) }

// BoshErrorTypes lists the error types of the BOSH methods, sorted by name.
func BoshErrorTypes() []ErrorType { return errorTypes(FamilyBosh) }

func errorTypes(f Family) []ErrorType {
	var out []ErrorType
	for t, c := range errorTable {
		if c.family == f {
			out = append(out, t)
		}
	}
	slices.Sort(out)
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
	// RetryAfterSeconds, when positive, is how long the CPI knows a retry
	// must wait before it can succeed (a spent rate-limit budget refills
	// then), at most MaxRetryAfter; the shim answers it as Retry-After. 0: the CPI does not know,
	// and the key is left out, so an answer without it is byte for byte
	// what it was before the field existed. BOSH methods never send it
	// (see ForBosh).
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
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

// MaxRetryAfter bounds every wait the adapter asks a client for: the CPI's
// retry_after_seconds and every Retry-After the shim sends. Hetzner's
// rate-limit bucket refills completely within an hour, so a longer wait
// comes from a broken or hostile header, and a client told to wait longer
// would sit idle long after its retry could succeed.
const MaxRetryAfter = time.Hour

// RetryAfterSeconds is d as a wait to announce: whole seconds rounded up,
// at least 1 and at most MaxRetryAfter; 0 (unknown) when d <= 0.
func RetryAfterSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(min(d, MaxRetryAfter).Seconds()))
}

// WithRetryAfter returns a copy of e that asks for a wait of d before a
// retry (RetryAfterSeconds: rounded up, within 1 s and MaxRetryAfter);
// d <= 0 leaves the wait unknown.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfterSeconds = RetryAfterSeconds(d)
	return &c
}

// ForBosh returns e as a BOSH method answers it: a BOSH type as is, a
// Nanobox type as its BOSH counterpart with the same message and
// ok_to_retry, anything else as a Bosh::Clouds::CloudError. It never
// carries retry_after_seconds: the director's response schema knows only
// type, message and ok_to_retry, and neither the director nor the CLI
// reads a delay.
func (e *Error) ForBosh() *Error {
	c, ok := errorTable[e.Type]
	switch {
	case ok && c.family == FamilyBosh:
		if e.RetryAfterSeconds != 0 {
			return e.WithRetryAfter(0)
		}
		return e
	case ok:
		return &Error{Type: c.bosh, Message: e.Message, OkToRetry: e.OkToRetry}
	}
	return &Error{Type: BoshCloudError, Message: e.Message, OkToRetry: e.OkToRetry}
}

// AsError returns err as a protocol error: err itself when it wraps one, a
// Timeout when it is a context's error (see ContextError), otherwise an
// InternalError carrying err's message.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	if te := ContextError("", err); te != nil {
		return te
	}
	return NewError(InternalError, "%s", err.Error())
}

// ContextError is the one mapping of a context's errors to the protocol: a
// passed deadline is a Timeout (retryable), and so is a cancellation, since
// the caller gave up before the cloud answered. op, when not "", prefixes
// the message. It returns nil when err is neither.
func ContextError(op string, err error) *Error {
	var what string
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		what = "deadline exceeded before the cloud answered"
	case errors.Is(err, context.Canceled):
		what = "call cancelled before the cloud answered"
	default:
		return nil
	}
	if op != "" {
		what = op + ": " + what
	}
	return NewError(Timeout, "%s", what)
}
