// Command trimspec trims Hetzner's official OpenAPI document to what the simulator serves, for the
// repository's copy under cpi/hcloudsim/specvalidate/testdata. It keeps the document's top level (info with
// the general error table, servers, security, components the kept paths refer to), every operation the
// simulator routes (hcloudsim.Routes) and the tags those operations name; it fails when the simulator routes
// an operation the document lacks. Run from the repository root:
//
//	go run ./cpi/hcloudsim/trimspec -in /path/to/hetzner-cloud-openapi.json
//
// Trimming the trimmed copy again changes nothing, so after adding routes to the simulator either rerun it
// on the full document or the test in this package says what is missing.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
)

// DefaultOut is where the trimmed document lives, relative to the repository root.
const DefaultOut = "cpi/hcloudsim/specvalidate/testdata/hetzner-cloud-openapi.json"

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "trimspec:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("trimspec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "Hetzner's full OpenAPI document (required)")
	out := fs.String("out", DefaultOut, "where to write the trimmed document")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("-in is required")
	}
	raw, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	trimmed, err := TrimBytes(raw, hcloudsim.Routes())
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	return os.WriteFile(*out, trimmed, 0o644)
}

// TrimBytes is Trim on an encoded document; the result is indented JSON ending in a newline.
func TrimBytes(raw []byte, routes []string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	trimmed, err := Trim(doc, routes)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(trimmed); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// pathParam matches a path parameter; routes and the document may name them differently.
var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// routeKey is "method path" with the /v1 prefix removed and path parameters unnamed.
func routeKey(method, path string) string {
	return strings.ToLower(method) + " " + pathParam.ReplaceAllString(strings.TrimPrefix(path, "/v1"), "{}")
}

// Trim returns doc reduced to the operations named by routes ("METHOD /v1/path") and what they need. It
// fails, naming each, when a route has no operation in doc.
func Trim(doc map[string]any, routes []string) (map[string]any, error) {
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		return nil, errors.New("the document has no paths object")
	}
	want := map[string]bool{}
	for _, r := range routes {
		method, path, ok := strings.Cut(r, " ")
		if !ok {
			return nil, fmt.Errorf("route %q is not \"METHOD /path\"", r)
		}
		want[routeKey(method, path)] = true
	}
	keptPaths := map[string]any{}
	found := map[string]bool{}
	for path, v := range paths {
		item, _ := v.(map[string]any)
		kept := map[string]any{}
		for k, op := range item {
			isMethod := false
			for _, m := range httpMethods {
				isMethod = isMethod || k == m
			}
			switch {
			case !isMethod:
				kept[k] = op // summary, description, path-level parameters
			case want[routeKey(k, path)]:
				kept[k] = op
				found[routeKey(k, path)] = true
			}
		}
		if len(kept) > len(item)-countMethods(item) {
			keptPaths[path] = kept
		}
	}
	var missing []string
	for k := range want {
		if !found[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("the document has no operation for %s", strings.Join(missing, ", "))
	}

	out := map[string]any{}
	for k, v := range doc {
		switch k {
		case "paths", "components", "tags", "x-tagGroups":
		default:
			out[k] = v
		}
	}
	out["paths"] = keptPaths
	if comps, ok := doc["components"].(map[string]any); ok {
		out["components"] = keptComponents(comps, keptPaths)
	}
	tags := usedTags(keptPaths)
	if list, ok := doc["tags"].([]any); ok {
		out["tags"] = filterTags(list, tags)
	}
	if groups, ok := doc["x-tagGroups"].([]any); ok {
		out["x-tagGroups"] = filterTagGroups(groups, tags)
	}
	return out, nil
}

func countMethods(item map[string]any) int {
	n := 0
	for _, m := range httpMethods {
		if _, ok := item[m]; ok {
			n++
		}
	}
	return n
}

// keptComponents keeps securitySchemes whole and, of every other section, the components the kept paths
// refer to ("#/components/<section>/<name>", as $ref or as a discriminator mapping), transitively.
func keptComponents(comps map[string]any, paths map[string]any) map[string]any {
	out := map[string]any{}
	if sec, ok := comps["securitySchemes"]; ok {
		out["securitySchemes"] = sec
	}
	queue := componentRefs(paths)
	seen := map[string]bool{}
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		if seen[ref] {
			continue
		}
		seen[ref] = true
		section, name, _ := strings.Cut(strings.TrimPrefix(ref, "#/components/"), "/")
		src, _ := comps[section].(map[string]any)
		v, ok := src[name]
		if !ok {
			continue
		}
		dst, _ := out[section].(map[string]any)
		if dst == nil {
			dst = map[string]any{}
			out[section] = dst
		}
		dst[name] = v
		queue = append(queue, componentRefs(v)...)
	}
	return out
}

// componentRefs returns every string in v that refers to a component.
func componentRefs(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			if strings.HasPrefix(x, "#/components/") {
				out = append(out, x)
			}
		}
	}
	walk(v)
	return out
}

// usedTags are the tags the kept operations name.
func usedTags(paths map[string]any) map[string]bool {
	tags := map[string]bool{}
	for _, v := range paths {
		for _, m := range httpMethods {
			op, _ := v.(map[string]any)[m].(map[string]any)
			list, _ := op["tags"].([]any)
			for _, t := range list {
				if s, ok := t.(string); ok {
					tags[s] = true
				}
			}
		}
	}
	return tags
}

func filterTags(list []any, keep map[string]bool) []any {
	out := []any{}
	for _, t := range list {
		if m, ok := t.(map[string]any); ok {
			if name, _ := m["name"].(string); keep[name] {
				out = append(out, t)
			}
		}
	}
	return out
}

func filterTagGroups(groups []any, keep map[string]bool) []any {
	out := []any{}
	for _, g := range groups {
		m, ok := g.(map[string]any)
		if !ok {
			continue
		}
		list, _ := m["tags"].([]any)
		var tags []any
		for _, t := range list {
			if s, ok := t.(string); ok && keep[s] {
				tags = append(tags, t)
			}
		}
		if len(tags) == 0 {
			continue
		}
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		c["tags"] = tags
		out = append(out, c)
	}
	return out
}
