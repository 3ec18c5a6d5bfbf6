package cpi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/budget"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// CloudError is the one place that turns an hcloud-go error (or a
// context's, or a spent budget's) into a protocol error, for both method
// families: a BOSH method answers it through protocol.Error.ForBosh, which
// keeps the message and ok_to_retry. op names the operation ("order_server:
// creating server"); resp, when not nil, gives the HTTP status of an error
// body hcloud-go could not parse. A protocol error passes through
// unchanged. Messages carry Hetzner's message and code, never request data,
// so no credential can reach them.
func CloudError(op string, resp *hcloud.Response, err error) *protocol.Error {
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	if e, ok := budget.IsExhausted(err); ok {
		return protocol.NewError(protocol.RateLimited, "%s: %s", op, e.Error()).WithRetryAfter(e.RetryAfter)
	}
	if ce := protocol.ContextError(op, err); ce != nil {
		return ce
	}
	var apiErr hcloud.Error
	if errors.As(err, &apiErr) {
		return withRateLimitDelay(apiError(op, apiErr), apiErr.Response())
	}
	if errors.Is(err, hcloud.ErrStatusCode) {
		status := 0
		if resp != nil && resp.Response != nil {
			status = resp.StatusCode
		}
		return withRateLimitDelay(statusError(op, status), resp)
	}
	var actionErr hcloud.ActionError
	if errors.As(err, &actionErr) {
		return protocol.NewError(protocol.CloudError, "%s: Hetzner's action failed: %s (%s)", op, actionErr.Message, actionErr.Code)
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return protocol.NewError(protocol.Timeout, "%s: Hetzner did not answer in time", op)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &netErr):
		return protocol.NewError(protocol.Unavailable, "%s: could not reach the Hetzner API (connection failed or was closed)", op)
	}
	return protocol.NewError(protocol.CloudError, "%s: %s", op, errorText(err))
}

// withRateLimitDelay gives a RateLimited error the wait Hetzner's 429
// answer asks for (budget.Delay: its Retry-After, else its RateLimit
// headers); other errors, and answers without those headers, keep no
// delay.
func withRateLimitDelay(pe *protocol.Error, resp *hcloud.Response) *protocol.Error {
	if pe.Type != protocol.RateLimited || resp == nil || resp.Response == nil {
		return pe
	}
	if d, ok := budget.Delay(resp.Header, time.Now()); ok {
		return pe.WithRetryAfter(d)
	}
	return pe
}

// apiError maps Hetzner's error codes.
func apiError(op string, e hcloud.Error) *protocol.Error {
	msg := e.Message
	if msg == "" {
		msg = string(e.Code)
	}
	switch e.Code {
	case hcloud.ErrorCodeUnauthorized:
		return protocol.NewError(protocol.Unauthorized, "%s: Hetzner rejected the API token (%s)", op, msg)
	case hcloud.ErrorCodeForbidden:
		return protocol.NewError(protocol.Forbidden, "%s: the API token may not do this; a read-write token is needed (create one in the Hetzner Cloud Console under Security > API tokens) (%s)", op, msg)
	case hcloud.ErrorCodeProtected:
		return protocol.NewError(protocol.Forbidden, "%s: the object is protected against this change in Hetzner; remove the protection first (%s)", op, msg)
	case hcloud.ErrorCodeNotFound:
		return protocol.NewError(protocol.NotFound, "%s: not found (%s)", op, msg)
	case hcloud.ErrorCodeInvalidInput, hcloud.ErrorCodeJSONError:
		return protocol.NewError(protocol.InvalidArguments, "%s: Hetzner refused the input: %s", op, msg)
	case hcloud.ErrorCodeUniquenessError, hcloud.ErrorCodeConflict:
		return protocol.NewError(protocol.Conflict, "%s: %s (%s)", op, msg, e.Code)
	case hcloud.ErrorCodeLocked:
		// Busy, not a clash: clients retry a 503, few retry a 409.
		return protocol.NewError(protocol.Unavailable, "%s: the object is locked by another action; retry shortly (%s)", op, msg)
	case hcloud.ErrorCodeRateLimitExceeded:
		return protocol.NewError(protocol.RateLimited, "%s: Hetzner's rate limit for this project is spent; retry later (%s)", op, msg)
	case hcloud.ErrorCodeResourceUnavailable, hcloud.ErrorCodeMaintenance, hcloud.ErrorCodeServiceError,
		hcloud.ErrorCodeServerError, hcloud.ErrorCodeBadGateway, hcloud.ErrorCodeRobotUnavailable:
		return protocol.NewError(protocol.Unavailable, "%s: Hetzner is unavailable for this request right now (%s: %s)", op, e.Code, msg)
	case hcloud.ErrorCodeTimeout:
		return protocol.NewError(protocol.Timeout, "%s: Hetzner timed out (%s)", op, msg)
	case hcloud.ErrorCodeResourceLimitExceeded:
		return protocol.NewError(protocol.Forbidden, "%s: the Hetzner project's resource limit is reached; ask Hetzner to raise it (%s)", op, msg)
	}
	if resp := e.Response(); resp != nil && resp.Response != nil && resp.StatusCode >= 500 {
		// A code this version does not know, on a 5xx: the status decides.
		pe := statusError(op, resp.StatusCode)
		pe.Message = fmt.Sprintf("%s: Hetzner is unavailable for this request right now (%s: %s)", op, e.Code, msg)
		if pe.Type == protocol.Timeout {
			pe.Message = fmt.Sprintf("%s: Hetzner timed out (%s: %s)", op, e.Code, msg)
		}
		return pe
	}
	return protocol.NewError(protocol.CloudError, "%s: %s (%s)", op, msg, e.Code)
}

// statusErrors maps the statuses of error responses without a JSON body.
var statusErrors = map[int]struct {
	typ  protocol.ErrorType
	what string
}{
	http.StatusUnauthorized:    {protocol.Unauthorized, "Hetzner rejected the API token (HTTP 401)"},
	http.StatusForbidden:       {protocol.Forbidden, "the API token may not do this; a read-write token is needed (HTTP 403)"},
	http.StatusNotFound:        {protocol.NotFound, "not found (HTTP 404)"},
	http.StatusConflict:        {protocol.Conflict, "conflict (HTTP 409)"},
	http.StatusLocked:          {protocol.Unavailable, "locked by another action (HTTP 423); retry shortly"},
	http.StatusTooManyRequests: {protocol.RateLimited, "rate limited (HTTP 429)"},
	http.StatusGatewayTimeout:  {protocol.Timeout, "Hetzner timed out (HTTP 504)"},
}

// statusError maps an error response without a JSON body by its status:
// statusErrors, else any other 5xx is Unavailable and the rest CloudError.
func statusError(op string, status int) *protocol.Error {
	if e, ok := statusErrors[status]; ok {
		return protocol.NewError(e.typ, "%s: %s", op, e.what)
	}
	if status >= 500 {
		return protocol.NewError(protocol.Unavailable, "%s: Hetzner answered HTTP %d", op, status)
	}
	return protocol.NewError(protocol.CloudError, "%s: Hetzner answered HTTP %d", op, status)
}

// errorText is err's message for errors of unknown kind. hcloud-go's own
// errors never contain the token.
func errorText(err error) string {
	return protocol.Truncate(err.Error(), 300)
}

// OutcomeUnknown reports whether a failed request may have been carried
// out anyway: the answer was lost (a timeout, a 5xx, a dropped connection,
// the call's deadline) rather than a refusal. A caller that would create
// an object looks for it before trying again.
func OutcomeUnknown(err error) bool {
	var apiErr hcloud.Error
	if errors.As(err, &apiErr) {
		if hcloud.IsError(err, hcloud.ErrorCodeTimeout, hcloud.ErrorCodeBadGateway, hcloud.ErrorCodeServiceError,
			hcloud.ErrorCodeServerError, hcloud.ErrorCodeUnknownError) {
			return true
		}
		resp := apiErr.Response() // a code this version does not know: the status decides
		return resp != nil && resp.Response != nil && resp.StatusCode >= 500
	}
	return true // HTTP 5xx without a body, connection errors, deadline or cancellation
}
