package bosh

import (
	"context"
	"errors"
	"fmt"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// The BOSH error types this package answers (protocol's error table).
const (
	CloudError       = protocol.BoshCloudError
	CpiError         = protocol.BoshCpiError
	NotSupported     = protocol.BoshNotSupported
	VMNotFound       = protocol.BoshVMNotFound
	DiskNotFound     = protocol.BoshDiskNotFound
	DiskNotAttached  = protocol.BoshDiskNotAttached
	VMCreationFailed = protocol.BoshVMCreationFailed
)

// newError returns a BOSH error with ok_to_retry false.
func newError(t protocol.ErrorType, format string, args ...any) *protocol.Error {
	return &protocol.Error{Type: t, Message: fmt.Sprintf(format, args...)}
}

// cloudError is the one place that turns an hcloud-go error (or a context
// error) into a BOSH error: CloudError, with ok_to_retry set where a later
// identical call can succeed (rate limit, lock, conflict, Hetzner
// unavailable, timeouts). A protocol error passes through unchanged.
// Messages carry Hetzner's message and code, never request data.
func cloudError(op string, err error) *protocol.Error {
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	if ce := protocol.ContextError(op, err); ce != nil {
		return ce.ForBosh()
	}
	var apiErr hcloud.Error
	if errors.As(err, &apiErr) {
		e := newError(CloudError, "%s: Hetzner answered %s: %s", op, apiErr.Code, apiErr.Message)
		switch apiErr.Code {
		case hcloud.ErrorCodeRateLimitExceeded, hcloud.ErrorCodeLocked, hcloud.ErrorCodeConflict,
			hcloud.ErrorCodeResourceUnavailable, hcloud.ErrorCodeMaintenance, hcloud.ErrorCodeServiceError,
			hcloud.ErrorCodeServerError, hcloud.ErrorCodeBadGateway, hcloud.ErrorCodeTimeout:
			return e.WithRetry(true)
		case hcloud.ErrorCodeUnauthorized:
			e.Message = op + ": Hetzner rejected the API token (check nanobox_hcloud.token)"
		case hcloud.ErrorCodeForbidden:
			e.Message = op + ": the API token may not do this; a Read & Write token is needed"
		}
		return e
	}
	var actionErr hcloud.ActionError
	if errors.As(err, &actionErr) {
		return newError(CloudError, "%s: Hetzner's action failed: %s (%s)", op, actionErr.Message, actionErr.Code)
	}
	// Anything else is a transport failure: the request may or may not
	// have reached Hetzner, and a retry may succeed.
	return newError(CloudError, "%s: %s", op, protocol.Truncate(err.Error(), 300)).WithRetry(true)
}

// outcomeUnknown reports whether a failed request may have been carried
// out: the answer was lost (timeout, 5xx, dropped connection) rather than
// a refusal.
func outcomeUnknown(err error) bool {
	var apiErr hcloud.Error
	if errors.As(err, &apiErr) {
		return hcloud.IsError(err, hcloud.ErrorCodeTimeout, hcloud.ErrorCodeServerError, hcloud.ErrorCodeBadGateway,
			hcloud.ErrorCodeServiceError, hcloud.ErrorCodeUnknownError) || apiErr.Response() == nil ||
			(apiErr.Response().Response != nil && apiErr.Response().StatusCode >= 500)
	}
	return !errors.Is(err, context.Canceled)
}
