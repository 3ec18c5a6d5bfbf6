package hcloudsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"
)

// MarshalJSON writes Latency as a Go duration string ("250ms").
func (f Fault) MarshalJSON() ([]byte, error) {
	type plain Fault
	out := struct {
		plain
		Latency string `json:"latency,omitempty"`
	}{plain: plain(f)}
	if f.Latency != 0 {
		out.Latency = f.Latency.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads Latency as a Go duration string ("250ms") or as nanoseconds.
func (f *Fault) UnmarshalJSON(b []byte) error {
	type plain Fault
	var in struct {
		plain
		Latency json.RawMessage `json:"latency,omitempty"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return err
	}
	*f = Fault(in.plain)
	f.Latency = 0
	if len(in.Latency) > 0 && string(in.Latency) != "null" {
		var s string
		if err := json.Unmarshal(in.Latency, &s); err == nil {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("fault latency: %w", err)
			}
			f.Latency = d
		} else {
			var ns int64
			if err := json.Unmarshal(in.Latency, &ns); err != nil {
				return fmt.Errorf("fault latency: want a duration string or nanoseconds")
			}
			f.Latency = time.Duration(ns)
		}
	}
	return nil
}

// ParseFaults reads a JSON array of Fault and validates every rule.
func ParseFaults(r io.Reader) ([]Fault, error) {
	var fs []Fault
	if err := json.NewDecoder(r).Decode(&fs); err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	for i, f := range fs {
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("faults[%d]: %w", i, err)
		}
	}
	return fs, nil
}

// AdminHandler serves the test hooks outside /v1, each requiring "Authorization: Bearer <Options.Token>":
//
//	GET    /_sim/requests          {"requests": {"GET /v1/servers": 3, ...}, "total": 3}
//	POST   /_sim/requests/reset    zeroes the counters (204)
//	GET    /_sim/created           [{"Kind","ID","Name","At"}, ...]
//	GET    /_sim/state             the live objects (State)
//	POST   /_sim/faults            JSON array of Fault, replaces the rules (204)
//	DELETE /_sim/faults            removes every rule (204)
//	GET    /_sim/faults            the current rules
//	GET    /_sim/faults/injected   {"drop": 1, ...}
//	POST   /_sim/catalog/availability  {"server_type","location","available"} (204)
//	POST   /_sim/catalog/deprecation   {"server_type","location" ("" = everywhere),"announced","unavailable_after"} (204)
//	GET    /_sim/latency           {"latency": "40ms"}
//	POST   /_sim/latency           {"latency": "40ms"} sets the time added to every /v1 request (204)
//	POST   /_sim/labels            {"kind","id","labels"} replaces an object's labels (204), see SetLabels
//	POST   /_sim/fleet             Fleet: adds running servers, {"ids": [...]} (201), see SeedFleet
//
// Admin requests are neither counted nor rate limited.
func (s *Sim) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		out := map[string]any{"requests": maps.Clone(s.requests), "total": s.total}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /_sim/requests/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/created", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Created())
	})
	mux.HandleFunc("GET /_sim/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Snapshot())
	})
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		fs, err := ParseFaults(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			writeError(w, newError("invalid_input", "%v", err))
			return
		}
		if err := s.SetFaults(fs); err != nil {
			writeError(w, newError("invalid_input", "%v", err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/faults/injected", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.FaultsInjected())
	})
	mux.HandleFunc("POST /_sim/catalog/availability", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ServerType string `json:"server_type"`
			Location   string `json:"location"`
			Available  bool   `json:"available"`
		}
		if err := decodeAdmin(r, &req); err != nil {
			writeError(w, err)
			return
		}
		if err := s.SetAvailability(req.ServerType, req.Location, req.Available); err != nil {
			writeError(w, newError("invalid_input", "%v", err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/catalog/deprecation", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ServerType       string    `json:"server_type"`
			Location         string    `json:"location"`
			Announced        time.Time `json:"announced"`
			UnavailableAfter time.Time `json:"unavailable_after"`
		}
		if err := decodeAdmin(r, &req); err != nil {
			writeError(w, err)
			return
		}
		if err := s.DeprecateServerType(req.ServerType, req.Location, req.Announced, req.UnavailableAfter); err != nil {
			writeError(w, newError("invalid_input", "%v", err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.adminControls(mux)
	s.adminFleet(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || s.opts.Token == "" || strings.TrimSpace(token) != s.opts.Token {
			writeError(w, newError("unauthorized", "unable to authenticate"))
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			writeError(w, newError("not_found", "no admin route %s %s", r.Method, r.URL.Path))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Faults returns the current rules; Times is what is left of each scripted rule.
func (s *Sim) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		c := f.Fault
		if c.Times > 0 {
			c.Times = f.left
		}
		out = append(out, c)
	}
	return out
}

// decodeAdmin strictly decodes an admin request body.
func decodeAdmin(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return newError("json_error", "invalid JSON: %v", err)
	}
	return nil
}

// adminControls registers the latency and relabelling controls.
func (s *Sim) adminControls(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/latency", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"latency": s.Latency().String()})
	})
	mux.HandleFunc("POST /_sim/latency", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Latency string `json:"latency"`
		}
		if err := decodeAdmin(r, &req); err != nil {
			writeError(w, err)
			return
		}
		d, err := time.ParseDuration(req.Latency)
		if err != nil || d < 0 {
			writeError(w, newError("invalid_input", "latency: want a non-negative Go duration such as \"40ms\""))
			return
		}
		s.SetLatency(d)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/labels", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Kind   string            `json:"kind"`
			ID     int64             `json:"id"`
			Labels map[string]string `json:"labels"`
		}
		if err := decodeAdmin(r, &req); err != nil {
			writeError(w, err)
			return
		}
		var aerr *apiError
		if err := s.SetLabels(req.Kind, req.ID, req.Labels); errors.As(err, &aerr) {
			writeError(w, aerr)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// LabelKinds are the kinds of object SetLabels relabels.
var LabelKinds = []string{"server", "ssh_key", "network", "firewall", "placement_group", "volume", "image"}

// SetLabels replaces the labels of a live object, as its owner would in the console, mid-run (for example
// Nanobox=false on a network). It bypasses the API: no request is counted or rate limited and no fault
// applies. kind is one of LabelKinds; the labels must be valid Hetzner labels. The error is 422 invalid_input
// for bad labels or kind, 404 not_found for an unknown object.
func (s *Sim) SetLabels(kind string, id int64, labels map[string]string) error {
	valid, aerr := validLabels(&labels)
	if aerr != nil {
		return aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target, aerr := s.st.labelsOf(kind, id)
	if aerr != nil {
		return aerr
	}
	*target = valid
	return nil
}

// labelsOf finds the labels of a live object; the caller holds s.mu.
func (st *state) labelsOf(kind string, id int64) (*map[string]string, *apiError) {
	var target *map[string]string
	switch kind {
	case "server":
		if o, ok := st.servers[id]; ok {
			target = &o.s.Labels
		}
	case "ssh_key":
		if o, ok := st.sshKeys[id]; ok {
			target = &o.Labels
		}
	case "network":
		if o, ok := st.networks[id]; ok {
			target = &o.Labels
		}
	case "firewall":
		if o, ok := st.firewalls[id]; ok {
			target = &o.Labels
		}
	case "placement_group":
		if o, ok := st.placementGroups[id]; ok {
			target = &o.Labels
		}
	case "volume":
		if o, ok := st.volumes[id]; ok {
			target = &o.v.Labels
		}
	case "image":
		if o, ok := st.images[id]; ok {
			target = &o.im.Labels
		}
	default:
		return nil, invalidField("kind", "must be one of "+strings.Join(LabelKinds, ", "))
	}
	if target == nil {
		return nil, notFound(kind, id)
	}
	return target, nil
}
