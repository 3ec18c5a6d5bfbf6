package nanobox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"crypto/ed25519"
	"crypto/rand"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/nanobox"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// harness is a CPI wired to a simulator, called through the same
// Dispatcher as the binary.
type harness struct {
	t     *testing.T
	sim   *simtest.Env
	cfg   *config.Config
	now   time.Time
	logs  *bytes.Buffer
	token string
}

func newHarness(t *testing.T, mutate ...func(*config.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, hcloudsim.Options{}, mutate...)
}

// newHarnessWith is newHarness on a simulator with opts (e.g. Delays); the
// read-only token is always "read-only-token".
func newHarnessWith(t *testing.T, opts hcloudsim.Options, mutate ...func(*config.Config)) *harness {
	t.Helper()
	opts.ReadOnlyToken = "read-only-token"
	env := simtest.Start(t, opts)
	cfg := config.Default()
	cfg.Endpoint = env.URL
	cfg.StateDir = t.TempDir()
	cfg.Catalog.CacheDir = t.TempDir()
	cfg.Timeouts.PollIntervalMS = 10
	cfg.Timeouts.CallSeconds = 20
	for _, m := range mutate {
		m(cfg)
	}
	require.NoError(t, cfg.Validate())
	return &harness{t: t, sim: env, cfg: cfg, now: time.Now(), logs: &bytes.Buffer{}, token: env.Token}
}

// dispatcher is the binary's dispatcher with the Nanobox methods only.
func (h *harness) dispatcher() *protocol.Dispatcher {
	log := logrus.New()
	log.SetOutput(h.logs)
	env := cpi.Env{
		Config: h.cfg, Version: "test", Log: log,
		Now:          func() time.Time { return h.now },
		RetryBackoff: func(int) time.Duration { return 0 },
	}
	d := env.Dispatcher(func() string { return "" })
	d.Nanobox = nanobox.New(env)
	return d
}

// response is a decoded CPI response.
type response struct {
	Result json.RawMessage `json:"result"`
	Error  *protocol.Error `json:"error"`
	Log    *string         `json:"log"`
}

// callWith sends one request with the given token ("" = no credentials).
func (h *harness) callWith(token, method string, args ...any) response {
	h.t.Helper()
	if args == nil {
		args = []any{}
	}
	req := map[string]any{"method": method, "arguments": args, "api_version": 1, "context": map[string]any{}}
	if token != "" {
		req["context"] = map[string]any{"credentials": map[string]string{"api-token": token}, "request_id": "req-1"}
	}
	data, err := json.Marshal(req)
	require.NoError(h.t, err)
	var out bytes.Buffer
	d := h.dispatcher()
	require.NoError(h.t, protocol.ServeOnce(context.Background(), bytes.NewReader(data), &out,
		func(context.Context, protocol.Context) (*protocol.Dispatcher, error) { return d, nil }))
	var resp response
	require.NoError(h.t, json.Unmarshal(out.Bytes(), &resp), out.String())
	require.NotNil(h.t, resp.Log, "log is never null")
	return resp
}

func (h *harness) call(method string, args ...any) response {
	h.t.Helper()
	return h.callWith(h.token, method, args...)
}

// ok asserts success and decodes the result into v (when not nil).
func (h *harness) ok(resp response, v any) {
	h.t.Helper()
	require.Nil(h.t, resp.Error, "unexpected error: %+v", resp.Error)
	if v != nil {
		require.NoError(h.t, json.Unmarshal(resp.Result, v))
	}
}

// fails asserts an error of type typ whose message contains every part.
func (h *harness) fails(resp response, typ protocol.ErrorType, parts ...string) *protocol.Error {
	h.t.Helper()
	require.NotNil(h.t, resp.Error, "expected %s, got result %s", typ, resp.Result)
	require.Equal(h.t, typ, resp.Error.Type, resp.Error.Message)
	require.Equal(h.t, "null", string(resp.Result))
	for _, p := range parts {
		require.Contains(h.t, resp.Error.Message, p)
	}
	return resp.Error
}

// budget runs fn and asserts it made at most max API requests.
func (h *harness) budget(max int, fn func()) map[string]int {
	h.t.Helper()
	h.sim.Sim.ResetRequests()
	fn()
	got := h.sim.Sim.TotalRequests()
	require.LessOrEqual(h.t, got, max, "API requests: %v", h.sim.Sim.Requests())
	return h.sim.Sim.Requests()
}

func (h *harness) client() *hcloud.Client { return h.sim.Client() }

func newPublicKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sp, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment
}

func (h *harness) createKey() string {
	h.t.Helper()
	var res protocol.IDResult
	h.ok(h.call("create_key", map[string]string{"id": "nanobox-account-" + randSuffix(), "key": newPublicKey(h.t, "nanobox")}), &res)
	return res.ID
}

var suffix int

func randSuffix() string {
	suffix++
	return strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "") + string(rune('a'+suffix%26))
}

func (h *harness) order(name, region, size, key string, cfg map[string]any) response {
	h.t.Helper()
	body := map[string]any{"name": name, "region": region, "size": size, "ssh_key": key}
	if cfg != nil {
		body["config"] = cfg
	}
	return h.call("order_server", body)
}

func (h *harness) orderOK(name, region, size string) (serverID, keyID string) {
	h.t.Helper()
	keyID = h.createKey()
	var res protocol.IDResult
	h.ok(h.order(name, region, size, keyID, nil), &res)
	require.NotEmpty(h.t, res.ID)
	return res.ID, keyID
}

func (h *harness) liveServers() []string {
	var names []string
	for _, s := range h.sim.Sim.Snapshot().Servers {
		names = append(names, s.Name)
	}
	return names
}

func (h *harness) createdServers() int {
	n := 0
	for _, c := range h.sim.Sim.Created() {
		if c.Kind == "server" {
			n++
		}
	}
	return n
}

// newHarnessOn is a second CPI, with another config, on the same simulator.
func newHarnessOn(t *testing.T, base *harness, mutate func(*config.Config)) *harness {
	cfg := *base.cfg
	mutate(&cfg)
	require.NoError(t, cfg.Validate())
	return &harness{t: t, sim: base.sim, cfg: &cfg, now: base.now, logs: base.logs, token: base.token}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
