package cpi

import (
	"maps"
	"strconv"
	"strings"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// The one ownership rule of both method families (docs/reliability.md):
//
//   - An object labelled nanobox=false (key and value in any letter case)
//     is hidden: every method treats it as non-existent.
//   - An object is ours when it carries managed-by=nanobox-hcloud and is
//     not hidden. Only ours is changed or deleted; allow_foreign in the
//     config lifts that for objects that are not hidden.
//   - An object without managed-by=nanobox-hcloud is foreign, whatever
//     else it carries. That includes servers made before the adapter set
//     managed-by (they carry only nanobox=true): they are read, never
//     changed, until the operator adopts them by adding the label
//     managed-by=nanobox-hcloud (or sets allow_foreign).

// Hidden reports whether labels mark an object as not the adapter's to
// see: key "nanobox" in any letter case with value "false" in any case.
func Hidden(labels map[string]string) bool {
	for k, v := range labels {
		if strings.EqualFold(k, LabelNanobox) && strings.EqualFold(v, "false") {
			return true
		}
	}
	return false
}

// Ours reports whether the object is the adapter's own: it carries
// managed-by=nanobox-hcloud and is not hidden.
func Ours(labels map[string]string) bool {
	return labels[LabelManagedBy] == ManagedByValue && !Hidden(labels)
}

// MayChange refuses (Forbidden) to change an object that is not ours,
// unless allowForeign; a hidden object is refused even then. op and kind
// name the call and the object in the message.
func MayChange(op, kind string, id int64, labels map[string]string, allowForeign bool) *protocol.Error {
	if Ours(labels) || (allowForeign && !Hidden(labels)) {
		return nil
	}
	return protocol.NewError(protocol.Forbidden,
		"%s: %s %d was not created by this adapter (no label %s=%s); add that label to adopt it, or set allow_foreign in the CPI config to manage it anyway",
		op, kind, id, LabelManagedBy, ManagedByValue)
}

// OwnLabels are the labels of an object the adapter creates: the given
// label sets in order (later ones win), then the ownership labels, which
// nothing overrides.
func OwnLabels(sets ...map[string]string) map[string]string {
	n := 2
	for _, s := range sets {
		n += len(s)
	}
	l := make(map[string]string, n)
	for _, s := range sets {
		maps.Copy(l, s)
	}
	l[LabelNanobox] = "true"
	l[LabelManagedBy] = ManagedByValue
	return l
}

// ParseID turns an id (a Nanobox id or a BOSH cid) into a Hetzner id. Ids
// are canonical decimals: 1-19 digits, no sign, no leading zero, no space,
// no exponent, as strconv.FormatInt writes them. Anything else names no
// object, so "+1003", "001003", " 1003" or "1e3" never reach object 1003.
func ParseID(s string) (int64, bool) {
	if !canonicalDecimal(s) {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return id, true
}

// canonicalDecimal: a positive decimal as strconv.FormatInt writes it.
func canonicalDecimal(s string) bool {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
