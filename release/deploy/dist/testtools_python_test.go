package dist_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/repo"
)

// TestTestToolsProbesPythonModules: a TEST_TOOLS entry python3/<module> is
// there exactly when /usr/bin/python3 imports the module; any other entry
// when the command is on PATH.
func TestTestToolsProbesPythonModules(t *testing.T) {
	script := filepath.Join(repo.Root(t), "scripts", "test-tools")
	for _, tc := range []struct {
		tool string
		has  bool
	}{
		{"python3/json", true},
		{"python3/no_such_module_nanobox", false},
		{"bash", true},
		{"no-such-command-nanobox", false},
	} {
		err := exec.Command("/bin/bash", script, "--has", tc.tool).Run()
		assert.Equal(t, tc.has, err == nil, tc.tool)
	}
}
