package shim

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
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

// ErrAmbiguousCredentials is returned when one credential is sent twice with
// different values: the shim cannot know which one the client meant.
var ErrAmbiguousCredentials = errors.New("ambiguous credentials")

// Credentials collects every Auth-* header, in any letter case, keyed by the
// lowercased rest of its name (Auth-Api-Token -> api-token). A header sent
// more than once (in one letter case or several) must carry one value each
// time; different values are ErrAmbiguousCredentials, naming the header but
// never a value.
func Credentials(h http.Header) (protocol.Credentials, error) {
	var creds protocol.Credentials
	var ambiguous []string
	for name, values := range h {
		key := credentialKey(name)
		if key == "" || len(values) == 0 {
			continue
		}
		if creds == nil {
			creds = protocol.Credentials{}
		}
		have, seen := creds[key]
		if !seen {
			have = values[0]
			creds[key] = have
		}
		for _, v := range values {
			if v != have {
				ambiguous = append(ambiguous, CredentialHeader(key))
				break
			}
		}
	}
	if len(ambiguous) > 0 {
		slices.Sort(ambiguous)
		return nil, fmt.Errorf("%w: %s sent more than once with different values; send each credential once",
			ErrAmbiguousCredentials, strings.Join(slices.Compact(ambiguous), ", "))
	}
	return creds, nil
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
