package shim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/redact"
)

// callError is a failed call, ready to be written as {"errors": [...]}.
type callError struct {
	status     int
	message    string
	retryAfter string
	errorType  protocol.ErrorType
	// advisesRetry: the answer says whether a retry is safe, in
	// X-Cpi-Ok-To-Retry (the CPI's ok_to_retry, or the shim's verdict on a
	// call it timed out).
	advisesRetry bool
	okToRetry    bool
}

func (e *callError) write(w http.ResponseWriter) {
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	if e.errorType != "" {
		w.Header().Set("X-Cpi-Error-Type", string(e.errorType))
	}
	if e.advisesRetry {
		// The spec's {"errors"} body has no room for retryability, and a
		// type's default is not always the answer (a name held by a foreign
		// server is a Conflict that no retry fixes), so say it in headers.
		w.Header().Set("X-Cpi-Ok-To-Retry", strconv.FormatBool(e.okToRetry))
		if e.okToRetry && e.retryAfter == "" {
			w.Header().Set("Retry-After", "1")
		}
	}
	if e.status == statusClientClosed {
		// Nobody is listening; record the status for the log only.
		setStatus(w, statusClientClosed)
		return
	}
	writeErrors(w, e.status, e.message)
}

// statusClientClosed is logged when the client went away mid-call.
const statusClientClosed = 499

// callLog is what interpret needs to log about one call.
type callLog struct {
	log     *logrus.Entry
	secrets *redact.Secrets
}

// interpret maps how the CPI ended onto a result or an HTTP error. Only a
// clean exit 0 with one valid response counts: a valid response followed by
// a non-zero exit is a failure, as in the BOSH CLI.
func (s *Shim) interpret(parent, life context.Context, method string, timeout time.Duration, out Outcome, runErr error,
	secrets *redact.Secrets, fields logrus.Fields) (json.RawMessage, *callError) {
	if len(out.Stderr) > 0 {
		fields["stderr"] = secrets.String(string(bytes.TrimSpace(out.Stderr)))
	}
	cl := callLog{log: s.log.WithFields(fields), secrets: secrets}
	if runErr != nil {
		cl.log.WithError(runErr).Error("could not start the CPI")
		return nil, &callError{status: http.StatusBadGateway, message: "the CPI could not be started; see the shim's log"}
	}
	if out.Killed {
		return nil, cl.killed(parent, life, method, timeout)
	}
	if msg := s.processFailure(out); msg != "" {
		return nil, cl.fail(out, msg)
	}
	resp, perr := parseResponse(out.Stdout)
	if perr != nil {
		cl.log.WithField("stdout_head", secrets.String(protocol.Truncate(string(out.Stdout), 200))).Debug("unparseable CPI output")
		return nil, cl.fail(out, perr.Error())
	}
	if resp.Log != nil && *resp.Log != "" {
		cl.log.WithField("cpi_log", secrets.String(*resp.Log)).Debug("CPI log")
	} else if len(out.Stderr) > 0 {
		cl.log.Debug("CPI stderr")
	}
	if resp.Error != nil {
		return nil, cl.cpiError(resp.Error)
	}
	return resp.Result, nil
}

// processFailure describes how the process itself failed, or is "".
func (s *Shim) processFailure(out Outcome) string {
	switch {
	case out.Signal != "":
		return fmt.Sprintf("it was killed by signal %s", out.Signal)
	case out.Overflow:
		return fmt.Sprintf("its output exceeds %d bytes", s.runner.maxStdout())
	case out.ExitCode != 0:
		if _, perr := parseResponse(out.Stdout); perr == nil {
			return fmt.Sprintf("it exited with status %d after writing a response", out.ExitCode)
		}
		return fmt.Sprintf("it exited with status %d", out.ExitCode)
	}
	return ""
}

func (cl callLog) fail(out Outcome, msg string) *callError {
	cl.log.WithField("exit_code", out.ExitCode).WithField("signal", out.Signal).Warn("CPI call failed: " + msg)
	return &callError{status: http.StatusBadGateway, message: "the CPI failed: " + msg}
}

// killed is the answer to a call whose process group the shim killed.
func (cl callLog) killed(parent, life context.Context, method string, timeout time.Duration) *callError {
	if life.Err() != nil {
		cl.log.Warn("the shim is shutting down; CPI process group killed")
		return abortedError(method)
	}
	if parent.Err() != nil {
		cl.log.Info("client went away; CPI process group killed")
		return &callError{status: statusClientClosed, message: "client closed the request"}
	}
	cl.log.Warnf("CPI did not answer %s within %s; process group killed", method, timeout)
	cerr := &callError{status: http.StatusGatewayTimeout, advisesRetry: true, okToRetry: retrySafe(method),
		message: fmt.Sprintf("the CPI did not answer %s within %s", method, timeout)}
	if cerr.okToRetry {
		cerr.retryAfter = timeoutRetryAfter
	}
	return cerr
}

// abortedError answers a call the shim ended, or refused, because it is
// shutting down (Abort): 503, and whether a retry (on another instance,
// or on this one once restarted) is safe.
func abortedError(method string) *callError {
	cerr := &callError{status: http.StatusServiceUnavailable, advisesRetry: true, okToRetry: retrySafe(method),
		message: fmt.Sprintf("the shim is shutting down: %s was ended before the CPI answered", method)}
	if cerr.okToRetry {
		cerr.retryAfter = timeoutRetryAfter
	}
	return cerr
}

// timeoutRetryAfter is the Retry-After of a call the shim timed out: the
// cloud may still be finishing what the killed CPI asked of it.
const timeoutRetryAfter = "5"

// maxRetryAfterSeconds is protocol.MaxRetryAfter in seconds: what a CPI's
// retry_after_seconds is cut to before it becomes a Retry-After.
const maxRetryAfterSeconds = int(protocol.MaxRetryAfter / time.Second)

// retrySafe reports whether calling method again after a call whose
// outcome is unknown is safe: the method table's RetrySafe.
func retrySafe(method string) bool {
	m, ok := protocol.Lookup(method)
	return ok && m.RetrySafe
}

// cpiError is the answer to the CPI's own error response: the type's
// status, and when ok_to_retry is true, Retry-After: the CPI's
// retry_after_seconds when it sends one (at most protocol.MaxRetryAfter,
// whatever the CPI sent), else 1.
func (cl callLog) cpiError(e *protocol.Error) *callError {
	msg := cl.secrets.String(e.Message)
	if msg == "" {
		msg = string(e.Type)
	}
	if !e.Type.Known() {
		cl.log.WithField("error_type", protocol.Truncate(string(e.Type), 64)).Warn("CPI answered an unknown error type")
		return &callError{status: http.StatusBadGateway, message: "the CPI failed: " + msg}
	}
	cerr := &callError{status: e.Type.HTTPStatus(), message: msg, errorType: e.Type, advisesRetry: true, okToRetry: e.OkToRetry}
	if e.OkToRetry && e.RetryAfterSeconds > 0 {
		// The CPI knows the wait (a spent rate-limit budget refills
		// then); without it, write says 1 s.
		cerr.retryAfter = strconv.Itoa(min(e.RetryAfterSeconds, maxRetryAfterSeconds))
	}
	return cerr
}

// parseResponse checks the CPI's stdout is exactly one protocol response.
func parseResponse(stdout []byte) (*protocol.RawResponse, error) {
	data := bytes.TrimSpace(stdout)
	if len(data) == 0 {
		return nil, errors.New("it wrote no response")
	}
	var resp protocol.RawResponse
	if data[0] != '{' || json.Unmarshal(data, &resp) != nil {
		return nil, errors.New("it wrote a response that is not one JSON object")
	}
	if resp.Error == nil && resp.Result == nil {
		return nil, errors.New("its response has neither a result nor an error")
	}
	if resp.Error != nil && resp.Error.Type == "" {
		return nil, errors.New("its response has an error without a type")
	}
	return &resp, nil
}

// writeErrors writes {"errors": [msgs...]} with status.
func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	body, _ := json.Marshal(struct {
		Errors []string `json:"errors"`
	}{msgs})
	body = append(body, '\n')
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
