package e2e_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim/shimtest"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/testsupport"
)

// TestMain deletes the binary testsupport.Binary may have built, which
// would otherwise stay in the temp dir after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	_ = testsupport.RemoveBuilt()
	os.Exit(code)
}

// adapter is the shim in front of the real CPI binary, pointed at a
// simulator through HCLOUD_ENDPOINT in the shim's environment.
type adapter struct {
	url   string
	sim   *simtest.Env
	token string
	logs  *testsupport.SyncBuffer
}

func startAdapter(t *testing.T) *adapter {
	t.Helper()
	return startAdapterWith(t, hcloudsim.Options{})
}

// startAdapterWith is startAdapter with a simulator of those options.
func startAdapterWith(t *testing.T, opts hcloudsim.Options) *adapter {
	t.Helper()
	env := simtest.Start(t, opts)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cpi.json")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		`{"state_dir": %q, "catalog": {"cache_dir": %q}, "timeouts": {"call_seconds": 20, "poll_interval_ms": 10}}`,
		filepath.Join(dir, "state"), filepath.Join(dir, "catalog"))), 0o600))
	logs := &testsupport.SyncBuffer{}
	logger := logrus.New()
	logger.SetOutput(logs)
	logger.SetLevel(logrus.DebugLevel)
	s, err := shim.New(shim.Options{
		CPI: testsupport.Binary(t, "nanobox-hcloud-cpi"), CPIConfig: cfg, Timeout: 30 * time.Second, Logger: logger, CPIMetricsDir: filepath.Join(dir, "state"),
		Env:     []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + dir, "HCLOUD_ENDPOINT=" + env.URL, "HOME=/nonexistent"},
		PassEnv: []string{"HCLOUD_ENDPOINT"},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &adapter{url: srv.URL, sim: env, token: env.Token, logs: logs}
}

// call sends one request with the token (when given) and validates the
// answer against the Nanobox spec for the route's (verb, path template).
func (a *adapter) call(t *testing.T, verb, path, tmpl, body, token string) (int, []byte) {
	t.Helper()
	status, _, data := a.callWithHeaders(t, verb, path, tmpl, body, token)
	return status, data
}

// callWithHeaders is call that also returns the answer's headers.
func (a *adapter) callWithHeaders(t *testing.T, verb, path, tmpl, body, token string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(verb, a.url+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Auth-Api-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.NoError(t, shimtest.ValidateResponse(verb, tmpl, resp.StatusCode, resp.Header, data),
		"%s %s answered %d %s", verb, path, resp.StatusCode, data)
	return resp.StatusCode, resp.Header, data
}

func publicKey(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " nanobox"
}

// TestLifecycle_OverHTTP drives a whole Nanobox lifecycle through the
// shim, the real CPI binary and the simulator, the way the dashboard does:
// meta, catalog, verify, key, order, poll until active, config, reboot,
// rename, cancel, key delete; and checks nothing is left in the cloud.
func TestLifecycle_OverHTTP(t *testing.T) {
	a := startAdapter(t)

	status, body := a.call(t, http.MethodGet, "/meta", "/meta", "", "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	var meta protocol.Meta
	require.NoError(t, json.Unmarshal(body, &meta))
	require.NotEmpty(t, meta.CredentialFields)
	header := shim.CredentialHeader(meta.CredentialFields[0].Key)
	assert.Equal(t, "Auth-Api-Token", header)

	status, body = a.call(t, http.MethodGet, "/catalog", "/catalog", "", "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	var catalog []protocol.Region
	require.NoError(t, json.Unmarshal(body, &catalog))
	require.NotEmpty(t, catalog)

	status, body = a.call(t, http.MethodPost, "/verify", "/verify", "", a.token)
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Empty(t, body)
	status, body = a.call(t, http.MethodPost, "/verify", "/verify", "", "wrong-token")
	assert.Equal(t, http.StatusUnauthorized, status, "%s", body)

	key := publicKey(t)
	status, body = a.call(t, http.MethodPost, "/keys", "/keys", fmt.Sprintf(`{"id": "nanobox-e2e", "key": %q}`, key), a.token)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var created protocol.IDResult
	require.NoError(t, json.Unmarshal(body, &created))
	keyID := created.ID

	status, body = a.call(t, http.MethodGet, "/keys/"+keyID, "/keys/{id}", "", a.token)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var gotKey protocol.Key
	require.NoError(t, json.Unmarshal(body, &gotKey))
	assert.Equal(t, "nanobox-e2e", gotKey.Name)

	order := fmt.Sprintf(`{"name": "nanobox-e2e-1", "region": %q, "size": %q, "ssh_key": %q, "config": {}}`,
		meta.DefaultRegion, meta.DefaultSize, keyID)
	status, body = a.call(t, http.MethodPost, "/servers", "/servers", order, a.token)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	require.NoError(t, json.Unmarshal(body, &created))
	serverID := created.ID

	var server protocol.Server
	deadline := time.Now().Add(30 * time.Second)
	for server.Status != "active" {
		require.True(t, time.Now().Before(deadline), "the server never became active (last: %+v)", server)
		status, body = a.call(t, http.MethodGet, "/servers/"+serverID, "/servers/{id}", "", a.token)
		require.Equal(t, http.StatusCreated, status, "%s", body)
		require.NoError(t, json.Unmarshal(body, &server))
	}
	assert.Equal(t, "nanobox-e2e-1", server.Name)
	assert.NotEmpty(t, server.InternalIP)

	for _, step := range []struct{ verb, path, tmpl, body string }{
		{http.MethodPatch, "/servers/" + serverID + "/config", "/servers/{id}/config", `{"backups": "enabled"}`},
		{http.MethodPatch, "/servers/" + serverID + "/reboot", "/servers/{id}/reboot", ""},
		{http.MethodPatch, "/servers/" + serverID + "/rename", "/servers/{id}/rename", `{"name": "nanobox-e2e-2"}`},
	} {
		status, body = a.call(t, step.verb, step.path, step.tmpl, step.body, a.token)
		require.Equal(t, http.StatusOK, status, "%s %s: %s", step.verb, step.path, body)
		assert.Empty(t, body)
	}
	status, body = a.call(t, http.MethodGet, "/servers/"+serverID, "/servers/{id}", "", a.token)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	require.NoError(t, json.Unmarshal(body, &server))
	assert.Equal(t, "nanobox-e2e-2", server.Name)

	status, body = a.call(t, http.MethodDelete, "/servers/"+serverID, "/servers/{id}", "", a.token)
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Empty(t, body)
	status, body = a.call(t, http.MethodGet, "/servers/"+serverID, "/servers/{id}", "", a.token)
	assert.Equal(t, http.StatusNotFound, status, "%s", body)

	status, body = a.call(t, http.MethodDelete, "/keys/"+keyID, "/keys/{id}", "", a.token)
	require.Equal(t, http.StatusOK, status, "%s", body)
	status, body = a.call(t, http.MethodGet, "/keys/"+keyID, "/keys/{id}", "", a.token)
	assert.Equal(t, http.StatusNotFound, status, "%s", body)

	state := a.sim.Sim.Snapshot()
	assert.Empty(t, state.Servers, "no server left in the cloud")
	assert.Empty(t, state.SSHKeys, "no key left in the cloud")

	// The token never reached the shim's log.
	assert.NotContains(t, a.logs.String(), a.token)
}

// TestLifecycle_OpenAPIAndHealthFromTheRealCPI checks /healthz and the
// served Swagger document with the real CPI's meta.
func TestLifecycle_OpenAPIAndHealthFromTheRealCPI(t *testing.T) {
	a := startAdapter(t)
	resp, err := http.Get(a.url + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = http.Get(a.url + "/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc struct {
		Paths               map[string]map[string]any `json:"paths"`
		SecurityDefinitions map[string]any            `json:"securityDefinitions"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	assert.Contains(t, doc.SecurityDefinitions, "Auth-Api-Token")
	assert.Contains(t, doc.Paths, "/keys")
	assert.NotContains(t, doc.Paths, "/servers/{id}/keys", "Hetzner takes key references: no Install Server Key")
}
