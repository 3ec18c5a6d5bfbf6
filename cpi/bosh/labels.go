package bosh

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
)

// Ownership labels: the Nanobox adapter's, so both sides of the binary
// recognise each other's objects.
const (
	labelNanobox   = cpi.LabelNanobox
	labelManagedBy = cpi.LabelManagedBy
	managedByValue = cpi.ManagedByValue
)

// LabelAgentID carries a VM's BOSH agent id, so that a create_vm retried
// after a lost answer finds the server it made.
const LabelAgentID = "bosh-agent-id"

// LabelKind says what a BOSH object is: "vm", "disk" or
// kindPlacementGroup.
const LabelKind = "bosh"

// kindPlacementGroup is LabelKind of a placement group create_vm made.
const kindPlacementGroup = "placement-group"

// reserved are the labels set_vm_metadata and set_disk_metadata never
// overwrite: a metadata key equal to one (in any letter case) gets the
// prefix "bosh-".
var reserved = []string{labelNanobox, labelManagedBy, LabelAgentID, LabelKind, cpi.LabelBackups}

// lookup fetches the object of a cid (a kind's Hetzner id) with get, which
// answers the object and its labels: nil when it does not exist or is
// labelled nanobox=false; foreign when it is not this CPI's (and
// allow_foreign is off).
func lookup[T any](ctx context.Context, c *CPI, op, kind, cid string,
	get func(context.Context, *hcloud.Client, int64) (*T, map[string]string, error)) (obj *T, foreign bool, err error) {
	id, err := parseCID(op, kind, cid)
	if err != nil {
		return nil, false, err
	}
	client, err := c.hcloud()
	if err != nil {
		return nil, false, err
	}
	obj, labels, err := get(ctx, client, id)
	if err != nil {
		return nil, false, cloudError(op, err)
	}
	if obj == nil || cpi.Hidden(labels) {
		return nil, false, nil
	}
	return obj, cpi.MayChange(op, kind, id, labels, c.cfg.AllowForeign) != nil, nil
}

// ownLabels are the labels of a new object: the config's extra labels, the
// caller's (already checked) labels, then the ownership labels.
func (c *CPI) ownLabels(kind string, extra map[string]string) map[string]string {
	l := cpi.OwnLabels(c.cfg.Labels, extra)
	l[LabelKind] = kind
	return l
}

// checkLabels refuses cloud_properties labels that are not valid Hetzner
// labels or that would overwrite the CPI's own.
func checkLabels(op string, labels map[string]string) error {
	var problems []string
	for _, k := range sortedKeys(labels) {
		switch {
		case isReserved(k):
			problems = append(problems, fmt.Sprintf("label %q is the CPI's own", k))
		case sanitizeKey(k) != k:
			problems = append(problems, fmt.Sprintf("label key %q is not a valid Hetzner label key", k))
		case sanitizeValue(labels[k]) != labels[k]:
			problems = append(problems, fmt.Sprintf("label %q: value is not a valid Hetzner label value", k))
		}
	}
	if len(problems) > 0 {
		return newError(CpiError, "%s: cloud_properties.labels: %s", op, strings.Join(problems, "; "))
	}
	return nil
}

func isReserved(k string) bool {
	for _, r := range reserved {
		if strings.EqualFold(k, r) {
			return true
		}
	}
	return false
}

// MetadataLabels turns BOSH metadata ({"name": "bosh/0", "created_at":
// "2026-11-30T11:38:35Z", ...}) into valid Hetzner labels: a key or value
// keeps letters, digits, '-', '_' and '.'; every other character becomes
// '-'; it is cut to 63 characters and must start and end with a letter or
// digit (others are trimmed). A key that is empty after this is dropped; a
// key equal to one of the CPI's own labels gets the prefix "bosh-". Values
// that are not strings are written as JSON first. Keys are taken in sorted
// order, so when two keys sanitize alike the later one wins, every time.
func MetadataLabels(metadata map[string]any) map[string]string {
	out := make(map[string]string, len(metadata))
	for _, k := range sortedKeys(metadata) {
		key := sanitizeKey(k)
		if key == "" {
			continue
		}
		if isReserved(key) {
			key = sanitizeKey("bosh-" + key)
		}
		out[key] = sanitizeValue(valueString(metadata[k]))
	}
	return out
}

func valueString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// sanitizeKey makes a Hetzner label key without prefix (no '/': a BOSH key
// is never a DNS prefix, and "hetzner.cloud/" is reserved).
func sanitizeKey(s string) string { return sanitize(s) }

// sanitizeValue makes a Hetzner label value ("" is valid).
func sanitizeValue(s string) string { return sanitize(s) }

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			b[i] = '-'
		}
	}
	out := strings.TrimFunc(string(b), func(r rune) bool { return r > 127 || !isAlnum(byte(r)) })
	if len(out) > 63 {
		out = strings.TrimRightFunc(out[:63], func(r rune) bool { return !isAlnum(byte(r)) })
	}
	return out
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
