package shim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// call runs one CPI call within a concurrency slot and the call timeout and
// returns the raw result, or the error to answer.
func (s *Shim) call(ctx context.Context, req *protocol.Request) (json.RawMessage, *callError) {
	return s.callWithin(ctx, req, s.opts.Timeout)
}

func (s *Shim) callWithin(parent context.Context, req *protocol.Request, timeout time.Duration) (json.RawMessage, *callError) {
	if cerr := s.acquireSlot(parent, req.Method); cerr != nil {
		return nil, cerr
	}
	defer func() { <-s.slots }()
	if !s.startCall() {
		return nil, abortedError(req.Method)
	}
	defer s.calls.Done()
	return s.run(parent, req, timeout)
}

// run executes the call's CPI process and interprets its outcome.
func (s *Shim) run(parent context.Context, req *protocol.Request, timeout time.Duration) (json.RawMessage, *callError) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, &callError{status: http.StatusInternalServerError, message: "encoding the CPI request failed"}
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	// Abort ends the call too: its process group is killed at once.
	defer context.AfterFunc(s.life, cancel)()

	s.metrics.inFlight.Inc()
	out, runErr := s.runner.Run(ctx, data)
	s.metrics.inFlight.Dec()

	fields := logrus.Fields{"request_id": req.Context.RequestID, "cpi_method": req.Method, "pid": out.PID}
	result, cerr := s.interpret(parent, s.life, req.Method, timeout, out, runErr, secretsOf(req.Context.Credentials), fields)
	s.metrics.cpiDuration.WithLabelValues(req.Method, outcomeLabel(cerr)).Observe(out.Duration.Seconds())
	return result, cerr
}

// outcomeLabel is the metric's outcome of a call that ended with cerr.
func outcomeLabel(cerr *callError) string {
	switch {
	case cerr == nil:
		return "ok"
	case cerr.errorType != "":
		return "error"
	case cerr.status == http.StatusGatewayTimeout:
		return "timeout"
	}
	return "failed"
}

// acquireSlot takes a CPI slot, waiting up to QueueWait (in FIFO order)
// when all are busy and fewer than MaxQueue requests already wait.
func (s *Shim) acquireSlot(ctx context.Context, method string) *callError {
	if s.life.Err() != nil {
		return abortedError(method)
	}
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
	case <-s.life.Done():
		return abortedError(method)
	}
}
