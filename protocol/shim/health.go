package shim

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// The health endpoints. Liveness says the process and the CPI binary work,
// and a busy shim is alive; readiness says the shim takes new work now.
const (
	LivenessPath       = "/livez"
	LivenessLegacyPath = "/healthz" // the same as LivenessPath
	ReadinessPath      = "/readyz"
)

func (s *Shim) healthTimeout() time.Duration {
	return min(s.opts.Timeout, DefaultHealthTimeout)
}

// cpiCheck runs the CPI's info outside the work slots, so that a shim whose
// slots are all busy still answers its probes, one check at a time:
// probes that arrive while a check runs share its outcome.
type cpiCheck struct {
	mu      sync.Mutex
	running *checkRun
}

// checkRun is one run of info and, once done is closed, its outcome.
type checkRun struct {
	done chan struct{}
	info protocol.Info
	err  *callError
}

// checkCPI answers whether the CPI binary works: it answers info with this
// protocol version within the health timeout. ctx bounds the wait only;
// the check itself runs to its own end for every probe sharing it.
func (s *Shim) checkCPI(ctx context.Context, rid string) (protocol.Info, *callError) {
	s.check.mu.Lock()
	run := s.check.running
	if run == nil {
		if !s.startCall() {
			s.check.mu.Unlock()
			return protocol.Info{}, abortedError(protocol.MethodInfo)
		}
		run = &checkRun{done: make(chan struct{})}
		s.check.running = run
		go s.runCheck(run, rid)
	}
	s.check.mu.Unlock()
	select {
	case <-run.done:
		return run.info, run.err
	case <-ctx.Done():
		return protocol.Info{}, &callError{status: statusClientClosed, message: "client closed the request"}
	}
}

func (s *Shim) runCheck(run *checkRun, rid string) {
	defer s.calls.Done()
	result, cerr := s.run(s.life, &protocol.Request{
		Method: protocol.MethodInfo, Arguments: []json.RawMessage{},
		Context: protocol.Context{RequestID: rid}, APIVersion: protocol.APIVersion,
	}, s.healthTimeout())
	if cerr == nil {
		if err := json.Unmarshal(result, &run.info); err != nil || run.info.APIVersion != protocol.APIVersion {
			cerr = &callError{status: http.StatusServiceUnavailable,
				message: "the CPI's info is not protocol version " + strconv.Itoa(protocol.APIVersion)}
		}
	}
	run.err = cerr
	s.check.mu.Lock()
	s.check.running = nil
	s.check.mu.Unlock()
	close(run.done)
}

// serveLiveness answers 200 when the CPI answers info (see checkCPI), 503
// when it does not. It never waits for a work slot: busy is not unhealthy.
func (s *Shim) serveLiveness(w http.ResponseWriter, r *http.Request) {
	info, cerr := s.checkCPI(r.Context(), requestID(w))
	if cerr != nil {
		writeUnhealthy(w, cerr, "unhealthy: ")
		return
	}
	writeHealth(w, r, http.StatusOK, healthBody{Status: "ok", Version: s.opts.Version, CPI: &info})
}

// serveReadiness answers 200 when a new call would be taken now: the shim
// is not shutting down, the CPI works, and a slot or a place in the queue
// is free. It answers 503 otherwise, with the figures.
func (s *Shim) serveReadiness(w http.ResponseWriter, r *http.Request) {
	body := healthBody{Status: "ready", Version: s.opts.Version, InFlight: len(s.slots), Queued: int(s.queued.Load())}
	switch {
	case s.draining.Load():
		body.Status = "draining: the shim is shutting down"
	case s.saturated():
		body.Status = "saturated: every CPI slot and queue place is taken"
	default:
		if _, cerr := s.checkCPI(r.Context(), requestID(w)); cerr != nil {
			writeUnhealthy(w, cerr, "not ready: ")
			return
		}
		writeHealth(w, r, http.StatusOK, body)
		return
	}
	w.Header().Set("Retry-After", "1")
	writeHealth(w, r, http.StatusServiceUnavailable, body)
}

// saturated reports whether a new call would be refused at once.
func (s *Shim) saturated() bool {
	if len(s.slots) < cap(s.slots) {
		return false
	}
	return s.opts.QueueWait < 0 || s.queued.Load() >= int64(s.opts.MaxQueue)
}

// healthBody is the answer of the health endpoints.
type healthBody struct {
	Status   string         `json:"status"`
	Version  string         `json:"shim_version,omitempty"`
	CPI      *protocol.Info `json:"cpi,omitempty"`
	InFlight int            `json:"in_flight"`
	Queued   int            `json:"queued"`
}

func writeUnhealthy(w http.ResponseWriter, cerr *callError, prefix string) {
	if cerr.status != statusClientClosed {
		cerr.status = http.StatusServiceUnavailable
		cerr.message = prefix + cerr.message
	}
	cerr.write(w)
}

func writeHealth(w http.ResponseWriter, r *http.Request, status int, body healthBody) {
	data, _ := json.Marshal(body)
	data = append(data, '\n')
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}
