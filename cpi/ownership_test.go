package cpi_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// TestOwnershipRule: the one rule of both families. Ours is managed-by and
// not hidden; a server made before managed-by existed (nanobox=true only)
// is foreign: read-only unless allow_foreign, adopted by adding the label.
func TestOwnershipRule(t *testing.T) {
	cases := []struct {
		name                   string
		labels                 map[string]string
		hidden, ours           bool
		mayChange, withForeign bool // without and with allow_foreign
	}{
		{"ours", map[string]string{"managed-by": "nanobox-hcloud", "nanobox": "true"}, false, true, true, true},
		{"managed-by alone", map[string]string{"managed-by": "nanobox-hcloud"}, false, true, true, true},
		{"made before managed-by (nanobox=true only)", map[string]string{"nanobox": "true"}, false, false, false, true},
		{"nanobox=True in other cases", map[string]string{"NANOBOX": "True"}, false, false, false, true},
		{"adopted: managed-by added", map[string]string{"nanobox": "true", "managed-by": "nanobox-hcloud"}, false, true, true, true},
		{"someone else's manager", map[string]string{"managed-by": "terraform"}, false, false, false, true},
		{"managed-by in another case", map[string]string{"Managed-By": "nanobox-hcloud"}, false, false, false, true},
		{"no labels", nil, false, false, false, true},
		{"hidden", map[string]string{"nanobox": "false"}, true, false, false, false},
		{"hidden in any case, though managed", map[string]string{"Nanobox": "FALSE", "managed-by": "nanobox-hcloud"}, true, false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.hidden, cpi.Hidden(tc.labels), "Hidden")
			require.Equal(t, tc.ours, cpi.Ours(tc.labels), "Ours")
			for allow, want := range map[bool]bool{false: tc.mayChange, true: tc.withForeign} {
				err := cpi.MayChange("cancel_server", "server", 7, tc.labels, allow)
				if want {
					require.Nil(t, err, "allow_foreign=%v", allow)
					continue
				}
				require.NotNil(t, err, "allow_foreign=%v", allow)
				require.Equal(t, protocol.Forbidden, err.Type)
				require.Contains(t, err.Message, "managed-by=nanobox-hcloud", "the message says how to adopt")
			}
		})
	}
}

func TestOwnLabelsCannotBeOverridden(t *testing.T) {
	l := cpi.OwnLabels(map[string]string{"team": "a", "managed-by": "x"}, map[string]string{"nanobox": "false", "team": "b"})
	require.Equal(t, map[string]string{"team": "b", "nanobox": "true", "managed-by": "nanobox-hcloud"}, l)
	require.True(t, cpi.Ours(l))
}

func TestParseIDTakesCanonicalDecimalsOnly(t *testing.T) {
	cases := map[string]bool{
		"1003": true, "9223372036854775807": true,
		"": false, "0": false, "+1003": false, "001003": false, " 1003": false, "1003 ": false, "1e3": false,
		"-1": false, "9223372036854775808": false, "12345678901234567890": false, "１２": false,
	}
	for s, ok := range cases {
		id, got := cpi.ParseID(s)
		require.Equal(t, ok, got, "%q", s)
		if ok {
			require.Positive(t, id)
		}
	}
}
