package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// protocolPage is docs/protocol.md of the repository at root with its
// generated blocks (the method tables and the error tables) replaced.
func protocolPage(root string, errorDocs map[string]string) ([]byte, error) {
	page, err := os.ReadFile(filepath.Join(root, "docs", "protocol.md"))
	if err != nil {
		return nil, err
	}
	nanoboxErrors, err := errorTable(errorDocs)
	if err != nil {
		return nil, err
	}
	boshErrors, err := boshErrorTable(errorDocs)
	if err != nil {
		return nil, err
	}
	for _, block := range []struct{ name, content string }{
		{"methods", nanoboxMethodTable()},
		{"bosh-methods", boshMethodTable()},
		{"errors", nanoboxErrors},
		{"bosh-errors", boshErrors},
	} {
		if page, err = replaceBlock(page, block.name, block.content); err != nil {
			return nil, fmt.Errorf("docs/protocol.md: %w", err)
		}
	}
	return page, nil
}

// nanoboxMethodTable is info and the Nanobox methods, in the order of the
// method table: route (none for a route the Hetzner CPI does not support,
// which answers 501), success, arguments, and whether a retry after an
// unknown outcome is safe.
func nanoboxMethodTable() string {
	meta, info := hetzner()
	var b strings.Builder
	b.WriteString("| method | route | success | arguments | retry-safe |\n|---|---|---|---|---|\n")
	for _, m := range protocol.Table {
		if m.Family == protocol.FamilyBosh {
			continue
		}
		route, success := "–", "–"
		if rt, ok := protocol.RouteOf(m.Name); ok && !rt.SupportedBy(meta, info) {
			success = "not supported: 501 Not Implemented"
		} else if e := m.HTTP; e != nil {
			route = fmt.Sprintf("`%s %s`", e.Verb, e.Path)
			answer := "empty body"
			if e.Result {
				answer = "JSON"
			}
			success = fmt.Sprintf("%d %s, %s", e.Status, http.StatusText(e.Status), answer)
		}
		args := make([]string, len(m.Args))
		for i, a := range m.Args {
			switch keys := a.BodyKeys(); {
			case keys != nil:
				args[i] = "{" + strings.Join(quoteAll(keys), ", ") + "}"
			case a.Kind == protocol.KindBody: // a map: any key
				args[i] = `{"<key>": <value>, …}`
			default:
				args[i] = strconv.Quote("<" + a.Name + ">")
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | `[%s]` | %s |\n", m.Name, route, success, strings.Join(args, ", "), yesNo(m.RetrySafe))
	}
	return b.String()
}

// boshMethodTable is the BOSH methods, in the order of the method table:
// their arguments with their shapes, whether a retry after an unknown
// outcome is safe, and which are not bound to any CPI.
func boshMethodTable() string {
	var b strings.Builder
	b.WriteString("| method | arguments | retry-safe |\n|---|---|---|\n")
	for _, m := range protocol.Table {
		if m.Family != protocol.FamilyBosh {
			continue
		}
		args := make([]string, len(m.Args))
		for i, a := range m.Args {
			args[i] = fmt.Sprintf("`%s` (%s)", a.Name, a.Shape())
		}
		desc := strings.Join(args, ", ")
		if desc == "" {
			desc = "none"
		}
		if !m.Bound() {
			desc += "; always answers `" + string(protocol.BoshNotImplemented) + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", m.Name, desc, yesNo(m.RetrySafe))
	}
	return b.String()
}

// boshErrorTable is the BOSH error types: the default ok_to_retry, the
// meaning (the type's comment in protocol) and the Nanobox types a BOSH
// method answers as this type.
func boshErrorTable(docs map[string]string) (string, error) {
	from := map[protocol.ErrorType][]string{}
	for _, t := range protocol.ErrorTypes() {
		bt := protocol.NewError(t, "").ForBosh().Type
		from[bt] = append(from[bt], "`"+string(t)+"`")
	}
	var b strings.Builder
	b.WriteString("| type | ok_to_retry | meaning | in place of |\n|---|---|---|---|\n")
	for _, t := range protocol.BoshErrorTypes() {
		doc, ok := docs[string(t)]
		if !ok {
			return "", fmt.Errorf("the error type %s has no comment in protocol", t)
		}
		in := strings.Join(from[t], ", ")
		if in == "" {
			in = "–"
		}
		fmt.Fprintf(&b, "| `%s` | %t | %s | %s |\n", t, t.Retryable(), doc, in)
	}
	return b.String(), nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
