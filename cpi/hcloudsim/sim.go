// Package hcloudsim simulates the Hetzner Cloud API (https://api.hetzner.cloud/v1) well enough for the
// adapter and hcloud-go: an http.Handler serving /v1/... with the API's JSON shapes (hcloud-go's schema
// package), its auth, rate limiting, error format, server lifecycle and actions, plus test hooks: a
// per-route request counter, a record of every object ever created, and fault injection.
//
// The simulator keeps all state in memory behind one mutex, computes lifecycle transitions lazily from
// timestamps on read (it runs no goroutines), and never panics on client input.
package hcloudsim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a simulator. The zero value is usable: token "", which rejects every request.
type Options struct {
	Token         string        // Bearer token with read and write access
	ReadOnlyToken string        // Bearer token that may only read; "" = none
	RateLimit     int           // size of the rate limit bucket, default 3600
	RateRefill    time.Duration // one request is refilled per RateRefill, default 1s
	Delays        Delays        // zero in unit tests: transitions happen on the next read
	Seed          int64         // seeds the random source of probabilistic faults
	MaxServers    int           // project server limit: creating more answers 403 resource_limit_exceeded; 0 = none
	Latency       time.Duration // added to every /v1 request before it is served (a realistic round trip: 40ms); see SetLatency
}

// Delays are the durations of the server lifecycle phases and of actions.
type Delays struct {
	Initializing time.Duration // create_server: "initializing" until then
	Starting     time.Duration // start after create: "starting" until then
	Action       time.Duration // every other server action (power, reboot, rebuild, network ...)
}

// maxBodyBytes bounds a request body; the API's own limits (user_data 32 KiB) are far below.
const maxBodyBytes = 1 << 20

// Sim is the simulated Hetzner Cloud API. It is safe for concurrent use.
type Sim struct {
	opts Options
	mux  *http.ServeMux
	// actionsMux holds the /v1/<resource>/actions[/{id}] routes, which would conflict with
	// /v1/<resource>/{id}/actions in one ServeMux ("actions" is never a resource ID).
	actionsMux *http.ServeMux

	mu       sync.Mutex
	rng      *rand.Rand
	requests map[string]int
	total    int
	rlTokens int
	rlAt     time.Time
	faults   []*faultRule
	injected map[FaultKind]int
	created  []Created
	latency  time.Duration
	st       *state
}

// Created records one object the simulator created, kept after the object is deleted.
type Created struct {
	Kind string    // "server", "ssh_key", "network", "firewall", "placement_group", "volume", "image"
	ID   int64     // the object's ID
	Name string    // the name it was created with
	At   time.Time // when it was created
}

// New returns a simulator seeded with the catalog (locations, datacenters, server types, images).
// A RateLimit or RateRefill <= 0 takes the default (3600, 1s); negative delays count as zero.
func New(opts Options) *Sim {
	if opts.RateLimit <= 0 {
		opts.RateLimit = 3600
	}
	if opts.RateRefill <= 0 {
		opts.RateRefill = time.Second
	}
	opts.Delays.Initializing = max(opts.Delays.Initializing, 0)
	opts.Delays.Starting = max(opts.Delays.Starting, 0)
	opts.Delays.Action = max(opts.Delays.Action, 0)
	opts.Latency = max(opts.Latency, 0)
	s := &Sim{
		latency:  opts.Latency,
		opts:     opts,
		rng:      rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed)),
		requests: map[string]int{},
		injected: map[FaultKind]int{},
		rlTokens: opts.RateLimit,
		rlAt:     time.Now(),
		st:       newState(),
	}
	s.mux = http.NewServeMux()
	s.actionsMux = http.NewServeMux()
	s.routes()
	return s
}

// Requests returns how many requests each route received, keyed by "METHOD /v1/pattern" (for example
// "GET /v1/servers/{id}"); requests under /v1 matching no route count under "METHOD (unmatched)". Requests
// outside /v1 are not counted.
func (s *Sim) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// TotalRequests returns the number of requests received under /v1 since creation or the last ResetRequests.
func (s *Sim) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetRequests zeroes the request counters.
func (s *Sim) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = map[string]int{}
	s.total = 0
}

// Created returns every object ever created, in creation order, including deleted ones.
func (s *Sim) Created() []Created {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Created(nil), s.created...)
}

// handlerFunc serves one route under the simulator's lock. It returns the status and body to send, or an
// API error. It must not write to anything but the simulator's state.
type handlerFunc func(s *Sim, c *call) (int, any, *apiError)

// call is one request as a handler sees it.
type call struct {
	r    *http.Request
	body []byte
	now  time.Time
}

func (c *call) query() map[string][]string { return c.r.URL.Query() }

// pathID parses the path parameter name as a positive int64 ID.
func (c *call) pathID(name string) (int64, *apiError) {
	v := c.r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, invalidField(name, "invalid ID: "+strconv.Quote(v))
	}
	return id, nil
}

// byPath finds the object of kind whose ID is the path parameter "id" in
// objects: invalid_input for a malformed ID, not_found for an unknown one.
func byPath[T any](c *call, objects map[int64]T, kind string) (T, *apiError) {
	var zero T
	id, err := c.pathID("id")
	if err != nil {
		return zero, err
	}
	o, ok := objects[id]
	if !ok {
		return zero, notFound(kind, id)
	}
	return o, nil
}

// decode parses the JSON body, which must be an object, into v: json_error for malformed JSON, wrong types
// or a body that is not an object; invalid_input for a top-level null (no field the simulator serves is
// nullable in the API's request schemas).
func (c *call) decode(v any) *apiError {
	return c.decodeBody(v, false)
}

// decodeStrict is decode for the request schemas that forbid unknown fields (additionalProperties: false
// in the OpenAPI document: networks, firewalls).
func (c *call) decodeStrict(v any) *apiError {
	return c.decodeBody(v, true)
}

// decodeBody decodes the body into v; only the top-level fields named in nullable may be null.
func (c *call) decodeBody(v any, strict bool, nullable ...string) *apiError {
	trimmed := bytes.TrimSpace(c.body)
	if len(trimmed) == 0 {
		return newError("json_error", "request body is empty")
	}
	if trimmed[0] != '{' {
		return newError("json_error", "request body must be a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return newError("json_error", "invalid JSON: %v", err)
	}
	for _, k := range sortedKeys(fields) {
		if string(bytes.TrimSpace(fields[k])) == "null" && !slices.Contains(nullable, k) {
			return invalidField(k, "must not be null")
		}
	}
	d := json.NewDecoder(bytes.NewReader(trimmed))
	if strict {
		d.DisallowUnknownFields()
	}
	if err := d.Decode(v); err != nil {
		if strict && strings.HasPrefix(err.Error(), "json: unknown field") {
			return newError("invalid_input", "invalid input: %v", strings.TrimPrefix(err.Error(), "json: "))
		}
		return newError("json_error", "invalid JSON: %v", err)
	}
	return nil
}

// decodeOptional is decode for bodies the API allows to be absent (action requests without fields).
func (c *call) decodeOptional(v any) *apiError {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil
	}
	return c.decode(v)
}

// handle registers a route. pattern is "METHOD /v1/...".
func (s *Sim) handle(pattern string, h handlerFunc) {
	mux := s.mux
	if isResourceActionsPath(pattern[strings.IndexByte(pattern, ' ')+1:]) {
		mux = s.actionsMux
	}
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.serveRoute(w, r, pattern, h)
	})
}

// ServeHTTP serves the simulated API under /v1.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		// Not the API: not counted, not rate limited.
		writeError(w, newError("not_found", "not found: the API lives under /v1"))
		return
	}
	if r.URL.Path != path.Clean(r.URL.Path) {
		// ServeMux would answer with a redirect; the API answers not_found.
		s.serveRoute(w, r, r.Method+" (unmatched)", nil)
		return
	}
	mux := s.mux
	if isResourceActionsPath(r.URL.Path) {
		mux = s.actionsMux
	}
	if _, pattern := mux.Handler(r); pattern == "" {
		h := handlerFunc(nil)
		if otherMethodMatches(mux, r) && !isUnservedAction(r) {
			h = func(*Sim, *call) (int, any, *apiError) {
				return 0, nil, newError("method_not_allowed", "method %s is not allowed on %s", r.Method, r.URL.Path)
			}
		}
		s.serveRoute(w, r, r.Method+" (unmatched)", h)
		return
	}
	mux.ServeHTTP(w, r)
}

// otherMethodMatches reports whether the path is served for some other method.
func otherMethodMatches(mux *http.ServeMux, r *http.Request) bool {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "" {
			return true
		}
	}
	return false
}

// isUnservedAction reports whether r starts an action the simulator does not serve (POST
// /v1/<resource>/{id}/actions/<name>, e.g. change_type). Its path also matches the GET route of one action
// by ID, but the API serves the POST: the answer is not_found, not method_not_allowed.
func isUnservedAction(r *http.Request) bool {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if r.Method != http.MethodPost || len(parts) != 5 || parts[0] != "v1" || parts[3] != "actions" {
		return false
	}
	_, err := strconv.ParseInt(parts[4], 10, 64)
	return err != nil
}

// isResourceActionsPath reports whether path is /v1/<resource>/actions or below it.
func isResourceActionsPath(path string) bool {
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
	return len(parts) >= 3 && parts[0] == "v1" && parts[1] != "actions" && parts[2] == "actions"
}

// SetLatency sets the time added to every /v1 request before it is served (negative counts as zero).
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// Latency returns the time added to every /v1 request.
func (s *Sim) Latency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency
}

// serveRoute applies, in order: the latency, counting, authentication, rate limiting, read-only check,
// fault injection, then the handler. A nil handler answers not_found (unknown route).
func (s *Sim) serveRoute(w http.ResponseWriter, r *http.Request, pattern string, h handlerFunc) {
	if !s.waitLatency(r) {
		return
	}
	body, ok := s.readBody(w, r, pattern)
	if !ok {
		return
	}
	fault, aerr := s.admit(w, r, pattern)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if fault != nil && !s.applyFaultBefore(w, r, fault) {
		return
	}
	if h == nil {
		writeError(w, newError("not_found", "the simulator does not serve %s %s", r.Method, r.URL.Path))
		return
	}
	status, encoded, herr := s.runHandler(w, r, h, body, fault)
	switch {
	case fault != nil && (fault.Kind == FaultCommitThenFail || fault.Kind == FaultCommitThenCapacityGone):
		writeError(w, newError("timeout", "the request could not be answered in time, please retry"))
	case herr != nil:
		writeError(w, herr)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(encoded)
	}
}

// waitLatency waits out the latency; it reports false when the client went away meanwhile.
func (s *Sim) waitLatency(r *http.Request) bool {
	d := s.Latency()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// readBody reads the request body within maxBodyBytes; on failure it counts the request, answers
// json_error and reports false.
func (s *Sim) readBody(w http.ResponseWriter, r *http.Request, pattern string) ([]byte, bool) {
	if r.Body == nil {
		return nil, true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		s.mu.Lock()
		s.count(pattern)
		s.setRateHeaders(w, time.Now())
		s.mu.Unlock()
		writeError(w, newError("json_error", "request body unreadable or larger than %d bytes", maxBodyBytes))
		return nil, false
	}
	return body, true
}

// admit counts the request, sets the rate limit headers, and checks authentication, the rate limit and the
// read-only token; it returns the fault that fires for the request, if any.
func (s *Sim) admit(w http.ResponseWriter, r *http.Request, pattern string) (*faultRule, *apiError) {
	// The fault route is the pattern without its method ("/v1/servers/{id}").
	route := pattern
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		route = pattern[i+1:]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.count(pattern)
	s.setRateHeaders(w, now)
	readOnly, aerr := s.authenticate(r)
	if aerr == nil {
		aerr = s.takeRateToken(w, now)
	}
	if aerr == nil && readOnly && isWrite(r.Method) {
		aerr = newError("forbidden", "insufficient permissions for this request: the token is read-only")
	}
	if aerr != nil {
		return nil, aerr
	}
	return s.pickFault(r.Method, route), nil
}

// applyFaultBefore carries out the part of a fault that comes before the handler: it waits (latency),
// drops the connection, or answers the fault's error. It reports whether the handler is to run.
func (s *Sim) applyFaultBefore(w http.ResponseWriter, r *http.Request, fault *faultRule) bool {
	switch fault.Kind {
	case FaultLatency:
		select {
		case <-time.After(fault.Latency):
			return true
		case <-r.Context().Done():
			return false
		}
	case FaultDrop:
		dropConnection(w)
		return false
	case FaultCommitThenFail, FaultCommitThenCapacityGone, FaultActionError:
		return true // handled around the handler
	default:
		writeError(w, fault.apiError())
		return false
	}
}

// runHandler runs h under the lock and encodes its answer there (the answer may share slices with the
// state); it applies the action_error fault and sets the Link header of list answers.
func (s *Sim) runHandler(w http.ResponseWriter, r *http.Request, h handlerFunc, body []byte, fault *faultRule) (int, []byte, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	firstNewID := s.st.nextID + 1
	status, out, herr := h(s, &call{r: r, body: body, now: time.Now()})
	if herr != nil {
		return 0, nil, herr
	}
	if fault != nil && fault.Kind == FaultActionError {
		s.st.failActionsFrom(firstNewID)
	}
	if fault != nil && fault.Kind == FaultCommitThenCapacityGone && status == http.StatusCreated {
		s.st.soldOut(out)
	}
	if m, ok := out.(map[string]any); ok {
		if meta, ok := m["meta"].(listMeta); ok {
			setLinkHeader(w, r, meta.Pagination)
		}
	}
	if out == nil {
		return status, nil, nil
	}
	encoded, err := json.Marshal(out)
	if err != nil {
		return 0, nil, newError("server_error", "encoding the response failed")
	}
	return status, encoded, nil
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// count increments the counter of pattern; the caller holds s.mu.
func (s *Sim) count(pattern string) {
	s.requests[pattern]++
	s.total++
}

// authenticate checks the Bearer token; the caller holds s.mu. It never echoes the token.
func (s *Sim) authenticate(r *http.Request) (readOnly bool, err *apiError) {
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	token = strings.TrimSpace(token)
	switch {
	case !ok || token == "":
		return false, newError("unauthorized", "unable to authenticate")
	case s.opts.Token != "" && token == s.opts.Token:
		return false, nil
	case s.opts.ReadOnlyToken != "" && token == s.opts.ReadOnlyToken:
		return true, nil
	}
	return false, newError("unauthorized", "unable to authenticate")
}

// refill tops up the rate limit bucket for the time elapsed since the last refill; the caller holds s.mu.
func (s *Sim) refill(now time.Time) {
	if s.rlTokens >= s.opts.RateLimit {
		s.rlAt = now
		return
	}
	n := int(now.Sub(s.rlAt) / s.opts.RateRefill)
	if n <= 0 {
		return
	}
	s.rlTokens += n
	s.rlAt = s.rlAt.Add(time.Duration(n) * s.opts.RateRefill)
	if s.rlTokens >= s.opts.RateLimit {
		s.rlTokens = s.opts.RateLimit
		s.rlAt = now
	}
}

// setRateHeaders writes RateLimit-Limit, -Remaining and -Reset; the caller holds s.mu.
func (s *Sim) setRateHeaders(w http.ResponseWriter, now time.Time) {
	s.refill(now)
	missing := s.opts.RateLimit - s.rlTokens
	reset := now
	if missing > 0 {
		reset = s.rlAt.Add(time.Duration(missing) * s.opts.RateRefill)
	}
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("RateLimit-Remaining", strconv.Itoa(s.rlTokens))
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
}

// takeRateToken spends one request from the bucket, or answers rate_limit_exceeded; the caller holds s.mu.
func (s *Sim) takeRateToken(w http.ResponseWriter, now time.Time) *apiError {
	s.refill(now)
	if s.rlTokens <= 0 {
		return newError("rate_limit_exceeded", "limit of %d requests per hour reached", s.opts.RateLimit)
	}
	s.rlTokens--
	s.setRateHeaders(w, now)
	return nil
}

// writeJSON writes v as JSON with the API's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if v == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, newError("server_error", "encoding the response failed"))
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes e in the API's error format.
func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message, "details": e.Details}}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// dropConnection closes the client connection without a response.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// Not hijackable (e.g. an http.ResponseRecorder or HTTP/2): the closest is an abort.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// sortedKeys returns the keys of m in order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
