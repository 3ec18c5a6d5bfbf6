package systemd_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/repo"
	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/testcert"
)

const unitName = "nanobox-cpi-shim.service"

func TestMain(m *testing.M) {
	code := m.Run()
	repo.Cleanup()
	os.Exit(code)
}

func readUnit(t *testing.T) string {
	data, err := os.ReadFile(unitName)
	require.NoError(t, err)
	return string(data)
}

// systemdAnalyze is the path of systemd-analyze; its absence fails the
// test with the line that installs it.
func systemdAnalyze(t *testing.T) string {
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is not installed (%v): apt-get install -y systemd (.ci/run does)", err)
	}
	return p
}

// unitRoot is a root directory for systemd-analyze --root: the unit in
// /etc/systemd/system, the targets it names copied from the host's
// /usr/lib/systemd/system, and placeholder executables where ExecStart
// looks for the binaries.
func unitRoot(t *testing.T, unit string) string {
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "usr/lib/systemd/system"), os.DirFS("/usr/lib/systemd/system")),
		"copying the host's systemd units (apt-get install -y systemd)")
	bin := filepath.Join(root, "usr/local/bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	for _, c := range repo.Commands {
		require.NoError(t, os.WriteFile(filepath.Join(bin, c), []byte("#!/bin/true\n"), 0o755))
	}
	etc := filepath.Join(root, "etc/systemd/system")
	require.NoError(t, os.MkdirAll(etc, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(etc, unitName), []byte(unit), 0o644))
	return root
}

// verify runs systemd-analyze verify and returns what it printed: a clean
// unit prints nothing (warnings about unknown keys or bad values exit 0).
func verify(t *testing.T, unit string) (string, error) {
	cmd := exec.Command(systemdAnalyze(t), "verify", "--root="+unitRoot(t, unit), unitName)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestUnitVerifies(t *testing.T) {
	out, err := verify(t, readUnit(t))
	require.NoError(t, err, "%s", out)
	assert.Empty(t, out, "systemd-analyze verify complains")
}

// TestVerifyCatchesMistakes shows the check above can fail: a misspelt
// value and an unknown key, which systemd only warns about.
func TestVerifyCatchesMistakes(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"bad value", "ProtectSystem=strict", "ProtectSystem=strikt", "Failed to parse"},
		{"unknown key", "DynamicUser=yes", "DynamicUser=yes\nDynamicUsers=yes", "Unknown key"},
		{"missing binary", "ExecStart=/usr/local/bin/nanobox-cpi-shim", "ExecStart=/usr/local/bin/nanobox-cpi-shimm", "not executable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unit := readUnit(t)
			require.Contains(t, unit, tc.from)
			out, _ := verify(t, strings.Replace(unit, tc.from, tc.to, 1))
			assert.Contains(t, out, tc.want)
		})
	}
}

func TestUnitExposure(t *testing.T) {
	// systemd's own exposure score, 0 (locked down) to 100 (shown as 0.0-10.0);
	// the unit scores 1.4 with systemd 252: "OK".
	cmd := exec.Command(systemdAnalyze(t), "security", "--offline=true", "--threshold=20",
		"--root="+unitRoot(t, readUnit(t)), unitName)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "exposure above 2.0:\n%s", out)
	assert.Contains(t, string(out), "Overall exposure level for "+unitName)
}

// directives parses the unit's key=value lines (continuations joined).
func directives(t *testing.T) map[string][]string {
	d := map[string][]string{}
	unit := strings.ReplaceAll(readUnit(t), "\\\n", " ")
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "line %q", line)
		d[k] = append(d[k], v)
	}
	return d
}

func TestUnitHardening(t *testing.T) {
	d := directives(t)
	for key, want := range map[string][]string{
		"DynamicUser":             {"yes"},
		"ProtectSystem":           {"strict"},
		"NoNewPrivileges":         {"yes"},
		"StateDirectory":          {"nanobox-hcloud"},
		"ProtectHome":             {"yes"},
		"PrivateTmp":              {"yes"},
		"PrivateDevices":          {"yes"},
		"CapabilityBoundingSet":   {""},
		"AmbientCapabilities":     {""},
		"RestrictAddressFamilies": {"AF_INET AF_INET6 AF_UNIX"},
		"SystemCallFilter":        {"@system-service", "~@privileged"},
		"KillMode":                {"mixed"},
		"LoadCredential": {
			"cpi.json:/etc/nanobox-hcloud/cpi.json",
			"tls.crt:/etc/nanobox-hcloud/tls.crt",
			"tls.key:/etc/nanobox-hcloud/tls.key",
		},
	} {
		assert.Equal(t, want, d[key], key)
	}
}

// TestExecStartServesTLS runs the unit's ExecStart command line as systemd
// would (credentials in $CREDENTIALS_DIRECTORY, the state dir in place):
// every flag must exist, and the shim must answer /healthz over TLS with
// the loaded certificate.
func TestExecStartServesTLS(t *testing.T) {
	bin := repo.BinDir(t)
	creds, state := t.TempDir(), t.TempDir()
	certPEM := testcert.Write(t, creds)
	require.NoError(t, os.WriteFile(filepath.Join(creds, "cpi.json"),
		[]byte(`{"state_dir": "`+state+`", "operator_token_for_calls": false}`), 0o600))

	d := directives(t)
	require.Len(t, d["ExecStart"], 1)
	cmdline := strings.NewReplacer("${CREDENTIALS_DIRECTORY}", creds, "${STATE_DIRECTORY}", state).Replace(d["ExecStart"][0])
	require.NotContains(t, cmdline, "$", "every variable in ExecStart is one systemd sets")
	args := strings.Fields(cmdline)
	for i, a := range args {
		args[i] = strings.Replace(a, "/usr/local/bin/", bin+"/", 1)
		if i > 0 && args[i-1] == "--listen" {
			args[i] = "127.0.0.1:0"
		}
	}
	require.Equal(t, filepath.Join(bin, "nanobox-cpi-shim"), args[0])
	url := repo.StartShim(t, args[0], args[1:], []string{"PATH=/usr/bin:/bin", "TMPDIR=" + t.TempDir()})
	require.True(t, strings.HasPrefix(url, "https://"), url)

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(url + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.True(t, bytes.Contains(body, []byte(`"status":"ok"`)), "%s", body)
}
