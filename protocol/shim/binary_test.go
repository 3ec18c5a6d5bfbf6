package shim_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// shimProcess is the shim binary running as a subprocess.
type shimProcess struct {
	cmd    *exec.Cmd
	URL    string
	logs   *repotest.SyncBuffer
	exited chan error
}

// startShimProcess runs the shim binary with args (plus --listen on a free
// loopback port and JSON logs) and waits for its "listening" line.
func startShimProcess(t testing.TB, args ...string) *shimProcess {
	t.Helper()
	args = append([]string{"--listen", "127.0.0.1:0", "--log-format", "json", "--cpi", stubCPI}, args...)
	cmd := exec.Command(repotest.Binary(t, "nanobox-cpi-shim"), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &shimProcess{cmd: cmd, logs: &repotest.SyncBuffer{}, exited: make(chan error, 1)}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.logs.Write([]byte(line + "\n"))
			var entry struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
				urls <- entry.URL
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	select {
	case p.URL = <-urls:
	case err := <-p.exited:
		t.Fatalf("the shim exited before listening: %v\n%s", err, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the shim did not start listening\n%s", p.logs.String())
	}
	return p
}

func (p *shimProcess) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("the shim did not exit\n%s", p.logs.String())
		return nil
	}
}

// blockedCPIs is blockedCalls that also returns the pids of the n blocked
// CPIs, which are killed when the test ends if they still run.
func blockedCPIs(t testing.TB, url, dir string, n int) (<-chan int, []int) {
	t.Helper()
	statuses := blockedCalls(t, url, dir, n)
	pids := startedPids(t, dir)
	require.Len(t, pids, n)
	killLeftovers(t, pids)
	return statuses, pids
}

func startedPids(t testing.TB, dir string) []int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "started-*"))
	require.NoError(t, err)
	var pids []int
	for _, f := range m {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(f), "started-"))
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	return pids
}

func TestBinary_SIGTERMLetsInFlightCallsFinish(t *testing.T) {
	p := startShimProcess(t, "--shutdown-grace", "30s")
	dir := t.TempDir()
	statuses := blockedCalls(t, p.URL, dir, 3)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	waitFor(t, "the shutdown log line", 10*time.Second, func() bool { return strings.Contains(p.logs.String(), "shutting down") })
	host := strings.TrimPrefix(p.URL, "http://")
	waitFor(t, "the listener to close", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-p.exited:
		t.Fatalf("the shim exited with calls in flight: %v", err)
	default:
	}

	require.NoError(t, os.WriteFile(filepath.Join(dir, "release"), nil, 0o644))
	for i := 0; i < 3; i++ {
		assert.Equal(t, http.StatusCreated, <-statuses, "an in-flight call completes")
	}
	require.NoError(t, p.wait(t), p.logs.String())
	assert.Contains(t, p.logs.String(), `"msg":"stopped"`)
}

func TestBinary_GraceOverKillsRemainingCalls(t *testing.T) {
	p := startShimProcess(t, "--shutdown-grace", "200ms")
	dir := t.TempDir()
	statuses, pids := blockedCPIs(t, p.URL, dir, 2)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, p.wait(t), p.logs.String())
	for i := 0; i < 2; i++ {
		assert.NotEqual(t, http.StatusCreated, <-statuses)
	}
	for _, pid := range pids {
		waitFor(t, "the blocked CPI to be gone", 10*time.Second, func() bool { return gone(pid) && len(groupMembers(pid)) == 0 })
	}
	assert.Contains(t, p.logs.String(), "grace period over")
}

// TestBinary_SIGKILLedShimTakesItsCPIsAlong: a shim killed with SIGKILL
// runs no exit path of its own; its CPI processes die with it (parent-death
// signal) instead of running on, re-parented, to their own deadline.
func TestBinary_SIGKILLedShimTakesItsCPIsAlong(t *testing.T) {
	p := startShimProcess(t)
	dir := t.TempDir()
	statuses, pids := blockedCPIs(t, p.URL, dir, 2)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, p.wait(t), "the shim was killed")
	for i := 0; i < 2; i++ {
		assert.Equal(t, -1, <-statuses, "the connection died with the shim")
	}
	for _, pid := range pids {
		waitFor(t, fmt.Sprintf("CPI %d to die with the shim", pid), 10*time.Second, func() bool { return gone(pid) })
	}
}

// TestBinary_SecondSignalEndsInFlightCallsCleanly: a second SIGTERM during
// the grace period ends the running calls at once: their process groups
// are killed, each is answered 503 with retry advice, and the shim exits 0
// having reaped every child (it used to die at once, orphaning them).
func TestBinary_SecondSignalEndsInFlightCallsCleanly(t *testing.T) {
	p := startShimProcess(t, "--shutdown-grace", "5m")
	dir := t.TempDir()
	statuses, pids := blockedCPIs(t, p.URL, dir, 2)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	waitFor(t, "the shutdown log line", 10*time.Second, func() bool { return strings.Contains(p.logs.String(), "shutting down") })
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	for i := 0; i < 2; i++ {
		assert.Equal(t, http.StatusServiceUnavailable, <-statuses, "an ended call is answered")
	}
	require.NoError(t, p.wait(t), p.logs.String())
	for _, pid := range pids {
		assert.True(t, gone(pid), "CPI %d outlived the shim", pid)
		assert.Empty(t, groupMembers(pid), "CPI %d's process group outlived the shim", pid)
	}
	assert.Contains(t, p.logs.String(), "second signal")
	assert.Contains(t, p.logs.String(), `"msg":"stopped"`)
}

// killLeftovers makes sure, when the test ends, that no stub CPI of pids
// is left running whatever the test found (they block until released).
func killLeftovers(t testing.TB, pids []int) {
	t.Cleanup(func() {
		for _, pid := range pids {
			if !gone(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

func TestBinary_ServesTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	p := startShimProcess(t, "--tls-cert", certFile, "--tls-key", keyFile)
	require.True(t, strings.HasPrefix(p.URL, "https://"), p.URL)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(p.URL + "/meta")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = client.Get(p.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestBinary_RejectsBadFlagsTogether: one run names every flag problem,
// those the flag parser would stop at (a value it cannot read, an unknown
// flag) and those found late (the listen address) included, and exits 2.
func TestBinary_RejectsBadFlagsTogether(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"many at once", []string{"--cpi", "/nonexistent/cpi", "--tls-cert", "x", "--log-format", "xml", "--max-body", "0",
			"--timeout", "soon", "--max-concurrent=many", "--listen", "127.0.0.1:99999", "--bogus", "--pass-env", "A=B", "stray"},
			[]string{"--log-format", "--tls-cert and --tls-key", "--max-body must be positive", "CPI binary", `--timeout "soon"`,
				`--max-concurrent "many"`, `--listen "127.0.0.1:99999"`, "unknown flag --bogus", `pass-env "A=B"`, `unexpected argument "stray"`}},
		{"listen address in use", []string{"--cpi", stubCPI, "--listen", busy.Addr().String(), "--queue-wait", "-1s"},
			[]string{"--listen", "address already in use", "--queue-wait must be 0 or more"}},
		{"no CPI, missing value", []string{"--max-queue"}, []string{"--cpi is required", "flag --max-queue needs a value"}},
		{"from the environment", []string{"--cpi", stubCPI}, []string{`pass-env "bad=x"`, `--timeout "never"`}},
	}
	env := map[string][]string{"from the environment": {"NANOBOX_SHIM_PASS_ENV=GOOD_1,bad=x", "NANOBOX_SHIM_TIMEOUT=never"}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(repotest.Binary(t, "nanobox-cpi-shim"), c.args...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env[c.name]...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "%s", out)
			assert.Equal(t, 2, exit.ExitCode(), "%s", out)
			for _, want := range c.want {
				assert.Contains(t, string(out), want)
			}
			assert.NotContains(t, string(out), "listening")
		})
	}
}

func selfSignedCert(t testing.TB, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
