package hcloudsim

import (
	"maps"
	"net/http"
	"time"
)

// FaultKind names an injected failure.
type FaultKind string

// The fault kinds. Each error kind answers with the API's error body and documented status.
const (
	FaultRateLimit           FaultKind = "rate_limit"           // 429 rate_limit_exceeded
	FaultInternal            FaultKind = "internal"             // 500 server_error
	FaultBadGateway          FaultKind = "bad_gateway"          // 502 bad_gateway
	FaultUnavailable         FaultKind = "unavailable"          // 503 unavailable
	FaultGatewayTimeout      FaultKind = "gateway_timeout"      // 504 timeout
	FaultLocked              FaultKind = "locked"               // 423 locked
	FaultConflict            FaultKind = "conflict"             // 409 conflict
	FaultResourceUnavailable FaultKind = "resource_unavailable" // 412 resource_unavailable
	FaultLatency             FaultKind = "latency"              // waits Fault.Latency, then serves normally
	FaultDrop                FaultKind = "drop"                 // closes the connection without a response
	FaultCommitThenFail      FaultKind = "commit_then_fail"     // applies the change, then answers 504 timeout
	FaultActionError         FaultKind = "action_error"         // serves normally; the actions it starts end in status error
	// FaultCommitThenCapacityGone applies the change like commit_then_fail; when the change created a
	// server, its server type then becomes unavailable in its location (as SetAvailability(..., false)),
	// before the answer: 504 timeout. A client retrying the create meets 412 resource_unavailable.
	FaultCommitThenCapacityGone FaultKind = "commit_then_capacity_gone"
)

// FaultKinds lists every kind, for validation and documentation.
var FaultKinds = []FaultKind{FaultRateLimit, FaultInternal, FaultBadGateway, FaultUnavailable,
	FaultGatewayTimeout, FaultLocked, FaultConflict, FaultResourceUnavailable, FaultLatency, FaultDrop,
	FaultCommitThenFail, FaultActionError, FaultCommitThenCapacityGone}

// Fault is one fault injection rule. A rule matches a request by method and route; a matching rule fires
// on its next Times requests (a script), or, when Times is 0, with Probability on each request. Rules are
// checked in the order they were added; the first rule that matches and fires decides the request.
type Fault struct {
	Method      string        `json:"method,omitempty"`      // "GET", "POST", ...; "" = any
	Route       string        `json:"route,omitempty"`       // route pattern without the method, e.g. "/v1/servers/{id}"; "" = any
	Kind        FaultKind     `json:"kind"`                  // what happens
	Probability float64       `json:"probability,omitempty"` // 0..1, used when Times == 0
	Times       int           `json:"times,omitempty"`       // fire on the next Times matching requests, then stop
	Latency     time.Duration `json:"latency,omitempty"`     // for FaultLatency (JSON: nanoseconds)
}

// Validate reports a rule that can never do what it says.
func (f Fault) Validate() error {
	known := false
	for _, k := range FaultKinds {
		if k == f.Kind {
			known = true
		}
	}
	switch {
	case !known:
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Message: "unknown fault kind " + string(f.Kind)}
	case f.Times < 0:
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Message: "times must be >= 0"}
	case f.Probability < 0 || f.Probability > 1:
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Message: "probability must be within 0..1"}
	case f.Kind == FaultLatency && f.Latency <= 0:
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Message: "latency fault needs a positive latency"}
	}
	return nil
}

type faultRule struct {
	Fault
	left int // remaining firings of a scripted rule
}

// AddFault appends a rule. An invalid rule (see Fault.Validate) is ignored; use Validate first.
func (s *Sim) AddFault(f Fault) {
	if f.Validate() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRule{Fault: f, left: f.Times})
}

// SetFaults replaces all rules after validating each; on error nothing changes.
func (s *Sim) SetFaults(fs []Fault) error {
	rules := make([]*faultRule, 0, len(fs))
	for _, f := range fs {
		if err := f.Validate(); err != nil {
			return err
		}
		rules = append(rules, &faultRule{Fault: f, left: f.Times})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = rules
	return nil
}

// ClearFaults removes every rule.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// FaultsInjected returns how many times each kind fired.
func (s *Sim) FaultsInjected() map[FaultKind]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.injected)
}

// pickFault returns the rule that fires for this request, if any; the caller holds s.mu.
func (s *Sim) pickFault(method, route string) *faultRule {
	for _, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.Route != "" && f.Route != route {
			continue
		}
		if f.Times > 0 {
			if f.left <= 0 {
				continue
			}
			f.left--
		} else if f.Probability <= 0 || s.rng.Float64() >= f.Probability {
			continue
		}
		s.injected[f.Kind]++
		return f
	}
	return nil
}

// apiError is the error an error-kind fault answers with.
func (f *faultRule) apiError() *apiError {
	switch f.Kind {
	case FaultRateLimit:
		return newError("rate_limit_exceeded", "limit of requests per hour reached (injected)")
	case FaultInternal:
		return newError("server_error", "error within the API backend (injected)")
	case FaultBadGateway:
		return newError("bad_gateway", "the request could not be answered by the API backend, please retry (injected)")
	case FaultUnavailable:
		return newError("unavailable", "a service or product is currently not available (injected)")
	case FaultGatewayTimeout:
		return newError("timeout", "the request could not be answered in time, please retry (injected)")
	case FaultLocked:
		return newError("locked", "the item is locked: an action is running (injected)")
	case FaultConflict:
		return newError("conflict", "the resource has changed during the request, please retry (injected)")
	case FaultResourceUnavailable:
		return newError("resource_unavailable", "the requested resource is currently unavailable (injected)")
	}
	return newError("server_error", "unexpected fault kind %q", f.Kind)
}
