package shim

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

// recorder remembers what the access log and the metrics need about a
// response. Handlers reach it through setRoute, setStatus and requestID.
type recorder struct {
	http.ResponseWriter
	status    int
	bytes     int
	route     string
	requestID string
}

var recorders = sync.Pool{New: func() any { return new(recorder) }}

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(p)
	rec.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

func setRoute(w http.ResponseWriter, route string) {
	if rec, ok := w.(*recorder); ok {
		rec.route = route
	}
}

func setStatus(w http.ResponseWriter, status int) {
	if rec, ok := w.(*recorder); ok && rec.status == 0 {
		rec.status = status
	}
}

func requestID(w http.ResponseWriter) string {
	if rec, ok := w.(*recorder); ok {
		return rec.requestID
	}
	return ""
}

// accessLog assigns the request id, then logs one line per request (method,
// path, status, duration, request id; never a header value) and counts it.
func (s *Shim) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := recorders.Get().(*recorder)
		*rec = recorder{ResponseWriter: w, requestID: callersRequestID(r)}
		w.Header().Set(RequestIDHeader, rec.requestID)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.WithFields(logrus.Fields{"request_id": rec.requestID, "panic": p}).Error("handler panicked")
				if rec.status == 0 {
					writeErrors(rec, http.StatusInternalServerError, "internal error in the shim")
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			route := rec.route
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
			s.log.WithFields(logrus.Fields{
				"method":      r.Method,
				"path":        shownPath(r),
				"status":      status,
				"duration_ms": float64(d.Microseconds()) / 1000,
				"request_id":  rec.requestID,
				"bytes":       rec.bytes,
				"remote":      r.RemoteAddr,
			}).Info("request")
			*rec = recorder{}
			recorders.Put(rec)
		}()
		next.ServeHTTP(rec, r)
	})
}

// callersRequestID is the request's X-Request-Id when it is valid and holds
// no credential of the request (it is echoed and logged), else a generated
// one.
func callersRequestID(r *http.Request) string {
	id := validRequestID(r.Header.Get(RequestIDHeader))
	if id == "" || requestSecrets(r.Header).Contains(id) {
		return newRequestID()
	}
	return id
}

// validRequestID accepts a caller's id of 1 to 128 characters from
// [A-Za-z0-9._:-]; anything else is replaced by a generated one, so a
// header cannot inject into log lines.
func validRequestID(id string) string {
	if len(id) == 0 || len(id) > 128 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return ""
		}
	}
	return id
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// shownPath is the request's path as messages and the access log show it:
// with every credential value of the request redacted (a client may put
// its token in the URL by mistake), then cut to 200 bytes.
func shownPath(r *http.Request) string {
	return protocol.Truncate(requestSecrets(r.Header).String(r.URL.Path), 200)
}
