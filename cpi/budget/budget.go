// Package budget tracks a Hetzner project's rate-limit budget across CPI
// processes.
//
// Hetzner gives each project a bucket of requests (RateLimit-Limit, 3600)
// that refills steadily until it is full again at RateLimit-Reset. Every
// response says what is left (RateLimit-Remaining). Transport reads those
// headers on every response and keeps the latest in the project's state
// directory (budget-<project>.json, and budget-<project>.prom for the
// metric), so the next process knows the budget before it sends anything;
// and it refuses a write the budget cannot pay for before sending it.
package budget

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// State is the budget as last seen in a response.
type State struct {
	Limit      int       `json:"limit"`
	Remaining  int       `json:"remaining"`
	Reset      time.Time `json:"reset"`       // when the bucket is full again
	ObservedAt time.Time `json:"observed_at"` // when the response arrived
}

// Estimate is the budget left at now: what was remaining, plus the steady
// refill since ObservedAt that makes the bucket full at Reset.
func (s State) Estimate(now time.Time) float64 {
	missing := float64(s.Limit - s.Remaining)
	if missing <= 0 {
		return float64(s.Limit)
	}
	span := s.Reset.Sub(s.ObservedAt)
	elapsed := now.Sub(s.ObservedAt)
	if span <= 0 || elapsed >= span {
		return float64(s.Limit)
	}
	if elapsed < 0 {
		elapsed = 0
	}
	return float64(s.Remaining) + missing*float64(elapsed)/float64(span)
}

// RetryAfter is how long until the bucket holds one request again, derived
// from the reset time (the refill rate is what is missing over the time to
// Reset); at least one second.
func (s State) RetryAfter(now time.Time) time.Duration {
	missing := float64(s.Limit - s.Remaining)
	span := s.Reset.Sub(s.ObservedAt)
	if missing <= 0 || span <= 0 {
		return time.Second
	}
	perRequest := time.Duration(float64(span) / missing)
	have := s.Estimate(now)
	wait := time.Duration((1 - have) * float64(perRequest))
	return max(time.Second, wait.Round(time.Second))
}

// Delay is how long a client answered 429 by the API should wait: the
// answer's Retry-After (seconds or an HTTP date) when it has one, else the
// RetryAfter of the budget its RateLimit headers announce (the time until
// the bucket holds one request again, derived from RateLimit-Reset); at
// least one second. ok is false when the answer has neither.
func Delay(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
			return clampDelay(time.Duration(min(secs, int64(maxDelay/time.Second))) * time.Second), true
		}
		if at, err := http.ParseTime(v); err == nil {
			return clampDelay(at.Sub(now)), true
		}
	}
	s, ok := parseHeaders(h)
	if !ok {
		return 0, false
	}
	s.ObservedAt = now
	return clampDelay(s.RetryAfter(now)), true
}

// maxDelay bounds every delay this package derives, read from an answer
// or estimated before a write is sent: the protocol's one bound on the
// waits the adapter announces.
const maxDelay = protocol.MaxRetryAfter

func clampDelay(d time.Duration) time.Duration { return min(maxDelay, max(time.Second, d)) }

// ExhaustedError is a write refused before it was sent: the project's
// budget cannot pay for it until RetryAfter has passed.
type ExhaustedError struct {
	RetryAfter time.Duration
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("the project's API rate limit is spent; the request was not sent (retry after %d s)", int(math.Ceil(e.RetryAfter.Seconds())))
}

// Pacing is how polling spends the budget: the window a snapshot of the
// project's servers answers polls for widens as the budget falls, so that
// polling leaves the last requests to writes.
type Pacing struct {
	Window         time.Duration // while at least twice the reserve is left
	MaxWindow      time.Duration // the bound: at or below the reserve
	ReservePercent int           // of the limit
}

// WindowAt is the window in force with budget s at now: Window while the
// estimate is at least twice ReservePercent of the limit, MaxWindow at or
// below ReservePercent, and in between in proportion to what is missing
// from twice the reserve. Without a budget seen (ok false) it is Window.
func (p Pacing) WindowAt(s State, ok bool, now time.Time) time.Duration {
	if !ok || p.MaxWindow <= p.Window {
		return p.Window
	}
	reserve := float64(s.Limit) * float64(p.ReservePercent) / 100
	left := s.Estimate(now)
	switch {
	case left >= 2*reserve:
		return p.Window
	case left <= reserve:
		return p.MaxWindow
	}
	share := (2*reserve - left) / reserve // 0 at twice the reserve, 1 at the reserve
	return p.Window + time.Duration(share*float64(p.MaxWindow-p.Window))
}

// Tracker keeps one project's budget on disk.
type Tracker struct {
	path, metricPath, project string
	p                         *statedir.Project
	used                      bool // p.MarkUsed was called by this tracker
	now                       func() time.Time
	pacing                    *Pacing
}

// SetPacing makes the tracker pace polling by p: Window answers the window
// in force, and the metric file carries it.
func (t *Tracker) SetPacing(p Pacing) { t.pacing = &p }

// Window is the polling window in force now (Pacing.WindowAt the last
// budget seen); 0 without SetPacing.
func (t *Tracker) Window() time.Duration {
	if t.pacing == nil {
		return 0
	}
	s, ok := t.Load()
	return t.pacing.WindowAt(s, ok, t.now())
}

// NewTracker keeps the budget of project p; now is time.Now when nil.
func NewTracker(p *statedir.Project, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{path: p.Path("budget", "json"), metricPath: p.Path("budget", "prom"), project: p.ID(), p: p, now: now}
}

// Observe keeps what an answer of the API says: nothing for an answer that
// rejected the token (401), so a token Hetzner refuses leaves no file and
// no metric; otherwise the project is marked used (once per tracker) and
// the budget its headers announce is recorded.
func (t *Tracker) Observe(resp *http.Response) error {
	if resp.StatusCode == http.StatusUnauthorized {
		return nil
	}
	if !t.used {
		if err := t.p.MarkUsed(); err != nil {
			return err
		}
		t.used = true
	}
	return t.Record(resp.Header)
}

// Load returns the last budget seen by any process; ok is false when none
// was recorded, or the file is unreadable or not ours.
func (t *Tracker) Load() (State, bool) {
	data, err := statedir.ReadFile(t.path)
	if err != nil {
		return State{}, false
	}
	var s State
	if json.Unmarshal(data, &s) != nil || s.Limit <= 0 || s.Remaining < 0 || s.Remaining > s.Limit {
		return State{}, false
	}
	return s, true
}

// Record keeps the budget a response announced; a response without the
// headers changes nothing.
func (t *Tracker) Record(h http.Header) error {
	s, ok := parseHeaders(h)
	if !ok {
		return nil
	}
	s.ObservedAt = t.now()
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := statedir.WriteFile(t.path, data); err != nil {
		return err
	}
	return statedir.WriteFile(t.metricPath, []byte(t.metric(s)))
}

func parseHeaders(h http.Header) (State, bool) {
	limit, err1 := strconv.Atoi(h.Get("RateLimit-Limit"))
	remaining, err2 := strconv.Atoi(h.Get("RateLimit-Remaining"))
	reset, err3 := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || limit <= 0 || remaining < 0 || remaining > limit {
		return State{}, false
	}
	return State{Limit: limit, Remaining: remaining, Reset: time.Unix(reset, 0)}, true
}

// Metric names of the budget in the Prometheus text format.
const (
	MetricRemaining = "nanobox_cpi_rate_limit_remaining"
	MetricLimit     = "nanobox_cpi_rate_limit_limit"
	MetricReset     = "nanobox_cpi_rate_limit_reset_timestamp_seconds"
	MetricWindow    = "nanobox_cpi_polling_window_seconds"
)

// metric renders s in the Prometheus text format, labelled with the
// project's hash.
func (t *Tracker) metric(s State) string {
	var b strings.Builder
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s{project=%q} %s\n", name, help, name, name, t.project, strconv.FormatFloat(v, 'f', -1, 64))
	}
	gauge(MetricRemaining, "Hetzner API requests left in the project's rate-limit bucket, as the last CPI response saw them.", float64(s.Remaining))
	gauge(MetricLimit, "Size of the project's Hetzner rate-limit bucket.", float64(s.Limit))
	gauge(MetricReset, "When the project's Hetzner rate-limit bucket is full again (Unix time).", float64(s.Reset.Unix()))
	if t.pacing != nil {
		gauge(MetricWindow, "How long the shared server snapshot answers polls, as the budget the last CPI response saw sets it.", t.pacing.WindowAt(s, true, s.ObservedAt).Seconds())
	}
	return b.String()
}

// Transport is an http.RoundTripper for hcloud-go (hcloud.WithHTTPClient)
// that records the budget of every response but those rejecting the token
// (Tracker.Observe) and refuses a write (any
// method but GET, HEAD, OPTIONS) the budget cannot pay for, with an
// *ExhaustedError, before it is sent. After every write it sent, answered
// or not, it calls AfterWrite (when set) with the request.
type Transport struct {
	Base       http.RoundTripper // http.DefaultTransport when nil
	Tracker    *Tracker
	AfterWrite func(*http.Request)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	write := isWrite(req.Method)
	if write && t.Tracker != nil {
		if s, ok := t.Tracker.Load(); ok {
			now := t.Tracker.now()
			if s.Estimate(now) < 1 {
				if req.Body != nil {
					req.Body.Close()
				}
				return nil, &ExhaustedError{RetryAfter: clampDelay(s.RetryAfter(now))}
			}
		}
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if resp != nil && t.Tracker != nil {
		_ = t.Tracker.Observe(resp) // a budget not kept only costs precision
	}
	if write && t.AfterWrite != nil {
		t.AfterWrite(req)
	}
	return resp, err
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// IsExhausted reports whether err is (or wraps) an *ExhaustedError, and
// returns it.
func IsExhausted(err error) (*ExhaustedError, bool) {
	var e *ExhaustedError
	ok := errors.As(err, &e)
	return e, ok
}
