package shim

import (
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/redact"
)

// credentialPrefix starts every credential header's name, in any case.
const credentialPrefix = "auth-"

// credentialKey is the credential key header name carries (Auth-Api-Token
// -> api-token), or "" when it carries none: names just "Auth-", and names
// that are not ASCII header tokens (say "Auth-İ", which lowercases to a
// different letter; net/http's server already refuses them, other callers
// might not).
func credentialKey(name string) string {
	if len(name) <= len(credentialPrefix) || !strings.EqualFold(name[:len(credentialPrefix)], credentialPrefix) {
		return ""
	}
	if !httpguts.ValidHeaderFieldName(name) {
		return ""
	}
	return strings.ToLower(name[len(credentialPrefix):])
}

// Credentials collects every Auth-* header, in any letter case, keyed by the
// lowercased rest of its name (Auth-Api-Token -> api-token). The first
// value of a repeated header wins.
func Credentials(h http.Header) protocol.Credentials {
	var creds protocol.Credentials
	for name, values := range h {
		key := credentialKey(name)
		if key == "" || len(values) == 0 {
			continue
		}
		if creds == nil {
			creds = protocol.Credentials{}
		}
		if _, dup := creds[key]; !dup {
			creds[key] = values[0]
		}
	}
	return creds
}

// requestSecrets are every value of every Auth-* header of h: what must
// never be echoed or logged, whichever one the call used.
func requestSecrets(h http.Header) *redact.Secrets {
	s := &redact.Secrets{}
	for name, values := range h {
		if credentialKey(name) != "" {
			s.Add(values...)
		}
	}
	return s
}

// secretsOf are the values of creds, to redact a call's output.
func secretsOf(creds protocol.Credentials) *redact.Secrets {
	return redact.New(creds.Values()...)
}
