// Command docgen writes the documentation that is derived from code, so each
// fact is stated once: docs/configuration.md from the config package (keys
// and types by reflection, defaults from config.Default, descriptions from
// the field comments), and the route and error tables of README.md and the
// method and error tables of docs/protocol.md from protocol's method table
// and error table. `make docs` runs it; a test
// fails when the committed pages differ from what it writes.
//
//	go run ./cpi/internal/docgen -root .
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/nanobox"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("docgen", flag.ContinueOnError)
	root := fs.String("root", ".", "the repository's root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pages, err := Pages(*root)
	if err != nil {
		return err
	}
	for name, page := range pages {
		if err := os.WriteFile(filepath.Join(*root, name), page, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Pages are the generated files (path relative to root -> content) of the
// repository at root.
func Pages(root string) (map[string][]byte, error) {
	configuration, err := configurationPage(filepath.Join(root, "cpi", "config"))
	if err != nil {
		return nil, err
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return nil, err
	}
	errorDocs, err := errorTypeDocs(filepath.Join(root, "protocol"))
	if err != nil {
		return nil, err
	}
	readme, err = replaceBlock(readme, "routes", routeTable())
	if err != nil {
		return nil, err
	}
	errors, err := errorTable(errorDocs)
	if err != nil {
		return nil, err
	}
	readme, err = replaceBlock(readme, "errors", errors)
	if err != nil {
		return nil, err
	}
	protocolDoc, err := protocolPage(root, errorDocs)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"docs/configuration.md": configuration, "README.md": readme, "docs/protocol.md": protocolDoc}, nil
}

// replaceBlock replaces the lines between the markers of the generated
// block name in page.
func replaceBlock(page []byte, name, content string) ([]byte, error) {
	begin := fmt.Sprintf("<!-- generated: %s (make docs) -->\n", name)
	end := fmt.Sprintf("<!-- end of generated %s -->\n", name)
	i := bytes.Index(page, []byte(begin))
	j := bytes.Index(page, []byte(end))
	if i < 0 || j < i {
		return nil, fmt.Errorf("no block %q...%q", strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	var b bytes.Buffer
	b.Write(page[:i+len(begin)])
	b.WriteString(content)
	b.Write(page[j:])
	return b.Bytes(), nil
}

// hetzner is what the Hetzner CPI says of itself (meta and info): what
// decides which routes it supports (protocol.Route.Unsupported), as the
// shim reads it for /openapi.json and the landing page.
func hetzner() (protocol.Meta, protocol.Info) {
	env := cpi.Env{}.WithDefaults()
	c := nanobox.New(env)
	meta, _ := c.Meta() // no API call; the default config
	d := env.Dispatcher(nil)
	d.Nanobox = c
	return meta, d.Info()
}

// routeTable is the Nanobox routes the Hetzner CPI supports: verb and
// path, the CPI method, what a success answers.
func routeTable() string {
	meta, info := hetzner()
	var b strings.Builder
	b.WriteString("| route | CPI method | success |\n|---|---|---|\n")
	for _, r := range protocol.Routes {
		if !r.SupportedBy(meta, info) {
			continue
		}
		answer := "empty body"
		if r.Result {
			answer = "JSON"
		}
		fmt.Fprintf(&b, "| `%s %s` | `%s` | %d %s, %s |\n", r.Verb, r.Path, r.Method, r.Status, http.StatusText(r.Status), answer)
	}
	return b.String()
}

// errorTable is the Nanobox error types: HTTP status, the default
// ok_to_retry, and the meaning (the type's comment in protocol, which
// every type must have).
func errorTable(docs map[string]string) (string, error) {
	var b strings.Builder
	b.WriteString("| type | HTTP status | ok_to_retry | meaning |\n|---|---|---|---|\n")
	for _, t := range protocol.ErrorTypes() {
		doc, ok := docs[string(t)]
		if !ok {
			return "", fmt.Errorf("the error type %s has no comment in protocol", t)
		}
		fmt.Fprintf(&b, "| `%s` | %d %s | %t | %s |\n", t, t.HTTPStatus(), http.StatusText(t.HTTPStatus()), t.Retryable(), doc)
	}
	return b.String(), nil
}

// errorTypeDocs reads the line comments of protocol's ErrorType constants,
// keyed by the constant's value (the type's name on the wire).
func errorTypeDocs(dir string) (map[string]string, error) {
	files, err := parsePackage(dir, "protocol")
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "ErrorType" || vs.Comment == nil {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					if name, err := strconv.Unquote(lit.Value); err == nil {
						docs[name] = strings.Join(strings.Fields(vs.Comment.Text()), " ")
					}
				}
			}
		}
	}
	return docs, nil
}
