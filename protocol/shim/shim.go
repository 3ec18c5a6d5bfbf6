// Package shim serves the Nanobox custom-provider HTTP API by executing a
// CPI binary once per request, the way BOSH drives external CPIs: the
// request is turned into one protocol.Request on the CPI's stdin, and its one
// protocol response on stdout is turned back into the HTTP answer the spec
// asks for.
//
// The shim knows routes, never clouds: anything that speaks package protocol
// on stdin/stdout can sit behind it. It is the part operators expose to the
// network, so it bounds everything: body size, call duration, the number of
// CPI processes, and it never lets a credential reach a log line, a metric
// or a response.
package shim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/net/http/httpguts"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Defaults for Options.
const (
	DefaultTimeout       = 60 * time.Second
	DefaultMaxBody       = 64 << 10
	DefaultHealthTimeout = 10 * time.Second
)

// DefaultMaxConcurrent is the default bound on CPI processes: 4 per core.
func DefaultMaxConcurrent() int { return 4 * runtime.NumCPU() }

// DefaultQueueWait is how long a request waits for a CPI slot by default:
// short bursts queue, sustained overload gets 503.
const DefaultQueueWait = 2 * time.Second

// DefaultMaxQueue is the default bound on waiting requests: 16 per slot.
func DefaultMaxQueue(maxConcurrent int) int { return 16 * maxConcurrent }

// Options configure a Shim. Only CPI is required.
type Options struct {
	CPI       string // path of the CPI binary
	CPIConfig string // passed to the CPI as -configPath when set
	// BasePath prefixes every Nanobox route ("/" or "" for none, "/api/v1").
	BasePath string
	// Timeout bounds each CPI call; the CPI's process group is killed past it.
	Timeout time.Duration
	// MaxBody bounds request bodies in bytes; larger ones get 413.
	MaxBody int64
	// MaxConcurrent bounds CPI processes running at once.
	MaxConcurrent int
	// QueueWait is how long a request may wait for a free CPI slot before
	// it gets 503 with Retry-After: 0 means DefaultQueueWait, a negative
	// value means no waiting at all.
	QueueWait time.Duration
	// MaxQueue bounds the requests waiting for a slot; past it a request
	// gets 503 at once. 0 means DefaultMaxQueue(MaxConcurrent).
	MaxQueue int
	// Env is the shim's environment the child's is chosen from (PATH,
	// TMPDIR, HCLOUD_*); nil means os.Environ().
	Env []string
	// Logger receives the access log and CPI diagnostics; nil discards.
	Logger *logrus.Logger
	// Version is the shim's version, shown in /healthz.
	Version string
}

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var problems []string
	if _, err := resolveCPI(o.CPI); err != nil {
		problems = append(problems, err.Error())
	}
	if o.CPIConfig != "" {
		if _, err := os.Stat(o.CPIConfig); err != nil {
			problems = append(problems, fmt.Sprintf("CPI config %s: %v", o.CPIConfig, err))
		}
	}
	if o.BasePath != "" && !strings.HasPrefix(o.BasePath, "/") {
		problems = append(problems, fmt.Sprintf("base path %q must start with /", o.BasePath))
	}
	if strings.ContainsAny(o.BasePath, "{}? #") {
		problems = append(problems, fmt.Sprintf("base path %q may not contain {, }, ?, # or spaces", o.BasePath))
	}
	if o.Timeout < 0 {
		problems = append(problems, "timeout must not be negative")
	}
	if o.MaxBody < 0 {
		problems = append(problems, "max body must not be negative")
	}
	if o.MaxConcurrent < 0 {
		problems = append(problems, "max concurrent must not be negative")
	}
	if o.MaxQueue < 0 {
		problems = append(problems, "max queue must not be negative")
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid shim options: %s", strings.Join(problems, "; "))
	}
	return nil
}

// resolveCPI finds the CPI binary once: a bare name through PATH, any
// path made absolute, and it must be an executable file.
func resolveCPI(path string) (string, error) {
	if path == "" {
		return "", errors.New("the CPI binary path is empty")
	}
	found, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("CPI binary %s: %v", path, err)
	}
	abs, err := filepath.Abs(found)
	if err != nil {
		return "", fmt.Errorf("CPI binary %s: %v", path, err)
	}
	return abs, nil
}

// Shim is the HTTP handler. Build it with New.
type Shim struct {
	opts     Options
	basePath string // "" or "/api/v1": no trailing slash
	runner   *Runner
	log      *logrus.Logger
	slots    chan struct{}
	queued   atomic.Int64
	calls    sync.WaitGroup
	handler  http.Handler
	metrics  *metrics
	openapi  openapiCache
	bufs     sync.Pool
}

// New builds a shim from opts (validated).
func New(opts Options) (*Shim, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent()
	}
	if opts.QueueWait == 0 {
		opts.QueueWait = DefaultQueueWait
	}
	if opts.MaxQueue == 0 {
		opts.MaxQueue = DefaultMaxQueue(opts.MaxConcurrent)
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	log := opts.Logger
	if log == nil {
		log = logrus.New()
		log.SetOutput(io.Discard)
	}
	cpi, err := resolveCPI(opts.CPI)
	if err != nil {
		return nil, err
	}
	var args []string
	if opts.CPIConfig != "" {
		args = []string{"-configPath", opts.CPIConfig}
	}
	s := &Shim{
		opts:     opts,
		basePath: strings.TrimSuffix(opts.BasePath, "/"),
		runner:   &Runner{Path: cpi, Args: args, Env: ChildEnv(opts.Env)},
		log:      log,
		slots:    make(chan struct{}, opts.MaxConcurrent),
		metrics:  newMetrics(),
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.handler = s.routes()
	return s, nil
}

// Registry is the shim's own Prometheus registry (served at /metrics).
func (s *Shim) Registry() *prometheus.Registry { return s.metrics.registry }

// ServeHTTP serves one request.
func (s *Shim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Wait blocks until no CPI call is running or ctx ends. After the HTTP
// server is closed, it makes sure every child has been killed and reaped.
func (s *Shim) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.calls.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// routes builds the mux once: one handler per route, grouped by path so a
// known path with an unknown verb answers 405 with Allow.
func (s *Shim) routes() http.Handler {
	mux := http.NewServeMux()
	byPath := map[string]*pathHandler{}
	var paths []string
	for _, rt := range protocol.Routes {
		p := s.basePath + rt.Path
		ph := byPath[p]
		if ph == nil {
			ph = &pathHandler{shim: s, verbs: map[string]http.Handler{}, label: "* " + rt.Path}
			byPath[p] = ph
			paths = append(paths, p)
		}
		ph.verbs[rt.Verb] = &routeHandler{shim: s, route: rt, params: rt.ParamNames(), label: rt.Verb + " " + rt.Path}
	}
	for _, p := range paths {
		ph := byPath[p]
		verbs := make([]string, 0, len(ph.verbs))
		for v := range ph.verbs {
			verbs = append(verbs, v)
		}
		sort.Strings(verbs)
		ph.allow = strings.Join(verbs, ", ")
		mux.Handle(p, ph)
	}
	mux.Handle("/healthz", s.opsEndpoint("/healthz", http.HandlerFunc(s.serveHealth)))
	mux.Handle("/metrics", s.opsEndpoint("/metrics", s.metrics.handler()))
	mux.Handle("/openapi.json", s.opsEndpoint("/openapi.json", http.HandlerFunc(s.serveOpenAPI)))
	s.registerLanding(mux)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(w, "unmatched")
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, shownPath(r)))
	}))
	return s.accessLog(cleanPathsOnly(mux))
}

// cleanPathsOnly answers 400 for a request target that is not a path, and
// 404 for a path with "." or ".." segments or
// doubled slashes instead of letting ServeMux redirect to the cleaned
// path: a 307 keeps the method, so DELETE /servers/1/../../keys/5 would
// become DELETE /keys/5 for a client that follows redirects.
func cleanPathsOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The escaped path decides, as in ServeMux: an encoded slash
		// (%2F) is part of an id, not a separator.
		p := r.URL.EscapedPath()
		if !strings.HasPrefix(p, "/") {
			// "*" (OPTIONS * is answered by net/http itself) or CONNECT's
			// authority form.
			setRoute(w, "unmatched")
			writeErrors(w, http.StatusBadRequest, fmt.Sprintf("%s %s: the request target must be a path", r.Method, shownPath(r)))
			return
		}
		if path.Clean(p) != p {
			setRoute(w, "unmatched")
			writeErrors(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s (the path is not in canonical form)", r.Method, shownPath(r)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// opsEndpoint serves h for GET (and HEAD) only.
func (s *Shim) opsEndpoint(label string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(w, "GET "+label)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeErrors(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (allowed: GET, HEAD)", r.Method, label))
			return
		}
		h.ServeHTTP(w, r)
	})
}

type pathHandler struct {
	shim  *Shim
	verbs map[string]http.Handler
	allow string
	label string
}

func (p *pathHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := p.verbs[r.Method]; ok {
		h.ServeHTTP(w, r)
		return
	}
	setRoute(w, p.label)
	w.Header().Set("Allow", p.allow)
	writeErrors(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, shownPath(r), p.allow))
}

// routeHandler serves one Nanobox route: it turns the HTTP request into one
// CPI call and the CPI's response into the HTTP answer.
type routeHandler struct {
	shim   *Shim
	route  protocol.Route
	params []string // path parameter names, in order
	label  string   // route label for metrics
}

func (h *routeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.shim
	setRoute(w, h.label)
	rt := h.route
	args := make([]json.RawMessage, 0, len(h.params)+1)
	for _, name := range h.params {
		v, _ := json.Marshal(r.PathValue(name))
		args = append(args, v)
	}
	if rt.Body {
		body, status, msg := s.readBody(w, r)
		if status != 0 {
			writeErrors(w, status, msg)
			return
		}
		args = append(args, body)
	} else if r.ContentLength != 0 {
		// The spec sends no body here; read and drop one anyway, within the
		// same limit, so the server notices a client that goes away.
		if status, msg := s.discardBody(w, r); status != 0 {
			writeErrors(w, status, msg)
			return
		}
	}
	creds := Credentials(r.Header)
	req := &protocol.Request{
		Method:     rt.Method,
		Arguments:  args,
		Context:    protocol.Context{Credentials: creds, RequestID: requestID(w)},
		APIVersion: protocol.APIVersion,
	}
	result, cerr := s.call(r.Context(), req)
	if cerr != nil {
		cerr.write(w)
		return
	}
	if !rt.Result {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(rt.Status)
		return
	}
	if len(result) == 0 || (result[0] != '{' && result[0] != '[') {
		s.log.WithFields(logrus.Fields{"request_id": req.Context.RequestID, "method": rt.Method}).
			Warn("CPI answered without a result object")
		writeErrors(w, http.StatusBadGateway, fmt.Sprintf("the CPI answered %s without a result", rt.Method))
		return
	}
	result = redactResult(result, creds)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(result)))
	w.WriteHeader(rt.Status)
	_, _ = w.Write(result)
}

// readBody reads and checks a JSON object body. A non-zero status means the
// request was refused with that status and message; the CPI is not run.
func (s *Shim) readBody(w http.ResponseWriter, r *http.Request) (json.RawMessage, int, string) {
	limit := s.opts.MaxBody
	if r.ContentLength > limit {
		s.metrics.rejections.WithLabelValues("body_too_large").Inc()
		return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", limit)
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf)
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.metrics.rejections.WithLabelValues("body_too_large").Inc()
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", limit)
		}
		s.metrics.rejections.WithLabelValues("body_unreadable").Inc()
		return nil, http.StatusBadRequest, "could not read the request body"
	}
	data := bytes.TrimSpace(buf.Bytes())
	switch {
	case len(data) == 0:
		s.metrics.rejections.WithLabelValues("malformed_body").Inc()
		return nil, http.StatusBadRequest, "this endpoint takes a JSON object body; the body is empty"
	case data[0] != '{' || !json.Valid(data):
		s.metrics.rejections.WithLabelValues("malformed_body").Inc()
		return nil, http.StatusBadRequest, "the request body is not a JSON object"
	}
	// The buffer goes back to the pool: keep a copy.
	return append(json.RawMessage(nil), data...), 0, ""
}

// discardBody reads and drops a body the route does not use.
func (s *Shim) discardBody(w http.ResponseWriter, r *http.Request) (int, string) {
	limit := s.opts.MaxBody
	if r.ContentLength > limit {
		s.metrics.rejections.WithLabelValues("body_too_large").Inc()
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", limit)
	}
	_, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.metrics.rejections.WithLabelValues("body_too_large").Inc()
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", limit)
	case err != nil:
		s.metrics.rejections.WithLabelValues("body_unreadable").Inc()
		return http.StatusBadRequest, "could not read the request body"
	}
	return 0, ""
}

// Credentials collects every Auth-* header, in any letter case, keyed by the
// lowercased rest of its name (Auth-Api-Token -> api-token). The first
// value of a repeated header wins. Headers named just "Auth-" are ignored.
func Credentials(h http.Header) protocol.Credentials {
	var creds protocol.Credentials
	for name, values := range h {
		if len(name) <= len("auth-") || !strings.EqualFold(name[:len("auth-")], "auth-") || len(values) == 0 {
			continue
		}
		// Only real header names: net/http's server already refuses
		// others, but a name that is not an ASCII token (say "Auth-İ",
		// which lowercases to a different letter) must never become a
		// credential key through any other caller either.
		if !httpguts.ValidHeaderFieldName(name) {
			continue
		}
		if creds == nil {
			creds = protocol.Credentials{}
		}
		key := strings.ToLower(name[len("auth-"):])
		if _, dup := creds[key]; !dup {
			creds[key] = values[0]
		}
	}
	return creds
}

// callError is a failed call, ready to be written as {"errors": [...]}.
type callError struct {
	status     int
	message    string
	retryAfter string
	errorType  protocol.ErrorType
	fromCPI    bool // errorType and okToRetry come from the CPI's answer
	okToRetry  bool
}

func (e *callError) write(w http.ResponseWriter) {
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	if e.errorType != "" {
		w.Header().Set("X-Cpi-Error-Type", string(e.errorType))
	}
	if e.fromCPI {
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

// call runs one CPI call within a concurrency slot and the call timeout and
// returns the raw result, or the error to answer.
func (s *Shim) call(ctx context.Context, req *protocol.Request) (json.RawMessage, *callError) {
	return s.callWithin(ctx, req, s.opts.Timeout)
}

func (s *Shim) callWithin(parent context.Context, req *protocol.Request, timeout time.Duration) (json.RawMessage, *callError) {
	if cerr := s.acquireSlot(parent); cerr != nil {
		return nil, cerr
	}
	s.calls.Add(1)
	defer func() { <-s.slots; s.calls.Done() }()

	data, err := json.Marshal(req)
	if err != nil {
		return nil, &callError{status: http.StatusInternalServerError, message: "encoding the CPI request failed"}
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()

	s.metrics.inFlight.Inc()
	out, runErr := s.runner.Run(ctx, data)
	s.metrics.inFlight.Dec()

	secrets := req.Context.Credentials.Values()
	fields := logrus.Fields{"request_id": req.Context.RequestID, "cpi_method": req.Method, "pid": out.PID}
	result, cerr := s.interpret(parent, req.Method, timeout, out, runErr, secrets, fields)
	outcome := "ok"
	if cerr != nil {
		outcome = "error"
		if cerr.errorType == "" {
			outcome = "failed"
		}
		if cerr.status == http.StatusGatewayTimeout && cerr.errorType == "" {
			outcome = "timeout"
		}
	}
	s.metrics.cpiDuration.WithLabelValues(req.Method, outcome).Observe(out.Duration.Seconds())
	return result, cerr
}

// acquireSlot takes a CPI slot, waiting up to QueueWait (in FIFO order)
// when all are busy and fewer than MaxQueue requests already wait.
func (s *Shim) acquireSlot(ctx context.Context) *callError {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	busy := func() *callError {
		s.metrics.rejections.WithLabelValues("concurrency").Inc()
		return &callError{status: http.StatusServiceUnavailable, retryAfter: "1",
			message: fmt.Sprintf("busy: %d CPI calls already running; retry shortly", cap(s.slots))}
	}
	if s.opts.QueueWait < 0 {
		return busy()
	}
	if n := s.queued.Add(1); n > int64(s.opts.MaxQueue) {
		s.queued.Add(-1)
		return busy()
	}
	s.metrics.queued.Inc()
	defer func() { s.queued.Add(-1); s.metrics.queued.Dec() }()
	timer := time.NewTimer(s.opts.QueueWait)
	defer timer.Stop()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return busy()
	case <-ctx.Done():
		return &callError{status: statusClientClosed, message: "client closed the request"}
	}
}

// interpret maps how the CPI ended onto a result or an HTTP error. Only a
// clean exit 0 with one valid response counts: a valid response followed by
// a non-zero exit is a failure, as in the BOSH CLI.
func (s *Shim) interpret(parent context.Context, method string, timeout time.Duration, out Outcome, runErr error,
	secrets []string, fields logrus.Fields) (json.RawMessage, *callError) {
	log := s.log.WithFields(fields)
	if len(out.Stderr) > 0 {
		fields["stderr"] = redact(string(bytes.TrimSpace(out.Stderr)), secrets)
		log = s.log.WithFields(fields)
	}
	fail := func(msg string) (json.RawMessage, *callError) {
		log.WithField("exit_code", out.ExitCode).WithField("signal", out.Signal).Warn("CPI call failed: " + msg)
		return nil, &callError{status: http.StatusBadGateway, message: "the CPI failed: " + msg}
	}
	if runErr != nil {
		log.WithError(runErr).Error("could not start the CPI")
		return nil, &callError{status: http.StatusBadGateway, message: "the CPI could not be started; see the shim's log"}
	}
	if out.Killed {
		if parent.Err() != nil {
			log.Info("client went away; CPI process group killed")
			return nil, &callError{status: statusClientClosed, message: "client closed the request"}
		}
		log.Warnf("CPI did not answer %s within %s; process group killed", method, timeout)
		return nil, &callError{status: http.StatusGatewayTimeout,
			message: fmt.Sprintf("the CPI did not answer %s within %s", method, timeout)}
	}
	if out.Signal != "" {
		return fail(fmt.Sprintf("it was killed by signal %s", out.Signal))
	}
	if out.Overflow {
		return fail(fmt.Sprintf("its output exceeds %d bytes", s.runner.maxStdout()))
	}
	resp, perr := parseResponse(out.Stdout)
	if out.ExitCode != 0 {
		if perr == nil {
			return fail(fmt.Sprintf("it exited with status %d after writing a response", out.ExitCode))
		}
		return fail(fmt.Sprintf("it exited with status %d", out.ExitCode))
	}
	if perr != nil {
		log.WithField("stdout_head", redact(truncate(string(out.Stdout), 200), secrets)).Debug("unparseable CPI output")
		return fail(perr.Error())
	}
	if resp.Log != nil && *resp.Log != "" {
		log.WithField("cpi_log", redact(*resp.Log, secrets)).Debug("CPI log")
	} else if len(out.Stderr) > 0 {
		log.Debug("CPI stderr")
	}
	if e := resp.Error; e != nil {
		msg := redact(e.Message, secrets)
		if msg == "" {
			msg = string(e.Type)
		}
		if !e.Type.Known() {
			log.WithField("error_type", truncate(string(e.Type), 64)).Warn("CPI answered an unknown error type")
			return nil, &callError{status: http.StatusBadGateway, message: "the CPI failed: " + msg}
		}
		return nil, &callError{status: e.Type.HTTPStatus(), message: msg, errorType: e.Type, fromCPI: true, okToRetry: e.OkToRetry}
	}
	return resp.Result, nil
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

// redact replaces every secret in s.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "<redacted>")
		}
	}
	return s
}

// minResultSecret is the shortest credential value redacted from results:
// shorter ones would garble legitimate data and are no real secret.
const minResultSecret = 8

// redactResult replaces credential values a CPI echoed into its result, so
// a secret never travels back in a response.
func redactResult(result []byte, creds protocol.Credentials) []byte {
	for _, v := range creds {
		if len(v) < minResultSecret {
			continue
		}
		// As it appears inside a JSON string (quotes, <, > and & escaped).
		quoted, _ := json.Marshal(v)
		escaped := quoted[1 : len(quoted)-1]
		if bytes.Contains(result, escaped) {
			result = bytes.ReplaceAll(result, escaped, []byte("<redacted>"))
		}
	}
	return result
}

// shownPath is the request's path as messages and the access log show it:
// with every credential value of the request redacted (a client may put
// its token in the URL by mistake), then cut to 200 bytes.
func shownPath(r *http.Request) string {
	return truncate(redact(r.URL.Path, Credentials(r.Header).Values()), 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
