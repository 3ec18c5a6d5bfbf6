package vagrant_test

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/testsupport"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testsupport.RemoveBuilt(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// harness is one installed plugin, one simulator and one sshd, shared by
// the projects of a test.
type harness struct {
	t        *testing.T
	dir      string
	token    string
	simURL   string
	cpi      string // the CPI binary
	sshPort  int
	key      string // the private key the projects log in with
	username string
	env      []string
	outputs  []string
}

// requireTool fails the test, saying what to install, when name is not on
// PATH (or, for sshd, in /usr/sbin).
func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p
	}
	t.Fatalf("%s is not installed: the Vagrant provider's test needs it (Debian: apt-get install -y %s; .ci/run installs it)", name, debianPackage)
	return ""
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	for name, pkg := range map[string]string{"vagrant": "vagrant", "gem": "ruby", "rsync": "rsync", "sudo": "sudo", "ssh": "openssh-client"} {
		requireTool(t, name, pkg)
	}
	u, err := user.Current()
	require.NoError(t, err)
	h := &harness{t: t, dir: t.TempDir(), token: "e2e-token-" + randomHex(t, 12), username: u.Username}
	h.cpi = testsupport.Binary(t, "nanobox-hcloud-cpi")
	h.env = append(os.Environ(),
		"HOME="+filepath.Join(h.dir, "home"),
		"VAGRANT_HOME="+filepath.Join(h.dir, "vagrant.d"),
		"VAGRANT_CHECKPOINT_DISABLE=1",
		"VAGRANT_LOG=",
	)
	require.NoError(t, os.MkdirAll(filepath.Join(h.dir, "home"), 0o700))
	h.startSimulator()
	h.startSSHD()
	h.installPlugin()
	return h
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// startSimulator runs bin/hcloud-sim on a free port until the test ends.
func (h *harness) startSimulator() {
	cmd := exec.Command(testsupport.Binary(h.t, "hcloud-sim"), "--listen", "127.0.0.1:0", "--token", h.token, "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	require.NoError(h.t, err)
	cmd.Stderr = io.Discard
	require.NoError(h.t, cmd.Start())
	h.t.Cleanup(func() { stop(cmd) })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(h.t, err, "hcloud-sim printed no URL")
	h.simURL = strings.TrimSpace(line)
	require.True(h.t, strings.HasPrefix(h.simURL, "http://127.0.0.1:"), "hcloud-sim printed %q", h.simURL)
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
}

// startSSHD runs a throwaway sshd on 127.0.0.1 with its own host key and
// an authorized_keys file holding the projects' key, as the current user.
func (h *harness) startSSHD() {
	sshd := requireTool(h.t, "sshd", "openssh-server")
	dir := filepath.Join(h.dir, "sshd")
	require.NoError(h.t, os.MkdirAll(dir, 0o700))
	writeKey(h.t, filepath.Join(dir, "host_key"))
	h.key = filepath.Join(h.dir, "id_ed25519")
	pub := writeKey(h.t, h.key)
	require.NoError(h.t, os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600))
	if os.Geteuid() == 0 {
		// sshd started as root insists on its privilege separation directory.
		require.NoError(h.t, os.MkdirAll("/run/sshd", 0o755))
	}
	h.sshPort = freePort(h.t)
	config := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers %s
`, h.sshPort, filepath.Join(dir, "host_key"), filepath.Join(dir, "authorized_keys"), h.username)
	path := filepath.Join(dir, "sshd_config")
	require.NoError(h.t, os.WriteFile(path, []byte(config), 0o600))
	cmd := exec.Command(sshd, "-D", "-e", "-f", path)
	log, err := os.Create(filepath.Join(dir, "sshd.log"))
	require.NoError(h.t, err)
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(h.t, cmd.Start())
	h.t.Cleanup(func() { stop(cmd); _ = log.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", h.sshPort))
		if err == nil {
			_ = conn.Close()
			return
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			h.t.Fatalf("sshd did not listen on port %d: %v\n%s", h.sshPort, err, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeKey writes a new ed25519 private key (OpenSSH format) to path and
// its public key to path.pub; it answers the public key line.
func writeKey(t *testing.T, path string) []byte {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	line := ssh.MarshalAuthorizedKey(sshPub)
	require.NoError(t, os.WriteFile(path+".pub", line, 0o600))
	return line
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// installPlugin builds the gem offline and installs it into VAGRANT_HOME
// without any gem source.
func (h *harness) installPlugin() {
	gem := filepath.Join(h.dir, "vagrant-nanobox-hcloud.gem")
	build := exec.Command("gem", "build", "vagrant-nanobox-hcloud.gemspec", "--output", gem)
	build.Env = h.env
	out, err := build.CombinedOutput()
	require.NoError(h.t, err, "gem build: %s", out)
	installed, code := h.vagrant(h.dir, nil, "plugin", "install", gem, "--plugin-clean-sources")
	require.Equal(h.t, 0, code, "vagrant plugin install: %s", installed)
	require.Contains(h.t, installed, "Installed the plugin 'vagrant-nanobox-hcloud")
}

// vagrant runs vagrant in dir with extra environment; it answers the
// combined output and the exit code.
func (h *harness) vagrant(dir string, env []string, args ...string) (string, int) {
	h.t.Helper()
	cmd := exec.Command("vagrant", append([]string{"--no-color"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, h.env...), env...)
	out, err := cmd.CombinedOutput()
	h.outputs = append(h.outputs, string(out))
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(h.t, err)
	}
	return string(out), code
}

// mustVagrant runs vagrant and fails the test unless it exits 0.
func (h *harness) mustVagrant(dir string, env []string, args ...string) string {
	h.t.Helper()
	out, code := h.vagrant(dir, env, args...)
	require.Equal(h.t, 0, code, "vagrant %s:\n%s", strings.Join(args, " "), out)
	return out
}

// project writes a project directory holding vagrantfile and the CPI's
// config file, with its state directory inside the test's directory.
func (h *harness) project(name, vagrantfile string) string {
	dir := filepath.Join(h.dir, name)
	require.NoError(h.t, os.MkdirAll(filepath.Join(dir, "data"), 0o700))
	config := fmt.Sprintf(`{"state_dir": %q, "timeouts": {"poll_interval_ms": 20}}`, filepath.Join(h.dir, "cpi-state"))
	require.NoError(h.t, os.WriteFile(filepath.Join(dir, "cpi.json"), []byte(config), 0o600))
	require.NoError(h.t, os.WriteFile(filepath.Join(dir, "Vagrantfile"), []byte(vagrantfile), 0o600))
	return dir
}

// sshSettings are the Vagrantfile lines that make the local sshd the
// guest: no guest detection, no login shell, no edit of /etc/fstab, no key
// swap (the guest is this machine).
func (h *harness) sshSettings() string {
	return fmt.Sprintf(`  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.guest = :linux
  config.vm.allow_fstab_modification = false
  config.vm.boot_timeout = 120
  config.ssh.host = "127.0.0.1"
  config.ssh.port = %d
  config.ssh.username = %q
  config.ssh.private_key_path = %q
  config.ssh.insert_key = false
  config.ssh.shell = "sh"
`, h.sshPort, h.username, h.key)
}

// simServer is a server as the simulator holds it.
type simServer struct {
	ID     int64             `json:"id"`
	Name   string            `json:"name"`
	Status string            `json:"status"`
	Labels map[string]string `json:"labels"`
}

func (h *harness) simGet(path string, into any) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.simURL+path, nil)
	require.NoError(h.t, err)
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	require.Equal(h.t, http.StatusOK, resp.StatusCode, "GET %s", path)
	require.NoError(h.t, json.NewDecoder(resp.Body).Decode(into))
}

func (h *harness) servers() []simServer {
	var body struct {
		Servers []simServer `json:"servers"`
	}
	h.simGet("/servers?per_page=50", &body)
	return body.Servers
}

// serverCommands lists the commands of a server's actions, oldest first.
func (h *harness) serverCommands(id int64) []string {
	var body struct {
		Actions []struct {
			Command string `json:"command"`
		} `json:"actions"`
	}
	h.simGet(fmt.Sprintf("/servers/%d/actions?sort=id:asc", id), &body)
	var out []string
	for _, a := range body.Actions {
		out = append(out, a.Command)
	}
	return out
}

func machineID(t *testing.T, project, machine string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(project, ".vagrant", "machines", machine, "hcloud", "id"))
	require.NoError(t, err)
	return string(data)
}

func count(items []string, item string) int {
	n := 0
	for _, i := range items {
		if i == item {
			n++
		}
	}
	return n
}

// assertNoToken checks that the token is in no output and no file of the
// project's .vagrant/ or of VAGRANT_HOME.
func (h *harness) assertNoToken(token string, dirs ...string) {
	h.t.Helper()
	for i, out := range h.outputs {
		assert.NotContains(h.t, out, token, "output %d shows the token", i)
	}
	for _, dir := range dirs {
		err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || !info.Mode().IsRegular() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			assert.NotContains(h.t, string(data), token, "%s holds the token", path)
			return nil
		})
		require.NoError(h.t, err)
	}
}

// TestVagrantProvider drives the real vagrant through one machine's life,
// a two-machine project and a rejected token, against the simulator.
func TestVagrantProvider(t *testing.T) {
	h := newHarness(t)
	guest := filepath.Join(h.dir, "guest")
	// docs/vagrant.md's Vagrantfile as printed, then a block that makes the
	// local sshd the guest and syncs a folder to a temporary path instead of
	// /vagrant.
	project := h.project("web", documentedVagrantfile(t)+fmt.Sprintf(`
Vagrant.configure("2") do |config|
%s  config.vm.synced_folder "data", %q, type: "rsync"
  config.vm.provider :hcloud do |h|
    h.cpi_config = "cpi.json"
    h.user_data = "#cloud-config\n"
  end
end
`, h.sshSettings(), filepath.Join(guest, "data")))
	require.NoError(t, os.MkdirAll(guest, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(project, "data", "hello.txt"), []byte("hello from the host\n"), 0o600))
	withToken := []string{"HCLOUD_TOKEN=" + h.token, "HCLOUD_ENDPOINT=" + h.simURL, "PATH=" + filepath.Dir(h.cpi) + ":" + os.Getenv("PATH")}

	// up: key, order, running, SSH, rsync, provisioner; under the debug log.
	out := h.mustVagrant(project, append(withToken, "VAGRANT_LOG=debug"), "up", "--provider=hcloud")
	assert.Contains(t, out, "Machine booted and ready")
	synced, err := os.ReadFile(filepath.Join(guest, "data", "hello.txt"))
	require.NoError(t, err, "rsync did not copy the folder:\n%s", out)
	assert.Equal(t, "hello from the host\n", string(synced))
	hostname, err := os.Hostname()
	require.NoError(t, err)
	assert.Contains(t, out, "default: hello from "+hostname, "the shell provisioner did not run")
	servers := h.servers()
	require.Len(t, servers, 1)
	id := machineID(t, project, "default")
	assert.Equal(t, strconv.FormatInt(servers[0].ID, 10), id)
	assert.Equal(t, "web", servers[0].Labels["team"])
	assert.Equal(t, "running", servers[0].Status)

	// up again: the same server, no second one.
	out = h.mustVagrant(project, withToken, "up", "--provider=hcloud")
	assert.Contains(t, out, "already running")
	require.Len(t, h.servers(), 1)
	assert.Equal(t, id, machineID(t, project, "default"))

	out = h.mustVagrant(project, withToken, "ssh", "-c", "echo answer-$((6 * 7))")
	assert.Contains(t, out, "answer-42")
	out = h.mustVagrant(project, withToken, "status")
	assert.Regexp(t, `default\s+running \(hcloud\)`, out)
	out = h.mustVagrant(project, withToken, "global-status")
	assert.Regexp(t, `default\s+hcloud\s+running\s+`+regexp.QuoteMeta(project), out)

	// halt: Hetzner's shutdown; up starts the same server again.
	h.mustVagrant(project, withToken, "halt")
	require.Len(t, h.servers(), 1)
	assert.Equal(t, "off", h.servers()[0].Status)
	assert.Equal(t, 1, count(h.serverCommands(servers[0].ID), "shutdown_server"), "halt is a graceful shutdown")
	h.mustVagrant(project, withToken, "up")
	assert.Equal(t, "running", h.servers()[0].Status)
	assert.Equal(t, id, machineID(t, project, "default"))

	// reload: stop and start; halt -f: a power-off.
	h.mustVagrant(project, withToken, "reload")
	assert.Equal(t, "running", h.servers()[0].Status)
	h.mustVagrant(project, withToken, "halt", "-f")
	assert.Equal(t, "off", h.servers()[0].Status)
	commands := h.serverCommands(servers[0].ID)
	assert.Equal(t, 2, count(commands, "shutdown_server"), "reload stops gracefully: %v", commands)
	assert.Equal(t, 1, count(commands, "stop_server"), "halt -f powers off: %v", commands)

	// destroy -f: nothing left.
	h.mustVagrant(project, withToken, "destroy", "-f")
	assert.Empty(t, h.servers())
	_, err = os.Stat(filepath.Join(project, ".vagrant", "machines", "default", "hcloud", "id"))
	assert.True(t, os.IsNotExist(err), "the id file outlived destroy: %v", err)
	out = h.mustVagrant(project, withToken, "status")
	assert.Regexp(t, `default\s+not created \(hcloud\)`, out)

	h.twoMachines(withToken)
	h.badToken()

	h.assertNoToken(h.token, filepath.Join(h.dir, "web", ".vagrant"), filepath.Join(h.dir, "pair", ".vagrant"), filepath.Join(h.dir, "vagrant.d"))
}

// documentedVagrantfile is the Vagrantfile docs/vagrant.md prints.
func documentedVagrantfile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(testsupport.RepoFile(t, "docs/vagrant.md"))
	require.NoError(t, err)
	doc := string(data)
	start := strings.Index(doc, "<!-- vagrantfile")
	end := strings.Index(doc, "<!-- end of vagrantfile -->")
	require.True(t, start >= 0 && end > start, "docs/vagrant.md has no marked Vagrantfile")
	block := doc[start:end]
	open := strings.Index(block, "```ruby\n")
	closing := strings.LastIndex(block, "```")
	require.True(t, open >= 0 && closing > open, "the marked Vagrantfile is not a ruby block")
	return block[open+len("```ruby\n") : closing]
}

// twoMachines brings up two machines at once, with the CPI named by
// cpi_path instead of PATH, and destroys both.
func (h *harness) twoMachines(withToken []string) {
	t := h.t
	project := h.project("pair", fmt.Sprintf(`Vagrant.configure("2") do |config|
%s  config.vm.provider :hcloud do |h|
    h.cpi_path = %q
    h.cpi_config = "cpi.json"
  end
  config.vm.define "one"
  config.vm.define "two"
end
`, h.sshSettings(), h.cpi))
	env := append(append([]string{}, withToken...), "PATH="+os.Getenv("PATH"))
	out := h.mustVagrant(project, env, "up", "--provider=hcloud", "--parallel")
	assert.Equal(t, 2, strings.Count(out, "Machine booted and ready"), out)
	servers := h.servers()
	require.Len(t, servers, 2)
	one, two := machineID(t, project, "one"), machineID(t, project, "two")
	assert.NotEqual(t, one, two)
	ids := []string{strconv.FormatInt(servers[0].ID, 10), strconv.FormatInt(servers[1].ID, 10)}
	assert.ElementsMatch(t, []string{one, two}, ids)
	out = h.mustVagrant(project, env, "status")
	assert.Regexp(t, `one\s+running \(hcloud\)`, out)
	assert.Regexp(t, `two\s+running \(hcloud\)`, out)
	h.mustVagrant(project, env, "destroy", "-f")
	assert.Empty(t, h.servers())
}

// badToken: up with a token Hetzner rejects fails with a clear message,
// shows no token and orders nothing.
func (h *harness) badToken() {
	t := h.t
	project := h.project("rejected", fmt.Sprintf(`Vagrant.configure("2") do |config|
%s  config.vm.provider :hcloud do |h|
    h.cpi_config = "cpi.json"
  end
end
`, h.sshSettings()))
	wrong := "wrong-token-" + randomHex(t, 12)
	env := []string{"HCLOUD_TOKEN=" + wrong, "HCLOUD_ENDPOINT=" + h.simURL, "PATH=" + filepath.Dir(h.cpi) + ":" + os.Getenv("PATH")}
	out, code := h.vagrant(project, env, "up", "--provider=hcloud")
	assert.NotEqual(t, 0, code, out)
	assert.Contains(t, out, "Hetzner Cloud rejected the API token")
	assert.Empty(t, h.servers())
	_, err := os.Stat(filepath.Join(project, ".vagrant", "machines", "default", "hcloud", "id"))
	assert.True(t, os.IsNotExist(err), "a failed up left an id: %v", err)
	h.assertNoToken(wrong, filepath.Join(project, ".vagrant"))
}
