package bosh_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func emptyImage(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image")
	require.NoError(t, os.WriteFile(p, nil, 0o600))
	return p
}

func TestCreateStemcellFindsTheLightStemcellsImage(t *testing.T) {
	f := newFixture(t)
	ubuntu := strconv.FormatInt(f.ubuntuID(), 10)
	arm, _, err := f.api.Image.GetByNameAndArchitecture(context.Background(), "ubuntu-24.04", hcloud.ArchitectureARM)
	require.NoError(t, err)
	require.NotNil(t, arm)
	tests := []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"id as a number", map[string]any{"image_id": f.ubuntuID()}, ubuntu},
		{"id as a string", map[string]any{"image_id": ubuntu}, ubuntu},
		{"name, x86 by default", map[string]any{"image_name": "ubuntu-24.04"}, ubuntu},
		{"name and arm", map[string]any{"image_name": "ubuntu-24.04", "architecture": "arm"}, strconv.FormatInt(arm.ID, 10)},
		{"other keys are ignored", map[string]any{"image_name": "ubuntu-24.04", "name": "bosh-hetzner", "version": "1.2"}, ubuntu},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.call(2, protocol.MethodCreateStemcell, emptyImage(t), tt.props)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCreateStemcellRefusals(t *testing.T) {
	f := newFixture(t)
	heavy := filepath.Join(t.TempDir(), "image")
	require.NoError(t, os.WriteFile(heavy, []byte("qcow2..."), 0o600))
	tests := []struct {
		name  string
		image string
		props map[string]any
		want  protocol.ErrorType
	}{
		{"heavy stemcell", heavy, map[string]any{"name": "bosh-openstack"}, bosh.NotSupported},
		{"light stemcell naming nothing", emptyImage(t), map[string]any{}, bosh.CpiError},
		{"two ways at once", emptyImage(t), map[string]any{"image_id": 1, "image_name": "x"}, bosh.CpiError},
		{"missing name", emptyImage(t), map[string]any{"image_name": "no-such-image"}, bosh.CloudError},
		{"missing id", emptyImage(t), map[string]any{"image_id": 999999999}, bosh.CloudError},
		{"selector matching nothing", emptyImage(t), map[string]any{"image_selector": "stemcell=bosh"}, bosh.CloudError},
		{"bad architecture", emptyImage(t), map[string]any{"image_name": "ubuntu-24.04", "architecture": "mips"}, bosh.CpiError},
		{"wrong architecture for the id", emptyImage(t), map[string]any{"image_id": f.ubuntuID(), "architecture": "arm"}, bosh.CpiError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.call(2, protocol.MethodCreateStemcell, tt.image, tt.props)
			pe := boshErr(t, err, tt.want)
			if tt.name == "heavy stemcell" {
				assert.Contains(t, pe.Message, "light stemcell")
			}
		})
	}
}

func TestDeleteStemcellLeavesImagesItDidNotMake(t *testing.T) {
	f := newFixture(t)
	id := f.ubuntuID()
	_, err := f.call(2, protocol.MethodDeleteStemcell, strconv.FormatInt(id, 10))
	require.NoError(t, err)
	im, _, err := f.api.Image.GetByID(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, im, "a system image the CPI was given stays")

	_, err = f.call(2, protocol.MethodDeleteStemcell, "987654321")
	require.NoError(t, err, "a missing image is success")
	_, err = f.call(2, protocol.MethodDeleteStemcell, "not-a-number")
	boshErr(t, err, bosh.CpiError)
}
