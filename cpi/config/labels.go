package config

import (
	"slices"
	"strings"
)

// LabelProblem says what is wrong with one label an order asks for, by the
// rule the config's labels follow: a valid Hetzner key and value, and not
// one of the labels the adapter sets (in any case). "" when it is fine.
func LabelProblem(key, value string) string {
	switch {
	case !validLabelKey(key):
		return "is not a valid Hetzner label key"
	case slices.ContainsFunc(reservedLabels, func(r string) bool { return strings.EqualFold(key, r) }):
		return "is set by the adapter and cannot be given"
	case !validLabelValue(value):
		return "has a value that is not a valid Hetzner label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)"
	}
	return ""
}
