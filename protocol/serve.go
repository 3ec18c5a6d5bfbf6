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
	case err != nil && req != nil && isBosh(req.Method):
		return d.write(out, nil, AsError(err).ForBosh())
	case err != nil:
		return d.write(out, nil, err)
	case perr != nil:
		return d.write(out, nil, perr)
	}
	return d.Respond(ctx, req, out)
}

// isBosh reports whether method is one of the BOSH methods.
func isBosh(method string) bool {
	m, ok := Lookup(method)
	return ok && m.Family == FamilyBosh
}
