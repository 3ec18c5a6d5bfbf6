package hcloudsim

import (
	"regexp"
	"strings"
)

// hostnameRE is one RFC 1123 label; a server name is dot-separated labels of at most 253 characters.
var hostnameLabelRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// validHostname checks a server name: an RFC 1123 hostname.
func validHostname(field, name string) *apiError {
	if name == "" {
		return invalidField(field, "is required")
	}
	if len(name) > 253 {
		return invalidField(field, "is too long")
	}
	for _, l := range strings.Split(name, ".") {
		if !hostnameLabelRE.MatchString(l) {
			return invalidField(field, "must be a valid hostname (RFC 1123)")
		}
	}
	return nil
}

// validName checks the name of a non-server resource: non-empty, at most 128 characters.
func validName(field, name string) *apiError {
	if strings.TrimSpace(name) == "" {
		return invalidField(field, "is required")
	}
	if len(name) > 128 {
		return invalidField(field, "is too long")
	}
	return nil
}

var (
	labelKeyNameRE = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9_.-]{0,61}[a-zA-Z0-9])?)$`)
	labelValueRE   = regexp.MustCompile(`^(([a-zA-Z0-9]([a-zA-Z0-9_.-]{0,61}[a-zA-Z0-9])?)?)$`)
)

// reservedLabelPrefix is the label key prefix the API keeps for itself: "The hetzner.cloud/ prefix is
// reserved and cannot be used."
const reservedLabelPrefix = "hetzner.cloud"

// validLabels checks labels as the API does (Kubernetes-style keys with an optional DNS prefix other than
// the reserved hetzner.cloud/, values of at most 63 characters) and returns a copy (never nil).
func validLabels(labels *map[string]string) (map[string]string, *apiError) {
	out := map[string]string{}
	if labels == nil {
		return out, nil
	}
	for k, v := range *labels {
		name := k
		if prefix, rest, ok := strings.Cut(k, "/"); ok {
			if prefix == "" || len(prefix) > 253 || validHostname("labels", prefix) != nil {
				return nil, invalidField("labels", "invalid label key "+k)
			}
			if strings.EqualFold(prefix, reservedLabelPrefix) {
				return nil, invalidField("labels", "label key "+k+": the prefix hetzner.cloud/ is reserved")
			}
			name = rest
		}
		if !labelKeyNameRE.MatchString(name) {
			return nil, invalidField("labels", "invalid label key "+k)
		}
		if !labelValueRE.MatchString(v) {
			return nil, invalidField("labels", "invalid label value for key "+k)
		}
		out[k] = v
	}
	return out, nil
}

// nameUpdate is a new name an update request (PUT /<kind>/{id}) may carry:
// valid by check and, when taken says another object of the kind has it, a
// uniqueness_error with message taken.
type nameUpdate struct {
	check func(field, name string) *apiError
	taken func(name string) bool
	msg   string
}

// checkUpdate validates an update's new name (nil: unchanged) and labels
// (nil: unchanged) before anything changes, and returns the labels to set,
// nil to leave them.
func (u nameUpdate) checkUpdate(name *string, labels *map[string]string) (map[string]string, *apiError) {
	if name != nil {
		if err := u.check("name", *name); err != nil {
			return nil, err
		}
		if u.taken != nil && u.taken(*name) {
			return nil, notUnique("name", u.msg)
		}
	}
	if labels == nil {
		return nil, nil
	}
	return validLabels(labels)
}

// takenBy says whether an object of objects (by id) other than id has a
// name, as nameOf reads it.
func takenBy[T any](objects map[int64]*T, id int64, nameOf func(*T) string) func(name string) bool {
	return func(name string) bool {
		for oid, o := range objects {
			if oid != id && nameOf(o) == name {
				return true
			}
		}
		return false
	}
}

// optionalName is a name field that is empty when unchanged, as a pointer.
func optionalName(name string) *string {
	if name == "" {
		return nil
	}
	return &name
}
