package catalog

import (
	"encoding/json"
	"testing"
)

// BenchmarkCatalogParseSnapshot is the first-use cost of the embedded
// snapshot in a fresh process (catalog.Embedded parses it once).
func BenchmarkCatalogParseSnapshot(b *testing.B) {
	data := snapshotJSON
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var m Model
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}
