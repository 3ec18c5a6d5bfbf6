package hcloudsim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// documentedStatuses reads every "| `status` | `code` |" row of Hetzner's OpenAPI document (the repository's
// copy, trimmed to the operations the simulator serves): the general error table and each operation's
// "Operation specific errors".
func documentedStatuses(t *testing.T) map[string][]int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("specvalidate", "testdata", "hetzner-cloud-openapi.json"))
	require.NoError(t, err)
	var doc struct {
		Info  struct{ Description string }
		Paths map[string]map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	texts := []string{doc.Info.Description}
	for _, item := range doc.Paths {
		for _, op := range item {
			var o struct{ Description string }
			if json.Unmarshal(op, &o) == nil {
				texts = append(texts, o.Description)
			}
		}
	}
	row := regexp.MustCompile("\\| `(\\d{3})` \\| `([a-z_]+)` \\|")
	out := map[string][]int{}
	for _, text := range texts {
		for _, m := range row.FindAllStringSubmatch(text, -1) {
			status, _ := strconv.Atoi(m[1])
			if !slices.Contains(out[m[2]], status) {
				out[m[2]] = append(out[m[2]], status)
			}
		}
	}
	return out
}

// TestErrorStatusesAsDocumented: every code the simulator answers with carries a status the document gives
// that code somewhere (the validator cannot tell: the document's error responses are 4xx/5xx ranges).
func TestErrorStatusesAsDocumented(t *testing.T) {
	documented := documentedStatuses(t)
	require.Contains(t, documented, "invalid_input", "the general error table was read")
	require.Contains(t, documented, "firewall_managed_by_label_selector", "operation tables were read")
	for code, status := range statusByCode {
		want, ok := documented[code]
		if !ok {
			continue // not in the document (firewall_already_removed, server_not_attached_to_network)
		}
		assert.Contains(t, want, status, "code %s", code)
	}
}
