package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// ArgKind is the JSON shape of one positional argument.
type ArgKind int

// The argument kinds.
const (
	KindID       ArgKind = iota + 1 // a non-empty string: a path parameter, a BOSH cid
	KindBody                        // a JSON object decoded into the method's body type
	KindObject                      // a JSON object or null, passed on raw
	KindString                      // any string, "" included
	KindInt                         // an integer
	KindIDOrNull                    // a non-empty string, or null
	KindIDList                      // an array of non-empty strings, or null
)

// Arg is the shape of one positional argument: its name (for messages),
// its kind and, for a body, how to decode it.
type Arg struct {
	Name string
	Kind ArgKind
	body *bodyShape
}

// bodyShape is a body type: a decoder into a fresh value of the type, and
// the keys the type has.
type bodyShape struct {
	decode func(method string, raw json.RawMessage) (any, *Error)
	keys   []string
}

// ID is an argument that is a non-empty string.
func ID(name string) Arg { return Arg{Name: name, Kind: KindID} }

// Object is an argument that is a JSON object (or null), kept raw.
func Object(name string) Arg { return Arg{Name: name, Kind: KindObject} }

// String is an argument that is any JSON string.
func String(name string) Arg { return Arg{Name: name, Kind: KindString} }

// Int is an argument that is a JSON integer.
func Int(name string) Arg { return Arg{Name: name, Kind: KindInt} }

// IDOrNull is an argument that is a non-empty string or null.
func IDOrNull(name string) Arg { return Arg{Name: name, Kind: KindIDOrNull} }

// IDList is an argument that is an array of non-empty strings (or null).
func IDList(name string) Arg { return Arg{Name: name, Kind: KindIDList} }

// Body is an argument that is a JSON object of type T: the dispatcher
// decodes it before the method runs (a key T lacks is an InvalidArguments
// error; see DecodeObject), and the method reads it with BodyOf.
func Body[T any]() Arg {
	return Arg{Name: "body object", Kind: KindBody, body: &bodyShape{
		decode: func(method string, raw json.RawMessage) (any, *Error) {
			var v T
			if err := DecodeObject(method, raw, &v); err != nil {
				return nil, err
			}
			return v, nil
		},
		keys: bodyKeys(reflect.TypeFor[T]()),
	}}
}

// Shape describes in words the JSON the argument takes, e.g. "a non-empty
// string" or, for a body, the object with the keys its type has.
func (a Arg) Shape() string {
	switch a.Kind {
	case KindID:
		return "a non-empty string"
	case KindBody:
		if a.body.keys == nil {
			return "an object"
		}
		return "an object with the keys " + strings.Join(a.body.keys, ", ")
	case KindObject:
		return "an object or null"
	case KindString:
		return "a string"
	case KindInt:
		return "an integer"
	case KindIDOrNull:
		return "a non-empty string or null"
	case KindIDList:
		return "an array of non-empty strings, or null"
	}
	return "unknown"
}

// BodyKeys are the keys of a body argument's type, in field order (nil for
// any other argument): the keys a request body may hold.
func (a Arg) BodyKeys() []string {
	if a.body == nil {
		return nil
	}
	return a.body.keys
}

// DecodeObject is the one strict decoding of a JSON object argument into
// v, used for every request body. JSON null (or nothing) leaves v as it is.
// A wrong shape is an InvalidArguments error naming the field; so is a key
// v's type lacks (a misspelt "regoin" must not order a server in the
// default region), with the keys it has. Keys match as encoding/json
// matches them, ignoring case; a map takes any key. what prefixes the
// messages ("order_server", "create_vm: cloud_properties"). A BOSH method
// answers the error as Bosh::Clouds::CpiError.
func DecodeObject(what string, raw json.RawMessage, v any) *Error {
	if raw = bytes.TrimSpace(raw); len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return NewError(InvalidArguments, "%s: %s", what, DescribeJSONError(err))
	}
	known := bodyKeys(reflect.TypeOf(v))
	if known == nil {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return NewError(InvalidArguments, "%s: %s", what, DescribeJSONError(err))
	}
	var unknown []string
	for k := range fields {
		if !slices.ContainsFunc(known, func(name string) bool { return strings.EqualFold(name, k) }) {
			unknown = append(unknown, strconv.Quote(Truncate(k, 64)))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	noun := "field"
	if len(unknown) > 1 {
		noun = "fields"
	}
	return NewError(InvalidArguments, "%s: unknown %s %s (known: %s)", what, noun, strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// bodyKeys lists the JSON keys of a struct type (or pointer to one) in
// field order; nil for any other type.
func bodyKeys(t reflect.Type) []string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	keys := []string{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case !f.IsExported() || name == "-":
			continue
		case name == "":
			name = f.Name
		}
		keys = append(keys, name)
	}
	return keys
}

// Call is a request whose arguments have been checked against its method's
// Args. Params holds the ID arguments in order (the path parameters of a
// Nanobox method), Body the raw JSON object when the method takes one.
type Call struct {
	Method     string
	Params     []string
	Body       json.RawMessage
	Context    Context
	APIVersion int
	args       []any // one per argument, by kind (see the accessors)
	body       any   // the decoded body, when the method takes one
}

// ID is argument i, a string: an ID, a String, or an IDOrNull ("" for null).
func (c Call) ID(i int) string { s, _ := c.args[i].(string); return s }

// Raw is argument i, an Object, as sent (nil for null).
func (c Call) Raw(i int) json.RawMessage { r, _ := c.args[i].(json.RawMessage); return r }

// Int is argument i, an Int.
func (c Call) Int(i int) int { n, _ := c.args[i].(int); return n }

// IDs is argument i, an IDList (never nil).
func (c Call) IDs(i int) []string {
	if ids, _ := c.args[i].([]string); ids != nil {
		return ids
	}
	return []string{}
}

// BodyOf is the call's body, decoded into the type its method declares
// with Body[T]; the zero T when the method takes no body of that type.
func BodyOf[T any](c Call) T {
	v, _ := c.body.(T)
	return v
}

// CheckArguments checks req's arguments against its method's Args and
// decodes them. A Nanobox method takes exactly its arguments; a BOSH
// method ignores extra ones, as bosh-cpi-go does.
func CheckArguments(req *Request) (Call, *Error) {
	call := Call{Method: req.Method, Context: req.Context, APIVersion: req.APIVersion}
	m, ok := Lookup(req.Method)
	if !ok {
		return call, NewError(NotImplemented, "unknown method %q", Truncate(req.Method, 64))
	}
	n := len(req.Arguments)
	if n < len(m.Args) || (n > len(m.Args) && m.Family != FamilyBosh) {
		return call, NewError(InvalidArguments, "%s takes %d argument(s) (%s), got %d", req.Method, len(m.Args), m.describeArgs(), n)
	}
	call.args = make([]any, len(m.Args))
	for i, a := range m.Args {
		v, perr := a.check(req.Method, i, req.Arguments[i])
		if perr != nil {
			return call, perr
		}
		call.args[i] = v
		switch a.Kind {
		case KindID:
			call.Params = append(call.Params, v.(string))
		case KindBody:
			call.Body, call.body = bytes.TrimSpace(req.Arguments[i]), v
		}
	}
	return call, nil
}

func (m Method) describeArgs() string {
	if len(m.Args) == 0 {
		return "none"
	}
	names := make([]string, len(m.Args))
	for i, a := range m.Args {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

// check decodes argument i (0-based) of method by its kind.
func (a Arg) check(method string, i int, raw json.RawMessage) (any, *Error) {
	raw = bytes.TrimSpace(raw)
	isNull := string(raw) == "null"
	bad := func(what string) *Error {
		return NewError(InvalidArguments, "%s: argument %d (%s) must be %s", method, i+1, a.Name, what)
	}
	switch a.Kind {
	case KindBody:
		if len(raw) == 0 || raw[0] != '{' {
			return nil, NewError(InvalidArguments, "%s: the last argument must be a JSON object", method)
		}
		return a.body.decode(method, raw)
	case KindObject:
		if isNull {
			return json.RawMessage(nil), nil
		}
		if len(raw) == 0 || raw[0] != '{' {
			return nil, bad("a JSON object")
		}
		return raw, nil
	case KindInt:
		var n int
		if json.Unmarshal(raw, &n) != nil {
			return nil, bad("an integer")
		}
		return n, nil
	case KindIDList:
		var ids []string
		if json.Unmarshal(raw, &ids) != nil || slices.Contains(ids, "") {
			return nil, bad("an array of non-empty strings")
		}
		return ids, nil
	case KindIDOrNull:
		if isNull {
			return "", nil
		}
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, bad("a string")
	}
	if s == "" && a.Kind != KindString {
		return nil, NewError(InvalidArguments, "%s: argument %d (%s) must not be empty", method, i+1, a.Name)
	}
	return s, nil
}
