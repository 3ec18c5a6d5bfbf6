package hcloudsim_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

// TestUpdateChecksNameAndLabelsBeforeChangingAnything: for every kind PUT
// renames and relabels, a taken name or bad labels are refused as the API
// refuses them, and a refused update changes neither the name nor the
// labels; a good one changes both.
func TestUpdateChecksNameAndLabelsBeforeChangingAnything(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	labels := map[string]string{"x": "1"}
	for _, tc := range []struct {
		kind   string // the path's and the answer's name
		create func(name string) int64
	}{
		{"servers", func(name string) int64 {
			o := createOpts(name)
			o.Labels = labels
			res, _, err := c.Server.Create(ctx, o)
			require.NoError(t, err)
			return res.Server.ID
		}},
		{"ssh_keys", func(name string) int64 {
			k, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: name, PublicKey: newPublicKey(t), Labels: labels})
			require.NoError(t, err)
			return k.ID
		}},
		{"networks", func(name string) int64 {
			n, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: name, IPRange: mustCIDR(t, "10.0.0.0/16"), Labels: labels})
			require.NoError(t, err)
			return n.ID
		}},
		{"firewalls", func(name string) int64 {
			f, _, err := c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: name, Labels: labels})
			require.NoError(t, err)
			return f.Firewall.ID
		}},
		{"placement_groups", func(name string) int64 {
			p, _, err := c.PlacementGroup.Create(ctx, hcloud.PlacementGroupCreateOpts{Name: name, Type: hcloud.PlacementGroupTypeSpread, Labels: labels})
			require.NoError(t, err)
			return p.PlacementGroup.ID
		}},
		{"volumes", func(name string) int64 {
			v, _, err := c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: name, Size: 10, Location: &hcloud.Location{Name: "nbg1"}, Labels: labels})
			require.NoError(t, err)
			return v.Volume.ID
		}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			a := tc.create(tc.kind + "-a")
			tc.create(tc.kind + "-b")
			path := "/" + tc.kind + "/" + strconv.FormatInt(a, 10)
			current := func() (string, map[string]string) {
				status, body := rawCall(t, env, http.MethodGet, path, "")
				require.Equal(t, http.StatusOK, status, body)
				var answer map[string]struct {
					Name   string            `json:"name"`
					Labels map[string]string `json:"labels"`
				}
				require.NoError(t, json.Unmarshal([]byte(body), &answer))
				obj := answer[singular(tc.kind)]
				return obj.Name, obj.Labels
			}
			for _, refused := range []struct{ body, code string }{
				{`{"name": "` + tc.kind + `-b", "labels": {"x": "2"}}`, "uniqueness_error"},
				{`{"name": "` + tc.kind + `-c", "labels": {"hetzner.cloud/x": "2"}}`, "invalid_input"},
			} {
				status, body := rawCall(t, env, http.MethodPut, path, refused.body)
				assert.Contains(t, body, `"code":"`+refused.code+`"`, "status %d", status)
				name, got := current()
				assert.Equal(t, tc.kind+"-a", name, "a refused update keeps the name")
				assert.Equal(t, labels, got, "a refused update keeps the labels")
			}
			status, body := rawCall(t, env, http.MethodPut, path, `{"name": "`+tc.kind+`-c", "labels": {"x": "3"}}`)
			require.Equal(t, http.StatusOK, status, body)
			name, got := current()
			assert.Equal(t, tc.kind+"-c", name)
			assert.Equal(t, map[string]string{"x": "3"}, got)
		})
	}
}

// singular is the answer's key for a path's kind.
func singular(kind string) string {
	return map[string]string{"servers": "server", "ssh_keys": "ssh_key", "networks": "network", "firewalls": "firewall",
		"placement_groups": "placement_group", "volumes": "volume"}[kind]
}
