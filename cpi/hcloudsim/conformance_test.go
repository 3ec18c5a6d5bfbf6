package hcloudsim_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newPublicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sp, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return string(ssh.MarshalAuthorizedKey(sp))
}

func TestServerLifecycleWithHcloudGo(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)

	key, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k1", PublicKey: newPublicKey(t), Labels: map[string]string{"nanobox": "true"}})
	require.NoError(t, err)
	assert.NotEmpty(t, key.Fingerprint)

	nw, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{
		Name: "nanobox", IPRange: mustCIDR(t, "10.0.0.0/16"),
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.1.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral}},
	})
	require.NoError(t, err)

	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{
		Name: "web-1", ServerType: &hcloud.ServerType{Name: "cx23"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
		Location: &hcloud.Location{Name: "nbg1"}, SSHKeys: []*hcloud.SSHKey{key}, Networks: []*hcloud.Network{nw},
		Labels: map[string]string{"nanobox": "true", "role": "web"},
	})
	require.NoError(t, err)
	assert.Equal(t, hcloud.ServerStatusInitializing, res.Server.Status)
	require.NoError(t, c.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))

	srv, _, err := c.Server.GetByID(ctx, res.Server.ID)
	require.NoError(t, err)
	require.NotNil(t, srv)
	assert.Equal(t, hcloud.ServerStatusRunning, srv.Status)
	require.Len(t, srv.PrivateNet, 1)
	assert.Equal(t, "10.0.1.2", srv.PrivateNet[0].IP.String())

	list, err := c.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "role=web"}})
	require.NoError(t, err)
	assert.Len(t, list, 1)

	act, _, err := c.Server.Reboot(ctx, srv)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, act))

	srv, _, err = c.Server.Update(ctx, srv, hcloud.ServerUpdateOpts{Name: "web-2"})
	require.NoError(t, err)
	assert.Equal(t, "web-2", srv.Name)

	off, _, err := c.Server.Poweroff(ctx, srv)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, off))
	srv, _, err = c.Server.GetByID(ctx, srv.ID)
	require.NoError(t, err)
	assert.Equal(t, hcloud.ServerStatusOff, srv.Status)

	del, _, err := c.Server.DeleteWithResult(ctx, srv)
	require.NoError(t, err)
	require.NoError(t, c.Action.WaitFor(ctx, del.Action))
	gone, _, err := c.Server.GetByID(ctx, srv.ID)
	require.NoError(t, err)
	assert.Nil(t, gone)
}
