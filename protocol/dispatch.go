package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// Call is a request whose arguments have been checked against the method's
// Signature: Params holds the path parameters (non-empty strings), Body the
// raw JSON object when the method takes one.
type Call struct {
	Method  string
	Params  []string
	Body    json.RawMessage
	Context Context
}

// DecodeBody decodes the call's body into v. A body of the wrong shape is an
// InvalidArguments error naming the field; unknown fields are ignored, as
// older and newer clients send different ones.
func (c Call) DecodeBody(v any) *Error {
	if c.Body == nil {
		return NewError(InvalidArguments, "%s takes a JSON object body", c.Method)
	}
	if err := json.Unmarshal(c.Body, v); err != nil {
		return NewError(InvalidArguments, "%s: %s", c.Method, describeJSONError(err))
	}
	return nil
}

// Handler carries out one method. It returns the result (encoded as the
// response's result; nil for an empty body) or an error, preferably a
// *Error; any other error becomes an InternalError, or a Timeout when it is
// a context deadline.
type Handler func(ctx context.Context, call Call) (any, error)

// Dispatcher serves requests from a method table. It is the transport only:
// it decodes, checks the arguments against Signatures, calls the handler and
// encodes the one response. It answers info itself.
type Dispatcher struct {
	Name    string
	Version string
	Methods map[string]Handler
	// Log returns what goes in the response's log field; nil means "".
	Log func() string
}

// Serve reads one request from in and writes one response to out. It
// returns an error only when it could not write the response.
func (d *Dispatcher) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	req, perr := DecodeRequest(in)
	if perr != nil {
		return d.write(out, nil, perr)
	}
	result, err := d.Dispatch(ctx, req)
	return d.write(out, result, err)
}

// ServeBytes is Serve on a request already read.
func (d *Dispatcher) ServeBytes(ctx context.Context, data []byte, out io.Writer) error {
	return d.Serve(ctx, bytes.NewReader(data), out)
}

// Dispatch runs a decoded request and returns its result or its error.
func (d *Dispatcher) Dispatch(ctx context.Context, req *Request) (result any, err error) {
	if req.Method == MethodInfo {
		if len(req.Arguments) != 0 {
			return nil, NewError(InvalidArguments, "info takes no arguments, got %d", len(req.Arguments))
		}
		return d.Info(), nil
	}
	handler, ok := d.Methods[req.Method]
	if !ok {
		return nil, NewError(NotImplemented, "unknown method %q; this CPI implements: %s", truncate(req.Method, 64), d.methodList())
	}
	call, perr := CheckArguments(req)
	if perr != nil {
		return nil, perr
	}
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, NewError(InternalError, "%s failed unexpectedly (a bug in the CPI); see its log", req.Method)
		}
	}()
	return handler(ctx, call)
}

// Info describes the CPI.
func (d *Dispatcher) Info() Info {
	return Info{APIVersion: APIVersion, Name: d.Name, Version: d.Version, Methods: d.MethodNames()}
}

// MethodNames lists the implemented methods, info included, sorted.
func (d *Dispatcher) MethodNames() []string {
	names := []string{MethodInfo}
	for name := range d.Methods {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func (d *Dispatcher) methodList() string {
	var b bytes.Buffer
	for i, n := range d.MethodNames() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}

// CheckArguments checks req's arguments against its method's Signature.
func CheckArguments(req *Request) (Call, *Error) {
	call := Call{Method: req.Method, Context: req.Context}
	sig, ok := Signatures[req.Method]
	if !ok {
		return call, NewError(NotImplemented, "unknown method %q", truncate(req.Method, 64))
	}
	if len(req.Arguments) != sig.Arity() {
		return call, NewError(InvalidArguments, "%s takes %d argument(s) (%s), got %d", req.Method, sig.Arity(), sig.describe(), len(req.Arguments))
	}
	for i, name := range sig.Params {
		var s string
		if err := json.Unmarshal(req.Arguments[i], &s); err != nil {
			return call, NewError(InvalidArguments, "%s: argument %d (%s) must be a string", req.Method, i+1, name)
		}
		if s == "" {
			return call, NewError(InvalidArguments, "%s: argument %d (%s) must not be empty", req.Method, i+1, name)
		}
		call.Params = append(call.Params, s)
	}
	if sig.Body {
		raw := bytes.TrimSpace(req.Arguments[len(sig.Params)])
		if len(raw) == 0 || raw[0] != '{' {
			return call, NewError(InvalidArguments, "%s: the last argument must be a JSON object", req.Method)
		}
		call.Body = raw
	}
	return call, nil
}

func (s Signature) describe() string {
	var parts []string
	parts = append(parts, s.Params...)
	if s.Body {
		parts = append(parts, "body object")
	}
	if len(parts) == 0 {
		return "none"
	}
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p)
	}
	return b.String()
}

func (d *Dispatcher) write(out io.Writer, result any, err error) error {
	resp := Response{Result: result}
	if err != nil {
		resp.Result = nil
		resp.Error = toError(err)
	}
	if d.Log != nil {
		resp.Log = d.Log()
	}
	if werr := EncodeResponse(out, resp); werr != nil {
		return fmt.Errorf("writing response: %w", werr)
	}
	return nil
}

func toError(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return NewError(Timeout, "deadline exceeded before the cloud answered")
	}
	if errors.Is(err, context.Canceled) {
		return NewError(Timeout, "call cancelled before the cloud answered")
	}
	return AsError(err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
