package hcloudsim_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

// TestSeedFleet: the fleet control adds running, labelled servers without an API request; the list's
// status filter and sort see them as the API would; a bad batch adds none of its servers.
func TestSeedFleet(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	admin := env.Sim.AdminHandler()

	rec := adminCall(t, admin, http.MethodPost, "/_sim/fleet", `{"count":120,"name_prefix":"old","labels":{"managed-by":"x"}}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var out struct{ IDs []int64 }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Len(t, out.IDs, 120)
	assert.Zero(t, env.Sim.TotalRequests(), "the control is not an API request")

	fresh, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "fresh", ServerType: &hcloud.ServerType{Name: "cx23"},
		Image: &hcloud.Image{Name: "ubuntu-24.04"}, StartAfterCreate: hcloud.Ptr(false), Labels: map[string]string{"managed-by": "x"}})
	require.NoError(t, err)

	for _, tt := range []struct {
		name  string
		opts  hcloud.ServerListOpts
		count int
		first int64
	}{
		{"running, newest first", hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "managed-by=x", PerPage: 50}, Status: []hcloud.ServerStatus{hcloud.ServerStatusRunning}, Sort: []string{"id:desc"}}, 120, out.IDs[119]},
		{"not running", hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "managed-by=x", PerPage: 50}, Status: []hcloud.ServerStatus{hcloud.ServerStatusInitializing, hcloud.ServerStatusOff}}, 1, fresh.Server.ID},
		{"another selector", hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "managed-by=y"}}, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Server.AllWithOpts(ctx, tt.opts)
			require.NoError(t, err)
			require.Len(t, got, tt.count)
			if tt.count > 0 {
				assert.Equal(t, tt.first, got[0].ID)
				assert.NotNil(t, got[0].PublicNet.IPv4.IP)
			}
		})
	}

	for _, body := range []string{
		`{"count":0,"name_prefix":"a"}`,
		`{"count":10001,"name_prefix":"a"}`,
		`{"count":2,"name_prefix":"old"}`,
		`{"count":2,"name_prefix":"a","server_type":"nope"}`,
		`{"count":2,"name_prefix":"a","labels":{"-bad":"x"}}`,
		`{"count":2,"name_prefix":"-a"}`,
		`{"count":2,"bogus":1}`,
	} {
		rec := adminCall(t, admin, http.MethodPost, "/_sim/fleet", body)
		assert.GreaterOrEqual(t, rec.Code, 400, body)
	}
	all, err := c.Server.All(ctx)
	require.NoError(t, err)
	assert.Len(t, all, 121, "refused batches add nothing")
}
