package shim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// routes builds the mux once: one handler per route, grouped by path so a
// known path with an unknown verb answers 405 with Allow. Every GET route
// also answers HEAD (RFC 9110): the same call, status and headers, and no
// body (net/http drops it).
func (s *Shim) routes() http.Handler {
	mux := http.NewServeMux()
	byPath := map[string]*pathHandler{}
	var paths []string
	for _, rt := range protocol.Routes {
		p := s.basePath + rt.Path
		ph := byPath[p]
		if ph == nil {
			ph = &pathHandler{verbs: map[string]http.Handler{}, label: "* " + rt.Path}
			byPath[p] = ph
			paths = append(paths, p)
		}
		ph.verbs[rt.Verb] = &routeHandler{shim: s, route: rt, params: rt.ParamNames(), label: rt.Verb + " " + rt.Path}
		if rt.Verb == http.MethodGet {
			ph.verbs[http.MethodHead] = &routeHandler{shim: s, route: rt, params: rt.ParamNames(), label: http.MethodHead + " " + rt.Path}
		}
	}
	for _, p := range paths {
		ph := byPath[p]
		verbs := make([]string, 0, len(ph.verbs))
		for v := range ph.verbs {
			verbs = append(verbs, v)
		}
		slices.Sort(verbs)
		ph.allow = strings.Join(verbs, ", ")
		mux.Handle(p, ph)
	}
	s.opsRoutes(mux)
	s.registerLanding(mux)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(w, "unmatched")
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, shownPath(r)))
	}))
	return s.accessLog(cleanPathsOnly(mux))
}

// opsRoutes adds the operator's endpoints, outside the base path.
func (s *Shim) opsRoutes(mux *http.ServeMux) {
	for _, p := range []string{LivenessPath, LivenessLegacyPath} {
		mux.Handle(p, s.opsEndpoint(p, http.HandlerFunc(s.serveLiveness)))
	}
	mux.Handle(ReadinessPath, s.opsEndpoint(ReadinessPath, http.HandlerFunc(s.serveReadiness)))
	mux.Handle("/metrics", s.opsEndpoint("/metrics", s.metrics.handler(s.gatherer())))
	mux.Handle("/openapi.json", s.opsEndpoint("/openapi.json", http.HandlerFunc(s.serveOpenAPI)))
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

// pathHandler dispatches one path by verb.
type pathHandler struct {
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
	creds, err := Credentials(r.Header)
	if err != nil {
		writeErrors(w, s.refuse("ambiguous_credentials", http.StatusBadRequest), err.Error())
		return
	}
	args, status, msg := s.arguments(w, r, rt, h.params)
	if status != 0 {
		writeErrors(w, status, msg)
		return
	}
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
	s.writeResult(w, rt, req, result)
}

// arguments are the call's arguments: the path parameters, then the body
// when the route takes one. A non-zero status refuses the request.
func (s *Shim) arguments(w http.ResponseWriter, r *http.Request, rt protocol.Route, params []string) ([]json.RawMessage, int, string) {
	args := make([]json.RawMessage, 0, len(params)+1)
	for _, name := range params {
		v, _ := json.Marshal(r.PathValue(name))
		args = append(args, v)
	}
	if rt.Body {
		body, status, msg := s.readBody(w, r)
		if status != 0 {
			return nil, status, msg
		}
		return append(args, body), 0, ""
	}
	if r.ContentLength != 0 {
		// The spec sends no body here; read and drop one anyway, within the
		// same limit, so the server notices a client that goes away.
		if status, msg := s.discardBody(w, r); status != 0 {
			return nil, status, msg
		}
	}
	return args, 0, ""
}

// writeResult answers a successful call: the route's status with the
// result as the body, or an empty body when the route answers none.
func (s *Shim) writeResult(w http.ResponseWriter, rt protocol.Route, req *protocol.Request, result []byte) {
	hdr := w.Header()
	if !rt.Result {
		// The spec's empty body, labelled as the JSON every answer is.
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Content-Length", "0")
		w.WriteHeader(rt.Status)
		return
	}
	if len(result) == 0 || (result[0] != '{' && result[0] != '[') {
		s.log.WithFields(logrus.Fields{"request_id": req.Context.RequestID, "method": rt.Method}).
			Warn("CPI answered without a result object")
		writeErrors(w, http.StatusBadGateway, fmt.Sprintf("the CPI answered %s without a result", rt.Method))
		return
	}
	result = []byte(secretsOf(req.Context.Credentials).String(string(result)))
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(result)))
	w.WriteHeader(rt.Status)
	_, _ = w.Write(result)
}
