package testsupport_test

import (
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/testsupport"
)

// isTestHelper says whether the package at importPath is a test helper:
// its last element is testsupport or ends in "test" (shimtest, simtest).
// docs/development.md states the rule.
func isTestHelper(importPath string) bool {
	name := path.Base(importPath)
	return name == "testsupport" || strings.HasSuffix(name, "test")
}

// goList is `go list -f format ./...` over the whole module, one line per
// package.
func goList(t *testing.T, format string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", format, "./...")
	cmd.Dir = testsupport.RepoRoot(t)
	out, err := cmd.Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		t.Fatalf("go list: %v\n%s", err, ee.Stderr)
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestProductionCodeImportsNoTestHelper: no package's non-test code imports
// a test helper or the testing package, except the test helpers
// themselves; and every package whose non-test code imports testing is
// named as a test helper, so the rule cannot be dodged by a name.
func TestProductionCodeImportsNoTestHelper(t *testing.T) {
	lines := goList(t, `{{.ImportPath}} {{join .Imports " "}}`)
	require.NotEmpty(t, lines)
	var helpers []string
	for _, line := range lines {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		if isTestHelper(pkg) {
			helpers = append(helpers, pkg)
			continue
		}
		assert.NotContains(t, imports, "testing", "%s imports testing outside its tests: name it as a test helper (…test, testsupport) or move the code into a _test.go file", pkg)
		for _, imp := range imports {
			assert.False(t, isTestHelper(imp), "%s imports the test helper %s outside its tests", pkg, imp)
		}
	}
	assert.Contains(t, helpers, "github.com/nanobox-hcloud/nanobox-hcloud/protocol/testsupport", "the rule sees the helpers")
}

// TestTestOnlySuitesAreInternal: the end-to-end and reliability suites
// live under cpi/internal, where nothing outside cpi/ can import them, and
// hold no code but their package comment.
func TestTestOnlySuitesAreInternal(t *testing.T) {
	lines := goList(t, `{{.ImportPath}} {{join .GoFiles " "}}`)
	var suites []string
	for _, line := range lines {
		fields := strings.Fields(line)
		pkg := fields[0]
		switch path.Base(pkg) {
		case "e2e", "reliability":
			suites = append(suites, strings.TrimPrefix(pkg, "github.com/nanobox-hcloud/nanobox-hcloud/"))
			assert.Equal(t, []string{"doc.go"}, fields[1:], "%s has code outside its tests", pkg)
		}
	}
	slices.Sort(suites)
	assert.Equal(t, []string{"cpi/internal/e2e", "cpi/internal/reliability"}, suites)
}

// TestProtocolIsTheContractOnly: no package under protocol/ depends on a
// command-line framework or on cloud code; the CPI's command line lives in
// cmd/nanobox-hcloud-cpi, the clouds under cpi/.
func TestProtocolIsTheContractOnly(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./protocol/...")
	cmd.Dir = testsupport.RepoRoot(t)
	out, err := cmd.Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		t.Fatalf("go list: %v\n%s", err, ee.Stderr)
	}
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/nanobox-hcloud/nanobox-hcloud/protocol", "the list names protocol's dependencies")
	for _, dep := range deps {
		assert.False(t, strings.HasPrefix(dep, "github.com/urfave/cli"), "protocol/... depends on %s", dep)
		assert.False(t, strings.HasPrefix(dep, "github.com/nanobox-hcloud/nanobox-hcloud/cpi"), "protocol/... depends on %s", dep)
		assert.False(t, strings.HasPrefix(dep, "github.com/hetznercloud/"), "protocol/... depends on %s", dep)
	}
}

// TestMainsAreThin: every cmd/*/main.go is at most 40 lines; a command's
// logic lives in its other files or in the packages it wires.
func TestMainsAreThin(t *testing.T) {
	mains, err := filepath.Glob(filepath.Join(testsupport.RepoRoot(t), "cmd", "*", "main.go"))
	require.NoError(t, err)
	require.NotEmpty(t, mains)
	for _, m := range mains {
		data, err := os.ReadFile(m)
		require.NoError(t, err)
		lines := strings.Count(string(data), "\n")
		assert.LessOrEqual(t, lines, 40, "%s has %d lines", m, lines)
	}
}
