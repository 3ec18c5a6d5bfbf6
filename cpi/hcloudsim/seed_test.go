package hcloudsim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
