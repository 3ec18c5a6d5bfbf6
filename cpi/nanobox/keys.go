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

// CreateKey registers a public key under the orchestrator's title, the
// name from "id" (or "name", as older clients sent). The key is parsed
// before any API call. The create is sent first; only when Hetzner
// answers that the name or the key is taken does it read and decide:
//   - the key is already in the project (a retry, the same title and key
//     again, or the key under another name): its id;
//   - the title holds another public key (an orchestrator that re-creates
//     an instance under the same names, and never deletes keys): the key
//     is created under a derived name, the title plus "-" and the first
//     12 hex digits of the key's MD5 fingerprint (derivedKeyName), and
//     its id answered; the key that holds the title is left alone, and
//     query_key answers the title (keyTitle).
//
// Cost: 1 call for a new key; 2 when the key exists (the look-up by
// fingerprint); 3 when the title holds another key (the look-up, then the
// create under the derived name).
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
	id, taken, err := h.createKey(ctx, op, name, key)
	if err != nil || !taken {
		return id, err
	}
	// The fingerprint or the name is taken: the same key already in the
	// project, or another key under this title.
	if id, found, err := h.existingKey(ctx, op, key); err != nil || found {
		return id, err
	}
	derived := derivedKeyName(name, key.fingerprint)
	id, taken, err = h.createKey(ctx, op, derived, key)
	if err != nil || !taken {
		return id, err
	}
	// A concurrent create of the same key won the race: answer its id.
	if id, found, err := h.existingKey(ctx, op, key); err != nil || found {
		return id, err
	}
	return protocol.IDResult{}, protocol.NewError(protocol.Conflict,
		"%s: SSH keys named %q and %q already exist with other public keys; choose another name", op, name, derived).WithRetry(false)
}

// createKey sends one create; taken is true when Hetzner answered that the
// name or the key is already in the project.
func (h *Hetzner) createKey(ctx context.Context, op, name string, key parsedKey) (protocol.IDResult, bool, error) {
	created, resp, err := h.client.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: name, PublicKey: key.authorized, Labels: h.labels()})
	if err == nil && created != nil {
		h.log.Infof("create_key: created SSH key %d", created.ID)
		return protocol.IDResult{ID: strconv.FormatInt(created.ID, 10)}, false, nil
	}
	if hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
		return protocol.IDResult{}, true, nil
	}
	if err == nil {
		err = protocol.NewError(protocol.CloudError, "%s: Hetzner answered without a key", op)
	}
	return protocol.IDResult{}, false, cpi.CloudError(op+": creating SSH key", resp, err)
}

// existingKey looks the key up by fingerprint (1 call): its id when it is
// in the project. A key labelled nanobox=false is a Conflict: Nanobox may
// not use it.
func (h *Hetzner) existingKey(ctx context.Context, op string, key parsedKey) (protocol.IDResult, bool, error) {
	existing, resp, err := h.client.SSHKey.GetByFingerprint(ctx, key.fingerprint)
	if err != nil {
		return protocol.IDResult{}, false, cpi.CloudError(op+": looking up the existing key", resp, err)
	}
	if existing == nil {
		return protocol.IDResult{}, false, nil
	}
	if cpi.Hidden(existing.Labels) {
		return protocol.IDResult{}, false, protocol.NewError(protocol.Conflict,
			"%s: this public key is already in the project as a key labelled nanobox=false, which Nanobox may not use", op).WithRetry(false)
	}
	h.log.Infof("create_key: the key already exists as %d; using it", existing.ID)
	return protocol.IDResult{ID: strconv.FormatInt(existing.ID, 10)}, true, nil
}

// fingerprintDigits is how many hex digits of the key's MD5 fingerprint a
// derived key name carries.
const fingerprintDigits = 12

// keyNameSuffix is the suffix a derived name adds to the title for the key
// of that fingerprint (MD5, colon-separated hex, as Hetzner reports it).
func keyNameSuffix(fingerprint string) string {
	hexDigits := strings.ReplaceAll(fingerprint, ":", "")
	return "-" + hexDigits[:min(fingerprintDigits, len(hexDigits))]
}

// derivedKeyName is the name a key gets when its title holds another key:
// the title, cut at a character boundary so the whole stays within
// maxKeyName bytes, plus keyNameSuffix.
func derivedKeyName(title, fingerprint string) string {
	suffix := keyNameSuffix(fingerprint)
	room := maxKeyName - len(suffix)
	for len(title) > room {
		_, size := utf8.DecodeLastRuneInString(title)
		title = title[:len(title)-size]
	}
	return title + suffix
}

// keyTitle is the name the orchestrator sent for key k: its name, without
// the suffix derivedKeyName added when the title held another key (only on
// a key the adapter created).
func keyTitle(k *hcloud.SSHKey) string {
	if !cpi.Ours(k.Labels) || k.Fingerprint == "" {
		return k.Name
	}
	if title, ok := strings.CutSuffix(k.Name, keyNameSuffix(k.Fingerprint)); ok && title != "" {
		return title
	}
	return k.Name
}

// keyOf is query_key's and list_keys' answer for k.
func keyOf(k *hcloud.SSHKey) protocol.Key {
	return protocol.Key{ID: strconv.FormatInt(k.ID, 10), Name: keyTitle(k), PublicKey: k.PublicKey}
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
	return keyOf(key), nil
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
