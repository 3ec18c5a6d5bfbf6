// Package repotest holds test helpers shared by every package's tests:
// the repository root and its files, the repository's command binaries and
// a log sink safe for concurrent writes. It has no cloud code and imports
// nothing of this module but protocol/redact, so any package's tests may
// use it. Only tests import it: TestProductionCodeImportsNoTestHelper fails
// when non-test code does (docs/development.md has the rule).
package repotest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/redact"
)

// BinDirEnv names the environment variable holding a directory of built
// commands (the Makefile sets it to ./bin after make build).
const BinDirEnv = "NANOBOX_HCLOUD_BIN"

// BuildTags are the tags Binary builds with, as the Makefile does.
const BuildTags = "urfave_cli_no_docs"

// FindRepoRoot walks up from the working directory (go test runs in the
// package's directory) to the directory holding go.mod. It is RepoRoot for
// code that has no testing.TB, such as a loader run once per process.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// RepoRoot is the directory holding go.mod above the working directory; it
// fails the test when there is none.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// CatalogFixturePath is the Hetzner catalog fixture (GET /v1/locations and
// GET /v1/server_types in one file, with prices), relative to the
// repository root: the one copy, which the simulator embeds and
// cpi/catalog's snapshot is generated from.
const CatalogFixturePath = "cpi/hcloudsim/seed/catalog.json"

// RepoFile is the path of rel (slash-separated, relative to the repository
// root). It does not check that the file exists: reading it says so.
func RepoFile(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), filepath.FromSlash(rel))
}

// builds holds the commands Binary built in this process, in one temporary
// directory.
var builds struct {
	mu     sync.Mutex
	dir    string
	byName map[string]*build
}

// build is one command's build, done once per process.
type build struct {
	once sync.Once
	path string
	err  error
}

// buildError is a failed go build with its output.
type buildError struct {
	pkg    string
	err    error
	output string
}

func (e *buildError) Error() string {
	return fmt.Sprintf("go build %s: %v\n%s", e.pkg, e.err, e.output)
}

// Binary is the path of the repository's command name (a directory of
// ./cmd): $NANOBOX_HCLOUD_BIN/name when that variable is set and the file
// exists, else ./cmd/name built with go build -tags urfave_cli_no_docs,
// once per process, into a temporary directory that lives as long as the
// process (RemoveBuilt deletes it, e.g. at the end of TestMain). A name
// that is not a single path element, or a failed build, fails the test
// with the reason (for a build, go build's output); every later call for
// that name fails the same way without building again.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		t.Fatalf("repotest.Binary: %q is not the name of a directory of ./cmd", name)
		return ""
	}
	if dir := os.Getenv(BinDirEnv); dir != "" {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	b := buildOf(name)
	b.once.Do(func() { b.path, b.err = buildCommand(name) })
	if b.err != nil {
		t.Fatal(b.err)
		return ""
	}
	return b.path
}

// buildOf is name's build entry, made on first use.
func buildOf(name string) *build {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.byName == nil {
		builds.byName = map[string]*build{}
	}
	b, ok := builds.byName[name]
	if !ok {
		b = &build{}
		builds.byName[name] = b
	}
	return b
}

// buildDir is the temporary directory of this process's builds, made on
// first use.
func buildDir() (string, error) {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "nanobox-hcloud-bin-")
		if err != nil {
			return "", fmt.Errorf("building the repository's commands: %w", err)
		}
		builds.dir = dir
	}
	return builds.dir, nil
}

// buildCommand builds ./cmd/name of the repository into the build
// directory.
func buildCommand(name string) (string, error) {
	root, err := FindRepoRoot()
	if err != nil {
		return "", err
	}
	dir, err := buildDir()
	if err != nil {
		return "", err
	}
	pkg := "./cmd/" + name
	path := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-tags", BuildTags, "-o", path, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{pkg: pkg, err: err, output: string(out)}
	}
	return path, nil
}

// RemoveBuilt deletes the temporary directory of the commands Binary built
// and forgets them (a later Binary builds again). Call it from TestMain
// after m.Run, when no test uses the binaries any more.
func RemoveBuilt() error {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	dir := builds.dir
	builds.dir, builds.byName = "", nil
	if dir == "" {
		return nil
	}
	return os.RemoveAll(dir)
}

// SyncBuffer is a log sink safe for concurrent use: an io.Writer whose
// content String reads while writers are still writing. The zero value is
// an empty buffer ready to use. It is redact.Buffer, the sink of the CPI's
// log field: one implementation.
type SyncBuffer = redact.Buffer
