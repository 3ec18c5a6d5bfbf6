package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// bins are the binaries under test. The CPI is always a private copy, so
// "no CPI process alive" can be checked by executable path without seeing
// the processes of other packages' tests running at the same time.
var bins struct {
	shim string
	cpi  string
}

func TestMain(m *testing.M) {
	code, err := runTests(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runTests(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "reliability-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	bins.shim = filepath.Join(dir, "nanobox-cpi-shim")
	bins.cpi = filepath.Join(dir, "nanobox-hcloud-cpi")
	if binDir := os.Getenv("NANOBOX_HCLOUD_BIN"); binDir != "" {
		for _, name := range []string{"nanobox-cpi-shim", "nanobox-hcloud-cpi"} {
			if err := copyFile(filepath.Join(binDir, name), filepath.Join(dir, name)); err != nil {
				return 0, fmt.Errorf("NANOBOX_HCLOUD_BIN=%s: %w (run make build)", binDir, err)
			}
		}
	} else {
		root, err := repotest.FindRepoRoot()
		if err != nil {
			return 0, err
		}
		build := exec.Command("go", "build", "-tags", repotest.BuildTags, "-o", dir+"/", "./cmd/nanobox-cpi-shim", "./cmd/nanobox-hcloud-cpi")
		build.Dir = root
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return 0, fmt.Errorf("building the binaries: %w", err)
		}
	}
	return m.Run(), nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o755)
}

// apiRequest is one request the CPI sent to the Hetzner API.
type apiRequest struct {
	Method string
	Path   string // e.g. /v1/servers/42/actions/reboot
	Query  string
	Status int // 0: the connection was dropped
}

// apiRecorder is a reverse proxy in front of the simulator that keeps a log
// of every request with its path and query: the simulator counts requests
// per route pattern only, which cannot say which object a request touched.
// Dropped connections stay dropped: the proxy never reuses an upstream
// connection (so Go's transport cannot replay a request transparently) and
// closes the CPI's connection when the simulator closed its own.
type apiRecorder struct {
	mu  sync.Mutex
	log []apiRequest
}

func (a *apiRecorder) add(r apiRequest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log = append(a.log, r)
}

// Requests returns a copy of the log.
func (a *apiRecorder) Requests() []apiRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]apiRequest(nil), a.log...)
}

func startRecorder(t testing.TB, simURL string) (*apiRecorder, string) {
	target, err := url.Parse(strings.TrimSuffix(simURL, "/v1"))
	require.NoError(t, err)
	rec := &apiRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 2 * time.Minute}
	proxy.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		rec.add(apiRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: resp.StatusCode})
		return nil
	}
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		rec.add(apiRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery})
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	proxy.ErrorLog = nil
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return rec, srv.URL + "/v1"
}

// shimProc is a running bin/nanobox-cpi-shim.
type shimProc struct {
	cmd    *exec.Cmd
	URL    string               // http://127.0.0.1:port
	Logs   *repotest.SyncBuffer // everything it wrote to stderr (JSON log lines)
	Stdout *repotest.SyncBuffer
	exited chan struct{}
}

// PID is the shim's process id.
func (s *shimProc) PID() int { return s.cmd.Process.Pid }

// world is one complete stack: simulator (validated against Hetzner's
// OpenAPI document) ← recording proxy ← CPI binary ← shim binary.
type world struct {
	t       testing.TB
	Env     *simtest.Env
	API     *apiRecorder
	Shim    *shimProc
	Client  *http.Client
	Token   string
	CPI     string // this world's private copy of the CPI binary
	workDir string

	shimMu   sync.Mutex // guards Shim across RestartShim
	shimURL  string     // the shim's address; a restarted shim listens there too
	cfgPath  string
	shimOpts worldOptions
}

type worldOptions struct {
	Token         string        // the simulator's token; "" = a fixed test token
	Seed          int64         // simulator fault seed
	MaxConcurrent int           // shim --max-concurrent; 0 = 16
	CPITimeout    time.Duration // shim --timeout; 0 = 90s
	Delays        hcloudsim.Delays
}

func newWorld(t testing.TB, opts worldOptions) *world {
	t.Helper()
	if opts.Token == "" {
		opts.Token = "reliability-token-0123456789"
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 16
	}
	if opts.CPITimeout == 0 {
		opts.CPITimeout = 90 * time.Second
	}
	env := simtest.Start(t, hcloudsim.Options{Token: opts.Token, Seed: opts.Seed, RateLimit: 1 << 30, RateRefill: time.Millisecond, Delays: opts.Delays})
	rec, apiURL := startRecorder(t, env.URL)
	dir := t.TempDir()
	cfg := map[string]any{
		"endpoint":                 apiURL,
		"operator_token_for_calls": false,
		"state_dir":                filepath.Join(dir, "state"),
		"catalog":                  map[string]any{"cache_dir": filepath.Join(dir, "catalog")},
		"timeouts":                 map[string]any{"call_seconds": 60, "poll_interval_ms": 20},
	}
	cfgData, err := json.Marshal(cfg)
	require.NoError(t, err)
	cfgPath := filepath.Join(dir, "cpi.json")
	require.NoError(t, os.WriteFile(cfgPath, cfgData, 0o600))
	cpiPath := filepath.Join(dir, "nanobox-hcloud-cpi")
	require.NoError(t, copyFile(bins.cpi, cpiPath))

	w := &world{t: t, Env: env, API: rec, Token: opts.Token, CPI: cpiPath, workDir: dir, cfgPath: cfgPath, shimOpts: opts}
	w.Shim = startShim(t, cpiPath, cfgPath, "127.0.0.1:0", opts)
	w.shimURL = w.Shim.URL
	w.Client = &http.Client{
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute},
		Timeout:   opts.CPITimeout + 30*time.Second,
		// Nanobox's client does not follow redirects, and a test must see
		// the shim's own answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(w.Client.CloseIdleConnections)
	return w
}

// ShimPID is the running shim's process id.
func (w *world) ShimPID() int {
	w.shimMu.Lock()
	defer w.shimMu.Unlock()
	return w.Shim.PID()
}

// KillAndRestartShim kills the shim with SIGKILL, as an OOM killer or a
// crashed host would, waits until it is gone and starts a new one on the
// same address, as a service manager would.
func (w *world) KillAndRestartShim(t testing.TB) {
	w.shimMu.Lock()
	defer w.shimMu.Unlock()
	old := w.Shim
	require.NoError(t, old.cmd.Process.Signal(syscall.SIGKILL))
	<-old.exited
	w.Shim = startShim(t, w.CPI, w.cfgPath, strings.TrimPrefix(w.shimURL, "http://"), w.shimOpts)
	require.Equal(t, w.shimURL, w.Shim.URL, "the restarted shim listens where the old one did")
}

func startShim(t testing.TB, cpiPath, cfgPath, listen string, opts worldOptions) *shimProc {
	t.Helper()
	cmd := exec.Command(bins.shim,
		"--listen", listen,
		"--cpi", cpiPath,
		"--cpi-config", cfgPath,
		"--log-format", "json",
		"--log-level", "debug",
		"--max-concurrent", strconv.Itoa(opts.MaxConcurrent),
		"--timeout", opts.CPITimeout.String(),
		"--shutdown-grace", "5s",
	)
	// Only what a service manager would give it: no HCLOUD_TOKEN, so every
	// call must bring its own credential.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	p := &shimProc{cmd: cmd, Logs: &repotest.SyncBuffer{}, Stdout: &repotest.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = p.Stdout
	require.NoError(t, cmd.Start())
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.Logs.Write([]byte(line + "\n"))
			var entry struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" && entry.URL != "" {
				select {
				case listening <- entry.URL:
				default:
				}
			}
		}
		_, _ = io.Copy(p.Logs, stderr)
	}()
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
			t.Errorf("the shim did not stop within 30s of SIGTERM")
		}
	})
	select {
	case u := <-listening:
		p.URL = strings.TrimSuffix(u, "/")
	case <-p.exited:
		t.Fatalf("the shim exited before listening; its log:\n%s", p.Logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the shim did not log \"listening\" within 30s; its log:\n%s", p.Logs.String())
	}
	return p
}

// reply is one HTTP answer of the shim.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// ErrorType is the protocol error type the shim reported, if any.
func (r reply) ErrorType() string { return r.Header.Get("X-Cpi-Error-Type") }

// Messages are the "errors" of an error body.
func (r reply) Messages() []string {
	var body struct {
		Errors []string `json:"errors"`
	}
	_ = json.Unmarshal(r.Body, &body)
	return body.Errors
}

func (r reply) String() string {
	return fmt.Sprintf("%d %s %s", r.Status, r.ErrorType(), bytes.TrimSpace(r.Body))
}

// Do sends one request to the shim. headers are added as given.
func (w *world) Do(ctx context.Context, verb, path string, headers map[string]string, body []byte) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, verb, w.shimURL+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := w.Client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Auth is the credential header of the world's token.
func (w *world) Auth() map[string]string { return map[string]string{"Auth-Api-Token": w.Token} }

// Healthy reports whether the shim answers /healthz with 200.
func (w *world) Healthy(ctx context.Context) bool {
	r, err := w.Do(ctx, http.MethodGet, "/healthz", nil, nil)
	return err == nil && r.Status == http.StatusOK
}

// procStats are what /proc says about a process.
type procStats struct {
	RSSKiB int
	FDs    int
}

func readProcStats(pid int) (procStats, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStats{}, err
	}
	var st procStats
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			st.RSSKiB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return procStats{}, err
	}
	st.FDs = len(fds)
	return st, nil
}

// livePIDsOf lists the running processes whose executable is path.
func livePIDsOf(path string) []int {
	want, err := filepath.EvalSymlinks(path)
	if err != nil {
		want = path
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			continue
		}
		if strings.TrimSuffix(exe, " (deleted)") == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// eventually polls cond until it holds or the deadline passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
