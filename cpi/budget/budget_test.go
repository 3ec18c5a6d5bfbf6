package budget_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/budget"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func TestEstimateAndRetryAfter(t *testing.T) {
	at := time.Unix(1_000_000, 0)
	cases := []struct {
		name      string
		s         budget.State
		after     time.Duration
		estimate  float64
		retryWait time.Duration
	}{
		{"full bucket", budget.State{Limit: 3600, Remaining: 3600, Reset: at, ObservedAt: at}, 0, 3600, time.Second},
		{"empty, just seen", budget.State{Limit: 3600, Remaining: 0, Reset: at.Add(time.Hour), ObservedAt: at}, 0, 0, time.Second},
		{"empty, refilled one", budget.State{Limit: 3600, Remaining: 0, Reset: at.Add(time.Hour), ObservedAt: at}, time.Second, 1, time.Second},
		{"slow refill", budget.State{Limit: 10, Remaining: 0, Reset: at.Add(100 * time.Second), ObservedAt: at}, 0, 0, 10 * time.Second},
		{"half way", budget.State{Limit: 100, Remaining: 50, Reset: at.Add(50 * time.Second), ObservedAt: at}, 25 * time.Second, 75, time.Second},
		{"past the reset", budget.State{Limit: 100, Remaining: 0, Reset: at.Add(100 * time.Second), ObservedAt: at}, time.Hour, 100, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := at.Add(tc.after)
			require.InDelta(t, tc.estimate, tc.s.Estimate(now), 0.001)
			require.Equal(t, tc.retryWait, tc.s.RetryAfter(now))
		})
	}
}

// TestTransport: the budget of every response is kept on disk (and as a
// metric); a write the budget cannot pay is refused unsent; a read is sent.
func TestTransport(t *testing.T) {
	remaining := 3000
	sent := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent[r.Method]++
		w.Header().Set("RateLimit-Limit", "3600")
		w.Header().Set("RateLimit-Remaining", strconv.Itoa(remaining))
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	}))
	defer srv.Close()
	p, err := statedir.Open(t.TempDir(), srv.URL, "secret-token")
	require.NoError(t, err)
	tracker := budget.NewTracker(p, nil)
	tracker.SetPacing(budget.Pacing{Window: time.Second, MaxWindow: 10 * time.Second, ReservePercent: 10})
	var written []string
	client := &http.Client{Transport: &budget.Transport{Tracker: tracker, AfterWrite: func(r *http.Request) { written = append(written, r.Method) }}}

	resp, err := client.Post(srv.URL+"/servers", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	s, ok := tracker.Load()
	require.True(t, ok)
	require.Equal(t, 3000, s.Remaining)
	require.Equal(t, 3600, s.Limit)
	metric, err := os.ReadFile(p.Path("budget", "prom"))
	require.NoError(t, err)
	require.Contains(t, string(metric), budget.MetricRemaining+`{project="`+p.ID()+`"} 3000`)
	require.Equal(t, time.Second, tracker.Window())

	remaining = 0
	resp, err = client.Get(srv.URL + "/servers/1")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 10*time.Second, tracker.Window(), "an empty bucket: the widest window")

	_, err = client.Post(srv.URL+"/servers", "application/json", strings.NewReader("{}"))
	var exhausted *budget.ExhaustedError
	require.True(t, errors.As(err, &exhausted), "%v", err)
	require.Equal(t, time.Second, exhausted.RetryAfter)
	require.Equal(t, map[string]int{"POST": 1, "GET": 1}, sent, "the refused write was not sent")
	require.Equal(t, []string{"POST"}, written, "AfterWrite sees every write sent, answered or not")
}

func TestLoadIgnoresDamage(t *testing.T) {
	p, err := statedir.Open(t.TempDir(), "e", "t")
	require.NoError(t, err)
	tracker := budget.NewTracker(p, nil)
	tracker.SetPacing(budget.Pacing{Window: time.Second, MaxWindow: 10 * time.Second, ReservePercent: 10})
	for _, bad := range []string{"", "{", `{"limit":0}`, `{"limit":10,"remaining":11}`, `{"limit":10,"remaining":-1}`} {
		require.NoError(t, os.WriteFile(p.Path("budget", "json"), []byte(bad), 0o600))
		_, ok := tracker.Load()
		require.False(t, ok, bad)
		require.Equal(t, time.Second, tracker.Window(), bad)
	}
}

// TestDelay: the wait a 429 asks for comes from its Retry-After when it
// has one, else from its RateLimit headers (the time until the bucket
// holds one request, derived from RateLimit-Reset); never under a second.
func TestDelay(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	rate := func(limit, remaining int, reset time.Duration) http.Header {
		h := http.Header{}
		h.Set("RateLimit-Limit", strconv.Itoa(limit))
		h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
		h.Set("RateLimit-Reset", strconv.FormatInt(now.Add(reset).Unix(), 10))
		return h
	}
	with := func(h http.Header, k, v string) http.Header { h.Set(k, v); return h }
	cases := []struct {
		name string
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{"Hetzner's bucket, empty", rate(3600, 0, time.Hour), time.Second, true},
		{"a slow bucket, empty", rate(4, 0, 40*time.Minute), 10 * time.Minute, true},
		{"a bucket of one", rate(1, 0, 90*time.Second), 90 * time.Second, true},
		{"reset already passed", rate(10, 0, -time.Minute), time.Second, true},
		{"Retry-After in seconds wins", with(rate(3600, 0, time.Hour), "Retry-After", "42"), 42 * time.Second, true},
		{"Retry-After as a date", with(http.Header{}, "Retry-After", now.Add(2*time.Minute).UTC().Format(http.TimeFormat)), 2 * time.Minute, true},
		{"Retry-After 0 is a second", with(http.Header{}, "Retry-After", "0"), time.Second, true},
		{"Retry-After huge is the bound", with(http.Header{}, "Retry-After", "99999999999999999"), protocol.MaxRetryAfter, true},
		{"Retry-After a far date is the bound", with(http.Header{}, "Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), protocol.MaxRetryAfter, true},
		{"reset in the year 9999 is the bound", with(rate(3600, 0, 0), "RateLimit-Reset", "253402214400"), protocol.MaxRetryAfter, true},
		{"Retry-After unreadable, headers used", with(rate(4, 0, 40*time.Minute), "Retry-After", "soon"), 10 * time.Minute, true},
		{"nothing to go by", http.Header{}, 0, false},
		{"broken RateLimit headers", with(rate(4, 0, time.Hour), "RateLimit-Remaining", "-3"), 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := budget.Delay(tc.h, now)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestPacingWidensTheWindow: the window is the configured one while twice
// the reserve is left, widens in proportion below that, and reaches its
// bound at the reserve; the tracker serves it and its metric carries it.
func TestPacingWidensTheWindow(t *testing.T) {
	at := time.Unix(1_000_000, 0)
	pacing := budget.Pacing{Window: time.Second, MaxWindow: 11 * time.Second, ReservePercent: 10}
	state := func(remaining int) budget.State {
		return budget.State{Limit: 3600, Remaining: remaining, Reset: at.Add(time.Duration(3600-remaining) * time.Second), ObservedAt: at}
	}
	for _, tc := range []struct {
		name   string
		s      budget.State
		seen   bool
		after  time.Duration
		window time.Duration
	}{
		{"no budget seen", budget.State{}, false, 0, time.Second},
		{"full", state(3600), true, 0, time.Second},
		{"twice the reserve", state(720), true, 0, time.Second},
		{"one and a half times the reserve", state(540), true, 0, 6 * time.Second},
		{"at the reserve", state(360), true, 0, 11 * time.Second},
		{"empty", state(0), true, 0, 11 * time.Second},
		{"empty, refilled to one and a half times the reserve", state(0), true, 540 * time.Second, 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.window, pacing.WindowAt(tc.s, tc.seen, at.Add(tc.after)))
		})
	}
	require.Equal(t, time.Second, budget.Pacing{Window: time.Second, MaxWindow: time.Second, ReservePercent: 10}.WindowAt(state(0), true, at), "no wider bound")

	p, err := statedir.Open(t.TempDir(), "http://sim", "secret-token")
	require.NoError(t, err)
	tracker := budget.NewTracker(p, func() time.Time { return at })
	require.Zero(t, tracker.Window(), "no pacing")
	tracker.SetPacing(pacing)
	require.Equal(t, time.Second, tracker.Window(), "no budget seen")
	h := http.Header{}
	h.Set("RateLimit-Limit", "3600")
	h.Set("RateLimit-Remaining", "540")
	h.Set("RateLimit-Reset", strconv.FormatInt(at.Add(3060*time.Second).Unix(), 10))
	require.NoError(t, tracker.Record(h))
	require.Equal(t, 6*time.Second, tracker.Window())
	metric, err := os.ReadFile(p.Path("budget", "prom"))
	require.NoError(t, err)
	require.Contains(t, string(metric), budget.MetricWindow+`{project="`+p.ID()+`"} 6`+"\n")
}

// TestRefusalWaitIsBounded: a write refused before it is sent, when the
// last answer announced a reset far in the future (9999-12-31), asks for
// at most protocol.MaxRetryAfter, like every other wait the adapter
// announces.
func TestRefusalWaitIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("RateLimit-Limit", "3600")
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reset", "253402214400") // 9999-12-31T00:00:00Z
	}))
	defer srv.Close()
	p, err := statedir.Open(t.TempDir(), srv.URL, "secret-token")
	require.NoError(t, err)
	client := &http.Client{Transport: &budget.Transport{Tracker: budget.NewTracker(p, nil)}}
	resp, err := client.Get(srv.URL + "/servers")
	require.NoError(t, err)
	resp.Body.Close()
	_, err = client.Post(srv.URL+"/servers", "application/json", strings.NewReader("{}"))
	exhausted, ok := budget.IsExhausted(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, protocol.MaxRetryAfter, exhausted.RetryAfter)
}
