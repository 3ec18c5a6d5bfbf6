package release

import (
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
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// selfSignedCert returns a PEM certificate for 127.0.0.1 and its key.
func selfSignedCert(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "nanobox-cpi-shim test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

// TestShimJobStartsAndAnswersHealthz installs both jobs in a relocated
// /var/vcap, starts the shim with the rendered `bin/ctl start` (the command
// monit runs), waits for /healthz (which execs the CPI's info through the CPI
// job's bin/cpi) to answer 200, and stops it with `bin/ctl stop`.
func TestShimJobStartsAndAnswersHealthz(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[useTLS]
		t.Run(name, func(t *testing.T) {
			root := newVcapRoot(t)
			root.installBinary(t, binaryPath(t, cpiBinary), cpiBinary)
			root.installBinary(t, binaryPath(t, shimBinary), shimBinary)
			installCPIJob(t, root, map[string]any{"nanobox_hcloud": map[string]any{
				"endpoint": "http://127.0.0.1:9/v1", "state_dir": root.data()}})
			runScript(t, root, filepath.Join(root.jobDir(cpiJob), "bin", "pre-start"))

			port := freePort(t)
			shimProps := map[string]any{
				"listen":         map[string]any{"address": "127.0.0.1", "port": port},
				"shutdown_grace": "5s",
				"timeout":        "20s",
			}
			client := &http.Client{Timeout: 10 * time.Second}
			scheme := "http"
			if useTLS {
				cert, key := selfSignedCert(t)
				shimProps["tls"] = map[string]any{"certificate": cert, "private_key": key}
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM([]byte(cert))
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
				scheme = "https"
			}
			mustRenderJob(t, shimJob, map[string]any{"nanobox_cpi_shim": shimProps}, root.jobDir(shimJob))

			ctl := filepath.Join(root.jobDir(shimJob), "bin", "ctl")
			logDir := filepath.Join(root.sys(), "log", shimJob)
			// monit starts the shim and watches the pid file its monit file names.
			pidfile, startProgram := monitProcess(t, root, filepath.Join(root.jobDir(shimJob), "monit"))
			if startProgram != ctl+" start" {
				t.Fatalf("monit start program %q, want the rendered %s start", startProgram, ctl)
			}
			start := exec.Command(ctl, "start")
			start.Env = root.env()
			if err := start.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- start.Wait() }()
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					_ = start.Process.Kill()
					<-exited
				}
			})
			shimLog := func() string {
				return readFile(t, filepath.Join(logDir, shimJob+".stderr.log"))
			}

			url := fmt.Sprintf("%s://127.0.0.1:%d/healthz", scheme, port)
			status, body, err := pollHealthz(client, url, exited, 30*time.Second)
			if err != nil {
				t.Fatalf("%v\nshim log:\n%s", err, shimLog())
			}
			if status != http.StatusOK {
				t.Fatalf("GET /healthz: %d %s\nshim log:\n%s", status, body, shimLog())
			}
			// 200 means the shim ran the CPI's info through bin/cpi.
			var health struct {
				Status string        `json:"status"`
				CPI    protocol.Info `json:"cpi"`
			}
			if err := json.Unmarshal([]byte(body), &health); err != nil || health.Status != "ok" ||
				health.CPI.APIVersion != protocol.APIVersion {
				t.Errorf("/healthz body %s: want status ok with the CPI's info", body)
			}

			// bin/ctl exec'd the shim: the pid file names the process monit watches.
			if got := strings.TrimSpace(readFile(t, pidfile)); got != strconv.Itoa(start.Process.Pid) {
				t.Errorf("pid file %q, want the shim's pid %d", got, start.Process.Pid)
			}
			again := exec.Command(ctl, "start")
			again.Env = root.env()
			if out, err := again.CombinedOutput(); err != nil || !strings.Contains(string(out), "already running") {
				t.Errorf("second start: %v %s, want a no-op saying it is already running", err, out)
			}

			runScript(t, root, ctl, "stop")
			select {
			case <-exited:
				stopped = true
			case <-time.After(30 * time.Second):
				t.Fatalf("the shim still runs after bin/ctl stop\nshim log:\n%s", shimLog())
			}
			if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
				t.Errorf("pid file left behind after stop: %v", err)
			}
			if _, err := os.Stat(filepath.Join(logDir, shimJob+".stderr.log")); err != nil {
				t.Errorf("no shim log in %s: %v", logDir, err)
			}
		})
	}
}

var (
	monitPidfile = regexp.MustCompile(`(?m)^\s*with pidfile (\S+)\s*$`)
	monitStart   = regexp.MustCompile(`(?m)^\s*start program "([^"]+)"`)
)

// monitProcess reads a rendered monit file's pid file and start program,
// with /var/vcap/{sys,jobs} moved into root.
func monitProcess(t *testing.T, root *vcapRoot, path string) (pidfile, start string) {
	t.Helper()
	text := readFile(t, path)
	p, s := monitPidfile.FindStringSubmatch(text), monitStart.FindStringSubmatch(text)
	if p == nil || s == nil {
		t.Fatalf("%s has no pid file or start program:\n%s", path, text)
	}
	relocate := strings.NewReplacer("/var/vcap/sys/", root.sys()+"/", "/var/vcap/jobs/", root.jobs()+"/")
	return relocate.Replace(p[1]), relocate.Replace(s[1])
}

// pollHealthz GETs url until it answers or the deadline passes; it gives up
// early when the started process exits.
func pollHealthz(client *http.Client, url string, exited <-chan error, within time.Duration) (int, string, error) {
	deadline := time.Now().Add(within)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return 0, "", fmt.Errorf("bin/ctl start exited before the shim answered: %v", err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return resp.StatusCode, string(body), nil
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	return 0, "", fmt.Errorf("GET %s did not answer within %v: %v", url, within, lastErr)
}

// runScript runs a rendered script in the relocated root and fails on error.
func runScript(t *testing.T, root *vcapRoot, path string, args ...string) {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = root.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(path), strings.Join(args, " "), err, out)
	}
}
