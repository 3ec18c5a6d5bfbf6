package hcloudsim

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/testsupport"
)

// TestSeedCatalogMatchesReference keeps the embedded copy equal to the shared fixture.
func TestSeedCatalogMatchesReference(t *testing.T) {
	ref, err := os.ReadFile(testsupport.ReferenceFile(t, "hetzner-catalog-fixture.json"))
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
