package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Truncate keeps at most n bytes of s, cut at a character boundary, and
// marks a cut with "...". It is the one way to quote untrusted input in
// messages and logs.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// inField places a decoding error of a nested value at field: a type
// error's field path gets field in front.
func inField(field string, err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		c := *typeErr
		c.Field = strings.TrimSuffix(field+"."+c.Field, ".")
		return &c
	}
	return err
}

// DescribeJSONError is the one description of encoding/json's errors: a
// message that names the field (or the byte offset of a syntax error) and
// never echoes input bytes, which may hold secrets.
func DescribeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "the request"
		}
		return fmt.Sprintf("%s must be %s, not %s", quoteField(field), jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	default:
		return "invalid JSON"
	}
}

func quoteField(f string) string {
	if f == "the request" {
		return f
	}
	return `"` + f + `"`
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return goKind
}
