package protocol

import (
	"context"
	"io"
)

// Setup prepares the serving of one request once it has been read. It gets
// the request's context (the zero Context when the request is malformed),
// so it can learn the secrets to redact and the request id to log before
// anything is logged; it loads what the CPI needs and returns the
// dispatcher. When it fails, its error is the response, written through
// the dispatcher it returns if any (so that its Log and Redact apply).
type Setup func(ctx context.Context, reqCtx Context) (*Dispatcher, error)

// ServeOnce serves one call the way BOSH runs an external CPI (the shape
// of bosh-cpi-go's rpc.CLI.ServeOnce): it reads one request from in,
// parses it once, sets up with setup and writes one response to out. A
// failed setup answers before a malformed request does. It returns an
// error only when it could not write the response. A BOSH method's failed
// setup answers a BOSH error type (see Error.ForBosh), as its call would.
func ServeOnce(ctx context.Context, in io.Reader, out io.Writer, setup Setup) error {
	req, perr := DecodeRequest(in)
	return serveRequest(ctx, req, perr, out, setup)
}

// serveRequest is ServeOnce on a request already decoded (req nil and perr
// set when it is malformed).
func serveRequest(ctx context.Context, req *Request, perr *Error, out io.Writer, setup Setup) error {
	var rc Context
	if req != nil {
		rc = req.Context
	}
	d, err := setup(ctx, rc)
	if d == nil {
		d = &Dispatcher{}
	}
	switch {
	case err != nil && req != nil:
		return d.write(out, nil, AsError(err).forMethod(req.Method))
	case err != nil:
		return d.write(out, nil, err)
	case perr != nil && req != nil:
		return d.write(out, nil, perr.forMethod(req.Method))
	case perr != nil:
		return d.write(out, nil, perr)
	}
	return d.Respond(ctx, req, out)
}

// forMethod is e as method answers it: a BOSH method's error is of a BOSH
// type (see ForBosh), any other method's is e.
func (e *Error) forMethod(method string) *Error {
	if m, ok := Lookup(method); ok && m.Family == FamilyBosh {
		return e.ForBosh()
	}
	return e
}
