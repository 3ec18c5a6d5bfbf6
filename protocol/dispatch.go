package protocol

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Dispatcher serves requests from the method table. It is the transport
// only: it decodes, looks the method up in Table, checks and decodes the
// arguments, asks the family's factory for the CPI of the call, calls it
// and encodes the one response. It answers info itself.
type Dispatcher struct {
	Name    string
	Version string
	// StemcellFormats is info's stemcell_formats (BOSH); nil answers [].
	StemcellFormats []string
	// Nanobox serves the Nanobox methods; nil: they are unknown methods.
	Nanobox NanoboxFactory
	// Bosh serves the BOSH methods; nil: they answer
	// Bosh::Clouds::NotImplemented. See BoshCPI.
	Bosh BoshFactory
	// CallTimeout bounds each call of a Nanobox method; 0: no bound. A
	// BoshCPI bounds its own calls (create_vm takes minutes).
	CallTimeout time.Duration
	// Log returns what goes in the response's log field; nil means "".
	Log func() string
	// Redact is applied to the encoded response; nil: none.
	Redact func(string) string
}

// Respond runs a decoded request and writes its response to out.
func (d *Dispatcher) Respond(ctx context.Context, req *Request, out io.Writer) error {
	result, err := d.Dispatch(ctx, req)
	return d.write(out, result, err)
}

// Dispatch runs a decoded request and returns its result or its error. A
// BOSH method's error is always of a BOSH type (see Error.ForBosh).
func (d *Dispatcher) Dispatch(ctx context.Context, req *Request) (any, error) {
	m, ok := Lookup(req.Method)
	switch {
	case ok && m.Family == FamilyInfo:
		if len(req.Arguments) != 0 {
			return nil, NewError(InvalidArguments, "info takes no arguments, got %d", len(req.Arguments))
		}
		return d.Info(), nil
	case ok && m.Family == FamilyBosh:
		result, err := d.call(ctx, m, req)
		if err != nil {
			return nil, AsError(err).ForBosh()
		}
		return result, nil
	case ok && d.Nanobox != nil:
		return d.call(ctx, m, req)
	}
	return nil, NewError(NotImplemented, "unknown method %q; this CPI implements: %s", Truncate(req.Method, 64), strings.Join(d.MethodNames(), ", "))
}

// call checks the arguments, makes the call's CPI and runs the method
// under the call's deadline. A panic is an InternalError.
func (d *Dispatcher) call(ctx context.Context, m Method, req *Request) (result any, err error) {
	if !d.serves(m) {
		return nil, boshNotImplemented(m.Name)
	}
	call, perr := CheckArguments(req)
	if perr != nil {
		return nil, perr
	}
	if d.CallTimeout > 0 && m.Family == FamilyNanobox {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.CallTimeout)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, NewError(InternalError, "%s failed unexpectedly (a bug in the CPI); see its log", m.Name)
		}
	}()
	if m.Family == FamilyBosh {
		cpi, err := d.Bosh.NewBosh(call)
		if err != nil {
			return nil, err
		}
		return m.bosh(ctx, cpi, call)
	}
	cpi, err := d.Nanobox.NewNanobox(call)
	if err != nil {
		return nil, err
	}
	return m.nanobox(ctx, cpi, call)
}

// serves reports whether the dispatcher has a CPI for m.
func (d *Dispatcher) serves(m Method) bool {
	switch m.Family {
	case FamilyNanobox:
		return d.Nanobox != nil
	case FamilyBosh:
		return d.Bosh != nil && m.Bound()
	}
	return true
}

// Info describes the CPI. api_version is always APIVersion, whatever
// version the request named: BOSH sends info with 1, then uses this.
func (d *Dispatcher) Info() Info {
	formats := d.StemcellFormats
	if formats == nil {
		formats = []string{}
	}
	return Info{APIVersion: APIVersion, Name: d.Name, Version: d.Version, Methods: d.MethodNames(), StemcellFormats: formats}
}

// MethodNames lists the methods the dispatcher serves, info included,
// sorted.
func (d *Dispatcher) MethodNames() []string {
	var names []string
	for _, m := range Table {
		if d.serves(m) {
			names = append(names, m.Name)
		}
	}
	slices.Sort(names)
	return names
}

func (d *Dispatcher) write(out io.Writer, result any, err error) error {
	resp := Response{Result: result}
	if err != nil {
		resp.Result = nil
		resp.Error = AsError(err)
	}
	if d.Log != nil {
		resp.Log = d.Log()
	}
	var werr error
	if d.Redact == nil {
		werr = EncodeResponse(out, resp)
	} else {
		var buf bytes.Buffer
		if werr = EncodeResponse(&buf, resp); werr == nil {
			_, werr = io.WriteString(out, d.Redact(buf.String()))
		}
	}
	if werr != nil {
		return fmt.Errorf("writing response: %w", werr)
	}
	return nil
}
