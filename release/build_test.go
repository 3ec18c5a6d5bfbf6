package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/testsupport"
)

// TestBuildReleaseAssemblesACompleteRelease runs scripts/build-release
// --layout-only (what it does before handing the directory to
// `bosh create-release`) and checks the result is a release bosh can pack:
// real files only, every package's globs match, golang-1-linux present with
// its blob recorded in config/blobs.yml.
func TestBuildReleaseAssemblesACompleteRelease(t *testing.T) {
	t.Parallel() // the slowest test here (packing the toolchain): overlap the rest
	requireTool(t, "ruby", "ruby")
	root := testsupport.RepoRoot(t)
	dir := filepath.Join(t.TempDir(), "release")
	cmd := exec.Command(filepath.Join(root, "scripts", "build-release"), "--layout-only", "--dir", dir, "--version", "0+dev.test")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-release --layout-only: %v\n%s", err, out)
	}

	// The bosh CLI packs symlinks as symlinks: none may be left in src/.
	err := filepath.WalkDir(filepath.Join(dir, "src"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			t.Errorf("symlink in the assembled src/: %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	module := filepath.Join(dir, "src", binPackage)
	if v := strings.TrimSpace(readFile(t, filepath.Join(module, "VERSION"))); v != "0+dev.test" {
		t.Errorf("the assembled module's VERSION is %q, want the release's version 0+dev.test", v)
	}
	if readFile(t, filepath.Join(dir, "LICENSE")) != readFile(t, filepath.Join(root, "LICENSE")) {
		t.Errorf("the release's LICENSE is not the repository's")
	}

	// Every glob of every package matches (compile-packages fails otherwise).
	list := exec.Command("ruby", filepath.Join(releaseDir(t), "scripts", "compile-packages"), "--list", dir)
	var stderr bytes.Buffer
	list.Stderr = &stderr
	out, err := list.Output()
	if err != nil {
		t.Fatalf("compile-packages --list: %v\n%s", err, stderr.String())
	}
	var files map[string][]string
	if err := json.Unmarshal(out, &files); err != nil {
		t.Fatalf("compile-packages --list output: %v", err)
	}
	shipped := map[string]bool{}
	for _, f := range files[binPackage] {
		shipped[f] = true
		if strings.HasSuffix(f, "_test.go") || strings.Contains(f, "/testdata/") {
			t.Errorf("package %s ships test file %s", binPackage, f)
		}
	}
	for _, want := range []string{
		"nanobox-hcloud/go.mod", "nanobox-hcloud/go.sum", "nanobox-hcloud/VERSION",
		"nanobox-hcloud/vendor/modules.txt",
		"nanobox-hcloud/cmd/nanobox-hcloud-cpi/main.go", "nanobox-hcloud/cmd/nanobox-cpi-shim/main.go",
	} {
		if !shipped[want] {
			t.Errorf("package %s does not ship %s", binPackage, want)
		}
	}

	// Development-only code (scripts/benchtool, its own module with the
	// plotting libraries) is neither shipped nor vendored.
	for f := range shipped {
		if strings.Contains(f, "benchtool") {
			t.Errorf("package %s ships the development-only %s", binPackage, f)
		}
	}
	if modules := readFile(t, filepath.Join(module, "vendor", "modules.txt")); strings.Contains(modules, "gonum.org/v1/plot") {
		t.Errorf("the vendored modules include benchtool's plotting library:\n%s", modules)
	}

	// Every dependency is in the assembled release.
	for name := range files {
		spec := loadPackageSpec(t, filepath.Join(dir, "packages", name))
		for _, dep := range spec.Dependencies {
			if _, ok := files[dep]; !ok {
				t.Errorf("package %s depends on %s, which the assembled release lacks", name, dep)
			}
		}
	}

	// golang-1-linux: built by vendor-golang, its blob recorded as bosh add-blob would.
	golang := filepath.Join(dir, "packages", "golang-1-linux")
	assertExecutable(t, filepath.Join(golang, "packaging"))
	shellcheck(t, filepath.Join(golang, "packaging"))
	if len(files["golang-1-linux"]) != 1 {
		t.Fatalf("golang-1-linux files %v, want the toolchain blob", files["golang-1-linux"])
	}
	blobPath := files["golang-1-linux"][0]
	var blobs map[string]struct {
		Size int64  `yaml:"size"`
		SHA  string `yaml:"sha"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(dir, "config", "blobs.yml"))), &blobs); err != nil {
		t.Fatalf("config/blobs.yml: %v", err)
	}
	entry, ok := blobs[blobPath]
	if !ok {
		t.Fatalf("config/blobs.yml has no entry for %s: %v", blobPath, blobs)
	}
	size, sum := fileSizeAndSHA256(t, filepath.Join(dir, "blobs", blobPath))
	if entry.Size != size || entry.SHA != "sha256:"+sum {
		t.Errorf("blobs.yml says %d %s, the blob is %d sha256:%s", entry.Size, entry.SHA, size, sum)
	}

	// The git tree was left alone: build-release works on its copy.
	if _, err := os.Stat(filepath.Join(releaseDir(t), "src", binPackage, "vendor")); !os.IsNotExist(err) {
		t.Errorf("build-release wrote vendor/ into the git tree: %v", err)
	}
}

func TestBuildReleaseWithoutBoshSaysWhatItNeeds(t *testing.T) {
	root := testsupport.RepoRoot(t)
	cmd := exec.Command(filepath.Join(root, "scripts", "build-release"), "--dir", filepath.Join(t.TempDir(), "r"))
	cmd.Env = append(os.Environ(), "PATH="+pathWithout(t, "bosh"))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("exit %v, want 3\n%s", err, out)
	}
	for _, want := range []string{"bosh CLI is not on PATH", "bosh-cli v7", "--layout-only"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestVendorGolangRefusals(t *testing.T) {
	root := testsupport.RepoRoot(t)
	cases := []struct {
		name  string
		setup func(rel string) []string // returns extra arguments
		want  string
	}{
		{"not a release", func(rel string) []string { return nil }, "not a BOSH release directory"},
		{"vendored by bosh vendor-package", func(rel string) []string {
			mkdirs(t, filepath.Join(rel, "config"), filepath.Join(rel, "packages", "golang-1-linux"))
			writeFile(t, filepath.Join(rel, "packages", "golang-1-linux", "spec.lock"), "name: golang-1-linux\n")
			return nil
		}, "bosh vendor-package"},
		{"not a toolchain", func(rel string) []string {
			mkdirs(t, filepath.Join(rel, "config"))
			return []string{"--goroot", rel}
		}, "not a Go toolchain"},
		{"unknown flag", func(rel string) []string { return []string{"--frobnicate"} }, "unknown argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rel := t.TempDir()
			args := append([]string{"--release-dir", rel}, tc.setup(rel)...)
			cmd := exec.Command(filepath.Join(root, "scripts", "vendor-golang"), args...)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("err %v, output %q: want a failure saying %q", err, out, tc.want)
			}
			if _, err := os.Stat(filepath.Join(rel, "blobs")); !os.IsNotExist(err) {
				t.Errorf("a refused run wrote blobs/")
			}
		})
	}
}

func fileSizeAndSHA256(t *testing.T, path string) (int64, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return n, hex.EncodeToString(h.Sum(nil))
}

// pathWithout is $PATH minus the directories holding an executable name.
func pathWithout(t *testing.T, name string) string {
	t.Helper()
	var keep []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() {
			continue
		}
		keep = append(keep, dir)
	}
	return strings.Join(keep, string(filepath.ListSeparator))
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBuildReleaseIsOffline: vendoring reads only the module cache; with a
// cache that lacks the dependencies, build-release stops before assembling
// anything further and names the one command that fetches them.
func TestBuildReleaseIsOffline(t *testing.T) {
	t.Parallel()
	root := testsupport.RepoRoot(t)
	cmd := exec.Command(filepath.Join(root, "scripts", "build-release"), "--layout-only", "--dir", filepath.Join(t.TempDir(), "release"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOMODCACHE="+t.TempDir(), "GOPROXY=https://proxy.invalid", "GOFLAGS=-modcacherw")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("build-release vendored with an empty module cache: it must not download\n%s", out)
	}
	if want := "(cd " + root + " && go mod download)"; !strings.Contains(string(out), want) {
		t.Errorf("build-release does not name the command to run (%s):\n%s", want, out)
	}
}
