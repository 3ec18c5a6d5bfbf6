package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// BenchmarkMeta is stdin mode's own work for meta, process start excluded:
// no API call, no client, no catalog parse beyond the small snapshot.
func BenchmarkMeta(b *testing.B) {
	benchStdin(b, `{"method":"meta","arguments":[],"context":{}}`)
}

// BenchmarkCatalogEmbedded is catalog from the embedded snapshot.
func BenchmarkCatalogEmbedded(b *testing.B) {
	benchStdin(b, `{"method":"catalog","arguments":[],"context":{}}`)
}

// benchStdin runs stdin mode on req, in a hermetic environment, b.N times.
func benchStdin(b *testing.B, req string) {
	env := hermeticEnv(b, nil)
	for i := 0; i < b.N; i++ {
		var out bytes.Buffer
		if code := run(context.Background(), []string{"nanobox-hcloud-cpi"}, strings.NewReader(req), &out, io.Discard, env); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
