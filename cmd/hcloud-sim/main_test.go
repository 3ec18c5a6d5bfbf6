package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// TestMain deletes the binary repotest.Binary may have built, which
// would otherwise stay in the temp dir after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	_ = repotest.RemoveBuilt()
	os.Exit(code)
}

// specPath is the repository's copy of Hetzner's OpenAPI document.
func specPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(repotest.RepoRoot(t), "cpi", "hcloudsim", "specvalidate", "testdata", "hetzner-cloud-openapi.json")
}

// running is a started hcloud-sim.
type running struct {
	cmd    *exec.Cmd
	url    string // ends in /v1
	stderr *repotest.SyncBuffer
	done   chan error
}

func start(t *testing.T, args ...string) *running {
	t.Helper()
	cmd := exec.Command(repotest.Binary(t, "hcloud-sim"), append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	r := &running{cmd: cmd, stderr: &repotest.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = r.stderr
	require.NoError(t, cmd.Start())
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		r.done <- cmd.Wait()
	}()
	select {
	case line, ok := <-lines:
		require.True(t, ok, "hcloud-sim exited before listening: %s", r.stderr.String())
		r.url = line
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("hcloud-sim did not print its URL: %s", r.stderr.String())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	return r
}

func call(t *testing.T, method, url, token, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

func TestServesServerTypesAndRejectsWrongToken(t *testing.T) {
	spec := specPath(t)
	sim := start(t, "--token", "sekrit-T", "--validate-spec", spec)
	require.True(t, strings.HasPrefix(sim.url, "http://127.0.0.1:"), sim.url)
	require.True(t, strings.HasSuffix(sim.url, "/v1"), sim.url)
	admin := strings.TrimSuffix(sim.url, "/v1")

	status, hdr, body := call(t, "GET", sim.url+"/server_types", "sekrit-T", "")
	require.Equal(t, http.StatusOK, status, string(body))
	var list struct {
		ServerTypes []struct{ Name string } `json:"server_types"`
	}
	require.NoError(t, json.Unmarshal(body, &list))
	assert.Len(t, list.ServerTypes, 25)
	assert.Equal(t, "3600", hdr.Get("RateLimit-Limit"))

	status, hdr, body = call(t, "GET", sim.url+"/server_types", "wrong", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "application/json", hdr.Get("Content-Type"))
	assert.JSONEq(t, `{"error":{"code":"unauthorized","message":"unable to authenticate","details":null}}`, string(body))

	status, _, body = call(t, "GET", admin+"/_sim/requests", "sekrit-T", "")
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"requests":{"GET /v1/server_types":2},"total":2}`, string(body))
	status, _, _ = call(t, "GET", admin+"/_sim/requests", "wrong", "")
	assert.Equal(t, http.StatusUnauthorized, status)

	status, _, body = call(t, "GET", admin+"/_sim/spec-failures", "sekrit-T", "")
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"failures":[],"abandoned":0}`, string(body))

	assert.NotContains(t, sim.stderr.String(), "sekrit-T", "the token never reaches the log")
}

func TestAdminFaultsAndState(t *testing.T) {
	faults := filepath.Join(t.TempDir(), "faults.json")
	require.NoError(t, os.WriteFile(faults, []byte(`[{"method":"GET","route":"/v1/locations","kind":"unavailable","times":1}]`), 0o600))
	sim := start(t, "--token", "T", "--readonly-token", "R", "--faults", faults)
	admin := strings.TrimSuffix(sim.url, "/v1")

	status, _, body := call(t, "GET", sim.url+"/locations", "T", "")
	assert.Equal(t, http.StatusServiceUnavailable, status, string(body))
	status, _, _ = call(t, "GET", sim.url+"/locations", "R", "")
	assert.Equal(t, http.StatusOK, status, "the scripted fault fired once")

	status, _, body = call(t, "POST", admin+"/_sim/faults", "T", `[{"route":"/v1/servers","method":"POST","kind":"latency","latency":"10ms","times":1},{"kind":"nope"}]`)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "an invalid rule refuses the whole set: %s", body)
	status, _, _ = call(t, "POST", admin+"/_sim/faults", "T", `[{"route":"/v1/servers","method":"POST","kind":"commit_then_fail","times":1}]`)
	assert.Equal(t, http.StatusNoContent, status)

	create := `{"name":"s1","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1"}`
	status, _, _ = call(t, "POST", sim.url+"/servers", "R", create)
	assert.Equal(t, http.StatusForbidden, status, "read-only token")
	status, _, body = call(t, "POST", sim.url+"/servers", "T", create)
	assert.Equal(t, http.StatusGatewayTimeout, status, string(body))
	status, _, body = call(t, "POST", sim.url+"/servers", "T", create)
	assert.Equal(t, http.StatusConflict, status, "the first attempt committed: %s", body)

	status, _, body = call(t, "GET", admin+"/_sim/created", "T", "")
	require.Equal(t, http.StatusOK, status)
	var created []struct{ Kind, Name string }
	require.NoError(t, json.Unmarshal(body, &created))
	require.Len(t, created, 1)
	assert.Equal(t, "server", created[0].Kind)

	status, _, body = call(t, "GET", admin+"/_sim/state", "T", "")
	require.Equal(t, http.StatusOK, status)
	var state struct {
		Servers []struct{ Name string } `json:"servers"`
	}
	require.NoError(t, json.Unmarshal(body, &state))
	require.Len(t, state.Servers, 1)

	status, _, body = call(t, "GET", admin+"/_sim/faults/injected", "T", "")
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"unavailable":1,"commit_then_fail":1}`, string(body))
	status, _, _ = call(t, "DELETE", admin+"/_sim/faults", "T", "")
	assert.Equal(t, http.StatusNoContent, status)
	status, _, body = call(t, "GET", admin+"/_sim/faults", "T", "")
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `[]`, string(body))
	status, _, _ = call(t, "POST", admin+"/_sim/requests/reset", "T", "")
	assert.Equal(t, http.StatusNoContent, status)
	_, _, body = call(t, "GET", admin+"/_sim/requests", "T", "")
	assert.JSONEq(t, `{"requests":{},"total":0}`, string(body))
}

func TestGracefulShutdownOnSIGTERM(t *testing.T) {
	sim := start(t, "--token", "T")
	require.NoError(t, sim.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-sim.done:
		assert.NoError(t, err, "exit status 0 after SIGTERM")
	case <-time.After(10 * time.Second):
		t.Fatal("hcloud-sim did not stop on SIGTERM")
	}
}

func TestBadFlagsAreReportedTogether(t *testing.T) {
	out, err := exec.Command(repotest.Binary(t, "hcloud-sim"), "--listen", "127.0.0.1:0", "--token", "T", "--readonly-token", "T", "--rate-limit", "0", "--rate-refill", "-1s", "--latency", "-1ms").CombinedOutput()
	require.Error(t, err)
	s := string(out)
	assert.Contains(t, s, "--latency")
	assert.Contains(t, s, "--readonly-token")
	assert.Contains(t, s, "--rate-limit")
	assert.Contains(t, s, "--rate-refill")

	out, err = exec.Command(repotest.Binary(t, "hcloud-sim"), "--listen", "127.0.0.1:0").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "token")
}

// TestLatencyFlagAndRateLimitHeaders: --latency shows in the admin control, and the API answers with the
// rate limit headers of the default bucket.
func TestLatencyFlagAndRateLimitHeaders(t *testing.T) {
	sim := start(t, "--token", "T", "--latency", "25ms")
	admin := strings.TrimSuffix(sim.url, "/v1")
	status, _, body := call(t, "GET", admin+"/_sim/latency", "T", "")
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"latency":"25ms"}`, string(body))
	status, header, _ := call(t, "GET", sim.url+"/locations", "T", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "3600", header.Get("RateLimit-Limit"))
	assert.Equal(t, "3599", header.Get("RateLimit-Remaining"))
	assert.NotEmpty(t, header.Get("RateLimit-Reset"))
}

// TestHcloudGoAgainstTheBinary drives the standalone simulator with hcloud-go, with real delays, and
// checks that every exchange validated against the OpenAPI document. The action delay (1s) is long
// enough that the poweron right after the poweroff certainly meets the lock.
func TestHcloudGoAgainstTheBinary(t *testing.T) {
	spec := specPath(t)
	sim := start(t, "--token", "T", "--validate-spec", spec, "--delay-initializing", "30ms", "--delay-starting", "30ms", "--delay-action", "1s")
	c := hcloud.NewClient(hcloud.WithToken("T"), hcloud.WithEndpoint(sim.url),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(0), MaxRetries: 5}),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(20 * time.Millisecond)}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{
		Name: "bin-1", ServerType: &hcloud.ServerType{Name: "cpx22"}, Image: &hcloud.Image{Name: "debian-13"},
		Location: &hcloud.Location{Name: "sin"}, Labels: map[string]string{"nanobox": "true"},
	})
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))
	srv, _, err := c.Server.GetByID(ctx, res.Server.ID)
	require.NoError(t, err)
	require.NotNil(t, srv)
	assert.Equal(t, hcloud.ServerStatusRunning, srv.Status)
	act, _, err := c.Server.Poweroff(ctx, srv)
	require.NoError(t, err)
	_, _, err = c.Server.Poweron(ctx, srv)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeLocked), "%v", err)
	require.NoError(t, c.Action.WaitFor(ctx, act))
	del, _, err := c.Server.DeleteWithResult(ctx, srv)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, del.Action))

	status, _, body := call(t, "GET", strings.TrimSuffix(sim.url, "/v1")+"/_sim/spec-failures", "T", "")
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"failures":[],"abandoned":0}`, string(body))
}

// TestVolumesAndImagesAgainstTheBinary: the BOSH CPI's calls (snapshot, volume create, attach, resize,
// detach, delete) against the standalone simulator, every exchange validated against the document.
func TestVolumesAndImagesAgainstTheBinary(t *testing.T) {
	sim := start(t, "--token", "T", "--validate-spec", specPath(t), "--delay-action", "50ms")
	c := hcloud.NewClient(hcloud.WithToken("T"), hcloud.WithEndpoint(sim.url),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(0), MaxRetries: 5}),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(20 * time.Millisecond)}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wait := func(as ...*hcloud.Action) {
		t.Helper()
		require.NoError(t, c.Action.WaitFor(ctx, as...))
	}

	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{
		Name: "vm-1", ServerType: &hcloud.ServerType{Name: "cx23"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
		Location: &hcloud.Location{Name: "fsn1"},
	})
	require.NoError(t, err)
	wait(append([]*hcloud.Action{res.Action}, res.NextActions...)...)
	img, _, err := c.Server.CreateImage(ctx, res.Server, &hcloud.ServerCreateImageOpts{Type: hcloud.ImageTypeSnapshot, Labels: map[string]string{"bosh": "stemcell"}})
	require.NoError(t, err)
	wait(img.Action)

	vol, _, err := c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "disk-1", Size: 10, Location: res.Server.Location})
	require.NoError(t, err)
	wait(vol.Action)
	act, _, err := c.Volume.Attach(ctx, vol.Volume, res.Server)
	require.NoError(t, err)
	wait(act)
	act, _, err = c.Volume.Resize(ctx, vol.Volume, 20)
	require.NoError(t, err)
	wait(act)
	act, _, err = c.Volume.Detach(ctx, vol.Volume)
	require.NoError(t, err)
	wait(act)
	_, err = c.Volume.Delete(ctx, vol.Volume)
	require.NoError(t, err)
	_, err = c.Image.Delete(ctx, img.Image)
	require.NoError(t, err)

	status, _, body := call(t, "GET", strings.TrimSuffix(sim.url, "/v1")+"/_sim/spec-failures", "T", "")
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"failures":[],"abandoned":0}`, string(body))
}
