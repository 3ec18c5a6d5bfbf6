package shim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func (s *Shim) healthTimeout() time.Duration {
	return min(s.opts.Timeout, DefaultHealthTimeout)
}

// serveHealth answers 200 when the CPI answers info within the health
// timeout, 503 otherwise.
func (s *Shim) serveHealth(w http.ResponseWriter, r *http.Request) {
	result, cerr := s.callWithin(r.Context(), &protocol.Request{
		Method: protocol.MethodInfo, Arguments: []json.RawMessage{},
		Context: protocol.Context{RequestID: requestID(w)}, APIVersion: protocol.APIVersion,
	}, s.healthTimeout())
	if cerr != nil {
		if cerr.status != statusClientClosed {
			cerr.status = http.StatusServiceUnavailable
			cerr.message = "unhealthy: " + cerr.message
		}
		cerr.write(w)
		return
	}
	var info protocol.Info
	if err := json.Unmarshal(result, &info); err != nil || info.APIVersion != protocol.APIVersion {
		writeErrors(w, http.StatusServiceUnavailable, "unhealthy: the CPI's info is not protocol version "+strconv.Itoa(protocol.APIVersion))
		return
	}
	body, _ := json.Marshal(struct {
		Status  string        `json:"status"`
		Version string        `json:"shim_version,omitempty"`
		CPI     protocol.Info `json:"cpi"`
	}{"ok", s.opts.Version, info})
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}
