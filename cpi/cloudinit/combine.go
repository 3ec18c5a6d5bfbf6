package cloudinit

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// MaxUserData is Hetzner's limit on a server's user_data, in bytes.
const MaxUserData = 32 * 1024

// MergeType is the merge rule of the user's cloud-config part: its lists
// are appended to the CPI's (write_files, bootcmd, runcmd keep both
// sides' entries) and its maps merged into them, where cloud-init's
// default would let one part's lists replace the other's.
const MergeType = "list(append)+dict(recurse_array)+str()"

// userTypes maps the first line of a user_data document to its MIME type,
// as cloud-init recognises them (longest prefixes first).
var userTypes = []struct{ prefix, mime string }{
	{"#cloud-config-archive", "text/cloud-config-archive"},
	{"#cloud-config", "text/cloud-config"},
	{"#cloud-boothook", "text/cloud-boothook"},
	{"#include", "text/x-include-url"},
	{"#part-handler", "text/part-handler"},
	{"## template: jinja", "text/jinja2"},
	{"#!", "text/x-shellscript"},
}

// UserType is the MIME type of a user_data document by its first line, or
// an error naming the first lines cloud-init takes. A MIME document (it
// starts with headers) or a gzip one is refused: it cannot be one part of
// the combined document as it is.
func UserType(userData string) (string, error) {
	if !utf8.ValidString(userData) {
		return "", errors.New("user_data must be UTF-8 text")
	}
	for _, t := range userTypes {
		if strings.HasPrefix(userData, t.prefix) {
			return t.mime, nil
		}
	}
	names := make([]string, len(userTypes))
	for i, t := range userTypes {
		names[i] = fmt.Sprintf("%q", t.prefix)
	}
	return "", fmt.Errorf("user_data must start with one of %s (a cloud-config, a script, ...; MIME or gzip documents are not taken)", strings.Join(names, ", "))
}

// Combine is the user_data of a server: the CPI's own document (own, a
// #cloud-config; "" when it has none) and the user's (user; ""
// when none). With both it is a MIME multipart document cloud-init
// understands: the CPI's part first, then the user's, a cloud-config of
// the user merged by MergeType. ASCII parts are sent as they are,
// others base64-encoded. Its boundary is derived from the parts, so
// the same input gives the same bytes. The result fits MaxUserData or is
// an error.
func Combine(own, user string) (string, error) {
	var out string
	switch {
	case user == "":
		out = own
	case own == "":
		if _, err := UserType(user); err != nil {
			return "", err
		}
		out = user
	default:
		mimeType, err := UserType(user)
		if err != nil {
			return "", err
		}
		out, err = multipartOf(own, user, mimeType)
		if err != nil {
			return "", err
		}
	}
	if len(out) > MaxUserData {
		return "", fmt.Errorf("user_data is too large: with the adapter's own cloud-init it is %d bytes, Hetzner takes at most %d", len(out), MaxUserData)
	}
	return out, nil
}

func multipartOf(own, user, userType string) (string, error) {
	sum := sha256.Sum256([]byte(own + "\x00" + user))
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.SetBoundary("nanobox-hcloud-" + hex.EncodeToString(sum[:12])); err != nil {
		return "", err
	}
	for _, p := range []struct{ content, mime, merge string }{
		{own, "text/cloud-config", ""},
		{user, userType, MergeType},
	} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", p.mime+`; charset="utf-8"`)
		h.Set("MIME-Version", "1.0")
		content := p.content
		if isASCII(content) {
			h.Set("Content-Transfer-Encoding", "7bit")
		} else {
			h.Set("Content-Transfer-Encoding", "base64")
			content = wrap76(base64.StdEncoding.EncodeToString([]byte(content)))
		}
		if p.merge != "" && p.mime == "text/cloud-config" {
			h.Set("Merge-Type", p.merge)
		}
		part, err := w.CreatePart(h)
		if err != nil {
			return "", err
		}
		if !strings.HasSuffix(content, "\n") {
			content += "\n"
		}
		if _, err := part.Write([]byte(content)); err != nil {
			return "", err
		}
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	head := "Content-Type: multipart/mixed; boundary=\"" + w.Boundary() + "\"\r\nMIME-Version: 1.0\r\n\r\n"
	return head + body.String(), nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// wrap76 breaks base64 text into lines of 76 characters (RFC 2045).
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s + "\r\n")
	return b.String()
}
