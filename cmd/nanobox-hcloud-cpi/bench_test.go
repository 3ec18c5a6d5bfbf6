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
	env := hermeticEnv(b, nil)
	req := `{"method":"meta","arguments":[],"context":{}}`
	for i := 0; i < b.N; i++ {
		var out bytes.Buffer
		if code := run(context.Background(), []string{"nanobox-hcloud-cpi"}, strings.NewReader(req), &out, io.Discard, env); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}

// BenchmarkCatalogEmbedded is catalog from the embedded snapshot.
func BenchmarkCatalogEmbedded(b *testing.B) {
	env := hermeticEnv(b, nil)
	req := `{"method":"catalog","arguments":[],"context":{}}`
	for i := 0; i < b.N; i++ {
		var out bytes.Buffer
		if code := run(context.Background(), []string{"nanobox-hcloud-cpi"}, strings.NewReader(req), &out, io.Discard, env); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
