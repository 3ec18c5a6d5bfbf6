package shim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// readBody reads and checks a JSON object body. A non-zero status means the
// request was refused with that status and message; the CPI is not run.
func (s *Shim) readBody(w http.ResponseWriter, r *http.Request) (json.RawMessage, int, string) {
	limit := s.opts.MaxBody
	if r.ContentLength > limit {
		return nil, s.refuse("body_too_large", http.StatusRequestEntityTooLarge), fmt.Sprintf("request body larger than %d bytes", limit)
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf)
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, s.refuse("body_too_large", http.StatusRequestEntityTooLarge), fmt.Sprintf("request body larger than %d bytes", limit)
		}
		return nil, s.refuse("body_unreadable", http.StatusBadRequest), "could not read the request body"
	}
	if msg := checkJSONObject(buf.Bytes()); msg != "" {
		return nil, s.refuse("malformed_body", http.StatusBadRequest), msg
	}
	// The buffer goes back to the pool: keep a copy.
	return append(json.RawMessage(nil), bytes.TrimSpace(buf.Bytes())...), 0, ""
}

// discardBody reads and drops a body the route does not use.
func (s *Shim) discardBody(w http.ResponseWriter, r *http.Request) (int, string) {
	limit := s.opts.MaxBody
	if r.ContentLength > limit {
		return s.refuse("body_too_large", http.StatusRequestEntityTooLarge), fmt.Sprintf("request body larger than %d bytes", limit)
	}
	_, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return s.refuse("body_too_large", http.StatusRequestEntityTooLarge), fmt.Sprintf("request body larger than %d bytes", limit)
	case err != nil:
		return s.refuse("body_unreadable", http.StatusBadRequest), "could not read the request body"
	}
	return 0, ""
}

// refuse counts a request refused before the CPI ran and returns status.
func (s *Shim) refuse(reason string, status int) int {
	s.metrics.rejections.WithLabelValues(reason).Inc()
	return status
}

// checkJSONObject describes what is wrong with body as one JSON object, or
// returns "". Errors are described by protocol.DescribeJSONError, with the
// line and column of the position added; the message never quotes the
// body, which may hold secrets.
func checkJSONObject(body []byte) string {
	data := bytes.TrimSpace(body)
	if len(data) == 0 {
		return "this endpoint takes a JSON object body; the body is empty"
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	err := dec.Decode(&v)
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("the request body is not valid JSON: %s (%s)",
			protocol.DescribeJSONError(err), lineColumn(body, syntaxErr.Offset))
	case err != nil:
		return fmt.Sprintf("the request body is not valid JSON: %s (it ends at %s)",
			protocol.DescribeJSONError(err), lineColumn(body, int64(len(body))+1))
	case data[0] != '{':
		return "the request body is not a JSON object"
	}
	if rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		next := int64(len(body)-len(rest)) + 1
		return fmt.Sprintf("the request body is not one JSON object: data after it at byte %d (%s)", next, lineColumn(body, next))
	}
	return ""
}

// lineColumn places the off-th byte of data (counted from 1; len(data)+1
// is just past its end) as "line L, column C", counted from 1 as editors
// show them. A json.SyntaxError's Offset counts the bytes read up to and
// including the offending one, so it is that byte's place.
func lineColumn(data []byte, off int64) string {
	off = min(max(off, 1), int64(len(data))+1)
	before := data[:off-1]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d", line, col)
}
