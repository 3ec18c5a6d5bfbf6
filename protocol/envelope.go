package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/redact"
)

// APIVersion is the highest protocol version this package speaks: info
// reports it, and the shim sends it. A request may name any version from
// MinAPIVersion to APIVersion, or none (read as 1, as bosh-cpi-go does).
// Version 2 is BOSH's CPI API v2; the Nanobox methods answer the same
// under both.
const APIVersion = 2

// MinAPIVersion is the lowest protocol version a request may name.
const MinAPIVersion = 1

// MaxRequestBytes bounds one request on stdin. The shim's own body limit
// (64 KiB by default) is far below it.
const MaxRequestBytes = 1 << 20

// Request is one call: {"method", "arguments", "context", "api_version"}.
type Request struct {
	Method     string            `json:"method"`
	Arguments  []json.RawMessage `json:"arguments"`
	Context    Context           `json:"context"`
	APIVersion int               `json:"api_version"`
}

// wireRequest is a Request as decoded: the context is kept raw and
// decoded into Context from those bytes.
type wireRequest struct {
	Method     string            `json:"method"`
	Arguments  []json.RawMessage `json:"arguments"`
	Context    json.RawMessage   `json:"context"`
	APIVersion int               `json:"api_version"`
}

// Context carries what is not an argument: the caller's credentials and the
// request id that ties log lines together across the shim and the CPI.
type Context struct {
	Credentials Credentials `json:"credentials,omitempty"`
	RequestID   string      `json:"request_id,omitempty"`
	// Raw is the context object as received (nil when absent), for what
	// the fields above do not hold: a BOSH director merges its cpi-config
	// properties, secrets among them, into the context. Never sent.
	Raw json.RawMessage `json:"-"`
}

// Credentials are the Nanobox credential fields by key ("api-token"). Their
// values are secrets: String and GoString never print them, so a credential
// map that slips into a log line or an error message shows only its keys.
type Credentials map[string]string

// String lists the keys with their values redacted.
func (c Credentials) String() string {
	keys := slices.Sorted(maps.Keys(c))
	for i, k := range keys {
		keys[i] = k + "=" + redact.Placeholder
	}
	return "{" + strings.Join(keys, " ") + "}"
}

// GoString is String, so %#v redacts too.
func (c Credentials) GoString() string { return c.String() }

// Values returns the secret values, longest first, for redacting output.
func (c Credentials) Values() []string {
	out := make([]string, 0, len(c))
	for _, v := range c {
		if v != "" {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// Response is the one answer to a request. Exactly one of Result and Error
// is meaningful; Log is never null.
type Response struct {
	Result any    `json:"result"`
	Error  *Error `json:"error"`
	Log    string `json:"log"`
}

// RawResponse is a Response as a client reads it: the result left raw so the
// caller (the shim) can pass it on byte for byte.
type RawResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	Log    *string         `json:"log"`
}

// DecodeRequest reads exactly one JSON request from r. Every problem with the
// envelope (not JSON, trailing data, wrong types, missing method, unsupported
// api_version, more than MaxRequestBytes) is an InvalidRequest error; an
// unsupported api_version of a BOSH method is a Bosh::Clouds::CpiError.
func DecodeRequest(r io.Reader) (*Request, *Error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	if err != nil {
		return nil, NewError(InvalidRequest, "reading request: %v", err)
	}
	return ParseRequest(data)
}

// ParseRequest is DecodeRequest on bytes already read.
func ParseRequest(data []byte) (*Request, *Error) {
	if len(data) > MaxRequestBytes {
		return nil, NewError(InvalidRequest, "request larger than %d bytes", MaxRequestBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, NewError(InvalidRequest, "empty request: expected one JSON object")
	}
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return nil, NewError(InvalidRequest, "malformed request: %s", DescribeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, NewError(InvalidRequest, "malformed request: data after the JSON object")
	}
	req := Request{Method: w.Method, Arguments: w.Arguments, APIVersion: w.APIVersion}
	if len(w.Context) > 0 && string(w.Context) != "null" {
		if err := json.Unmarshal(w.Context, &req.Context); err != nil {
			return nil, NewError(InvalidRequest, "malformed request: %s", DescribeJSONError(inField("context", err)))
		}
		req.Context.Raw = w.Context
	}
	if perr := req.check(); perr != nil {
		return nil, perr.forMethod(req.Method)
	}
	return &req, nil
}

// check judges a request's method and api_version, and makes a missing
// argument list empty.
func (r *Request) check() *Error {
	if r.Method == "" {
		return NewError(InvalidRequest, "malformed request: \"method\" is missing or empty")
	}
	if r.APIVersion != 0 && (r.APIVersion < MinAPIVersion || r.APIVersion > APIVersion) {
		return NewError(InvalidRequest, "unsupported api_version %d: this CPI speaks %d to %d", r.APIVersion, MinAPIVersion, APIVersion)
	}
	if r.Arguments == nil {
		r.Arguments = []json.RawMessage{}
	}
	return nil
}

// EncodeResponse writes resp as one line of JSON.
func EncodeResponse(w io.Writer, resp Response) error {
	data, err := json.Marshal(resp)
	if err != nil {
		// A result that cannot be encoded is a bug in the CPI; say so
		// rather than write nothing.
		data, _ = json.Marshal(Response{Error: NewError(InternalError, "encoding the result: %v", err), Log: resp.Log})
	}
	_, err = w.Write(append(data, '\n'))
	return err
}
