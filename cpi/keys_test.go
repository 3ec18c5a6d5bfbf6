package cpi_test

import (
	"context"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func TestVerify(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, token string
		want        protocol.ErrorType // "" = success
		msg         string
	}{
		{"read-write token", h.token, "", ""},
		{"read-only token", "read-only-token", protocol.Forbidden, "Read & Write"},
		{"bad token", "not-a-token", protocol.Unauthorized, "rejected the API token"},
		{"no token", "", protocol.Unauthorized, "api-token"},
		{"token with a newline", h.token + "\nX-Injected: 1", protocol.Unauthorized, "characters"},
		{"token with non-ASCII", "tök3n", protocol.Unauthorized, "characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resp response
			h.budget(1, func() { resp = h.callWith(tc.token, "verify") })
			if tc.want == "" {
				h.ok(resp, nil)
				require.Equal(t, "null", string(resp.Result))
				return
			}
			h.fails(resp, tc.want, tc.msg)
		})
	}
	require.Empty(t, h.sim.Sim.Snapshot().SSHKeys, "verify changes nothing")
}

func TestCreateQueryDeleteKey(t *testing.T) {
	h := newHarness(t)
	pub := newPublicKey(t, "me@example")
	var created protocol.IDResult
	h.budget(1, func() { h.ok(h.call("create_key", map[string]string{"id": "nanobox-acct-1", "key": pub}), &created) })

	var key protocol.Key
	h.budget(1, func() { h.ok(h.call("query_key", created.ID), &key) })
	require.Equal(t, protocol.Key{ID: created.ID, Name: "nanobox-acct-1", PublicKey: pub}, key)

	keys := h.sim.Sim.Snapshot().SSHKeys
	require.Len(t, keys, 1)
	require.Equal(t, map[string]string{"nanobox": "true", "managed-by": "nanobox-hcloud"}, keys[0].Labels)

	// Idempotent: the same key again (a retry, or an older client sending
	// "name") answers the same id.
	for _, body := range []map[string]string{
		{"id": "nanobox-acct-1", "key": pub},
		{"name": "another-name", "key": pub},
	} {
		var again protocol.IDResult
		h.budget(3, func() { h.ok(h.call("create_key", body), &again) })
		require.Equal(t, created.ID, again.ID)
	}
	require.Len(t, h.sim.Sim.Snapshot().SSHKeys, 1)

	h.budget(2, func() { h.ok(h.call("delete_key", created.ID), nil) })
	require.Empty(t, h.sim.Sim.Snapshot().SSHKeys)
	// Deleting a key already gone succeeds; querying it is NotFound.
	h.budget(2, func() { h.ok(h.call("delete_key", created.ID), nil) })
	h.budget(1, func() { h.fails(h.call("query_key", created.ID), protocol.NotFound) })
}

func TestCreateKeyRefusesBadInputBeforeAnyCall(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"not a key", map[string]any{"id": "k", "key": "ssh-rsa nonsense"}, "not an OpenSSH public key"},
		{"empty key", map[string]any{"id": "k", "key": ""}, "is required"},
		{"two keys", map[string]any{"id": "k", "key": newPublicKey(t, "a") + "\n" + newPublicKey(t, "b")}, "exactly one"},
		{"no name", map[string]any{"key": newPublicKey(t, "a")}, "the key's name"},
		{"NUL in name", map[string]any{"id": "a\x00b", "key": newPublicKey(t, "a")}, "control characters"},
		{"newline in name", map[string]any{"id": "a\nb", "key": newPublicKey(t, "a")}, "U+000A at byte 1"},
		{"DEL in name", map[string]any{"id": "a\x7fb", "key": newPublicKey(t, "a")}, "U+007F"},
		{"C1 control in name", map[string]any{"id": "a\u0085b", "key": newPublicKey(t, "a")}, "U+0085"},
		{"right-to-left override", map[string]any{"id": "k\u202ey", "key": newPublicKey(t, "a")}, "U+202E at byte 1"},
		{"left-to-right isolate", map[string]any{"id": "key\u2066", "key": newPublicKey(t, "a")}, "U+2066 at byte 3"},
		{"zero-width space", map[string]any{"id": "ad\u200bmin", "key": newPublicKey(t, "a")}, "U+200B"},
		{"zero-width joiner", map[string]any{"id": "a\u200db", "key": newPublicKey(t, "a")}, "U+200D"},
		{"byte order mark", map[string]any{"id": "\ufeffkey", "key": newPublicKey(t, "a")}, "U+FEFF at byte 0"},
		{"soft hyphen", map[string]any{"name": "ke\u00ady", "key": newPublicKey(t, "a")}, "U+00AD"},
		{"tag character", map[string]any{"id": "k\U000E0041", "key": newPublicKey(t, "a")}, "U+E0041"},
		{"private key", map[string]any{"id": "k", "key": "-----BEGIN OPENSSH PRIVATE KEY-----"}, "not an OpenSSH public key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.budget(0, func() { h.fails(h.call("create_key", tc.body), protocol.InvalidArguments, tc.msg) })
		})
	}
}

// TestCreateKeyAcceptsVisibleUnicodeNames: only controls and format
// characters are refused; letters of any script, spaces, punctuation and
// symbols are names Hetzner takes as they are.
func TestCreateKeyAcceptsVisibleUnicodeNames(t *testing.T) {
	h := newHarness(t)
	for _, name := range []string{"nanobox-account-42", "Schlüssel von Jürgen", "鍵 1", "ключ.деплой", "key 🔑", "a_b+c@d"} {
		t.Run(name, func(t *testing.T) {
			var res protocol.IDResult
			h.budget(1, func() { h.ok(h.call("create_key", map[string]string{"id": name, "key": newPublicKey(t, "a")}), &res) })
			var key protocol.Key
			h.ok(h.call("query_key", res.ID), &key)
			require.Equal(t, name, key.Name)
		})
	}
}

func TestCreateKeyNameTakenByAnotherKeyIsConflict(t *testing.T) {
	h := newHarness(t)
	h.ok(h.call("create_key", map[string]string{"id": "taken", "key": newPublicKey(t, "one")}), nil)
	var resp response
	h.budget(3, func() { resp = h.call("create_key", map[string]string{"id": "taken", "key": newPublicKey(t, "two")}) })
	e := h.fails(resp, protocol.Conflict, "already exists with a different public key")
	require.False(t, e.OkToRetry)
}

func TestKeysOwnership(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.client()
	hiddenKey, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "hidden", PublicKey: newPublicKey(t, "h"), Labels: map[string]string{"NanoBox": "FALSE"}})
	require.NoError(t, err)
	foreign, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "foreign", PublicKey: newPublicKey(t, "f")})
	require.NoError(t, err)
	hid, fid := itoa(hiddenKey.ID), itoa(foreign.ID)

	h.fails(h.call("query_key", hid), protocol.NotFound)
	h.fails(h.call("delete_key", hid), protocol.NotFound)
	// Uploading the hidden key's public key again must not adopt it.
	h.fails(h.call("create_key", map[string]string{"id": "x", "key": hiddenKey.PublicKey}), protocol.Conflict, "nanobox=false")

	var k protocol.Key
	h.ok(h.call("query_key", fid), &k) // reading a foreign key is fine
	require.Equal(t, "foreign", k.Name)
	h.fails(h.call("delete_key", fid), protocol.Forbidden, "allow_foreign")
	require.Len(t, h.sim.Sim.Snapshot().SSHKeys, 2, "nothing was deleted")

	allow := newHarnessOn(t, h, func(c *config.Config) { c.AllowForeign = true })
	allow.ok(allow.call("delete_key", fid), nil)
	allow.fails(allow.call("delete_key", hid), protocol.NotFound, "no SSH key")
	require.Len(t, h.sim.Sim.Snapshot().SSHKeys, 1)
}

func TestBadIDs(t *testing.T) {
	h := newHarness(t)
	for _, m := range []string{"query_key", "delete_key", "query_server", "cancel_server", "reboot_server"} {
		t.Run(m, func(t *testing.T) {
			h.budget(0, func() { h.fails(h.call(m, "abc"), protocol.InvalidArguments, "not a") })
		})
	}
}

func TestInstallKeyIsNotImplemented(t *testing.T) {
	h := newHarness(t)
	h.budget(0, func() {
		h.fails(h.call("install_key", "1", map[string]string{"id": "k", "key": newPublicKey(t, "x")}), protocol.NotImplemented, "reference")
	})
}
