package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// TestBuildReleaseBuildsTheTarball runs scripts/build-release without the
// bosh CLI and checks the release directory it assembled (real files only,
// every package's globs match, golang-1-linux present with its blob
// recorded in config/blobs.yml) and the tarball it packed from it.
func TestBuildReleaseBuildsTheTarball(t *testing.T) {
	t.Parallel() // the slowest test here (packing the toolchain): overlap the rest
	requireTool(t, "ruby", "ruby")
	root := repotest.RepoRoot(t)
	dir := filepath.Join(t.TempDir(), "release")
	tarball := filepath.Join(t.TempDir(), "nanobox-hcloud.tgz")
	cmd := exec.Command(filepath.Join(root, "scripts", "build-release"), "--dir", dir, "--tarball", tarball, "--version", "0+dev.test")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+pathWithout(t, "bosh"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-release: %v\n%s", err, out)
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

	// Everything the binaries are built from is shipped: every Go file and
	// every embedded file of the module's packages they import (the
	// compilation VM has nothing else).
	for _, f := range buildInputs(t, root) {
		if !shipped[binPackage+"/"+f] {
			t.Errorf("package %s does not ship %s, which the binaries are built from", binPackage, f)
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

	checkReleaseTarball(t, tarball, "0+dev.test", files)
}

// buildInputs are the files, relative to the repository, that go build
// reads of this module for both binaries (with the release's build tag).
func buildInputs(t *testing.T, root string) []string {
	const format = `{{if and .Module .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}`
	cmd := exec.Command("go", "list", "-deps", "-tags", "urfave_cli_no_docs", "-f", format,
		"./cmd/nanobox-hcloud-cpi", "./cmd/nanobox-cpi-shim")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	files := []string{"go.mod", "go.sum"}
	for _, path := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("go list names %s, outside the repository", path)
		}
		files = append(files, filepath.ToSlash(rel))
	}
	if len(files) < 50 {
		t.Fatalf("go list named only %d files: %v", len(files), files)
	}
	return files
}

// releaseManifest is what the test reads of release.MF.
type releaseManifest struct {
	Name     string `yaml:"name"`
	Version  string `yaml:"version"`
	Commit   string `yaml:"commit_hash"`
	Jobs     []releaseRef
	Packages []releaseRef
	License  *releaseRef
}

type releaseRef struct {
	Name         string   `yaml:"name"`
	Version      string   `yaml:"version"`
	Fingerprint  string   `yaml:"fingerprint"`
	Digest       string   `yaml:"sha1"`
	Packages     []string `yaml:"packages"`
	Dependencies []string `yaml:"dependencies"`
}

// checkReleaseTarball opens the release tarball as a director does: its
// release.MF names both jobs and both packages, each archive is there with
// the digest the manifest gives, and each package's archive holds its
// packaging script and exactly the files compile-packages --list selected.
func checkReleaseTarball(t *testing.T, path, version string, files map[string][]string) {
	top := untar(t, path)
	var m releaseManifest
	if err := yaml.Unmarshal(top["release.MF"], &m); err != nil {
		t.Fatalf("release.MF: %v", err)
	}
	if m.Name != "nanobox-hcloud" || m.Version != version || m.Commit == "" {
		t.Errorf("release.MF says %s/%s at %q, want nanobox-hcloud/%s at a commit", m.Name, m.Version, m.Commit, version)
	}
	var jobs []string
	for _, j := range m.Jobs {
		jobs = append(jobs, j.Name)
		checkDigest(t, "jobs/"+j.Name+".tgz", top, j)
		if len(j.Packages) != 1 || j.Packages[0] != binPackage {
			t.Errorf("job %s uses packages %v, want [%s]", j.Name, j.Packages, binPackage)
		}
	}
	if strings.Join(jobs, " ") != "nanobox-cpi-shim nanobox-hcloud-cpi" {
		t.Errorf("jobs %v, want nanobox-cpi-shim and nanobox-hcloud-cpi", jobs)
	}
	var packages []string
	for _, p := range m.Packages {
		packages = append(packages, p.Name)
		inside := untar(t, checkDigest(t, "packages/"+p.Name+".tgz", top, p))
		var got []string
		for name := range inside {
			if name != "" && name != "packaging" && !strings.HasSuffix(name, "/") {
				got = append(got, name)
			}
		}
		sort.Strings(got)
		if inside["packaging"] == nil || strings.Join(got, "\n") != strings.Join(files[p.Name], "\n") {
			t.Errorf("package %s: the archive holds %d files (packaging: %v), compile-packages --list selects %d",
				p.Name, len(got), inside["packaging"] != nil, len(files[p.Name]))
		}
		if p.Name == binPackage && strings.TrimSpace(string(inside[binPackage+"/VERSION"])) != version {
			t.Errorf("package %s's VERSION is %q, want %s", p.Name, inside[binPackage+"/VERSION"], version)
		}
	}
	if strings.Join(packages, " ") != "golang-1-linux "+binPackage {
		t.Errorf("packages %v, want golang-1-linux and %s", packages, binPackage)
	}
	if m.License == nil || !strings.Contains(string(top["LICENSE"]), "Apache License") {
		t.Errorf("the release's license is missing or not Apache-2.0")
	} else {
		checkDigest(t, "license.tgz", top, *m.License)
	}
}

// checkDigest checks the archive's digest is the manifest's and returns
// the archive written to a temporary file.
func checkDigest(t *testing.T, name string, top map[string][]byte, ref releaseRef) string {
	data, ok := top[name]
	if !ok {
		t.Fatalf("the tarball lacks %s", name)
	}
	sum := sha256.Sum256(data)
	if want := "sha256:" + hex.EncodeToString(sum[:]); ref.Digest != want {
		t.Errorf("release.MF gives %s the digest %s, it is %s", name, ref.Digest, want)
	}
	if ref.Fingerprint == "" || ref.Version != ref.Fingerprint {
		t.Errorf("%s: version %q, fingerprint %q", name, ref.Version, ref.Fingerprint)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// untar reads a gzip'd tarball's files by name ("./" dropped).
func untar(t *testing.T, path string) map[string][]byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(hdr.Name, "./")] = body
	}
}

func TestVendorGolangRefusals(t *testing.T) {
	root := repotest.RepoRoot(t)
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
	root := repotest.RepoRoot(t)
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

// TestPackagingRefusesAnotherPlatform: the nanobox-hcloud package builds
// with golang-1-linux (linux/amd64); on another machine (bosh create-env on
// a Mac or an arm64 box) it stops at once and says where to run it.
func TestPackagingRefusesAnotherPlatform(t *testing.T) {
	packaging := filepath.Join(releaseDir(t), "packages", binPackage, "packaging")
	for _, tc := range []struct{ system, machine string }{{"Darwin", "arm64"}, {"Darwin", "x86_64"}, {"Linux", "aarch64"}, {"Linux", "x86_64"}} {
		t.Run(tc.system+"/"+tc.machine, func(t *testing.T) {
			stubs := t.TempDir()
			uname := "#!/bin/sh\ncase $1 in -s) echo " + tc.system + " ;; -m) echo " + tc.machine + " ;; esac\n"
			if err := os.WriteFile(filepath.Join(stubs, "uname"), []byte(uname), 0o755); err != nil {
				t.Fatal(err)
			}
			install := t.TempDir()
			cmd := exec.Command("bash", packaging)
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), "PATH="+stubs+":"+os.Getenv("PATH"),
				"BOSH_INSTALL_TARGET="+install, "BOSH_PACKAGES_DIR="+filepath.Join(t.TempDir(), "none"))
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("packaging succeeded without golang-1-linux:\n%s", out)
			}
			refused := strings.Contains(string(out), "compiling needs Linux on x86_64 (golang-1-linux's platform), not "+tc.system+"/"+tc.machine)
			if want := tc.system+"/"+tc.machine != "Linux/x86_64"; refused != want {
				t.Errorf("refused for the platform: %v, want %v:\n%s", refused, want, out)
			}
			if entries, _ := os.ReadDir(install); len(entries) != 0 {
				t.Errorf("packaging wrote into BOSH_INSTALL_TARGET before failing: %v", entries)
			}
		})
	}
}
