package shim_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

// stubCPI is the stub CPI binary, built once per test run.
var stubCPI string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shim-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stubCPI = filepath.Join(dir, "stubcpi")
	build := exec.Command("go", "build", "-o", stubCPI, "./testdata/stubcpi")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the stub CPI:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	_ = repotest.RemoveBuilt()
	os.Exit(code)
}

// testShim is a shim in front of the stub CPI on httptest.
type testShim struct {
	*shim.Shim
	URL    string
	Logs   *repotest.SyncBuffer
	server *httptest.Server
}

// startShim serves a shim with opts (CPI defaults to the stub) and debug
// logging captured.
func startShim(t testing.TB, opts shim.Options) *testShim {
	t.Helper()
	if opts.CPI == "" {
		opts.CPI = stubCPI
	}
	logs := &repotest.SyncBuffer{}
	logger := logrus.New()
	logger.SetOutput(logs)
	logger.SetLevel(logrus.DebugLevel)
	logger.SetFormatter(&logrus.JSONFormatter{})
	opts.Logger = logger
	if opts.Env == nil {
		opts.Env = []string{"PATH=" + os.Getenv("PATH")}
	}
	if opts.PassEnv == nil {
		opts.PassEnv = []string{"STUB_MODE"} // the stub's default mode
	}
	s, err := shim.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &testShim{Shim: s, URL: srv.URL, Logs: logs, server: srv}
}

// response is what a test reads back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one request; headers are "Name: value" pairs.
func (ts *testShim) do(t testing.TB, method, path, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	require.NoError(t, err)
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		require.True(t, ok, "header %q", h)
		// Set the raw key, so the exact letter case reaches the wire; a
		// name given twice is sent twice.
		key := strings.TrimSpace(name)
		req.Header[key] = append(req.Header[key], strings.TrimSpace(value))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
