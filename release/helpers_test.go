package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// The release's jobs, packages and the binaries the package builds.
const (
	cpiJob     = "nanobox-hcloud-cpi"
	shimJob    = "nanobox-cpi-shim"
	binPackage = "nanobox-hcloud"
	cpiBinary  = "nanobox-hcloud-cpi"
	shimBinary = "nanobox-cpi-shim"
)

// releaseDir is this package's directory: the release tree. go test runs
// with the package directory as the working directory.
func releaseDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config", "final.yml")); err != nil {
		t.Fatalf("%s is not the release directory: %v", dir, err)
	}
	return dir
}

// requireTool fails the test, saying what to install, when name is not on PATH.
func requireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not on PATH: the release tests need it (Debian: apt-get install -y %s; .ci/run installs it)", name, debianPackage)
	}
	return path
}

// binaryPath is the path of one of the repository's commands
// (repotest.Binary). When $NANOBOX_HCLOUD_BIN is set (make test sets it
// after make build) the command must be there: these tests check what make
// build produced rather than a fresh build.
func binaryPath(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv(repotest.BinDirEnv); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s=%s has no %s (run make build): %v", repotest.BinDirEnv, dir, name, err)
		}
	}
	return repotest.Binary(t, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	_ = repotest.RemoveBuilt()
	os.Exit(code)
}

// renderJob renders every template of job (and its monit file) into outDir
// with release/scripts/render-job, from the spec defaults plus props (nested
// as in a manifest). It returns the renderer's error output on failure.
func renderJob(t testing.TB, job string, props map[string]any, outDir string) error {
	t.Helper()
	requireTool(t, "ruby", "ruby")
	if props == nil {
		props = map[string]any{}
	}
	data, err := json.Marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	propsFile := filepath.Join(t.TempDir(), "properties.json")
	if err := os.WriteFile(propsFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rel := releaseDir(t)
	cmd := exec.Command("ruby", filepath.Join(rel, "scripts", "render-job"),
		filepath.Join(rel, "jobs", job), propsFile, outDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("render %s: %v: %s", job, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// mustRenderJob is renderJob that fails the test on error.
func mustRenderJob(t testing.TB, job string, props map[string]any, outDir string) {
	t.Helper()
	if err := renderJob(t, job, props, outDir); err != nil {
		t.Fatal(err)
	}
}

// vcapRoot is a relocated /var/vcap: packages/, jobs/ and sys/ under one
// temporary directory, pointed at by the BOSH_* variables in env.
type vcapRoot struct {
	dir string
}

func newVcapRoot(t testing.TB) *vcapRoot {
	t.Helper()
	r := &vcapRoot{dir: t.TempDir()}
	for _, d := range []string{"packages", "jobs", "sys", "data"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *vcapRoot) packages() string       { return filepath.Join(r.dir, "packages") }
func (r *vcapRoot) jobs() string           { return filepath.Join(r.dir, "jobs") }
func (r *vcapRoot) sys() string            { return filepath.Join(r.dir, "sys") }
func (r *vcapRoot) data() string           { return filepath.Join(r.dir, "data") }
func (r *vcapRoot) jobDir(j string) string { return filepath.Join(r.jobs(), j) }

// env is the environment a relocated job runs with.
func (r *vcapRoot) env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"BOSH_PACKAGES_DIR=" + r.packages(),
		"BOSH_JOBS_DIR=" + r.jobs(),
		"BOSH_SYS_DIR=" + r.sys(),
	}
}

// installBinary puts the file at src into the nanobox-hcloud package as name.
func (r *vcapRoot) installBinary(t testing.TB, src, name string) {
	t.Helper()
	dir := filepath.Join(r.packages(), binPackage, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(src, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago: the
// shim job takes its port from a property, so the test must name one.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	n, _ := strconv.Atoi(port)
	return n
}

// readFile returns a file's content, "" when it does not exist.
func readFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}
