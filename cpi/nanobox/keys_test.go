package nanobox_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// TestVerify: each kind of token gets its answer; a token Hetzner rejects
// costs no write request (issue 11.12: it is checked with a read first).
func TestVerify(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, token string
		want        protocol.ErrorType // "" = success
		msg         string
		requests    int // at most
		writes      int // exactly
	}{
		{"read-write token", h.token, "", "", 2, 1},
		{"read-only token", "read-only-token", protocol.Forbidden, "Read & Write", 2, 1},
		{"bad token", "not-a-token", protocol.Unauthorized, "rejected the API token", 1, 0},
		{"no token", "", protocol.Unauthorized, "api-token", 0, 0},
		{"token with a newline", h.token + "\nX-Injected: 1", protocol.Unauthorized, "characters", 0, 0},
		{"token with non-ASCII", "tök3n", protocol.Unauthorized, "characters", 0, 0},
		{"token with a carriage return", h.token + "\r", protocol.Unauthorized, "characters", 0, 0},
		{"token with a NUL", "abc\x00def", protocol.Unauthorized, "characters", 0, 0},
		{"token with DEL", "abc\x7fdef", protocol.Unauthorized, "characters", 0, 0},
		{"over-long token", strings.Repeat("t", config.MaxTokenLength+1), protocol.Unauthorized, "longer than any token", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resp response
			reqs := h.budget(tc.requests, func() { resp = h.callWith(tc.token, "verify") })
			writes := 0
			for route, n := range reqs {
				if !strings.HasPrefix(route, "GET ") {
					writes += n
				}
			}
			require.Equal(t, tc.writes, writes, "write requests: %v", reqs)
			if tc.want == "" {
				h.ok(resp, nil)
				require.Equal(t, "null", string(resp.Result))
				require.Equal(t, map[string]int{"GET /v1/ssh_keys": 1, "DELETE /v1/ssh_keys/{id}": 1}, reqs,
					"the budget of verify (docs/protocol.md): a read, then the delete of an id no key has")
				return
			}
			e := h.fails(resp, tc.want, tc.msg)
			require.Equal(t, tc.want.Retryable(), e.OkToRetry, "a token no retry can fix is not retryable")
			if tc.token != "" {
				require.NotContains(t, e.Message, tc.token)
			}
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
		reqs := h.budget(2, func() { h.ok(h.call("create_key", body), &again) })
		require.Equal(t, map[string]int{"POST /v1/ssh_keys": 1, "GET /v1/ssh_keys": 1}, reqs,
			"the budget of create_key when the key exists (docs/protocol.md): the create, the look-up by fingerprint")
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

// TestCreateKeyTitleReusedWithANewKey: a title that holds another public
// key (an orchestrator re-creating an instance under the same names)
// creates the new key under a derived name, the title plus a fingerprint
// suffix, and answers its id; the same title and key again answers the
// same id; the old key is untouched; query_key and list_keys answer the
// title the orchestrator sent.
func TestCreateKeyTitleReusedWithANewKey(t *testing.T) {
	for _, title := range []string{"nanobox-user-app-web1-acct", "Schlüssel von Jürgen", strings.Repeat("ü", maxKeyName/2)} {
		t.Run(title[:min(len(title), 20)], func(t *testing.T) {
			h := newHarness(t)
			oldPub, newPub := newPublicKey(t, "old"), newPublicKey(t, "new")
			var old, created, again protocol.IDResult
			h.ok(h.call("create_key", map[string]string{"id": title, "key": oldPub}), &old)
			before := h.sim.Sim.Snapshot().SSHKeys

			reqs := h.budget(3, func() { h.ok(h.call("create_key", map[string]string{"id": title, "key": newPub}), &created) })
			require.Equal(t, map[string]int{"POST /v1/ssh_keys": 2, "GET /v1/ssh_keys": 1}, reqs,
				"the budget of a reused title (docs/protocol.md): the create, the look-up, the create under the derived name")
			require.NotEqual(t, old.ID, created.ID)

			reqs = h.budget(2, func() { h.ok(h.call("create_key", map[string]string{"id": title, "key": newPub}), &again) })
			require.Equal(t, created.ID, again.ID, "the same title and key again: the same id")
			require.Equal(t, map[string]int{"POST /v1/ssh_keys": 1, "GET /v1/ssh_keys": 1}, reqs)

			keys := h.sim.Sim.Snapshot().SSHKeys
			require.Len(t, keys, 2)
			for _, k := range keys {
				if itoa(k.ID) == old.ID {
					require.Equal(t, before[0], k, "the key under the old id is untouched")
					continue
				}
				require.NotEqual(t, title, k.Name)
				require.True(t, strings.HasPrefix(k.Name, title[:len(title)-16]), k.Name)
				require.LessOrEqual(t, len(k.Name), maxKeyName, "within Hetzner's name rules")
				require.True(t, utf8.ValidString(k.Name))
			}

			var key protocol.Key
			h.ok(h.call("query_key", created.ID), &key)
			wantTitle := title
			if len(title)+13 > maxKeyName {
				wantTitle = string([]rune(title)[:(maxKeyName-13)/2]) // cut to make room for the suffix
			}
			require.Equal(t, protocol.Key{ID: created.ID, Name: wantTitle, PublicKey: newPub}, key)
			h.ok(h.call("query_key", old.ID), &key)
			require.Equal(t, protocol.Key{ID: old.ID, Name: title, PublicKey: oldPub}, key)
			var all []protocol.Key
			h.ok(h.call("list_keys"), &all)
			require.ElementsMatch(t, []protocol.Key{{ID: old.ID, Name: title, PublicKey: oldPub}, {ID: created.ID, Name: wantTitle, PublicKey: newPub}}, all)
		})
	}
}

// TestCreateKeyNewKeyIsOneRequest: a new key costs exactly the create.
func TestCreateKeyNewKeyIsOneRequest(t *testing.T) {
	h := newHarness(t)
	reqs := h.budget(1, func() { h.ok(h.call("create_key", map[string]string{"id": "fresh", "key": newPublicKey(t, "f")}), nil) })
	require.Equal(t, map[string]int{"POST /v1/ssh_keys": 1}, reqs)
}

// maxKeyName is the key name's bound (cpi's maxKeyName, Hetzner's 128).
const maxKeyName = 128

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

// TestNonCanonicalIDsAreNotFound: ids are canonical decimals (issue
// 11.14). A server 1003 and a key exist; every other spelling of their ids
// names nothing: NotFound without an API call, and nothing changes.
func TestNonCanonicalIDsAreNotFound(t *testing.T) {
	h := newHarness(t)
	serverID, keyID := h.orderOK("web-canonical", "nbg1", "cx23")
	before := h.sim.Sim.Snapshot()
	spellings := func(id string) []string {
		return []string{"+" + id, "0" + id, "00" + id, " " + id, id + " ", "\t" + id, id + "\n",
			id + ".0", id[:1] + "e" + itoa(int64(len(id)-1)), "0x" + id, id + "_", "-" + id, "0", "abc", "99999999999999999999"}
	}
	calls := []struct {
		method string
		args   func(id string) []any
	}{
		{"query_server", func(id string) []any { return []any{id} }},
		{"cancel_server", func(id string) []any { return []any{id} }},
		{"reboot_server", func(id string) []any { return []any{id} }},
		{"rename_server", func(id string) []any { return []any{id, map[string]string{"name": "taken-over"}} }},
		{"update_config", func(id string) []any { return []any{id, map[string]string{"backups": "enabled"}} }},
		{"query_key", func(id string) []any { return []any{id} }},
		{"delete_key", func(id string) []any { return []any{id} }},
	}
	for _, c := range calls {
		id := serverID
		if strings.HasSuffix(c.method, "_key") {
			id = keyID
		}
		for _, bad := range spellings(id) {
			t.Logf("%s %s", c.method, strconv.Quote(bad))
			h.budget(0, func() { h.fails(h.call(c.method, c.args(bad)...), protocol.NotFound, "is not a") })
		}
	}
	after := h.sim.Sim.Snapshot()
	require.Equal(t, before.Servers, after.Servers, "a non-canonical id changed a server")
	require.Equal(t, before.SSHKeys, after.SSHKeys, "a non-canonical id changed a key")

	// In an order, ssh_key is a key id too.
	for _, bad := range spellings(keyID) {
		h.budget(0, func() {
			h.fails(h.order("web-canonical-2", "nbg1", "cx23", bad, nil), protocol.InvalidArguments, "ssh_key")
		})
	}
}

func TestInstallKeyIsNotImplemented(t *testing.T) {
	h := newHarness(t)
	h.budget(0, func() {
		h.fails(h.call("install_key", "1", map[string]string{"id": "k", "key": newPublicKey(t, "x")}), protocol.NotImplemented, "reference")
	})
}

// TestCreateKeyTitleAndDerivedNameBothTaken: when the derived name too
// holds another key, the answer is a Conflict that no retry fixes, and
// nothing is created or changed.
func TestCreateKeyTitleAndDerivedNameBothTaken(t *testing.T) {
	h := newHarness(t)
	newPub := newPublicKey(t, "new")
	parsed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(newPub))
	require.NoError(t, err)
	derived := "acct-" + strings.ReplaceAll(ssh.FingerprintLegacyMD5(parsed), ":", "")[:12]
	h.ok(h.call("create_key", map[string]string{"id": "acct", "key": newPublicKey(t, "one")}), nil)
	h.ok(h.call("create_key", map[string]string{"id": derived, "key": newPublicKey(t, "two")}), nil)
	before := h.sim.Sim.Snapshot().SSHKeys
	var resp response
	h.budget(4, func() { resp = h.call("create_key", map[string]string{"id": "acct", "key": newPub}) })
	e := h.fails(resp, protocol.Conflict, "already exist with other public keys")
	require.False(t, e.OkToRetry)
	require.Equal(t, before, h.sim.Sim.Snapshot().SSHKeys)
}
