package bosh_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
)

func TestMetadataLabels(t *testing.T) {
	long := "a123456789b123456789c123456789d123456789e123456789f123456789g123456789"
	tests := []struct {
		name string
		in   map[string]any
		want map[string]string
	}{
		{"slash and colon", map[string]any{"name": "bosh/0", "created_at": "2026-11-30T11:38:35Z"},
			map[string]string{"name": "bosh-0", "created_at": "2026-11-30T11-38-35Z"}},
		{"kept as is", map[string]any{"deployment": "cf", "index": "0", "job": "router_z1"},
			map[string]string{"deployment": "cf", "index": "0", "job": "router_z1"}},
		{"edges trimmed", map[string]any{"-key-": "_value_"}, map[string]string{"key": "value"}},
		{"cut to 63, ending alphanumeric", map[string]any{long: long[:62] + "-xyz"},
			map[string]string{long[:63]: long[:62]}},
		{"empty key dropped, empty value kept", map[string]any{"///": "x", "empty": ""}, map[string]string{"empty": ""}},
		{"non-ASCII", map[string]any{"tëam": "zürich"}, map[string]string{"t--am": "z--rich"}},
		{"Hetzner's prefix cannot be claimed", map[string]any{"hetzner.cloud/x": "y"}, map[string]string{"hetzner.cloud-x": "y"}},
		{"reserved keys prefixed", map[string]any{"managed-by": "me", "Nanobox": "false", "bosh-agent-id": "1"},
			map[string]string{"bosh-managed-by": "me", "bosh-Nanobox": "false", "bosh-bosh-agent-id": "1"}},
		{"non-strings as JSON", map[string]any{"n": 3.0, "b": true, "nil": nil}, map[string]string{"n": "3", "b": "true", "nil": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, bosh.MetadataLabels(tt.in))
		})
	}
}
