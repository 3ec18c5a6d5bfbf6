package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/testsupport"
)

// e2e runs the binary against a simulator, remembering every byte it wrote.
type e2e struct {
	t          *testing.T
	sim        *simtest.Env
	configPath string
	env        []string
	mu         sync.Mutex
	outputs    []string
}

func newE2E(t *testing.T, simToken string, config map[string]any, env ...string) *e2e {
	t.Helper()
	sim := simtest.Start(t, hcloudsim.Options{Token: simToken, ReadOnlyToken: "ro-" + simToken})
	e := newE2EAt(t, sim.URL, config, env...)
	e.sim = sim
	return e
}

// newE2EAt runs the binary against the API at url.
func newE2EAt(t *testing.T, url string, config map[string]any, env ...string) *e2e {
	t.Helper()
	dir := t.TempDir()
	if config == nil {
		config = map[string]any{}
	}
	config["state_dir"] = filepath.Join(dir, "state")
	config["timeouts"] = map[string]any{"call_seconds": 20, "poll_interval_ms": 10}
	data, err := json.Marshal(config)
	require.NoError(t, err)
	path := filepath.Join(dir, "cpi.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CACHE_HOME=" + filepath.Join(dir, "cache"), "HCLOUD_ENDPOINT=" + url}
	return &e2e{t: t, configPath: path, env: append(base, env...)}
}

// exec runs the binary with args and stdin; it returns stdout, stderr and
// the exit code.
func (e *e2e) exec(stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(testsupport.Binary(e.t, "nanobox-hcloud-cpi"), args...)
	cmd.Env = e.env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(e.t, err)
	}
	e.mu.Lock()
	e.outputs = append(e.outputs, stdout.String(), stderr.String())
	e.mu.Unlock()
	return stdout.String(), stderr.String(), code
}

// request sends one request through stdin and returns the decoded response.
func (e *e2e) request(token, method string, args ...any) protocol.RawResponse {
	e.t.Helper()
	if args == nil {
		args = []any{}
	}
	ctx := map[string]any{"request_id": "e2e-" + method}
	if token != "" {
		ctx["credentials"] = map[string]string{"api-token": token}
	}
	data, err := json.Marshal(map[string]any{"method": method, "arguments": args, "context": ctx, "api_version": 1})
	require.NoError(e.t, err)
	stdout, stderr, code := e.exec(string(data), "-configPath", e.configPath)
	require.Equal(e.t, 0, code, "exit 0 whenever a response was written; stderr: %s", stderr)
	require.Equal(e.t, 1, strings.Count(stdout, "\n"), "stdout carries exactly one response line: %q", stdout)
	var resp protocol.RawResponse
	require.NoError(e.t, json.Unmarshal([]byte(stdout), &resp))
	require.NotNil(e.t, resp.Log, "log is never null")
	e.mu.Lock()
	e.outputs = append(e.outputs, *resp.Log)
	e.mu.Unlock()
	return resp
}

func (e *e2e) ok(resp protocol.RawResponse, v any) {
	e.t.Helper()
	require.Nil(e.t, resp.Error, "%+v", resp.Error)
	if v != nil {
		require.NoError(e.t, json.Unmarshal(resp.Result, v))
	}
}

// assertNoSecrets scans every byte the binary wrote for each secret.
func (e *e2e) assertNoSecrets(secrets ...string) {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	require.NotEmpty(e.t, e.outputs)
	for _, out := range e.outputs {
		for _, s := range secrets {
			require.NotContains(e.t, out, s)
		}
	}
}

func canary(kind string) string { return "canary-" + kind + "-" + uuid.NewString() }

// TestLifecycleThroughTheBinary drives the full Nanobox lifecycle through
// stdin/stdout against the simulator, then scans every output for the
// tokens.
func TestLifecycleThroughTheBinary(t *testing.T) {
	token := canary("user")
	e := newE2E(t, token, nil)
	order := runLifecycle(t, e, token)

	st := e.sim.Sim.Snapshot()
	require.Empty(t, st.SSHKeys)
	for _, s := range st.Servers {
		require.NotEqual(t, order, strconv.FormatInt(s.ID, 10), "the server is gone or going")
	}
	e.assertNoSecrets(token)
}

// runLifecycle is create_key -> order_server -> query_server until active
// -> reboot -> rename -> update_config -> cancel_server -> delete_key, each
// a separate run of the binary. It returns the server's id.
func runLifecycle(t *testing.T, e *e2e, token string) string {
	var key protocol.IDResult
	e.ok(e.request(token, "create_key", map[string]string{"id": "nanobox-acct", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1Fg2bKJ9Q3fu4i3kYc1o1wYgDSmzDi5r1Sm3FyuQk e2e"}), &key)
	var k protocol.Key
	e.ok(e.request(token, "query_key", key.ID), &k)
	require.Equal(t, "nanobox-acct", k.Name)

	var order protocol.IDResult
	e.ok(e.request(token, "order_server", map[string]any{"name": "e2e-web1", "region": "nbg1", "size": "cx23", "ssh_key": key.ID, "config": map[string]string{"image": "ubuntu-24.04"}}), &order)

	var srv protocol.Server
	deadline := time.Now().Add(30 * time.Second)
	for srv.Status != "active" {
		require.True(t, time.Now().Before(deadline), "server never became active; last status %q", srv.Status)
		e.ok(e.request(token, "query_server", order.ID), &srv)
		require.NotEqual(t, "", srv.Status)
	}
	require.NotEmpty(t, srv.ExternalIP)
	require.NotEmpty(t, srv.InternalIP)

	e.ok(e.request(token, "reboot_server", order.ID), nil)
	e.ok(e.request(token, "rename_server", order.ID, map[string]string{"name": "e2e-web1-renamed"}), nil)
	e.ok(e.request(token, "update_config", order.ID, map[string]string{"backups": "enabled"}), nil)
	e.ok(e.request(token, "query_server", order.ID), &srv)
	require.Equal(t, "e2e-web1-renamed", srv.Name)
	require.Equal(t, "enabled", srv.Config["backups"])
	e.ok(e.request(token, "cancel_server", order.ID), nil)
	e.ok(e.request(token, "delete_key", key.ID), nil)
	gone := e.request(token, "query_key", key.ID)
	require.NotNil(t, gone.Error)
	require.Equal(t, protocol.NotFound, gone.Error.Type)
	return order.ID
}

// TestLifecycleAgainstTheStandaloneSimulator runs the lifecycle against
// bin/hcloud-sim, as the README's demo does.
func TestLifecycleAgainstTheStandaloneSimulator(t *testing.T) {
	token := canary("standalone")
	simBin := testsupport.Binary(t, "hcloud-sim")
	cmd := exec.Command(simBin, "--listen", "127.0.0.1:0", "--token", token, "--delay-initializing", "50ms", "--delay-starting", "50ms")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var simLog bytes.Buffer
	cmd.Stderr = &simLog
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	url, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, simLog.String())
	url = strings.TrimSpace(url)
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)

	e := newE2EAt(t, url, nil)
	order := runLifecycle(t, e, token)

	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(url, "/v1")+"/_sim/created", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var created []struct {
		Kind string `json:"kind"`
		ID   int64  `json:"id"`
	}
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &created), string(body))
	servers := 0
	for _, c := range created {
		if c.Kind == "server" {
			servers++
			require.Equal(t, order, strconv.FormatInt(c.ID, 10))
		}
	}
	require.Equal(t, 1, servers, "exactly one server was ever created")
	e.assertNoSecrets(token)
}

// TestCanaryTokensNeverLeak sends canary tokens through every channel (the
// credential, the config's token, HCLOUD_TOKEN), good and bad, through
// calls that succeed and calls that fail, and scans stdout, stderr and the
// log field.
func TestCanaryTokensNeverLeak(t *testing.T) {
	good := canary("good")
	configToken := canary("config")
	envToken := canary("env")
	bad := canary("bad")
	e := newE2E(t, good, map[string]any{"token": configToken}, "HCLOUD_TOKEN="+envToken)

	for _, tok := range []string{good, bad, "ro-" + good, ""} {
		e.request(tok, "verify")
		e.request(tok, "query_server", "12345")
		e.request(tok, "create_key", map[string]string{"id": tok, "key": tok})
		e.request(tok, "order_server", map[string]any{"name": "x", "region": "nbg1", "size": "cx23", "ssh_key": tok})
		e.request(tok, "catalog")
		e.request(tok, "meta")
		e.request(tok, "no_such_method", tok)
	}
	// A failing operator-token catalog is logged; it must not carry the token.
	e.request("", "catalog")
	// Malformed requests that contain a token.
	e.exec(`{"method":"verify","context":{"credentials":{"api-token":"`+good+`"}}`, "-configPath", e.configPath)
	e.exec(`{"method":"verify","arguments":[],"context":{"credentials":{"api-token":"`+good+`"}}} trailing `+good, "-configPath", e.configPath)
	e.exec("", "-configPath", e.configPath, "call", "verify")
	// An order that succeeds writes the state cache; nothing on disk may
	// hold a token either (the config file itself aside).
	var key protocol.IDResult
	e.ok(e.request(good, "create_key", map[string]string{"id": "k", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1Fg2bKJ9Q3fu4i3kYc1o1wYgDSmzDi5r1Sm3FyuQk c"}), &key)
	e.ok(e.request(good, "order_server", map[string]any{"name": "canary-web", "region": "nbg1", "size": "cx23", "ssh_key": key.ID}), nil)
	e.assertNoSecrets(good, configToken, envToken, bad)
	files := 0
	require.NoError(t, filepath.WalkDir(filepath.Dir(e.configPath), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == e.configPath {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, s := range []string{good, configToken, envToken, bad} {
			require.NotContains(t, string(data), s, path)
		}
		return nil
	}))
	require.Positive(t, files, "the state cache was written")
}

func TestCommandLine(t *testing.T) {
	token := canary("cli")
	e := newE2E(t, token, nil, "HCLOUD_TOKEN="+token)

	stdout, _, code := e.exec(`{"method":"meta","arguments":[],"context":{}}`)
	require.Equal(t, 0, code)
	require.Contains(t, stdout, `"id":"hetzner"`)

	stdout, _, code = e.exec("", "--version")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "nanobox-hcloud-cpi version")

	stdout, _, code = e.exec("", "--help")
	require.Equal(t, 0, code)
	for _, want := range []string{"configPath", "methods", "call", "HCLOUD_TOKEN"} {
		require.Contains(t, stdout, want)
	}

	stdout, _, code = e.exec("", "methods")
	require.Equal(t, 0, code)
	require.Equal(t, strings.Join([]string{"attach_disk", "calculate_vm_cloud_properties", "cancel_server", "catalog",
		"create_disk", "create_key", "create_stemcell", "create_vm", "delete_disk", "delete_key", "delete_snapshot",
		"delete_stemcell", "delete_vm", "detach_disk", "get_disks", "has_disk", "has_vm", "info", "install_key",
		"list_images", "list_keys", "list_servers", "meta",
		"order_server", "query_key", "query_server", "reboot_server", "reboot_vm", "rename_server", "resize_disk",
		"set_disk_metadata", "set_vm_metadata", "snapshot_disk", "start_server", "stop_server", "update_config", "update_disk", "verify"}, "\n")+"\n", stdout)

	// call: same path as stdin mode, pretty-printed; plain words are strings.
	stdout, _, code = e.exec("", "--config", e.configPath, "call", "create_key", `{"id":"cli-key","key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1Fg2bKJ9Q3fu4i3kYc1o1wYgDSmzDi5r1Sm3FyuQk cli"}`)
	require.Equal(t, 0, code, stdout)
	require.Contains(t, stdout, "\n  \"result\": {\n")
	var resp protocol.RawResponse
	require.NoError(t, json.Unmarshal([]byte(stdout), &resp))
	var id protocol.IDResult
	require.NoError(t, json.Unmarshal(resp.Result, &id))
	stdout, _, code = e.exec("", "-configPath", e.configPath, "call", "query_key", id.ID)
	require.Equal(t, 0, code, stdout)
	require.Contains(t, stdout, `"name": "cli-key"`)
	stdout, _, code = e.exec("", "call", "query_key", "999999")
	require.Equal(t, 1, code, "an error response exits 1 in call mode")
	require.Contains(t, stdout, `"type": "NotFound"`)

	_, stderr, code := e.exec("", "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "unknown command")
	e.assertNoSecrets(token)
}

func TestBadConfigStillAnswers(t *testing.T) {
	token := canary("cfg")
	e := newE2E(t, token, nil)
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"token":"`+token+`","network":{"ip_range":"192.168.0.0/16"},"colour":1}`), 0o600))
	stdout, _, code := e.exec(`{"method":"meta","arguments":[]}`, "-configPath", bad)
	require.Equal(t, 0, code)
	var resp protocol.RawResponse
	require.NoError(t, json.Unmarshal([]byte(stdout), &resp))
	require.NotNil(t, resp.Error)
	require.Equal(t, protocol.InternalError, resp.Error.Type)
	require.Contains(t, resp.Error.Message, `unknown field "colour"`)

	require.NoError(t, os.WriteFile(bad, []byte(`{"token":"`+token+`","network":{"ip_range":"192.168.0.0/16"},"catalog":{"price_basis":"x"}}`), 0o600))
	stdout, _, code = e.exec(`{"method":"meta","arguments":[]}`, "-configPath", bad)
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &resp))
	require.Contains(t, resp.Error.Message, "2 problem(s)")
	require.Contains(t, resp.Error.Message, "192.168.0.0/24")
	e.assertNoSecrets(token)
}
