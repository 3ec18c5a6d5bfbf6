package bosh

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
)

// TestHoldsFallBackToHomeAndExcludeEachOther: with a state_dir that cannot
// be created (the job's /var/vcap/data default on an operator's machine
// under bosh create-env), holds live under $HOME/.cache/nanobox-hcloud; a
// held name is not free to a second CPI, and its file goes with the hold.
func TestHoldsFallBackToHomeAndExcludeEachOther(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	cfg, err := config.Parse([]byte(`{"token": "t0k3n", "state_dir": "` + filepath.Join(blocker, "state") + `"}`))
	require.NoError(t, err)
	newCPI := func() *CPI {
		c, err := New(Env{Env: cpi.Env{Config: cfg}})
		require.NoError(t, err)
		return c
	}
	first, second := newCPI(), newCPI()
	require.NotEmpty(t, first.creatorID(), "a state directory was found")
	assert.Equal(t, first.creatorID(), second.creatorID(), "one host, one creator id")
	path := first.holdPath("vm-a")
	assert.Equal(t, filepath.Join(home, ".cache", "nanobox-hcloud"), filepath.Dir(path))

	h, ok := first.holdFree("vm-a")
	require.True(t, ok)
	_, ok = second.holdFree("vm-a")
	assert.False(t, ok, "a held name is not free")
	other, ok := second.holdFree("vm-b")
	require.True(t, ok, "another name is")
	other.release()
	h.release()
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err), "the hold's file goes with it")
	again, ok := second.holdFree("vm-a")
	require.True(t, ok, "a released name is free")
	again.release()
}
