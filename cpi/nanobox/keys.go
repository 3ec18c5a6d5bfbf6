package nanobox

import (
	"context"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"golang.org/x/crypto/ssh"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// maxKeyName bounds an SSH key's name.
const maxKeyName = 128

// parsedKey is a validated public key.
type parsedKey struct {
	authorized  string // "type base64 [comment]", one line
	fingerprint string // MD5, as Hetzner reports it
}

// parsePublicKey accepts one authorized_keys line (OpenSSH format).
func parsePublicKey(op, s string) (parsedKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return parsedKey{}, protocol.NewError(protocol.InvalidArguments, "%s: \"key\" (the public key) is required", op)
	}
	pub, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return parsedKey{}, protocol.NewError(protocol.InvalidArguments, "%s: \"key\" is not an OpenSSH public key (expected one line like \"ssh-ed25519 AAAA... comment\")", op)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return parsedKey{}, protocol.NewError(protocol.InvalidArguments, "%s: \"key\" must hold exactly one public key", op)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if comment != "" {
		line += " " + comment
	}
	return parsedKey{authorized: line, fingerprint: ssh.FingerprintLegacyMD5(pub)}, nil
}

// validKeyName accepts a non-empty UTF-8 name of at most maxKeyName bytes
// without control characters (category Cc) or format characters (Cf: bidi
// overrides such as U+202E, zero-width characters, ...), which would make
// the name render differently from what it is in a dashboard. The message
// names the offending character by code point, never the name itself.
func validKeyName(op, name string) error {
	switch {
	case name == "":
		return protocol.NewError(protocol.InvalidArguments, "%s: \"id\" (the key's name) is required", op)
	case !utf8.ValidString(name) || len(name) > maxKeyName:
		return protocol.NewError(protocol.InvalidArguments, "%s: the key's name must be valid UTF-8 of at most %d bytes", op, maxKeyName)
	}
	if i := strings.IndexFunc(name, invisibleRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return protocol.NewError(protocol.InvalidArguments,
			"%s: the key's name must not contain control characters or invisible format characters (bidi overrides, zero-width characters); found %U at byte %d", op, r, i)
	}
	return nil
}

// invisibleRune: a control (Cc) or format (Cf) character.
func invisibleRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// CreateKey registers a public key; the name comes from "id", or "name" as
// older clients sent. The key is parsed before any API call. Idempotent: a
// key with the same fingerprint already in the project is answered with its
// id. Cost: 1 call; 2 when the key or its name exists (the look-up by
// fingerprint).
func (h *Hetzner) CreateKey(ctx context.Context, body protocol.KeyBody) (protocol.IDResult, error) {
	const op = "create_key"
	name := body.KeyName()
	if err := validKeyName(op, name); err != nil {
		return protocol.IDResult{}, err
	}
	key, err := parsePublicKey(op, body.Key)
	if err != nil {
		return protocol.IDResult{}, err
	}
	created, resp, err := h.client.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: name, PublicKey: key.authorized, Labels: h.labels()})
	if err == nil && created != nil {
		h.log.Infof("create_key: created SSH key %d", created.ID)
		return protocol.IDResult{ID: strconv.FormatInt(created.ID, 10)}, nil
	}
	if !hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
		if err == nil {
			err = protocol.NewError(protocol.CloudError, "%s: Hetzner answered without a key", op)
		}
		return protocol.IDResult{}, cpi.CloudError(op+": creating SSH key", resp, err)
	}
	// The fingerprint or the name is taken: a retry of ours, or the same
	// key uploaded before under another name.
	existing, resp, err := h.client.SSHKey.GetByFingerprint(ctx, key.fingerprint)
	if err != nil {
		return protocol.IDResult{}, cpi.CloudError(op+": looking up the existing key", resp, err)
	}
	if existing != nil {
		if cpi.Hidden(existing.Labels) {
			return protocol.IDResult{}, protocol.NewError(protocol.Conflict,
				"%s: this public key is already in the project as a key labelled nanobox=false, which Nanobox may not use", op).WithRetry(false)
		}
		h.log.Infof("create_key: the key already exists as %d; using it", existing.ID)
		return protocol.IDResult{ID: strconv.FormatInt(existing.ID, 10)}, nil
	}
	return protocol.IDResult{}, protocol.NewError(protocol.Conflict,
		"%s: an SSH key named %q already exists with a different public key; choose another name", op, name).WithRetry(false)
}

// QueryKey returns a key (1 call). A key labelled nanobox=false is NotFound.
func (h *Hetzner) QueryKey(ctx context.Context, id string) (protocol.Key, error) {
	const op = "query_key"
	n, err := parseID(op, "key", id)
	if err != nil {
		return protocol.Key{}, err
	}
	key, resp, err := h.client.SSHKey.GetByID(ctx, n)
	if err != nil {
		return protocol.Key{}, cpi.CloudError(op, resp, err)
	}
	if key == nil || cpi.Hidden(key.Labels) {
		return protocol.Key{}, protocol.NewError(protocol.NotFound, "%s: no SSH key %d", op, n)
	}
	return protocol.Key{ID: strconv.FormatInt(key.ID, 10), Name: key.Name, PublicKey: key.PublicKey}, nil
}

// DeleteKey deletes a key the adapter created (2 calls: the read, the
// delete; 1 when it goes no further). A key already gone is success; a key
// labelled nanobox=false is NotFound; a key the adapter did not create is
// Forbidden unless allow_foreign.
func (h *Hetzner) DeleteKey(ctx context.Context, id string) error {
	const op = "delete_key"
	n, err := parseID(op, "key", id)
	if err != nil {
		return err
	}
	key, resp, err := h.client.SSHKey.GetByID(ctx, n)
	if err != nil {
		return cpi.CloudError(op, resp, err)
	}
	if key == nil {
		h.log.Infof("delete_key: SSH key %d is already gone", n)
		return nil
	}
	if cpi.Hidden(key.Labels) {
		return protocol.NewError(protocol.NotFound, "%s: no SSH key %d", op, n)
	}
	if err := h.mayChange(op, "SSH key", n, key.Labels); err != nil {
		return err
	}
	resp, err = h.client.SSHKey.Delete(ctx, key)
	if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		return cpi.CloudError(op, resp, err)
	}
	h.log.Infof("delete_key: deleted SSH key %d", n)
	return nil
}
