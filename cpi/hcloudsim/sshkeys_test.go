package hcloudsim_test

import (
	"fmt"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

func TestSSHKeysWithHcloudGo(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)
	pub := newPublicKey(t)

	key, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "alice", PublicKey: pub, Labels: map[string]string{"nanobox": "true"}})
	require.NoError(t, err)
	parsed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
	require.NoError(t, err)
	assert.Equal(t, ssh.FingerprintLegacyMD5(parsed), key.Fingerprint, "MD5 fingerprint as the API computes it")

	t.Run("name and fingerprint are unique", func(t *testing.T) {
		_, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "alice", PublicKey: newPublicKey(t)})
		assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeUniquenessError), "same name: %v", err)
		_, _, err = c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "bob", PublicKey: pub})
		assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeUniquenessError), "same key: %v", err)
	})
	t.Run("invalid key", func(t *testing.T) {
		_, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "carol", PublicKey: "ssh-rsa nonsense"})
		assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeInvalidInput), "%v", err)
	})
	t.Run("get by name, fingerprint, id", func(t *testing.T) {
		k, _, err := c.SSHKey.GetByName(ctx, "alice")
		require.NoError(t, err)
		require.NotNil(t, k)
		assert.Equal(t, key.ID, k.ID)
		k, _, err = c.SSHKey.GetByFingerprint(ctx, key.Fingerprint)
		require.NoError(t, err)
		require.NotNil(t, k)
		assert.Equal(t, key.ID, k.ID)
		k, _, err = c.SSHKey.GetByID(ctx, key.ID)
		require.NoError(t, err)
		require.NotNil(t, k)
		k, _, err = c.SSHKey.GetByName(ctx, "nobody")
		require.NoError(t, err)
		assert.Nil(t, k)
	})
	t.Run("update", func(t *testing.T) {
		k, _, err := c.SSHKey.Update(ctx, key, hcloud.SSHKeyUpdateOpts{Name: "alice2", Labels: map[string]string{"nanobox": "true", "x": "y"}})
		require.NoError(t, err)
		assert.Equal(t, "alice2", k.Name)
		assert.Equal(t, "y", k.Labels["x"])
	})
	t.Run("list with label selector and pagination", func(t *testing.T) {
		for i := range 60 {
			_, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: fmt.Sprintf("k%02d", i), PublicKey: newPublicKey(t), Labels: map[string]string{"batch": "yes", "parity": fmt.Sprint(i % 2)}})
			require.NoError(t, err)
		}
		all, err := c.SSHKey.AllWithOpts(ctx, hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "batch=yes"}})
		require.NoError(t, err)
		assert.Len(t, all, 60)
		odd, err := c.SSHKey.AllWithOpts(ctx, hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "batch,parity in (1),!nanobox"}})
		require.NoError(t, err)
		assert.Len(t, odd, 30)
		page, resp, err := c.SSHKey.List(ctx, hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{Page: 2, PerPage: 50}})
		require.NoError(t, err)
		assert.Len(t, page, 11)
		require.NotNil(t, resp.Meta.Pagination)
		assert.Equal(t, 2, resp.Meta.Pagination.LastPage)
		assert.Equal(t, 61, resp.Meta.Pagination.TotalEntries)
		assert.Equal(t, 0, resp.Meta.Pagination.NextPage)
		assert.Contains(t, resp.Header.Get("Link"), `page=1&per_page=50>; rel="prev"`)
		_, resp, err = c.SSHKey.List(ctx, hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{Page: 1, PerPage: 20}})
		require.NoError(t, err)
		assert.Contains(t, resp.Header.Get("Link"), `page=2&per_page=20>; rel="next"`)
		assert.Contains(t, resp.Header.Get("Link"), `page=4&per_page=20>; rel="last"`)
	})
	t.Run("delete", func(t *testing.T) {
		_, err := c.SSHKey.Delete(ctx, key)
		require.NoError(t, err)
		k, _, err := c.SSHKey.GetByID(ctx, key.ID)
		require.NoError(t, err)
		assert.Nil(t, k, "hcloud-go returns nil, nil for a deleted object")
		_, err = c.SSHKey.Delete(ctx, key)
		assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeNotFound), "%v", err)
	})
}
