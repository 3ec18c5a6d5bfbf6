package hcloudsim

import (
	"fmt"
	"strings"
)

// labelSelector is a parsed label_selector: every requirement must hold.
type labelSelector []labelRequirement

type labelRequirement struct {
	key    string
	op     string // "=", "!=", "exists", "!exists", "in", "notin"
	values []string
}

// parseLabelSelector parses the API's label selector language: k=v, k==v, k!=v, k, !k, k in (a,b),
// k notin (a,b), joined by commas.
func parseLabelSelector(sel string) (labelSelector, error) {
	var out labelSelector
	rest := strings.TrimSpace(sel)
	for rest != "" {
		// Split off one requirement: up to the next comma outside parentheses.
		depth, end := 0, len(rest)
		for i, r := range rest {
			switch r {
			case '(':
				depth++
			case ')':
				depth--
				if depth < 0 {
					return nil, fmt.Errorf("unbalanced parentheses")
				}
			case ',':
				if depth == 0 && end == len(rest) {
					end = i
				}
			}
			if end != len(rest) {
				break
			}
		}
		if depth > 0 && end == len(rest) {
			return nil, fmt.Errorf("unbalanced parentheses")
		}
		part := strings.TrimSpace(rest[:end])
		if end < len(rest) {
			rest = strings.TrimSpace(rest[end+1:])
			if rest == "" {
				return nil, fmt.Errorf("trailing comma")
			}
		} else {
			rest = ""
		}
		req, err := parseRequirement(part)
		if err != nil {
			return nil, err
		}
		out = append(out, req)
	}
	return out, nil
}

func parseRequirement(p string) (labelRequirement, error) {
	if p == "" {
		return labelRequirement{}, fmt.Errorf("empty requirement")
	}
	if k, v, ok := strings.Cut(p, "!="); ok {
		return checkedReq(k, "!=", v)
	}
	if k, v, ok := strings.Cut(p, "=="); ok {
		return checkedReq(k, "=", v)
	}
	if k, v, ok := strings.Cut(p, "="); ok {
		return checkedReq(k, "=", v)
	}
	for _, op := range []string{" notin ", " in "} {
		if k, v, ok := strings.Cut(p, op); ok {
			v = strings.TrimSpace(v)
			if !strings.HasPrefix(v, "(") || !strings.HasSuffix(v, ")") {
				return labelRequirement{}, fmt.Errorf("%q: values must be in parentheses", p)
			}
			var vals []string
			for _, x := range strings.Split(v[1:len(v)-1], ",") {
				x = strings.TrimSpace(x)
				if x == "" {
					return labelRequirement{}, fmt.Errorf("%q: empty value", p)
				}
				vals = append(vals, x)
			}
			r, err := checkedReq(k, strings.TrimSpace(op), "")
			r.values = vals
			return r, err
		}
	}
	if k, ok := strings.CutPrefix(p, "!"); ok {
		return checkedReq(k, "!exists", "")
	}
	return checkedReq(p, "exists", "")
}

func checkedReq(k, op, v string) (labelRequirement, error) {
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if k == "" || strings.ContainsAny(k, " ()!=,") {
		return labelRequirement{}, fmt.Errorf("invalid label key %q", k)
	}
	if strings.ContainsAny(v, " ()!=,") {
		return labelRequirement{}, fmt.Errorf("invalid label value %q", v)
	}
	return labelRequirement{key: k, op: op, values: []string{v}}, nil
}

// matches reports whether labels satisfy every requirement.
func (sel labelSelector) matches(labels map[string]string) bool {
	for _, r := range sel {
		v, ok := labels[r.key]
		switch r.op {
		case "=":
			if !ok || v != r.values[0] {
				return false
			}
		case "!=":
			if ok && v == r.values[0] {
				return false
			}
		case "exists":
			if !ok {
				return false
			}
		case "!exists":
			if ok {
				return false
			}
		case "in", "notin":
			in := false
			for _, x := range r.values {
				if ok && v == x {
					in = true
				}
			}
			if in != (r.op == "in") {
				return false
			}
		}
	}
	return true
}

// selectorFromQuery parses the label_selector query parameter ("" selects everything).
func selectorFromQuery(q map[string][]string) (labelSelector, *apiError) {
	sel, err := parseLabelSelector(first(q, "label_selector"))
	if err != nil {
		return nil, invalidField("label_selector", err.Error())
	}
	return sel, nil
}
