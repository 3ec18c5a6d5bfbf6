package hcloudsim

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeedCatalogMatchesReference keeps the embedded copy equal to the shared fixture.
func TestSeedCatalogMatchesReference(t *testing.T) {
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test")
		dir = parent
	}
	ref, err := os.ReadFile(filepath.Join(dir, "..", "shared", "reference", "hetzner-catalog-fixture.json"))
	require.NoError(t, err, "the reference fixture is expected beside the checkout")
	assert.True(t, bytes.Equal(ref, catalogJSON), "cpi/hcloudsim/seed/catalog.json differs from ../shared/reference/hetzner-catalog-fixture.json: copy it again")
}

func TestCatalogLoads(t *testing.T) {
	c, err := loadCatalog()
	require.NoError(t, err)
	assert.Len(t, c.locations, 6)
	assert.Len(t, c.serverTypes, 25)
	assert.Len(t, c.datacenters, 6)
	for _, name := range []string{"ubuntu-22.04", "ubuntu-24.04", "debian-12", "debian-13"} {
		for _, arch := range []string{"x86", "arm"} {
			im, ok := c.image(idOrName(name), arch)
			assert.True(t, ok, "%s %s", name, arch)
			assert.Equal(t, arch, im.Architecture)
		}
	}
}
