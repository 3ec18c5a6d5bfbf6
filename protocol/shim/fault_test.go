package shim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

func TestFaults_BrokenCPIAnswers502(t *testing.T) {
	ts := startShim(t, shim.Options{})
	cases := []struct {
		mode, verb, path string
		want             string
		wantLog          string
	}{
		{"crash", http.MethodPost, "/verify", "exited with status 2", "panic: stub"},
		{"signal", http.MethodGet, "/servers/1", "killed by signal killed", ""},
		{"exit3", http.MethodGet, "/servers/1", "exited with status 3 after writing a response", ""},
		{"garbage", http.MethodGet, "/catalog", "not one JSON object", "this is not JSON"},
		{"nothing", http.MethodDelete, "/servers/1", "wrote no response", ""},
		{"empty-object", http.MethodPatch, "/servers/1/reboot", "neither a result nor an error", ""},
		{"unknown-type", http.MethodGet, "/keys/1", "the CPI failed: odd", "unknown error type"},
		{"null", http.MethodGet, "/servers/1", "without a result", ""},
		{"big", http.MethodGet, "/meta", "exceeds", ""},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			resp := ts.do(t, c.verb, c.path, "", "Auth-Stub-Mode: "+c.mode)
			require.Equal(t, http.StatusBadGateway, resp.Status, "%s", resp.Body)
			assertErrorsBody(t, resp, c.want)
			assert.NotContains(t, string(resp.Body), "goroutine", "stderr must not reach the client")
			assert.NotContains(t, string(resp.Body), "stub crash")
			if c.wantLog != "" {
				assert.Contains(t, ts.Logs.String(), c.wantLog, "stderr/diagnostics belong in the shim's log")
			}
		})
	}
	t.Run("null result where no body is due is fine", func(t *testing.T) {
		resp := ts.do(t, http.MethodPost, "/verify", "", "Auth-Stub-Mode: null")
		assert.Equal(t, http.StatusOK, resp.Status)
		assert.Empty(t, resp.Body)
	})
}

func TestFaults_CPIThatCannotStart(t *testing.T) {
	dir := t.TempDir()
	cpi := filepath.Join(dir, "cpi")
	data, err := os.ReadFile(stubCPI)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cpi, data, 0o755))
	ts := startShim(t, shim.Options{CPI: cpi})
	require.NoError(t, os.Remove(cpi))
	resp := ts.do(t, http.MethodGet, "/meta", "")
	assert.Equal(t, http.StatusBadGateway, resp.Status)
	assertErrorsBody(t, resp, "could not be started")

	_, err = shim.New(shim.Options{CPI: cpi})
	assert.ErrorContains(t, err, "CPI binary")
	_, err = shim.New(shim.Options{CPI: stubCPI, CPIConfig: filepath.Join(dir, "nope.json"), BasePath: "api", MaxBody: -1})
	require.Error(t, err)
	for _, want := range []string{"CPI config", "base path", "max body"} {
		assert.ErrorContains(t, err, want, "every problem is reported together")
	}
}

// readPids waits for the stub's "<pid> <grandchild pid>" file.
func readPids(t testing.TB, dir string) (int, int) {
	t.Helper()
	path := filepath.Join(dir, "pids")
	waitFor(t, "the stub's pids file", 20*time.Second, func() bool { _, err := os.Stat(path); return err == nil })
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	fields := strings.Fields(string(data))
	require.Len(t, fields, 2)
	pid, err := strconv.Atoi(fields[0])
	require.NoError(t, err)
	gc, err := strconv.Atoi(fields[1])
	require.NoError(t, err)
	return pid, gc
}

// gone reports that pid no longer runs: it does not exist, or it is a
// zombie waiting for init (a killed grandchild's reaper is not ours).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// groupMembers lists the live processes whose process group is pgid.
func groupMembers(pgid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

func assertNoLeftovers(t testing.TB, pid, grandchild int) {
	t.Helper()
	// The CPI itself must be reaped by the shim (not even a zombie left);
	// the orphaned grandchild is init's to reap, so a zombie counts as gone.
	waitFor(t, "the CPI reaped and its grandchild gone", 10*time.Second, func() bool {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) && gone(grandchild) && len(groupMembers(pid)) == 0
	})
}

func TestFaults_TimeoutKillsTheWholeProcessGroup(t *testing.T) {
	ts := startShim(t, shim.Options{Timeout: 1500 * time.Millisecond})
	dir := t.TempDir()
	resp := ts.do(t, http.MethodGet, "/servers/1", "", "Auth-Stub-Mode: sleep", "Auth-Stub-Dir: "+dir)
	require.Equal(t, http.StatusGatewayTimeout, resp.Status, "%s", resp.Body)
	assertErrorsBody(t, resp, "did not answer query_server within 1.5s")
	validateAgainstSpec(t, http.MethodGet, "/servers/{id}", resp)
	pid, gc := readPids(t, dir)
	assertNoLeftovers(t, pid, gc)
	metrics := string(ts.do(t, http.MethodGet, "/metrics", "").Body)
	assert.Contains(t, metrics, `nanobox_shim_cpi_duration_seconds_count{cpi_method="query_server",outcome="timeout"} 1`)
}

// TestFaults_TimeoutSaysWhetherARetryIsSafe: the shim's own 504 states in
// X-Cpi-Ok-To-Retry whether repeating the call is safe, with Retry-After
// when it is (orders are idempotent by name; a second reboot is not).
func TestFaults_TimeoutSaysWhetherARetryIsSafe(t *testing.T) {
	ts := startShim(t, shim.Options{Timeout: 300 * time.Millisecond})
	cases := []struct {
		verb, path, specPath, body string
		safe                       bool
	}{
		{http.MethodPost, "/servers", "/servers", `{"name": "a", "region": "r1", "size": "s1", "ssh_key": "k"}`, true},
		{http.MethodGet, "/servers/1", "/servers/{id}", "", true},
		{http.MethodDelete, "/servers/1", "/servers/{id}", "", true},
		{http.MethodPatch, "/servers/1/reboot", "/servers/{id}/reboot", "", false},
	}
	for _, c := range cases {
		t.Run(c.verb+" "+c.path, func(t *testing.T) {
			resp := ts.do(t, c.verb, c.path, c.body, "Auth-Stub-Mode: block", "Auth-Stub-Dir: "+t.TempDir())
			require.Equal(t, http.StatusGatewayTimeout, resp.Status, "%s", resp.Body)
			assertRetryAdvice(t, resp, c.safe)
			validateAgainstSpec(t, c.verb, c.specPath, resp)
		})
	}
}

// TestFaults_RetryAdviceFollowsTheMethodTable: for every route, the shim's
// own 504 (call timed out) and 503 (shutting down) advise a retry exactly
// when the method table marks the method RetrySafe, with Retry-After then.
func TestFaults_RetryAdviceFollowsTheMethodTable(t *testing.T) {
	timedOut := startShim(t, shim.Options{Timeout: 300 * time.Millisecond})
	aborted := startShim(t, shim.Options{})
	aborted.Abort()
	for _, r := range protocol.Routes {
		m, ok := protocol.Lookup(r.Method)
		require.True(t, ok, r.Method)
		path := strings.ReplaceAll(r.Path, "{id}", "1")
		body := ""
		if r.Body {
			body = "{}"
		}
		for _, c := range []struct {
			name   string
			ts     *testShim
			status int
		}{
			{"timeout", timedOut, http.StatusGatewayTimeout},
			{"shutdown", aborted, http.StatusServiceUnavailable},
		} {
			t.Run(r.Method+"/"+c.name, func(t *testing.T) {
				resp := c.ts.do(t, r.Verb, path, body, "Auth-Stub-Mode: block", "Auth-Stub-Dir: "+t.TempDir())
				require.Equal(t, c.status, resp.Status, "%s", resp.Body)
				assertRetryAdvice(t, resp, m.RetrySafe)
				validateAgainstSpec(t, r.Verb, r.Path, resp)
			})
		}
	}
}

// assertRetryAdvice: the shim's own 503/504 says in X-Cpi-Ok-To-Retry
// whether a retry is safe, and invites one with Retry-After only then.
func assertRetryAdvice(t *testing.T, resp response, safe bool) {
	t.Helper()
	assert.Equal(t, strconv.FormatBool(safe), resp.Header.Get("X-Cpi-Ok-To-Retry"))
	if safe {
		assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	} else {
		assert.Empty(t, resp.Header.Get("Retry-After"), "no invitation to repeat an unsafe call")
	}
}

func TestFaults_ClientDisconnectKillsTheCPI(t *testing.T) {
	ts := startShim(t, shim.Options{Timeout: time.Minute})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/servers", strings.NewReader(`{"name": "n"}`))
	require.NoError(t, err)
	req.Header.Set("Auth-Stub-Mode", "sleep")
	req.Header.Set("Auth-Stub-Dir", dir)
	req.Header.Set("X-Request-Id", "gone-client")
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	pid, gc := readPids(t, dir)
	require.False(t, gone(pid))
	cancel()
	require.Error(t, <-errc)
	assertNoLeftovers(t, pid, gc)
	waitFor(t, "the access log line", 10*time.Second, func() bool {
		return strings.Contains(ts.Logs.String(), `"request_id":"gone-client","status":499`)
	})
	assert.Contains(t, ts.Logs.String(), "client went away")
}

// blockedCalls starts n requests the stub holds until <dir>/release exists
// and waits until every one of them runs; it returns their statuses.
func blockedCalls(t testing.TB, url, dir string, n int) <-chan int {
	t.Helper()
	statuses := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, url+"/servers/"+strconv.Itoa(i), nil)
			req.Header.Set("Auth-Stub-Mode", "block")
			req.Header.Set("Auth-Stub-Dir", dir)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- -1
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	waitFor(t, fmt.Sprintf("%d blocked CPI calls", n), 20*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "started-*"))
		return len(m) == n
	})
	return statuses
}

func TestFaults_ConcurrencyLimitAnswers503(t *testing.T) {
	ts := startShim(t, shim.Options{MaxConcurrent: 2, QueueWait: -1})
	dir := t.TempDir()
	statuses := blockedCalls(t, ts.URL, dir, 2)

	resp := ts.do(t, http.MethodGet, "/servers/9", "")
	require.Equal(t, http.StatusServiceUnavailable, resp.Status)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assertErrorsBody(t, resp, "busy")
	validateAgainstSpec(t, http.MethodGet, "/servers/{id}", resp)
	metrics := string(ts.do(t, http.MethodGet, "/metrics", "").Body)
	assert.Contains(t, metrics, `nanobox_shim_rejections_total{reason="concurrency"} 1`)
	assert.Contains(t, metrics, `nanobox_shim_cpi_in_flight 2`)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "release"), nil, 0o644))
	for i := 0; i < 2; i++ {
		assert.Equal(t, http.StatusCreated, <-statuses)
	}
	assert.Equal(t, http.StatusCreated, ts.do(t, http.MethodGet, "/servers/9", "").Status, "slots are given back")
}

// metricValue reads one sample of /metrics, e.g. "nanobox_shim_queued".
func metricValue(t testing.TB, ts *testShim, sample string) string {
	t.Helper()
	for _, line := range strings.Split(string(ts.do(t, http.MethodGet, "/metrics", "").Body), "\n") {
		if strings.HasPrefix(line, sample+" ") {
			return strings.TrimPrefix(line, sample+" ")
		}
	}
	return ""
}

func TestFaults_BusyRequestsQueueThenGet503(t *testing.T) {
	ts := startShim(t, shim.Options{MaxConcurrent: 2, QueueWait: time.Minute, MaxQueue: 1})
	dir := t.TempDir()
	statuses := blockedCalls(t, ts.URL, dir, 2)

	// The third waits in the queue for a slot...
	queued := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/servers/3", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			queued <- -1
			return
		}
		resp.Body.Close()
		queued <- resp.StatusCode
	}()
	waitFor(t, "one queued request", 10*time.Second, func() bool { return metricValue(t, ts, "nanobox_shim_queued") == "1" })
	// ...the fourth finds the queue full.
	resp := ts.do(t, http.MethodGet, "/servers/4", "")
	require.Equal(t, http.StatusServiceUnavailable, resp.Status)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))

	require.NoError(t, os.WriteFile(filepath.Join(dir, "release"), nil, 0o644))
	for i := 0; i < 2; i++ {
		assert.Equal(t, http.StatusCreated, <-statuses)
	}
	assert.Equal(t, http.StatusCreated, <-queued, "the queued request ran once a slot was free")
	assert.Equal(t, "0", metricValue(t, ts, "nanobox_shim_queued"))
}

func TestFaults_QueueWaitExpiresWith503(t *testing.T) {
	ts := startShim(t, shim.Options{MaxConcurrent: 1, QueueWait: 50 * time.Millisecond})
	dir := t.TempDir()
	statuses := blockedCalls(t, ts.URL, dir, 1)
	resp := ts.do(t, http.MethodGet, "/servers/2", "")
	assert.Equal(t, http.StatusServiceUnavailable, resp.Status)
	assertErrorsBody(t, resp, "busy")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "release"), nil, 0o644))
	assert.Equal(t, http.StatusCreated, <-statuses)
}

func TestFaults_OversizedChunkedBodyAnswers413(t *testing.T) {
	ts := startShim(t, shim.Options{MaxBody: 100})
	body := `{"id": "a", "key": "` + strings.Repeat("A", 500) + `"}`
	// A reader of unknown length: the client sends it chunked, without a
	// Content-Length the shim could refuse up front.
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/keys", struct{ *strings.Reader }{strings.NewReader(body)})
	require.NoError(t, err)
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	ok := ts.do(t, http.MethodPost, "/keys", `{"id": "a", "key": "b"}`)
	assert.Equal(t, http.StatusCreated, ok.Status)
}

func TestFaults_HealthFollowsTheCPI(t *testing.T) {
	healthy := startShim(t, shim.Options{})
	for _, path := range []string{"/livez", "/healthz", "/readyz"} {
		resp := healthy.do(t, http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, resp.Status, "%s %s", path, resp.Body)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		resp = healthy.do(t, http.MethodPost, path, "")
		assert.Equal(t, http.StatusMethodNotAllowed, resp.Status)
		assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
	}
	resp := healthy.do(t, http.MethodGet, "/livez", "")
	assert.JSONEq(t, `"ok"`, string(mustField(t, resp.Body, "status")))
	assert.JSONEq(t, `"stubcpi"`, string(mustField(t, mustField(t, resp.Body, "cpi"), "name")))

	for _, mode := range []string{"garbage", "error:InternalError", "crash"} {
		sick := startShim(t, shim.Options{Env: []string{"PATH=" + os.Getenv("PATH"), "STUB_MODE=" + mode}})
		for path, want := range map[string]string{"/livez": "unhealthy", "/healthz": "unhealthy", "/readyz": "not ready"} {
			resp := sick.do(t, http.MethodGet, path, "")
			assert.Equal(t, http.StatusServiceUnavailable, resp.Status, "%s %s", mode, path)
			assertErrorsBody(t, resp, want)
		}
	}
}

// TestFaults_BusyShimIsAlive: with every CPI slot taken, liveness still
// answers 200 (it used to answer 503, so a load balancer ejected every
// instance whenever the cloud was slow). Readiness answers 503 only when a
// new call would be refused at once, and while the shim drains.
func TestFaults_BusyShimIsAlive(t *testing.T) {
	cases := []struct {
		name      string
		opts      shim.Options
		readiness int
	}{
		{"slots busy, queue open", shim.Options{MaxConcurrent: 1}, http.StatusOK},
		{"slots busy, no queue", shim.Options{MaxConcurrent: 1, QueueWait: -1}, http.StatusServiceUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := startShim(t, c.opts)
			dir := t.TempDir()
			statuses := blockedCalls(t, ts.URL, dir, 1)
			for _, path := range []string{"/livez", "/healthz"} {
				resp := ts.do(t, http.MethodGet, path, "")
				assert.Equal(t, http.StatusOK, resp.Status, "%s %s", path, resp.Body)
			}
			resp := ts.do(t, http.MethodGet, "/readyz", "")
			assert.Equal(t, c.readiness, resp.Status, "%s", resp.Body)
			assert.JSONEq(t, `1`, string(mustField(t, resp.Body, "in_flight")))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "release"), nil, 0o644))
			assert.Equal(t, http.StatusCreated, <-statuses)
		})
	}
	t.Run("draining", func(t *testing.T) {
		ts := startShim(t, shim.Options{})
		ts.Drain()
		resp := ts.do(t, http.MethodGet, "/readyz", "")
		assert.Equal(t, http.StatusServiceUnavailable, resp.Status)
		assert.Contains(t, string(mustField(t, resp.Body, "status")), "draining")
		resp = ts.do(t, http.MethodGet, "/livez", "")
		assert.Equal(t, http.StatusOK, resp.Status, "a draining shim is alive")
	})
}

func TestFaults_ManyConcurrentCallsAllAnswered(t *testing.T) {
	ts := startShim(t, shim.Options{MaxConcurrent: 64})
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := ts.do(t, http.MethodPost, "/keys", fmt.Sprintf(`{"id": "k%d", "key": "x"}`, i))
			if resp.Status != http.StatusCreated || string(resp.Body) != fmt.Sprintf(`{"id":"key-k%d"}`, i) {
				errs <- fmt.Sprintf("%d: %d %s", i, resp.Status, resp.Body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	require.NoError(t, ts.Wait(context.Background()))
}

// TestFaults_AbortEndsRunningCallsAndAnswersThem: Abort kills the process
// groups of the running calls, answers each 503 with retry advice, refuses
// later calls the same way without running a CPI, and Wait then returns.
func TestFaults_AbortEndsRunningCallsAndAnswersThem(t *testing.T) {
	ts := startShim(t, shim.Options{})
	dir := t.TempDir()
	statuses := make(chan response, 1)
	go func() {
		statuses <- ts.do(t, http.MethodPost, "/servers", `{"name": "a"}`, "Auth-Stub-Mode: block", "Auth-Stub-Dir: "+dir)
	}()
	waitFor(t, "the blocked CPI", 20*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "started-*"))
		return len(m) == 1
	})
	pids := startedPids(t, dir)
	killLeftovers(t, pids)

	ts.Abort()
	resp := <-statuses
	require.Equal(t, http.StatusServiceUnavailable, resp.Status, "%s", resp.Body)
	assertErrorsBody(t, resp, "the shim is shutting down")
	assertRetryAdvice(t, resp, true)
	validateAgainstSpec(t, http.MethodPost, "/servers", resp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, ts.Wait(ctx))
	assert.True(t, gone(pids[0]) && len(groupMembers(pids[0])) == 0, "the CPI's group is gone")

	later := ts.do(t, http.MethodPatch, "/servers/1/reboot", "")
	assert.Equal(t, http.StatusServiceUnavailable, later.Status)
	assertRetryAdvice(t, later, false)
	assert.Equal(t, http.StatusServiceUnavailable, ts.do(t, http.MethodGet, "/readyz", "").Status)
	metrics := string(ts.do(t, http.MethodGet, "/metrics", "").Body)
	assert.NotContains(t, metrics, `cpi_method="reboot_server"`, "no CPI ran after Abort")
}
