package bosh

import (
	"errors"
	"net"
	"net/http"
	"syscall"
	"time"
)

// retryTransport retries, with backoff and within the request's deadline,
// what hcloud-go's own retries leave out:
//   - a request that never reached Hetzner (the connection was refused,
//     reset or could not be made), any method: nothing was carried out;
//   - a read (GET, HEAD) that failed in transport (not by a timeout) or was
//     answered 500 or 503, at most maxReadTries times: reading again changes
//     nothing. (hcloud-go retries timeouts, 502 and 504 itself.)
//
// A write whose answer was lost is not repeated here: the method decides
// (by the name it chose, see createServer and CreateDisk).
type retryTransport struct {
	base    http.RoundTripper
	backoff func(attempt int) time.Duration
}

const (
	maxReadTries = 6
	minRetryWait = 10 * time.Millisecond
)

func (t retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	read := req.Method == http.MethodGet || req.Method == http.MethodHead
	for attempt := 1; ; attempt++ {
		try := req
		if attempt > 1 && req.Body != nil {
			if req.GetBody == nil {
				return t.base.RoundTrip(req)
			}
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			try = req.Clone(req.Context())
			try.Body = body
		}
		resp, err := t.base.RoundTrip(try)
		again := (err != nil && notSent(err)) ||
			(read && attempt < maxReadTries && ((err != nil && !timeout(err)) || (err == nil && retryableStatus(resp.StatusCode))))
		if !again {
			return resp, err
		}
		wait := max(t.backoff(attempt), minRetryWait)
		if dl, ok := req.Context().Deadline(); ok && time.Until(dl) <= wait {
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
	}
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusInternalServerError, http.StatusServiceUnavailable:
		return true
	}
	return false
}

func timeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// notSent reports whether a transport error means the request never
// reached the server: no connection could be made.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
