package nanobox_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/nanobox"
)

// Micro-benchmarks of the catalog a CPI process builds for GET /catalog
// and of meta (which reads the embedded snapshot for default_plan). They
// run only with -bench (make bench).

// BenchmarkCatalogParseSnapshot is the first-use cost of the embedded
// snapshot in a fresh process (catalog.Embedded parses it once).
func BenchmarkCatalogParseSnapshot(b *testing.B) {
	data := catalog.EmbeddedJSON()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var m catalog.Model
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCatalogBuild turns the catalog model into Nanobox regions,
// plans and specs with prices.
func BenchmarkCatalogBuild(b *testing.B) {
	m, err := catalog.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	pr := catalog.Pricing{EURToUSD: 1.08, Gross: true}
	b.ReportAllocs()
	for b.Loop() {
		if regions := catalog.Build(m, pr); len(regions) == 0 {
			b.Fatal("empty catalog")
		}
	}
}

// BenchmarkCatalogEncode is the JSON of the built catalog, as written to
// stdout.
func BenchmarkCatalogEncode(b *testing.B) {
	m, err := catalog.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	regions := catalog.Build(m, catalog.Pricing{EURToUSD: 1.08, Gross: true})
	b.ReportAllocs()
	for b.Loop() {
		data, err := json.Marshal(regions)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}

// BenchmarkCPICatalogEmbedded is the catalog method without an operator
// token: the cache (empty) is checked, the embedded snapshot is built.
func BenchmarkCPICatalogEmbedded(b *testing.B) {
	cfg := config.Default()
	cfg.Catalog.CacheDir = b.TempDir()
	c := nanobox.New(cpi.Env{Config: cfg})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if regions, err := c.Catalog(ctx); err != nil || len(regions) == 0 {
			b.Fatalf("catalog: %v (%d regions)", err, len(regions))
		}
	}
}

// BenchmarkCPIMeta is the meta method's work (no API call).
func BenchmarkCPIMeta(b *testing.B) {
	c := nanobox.New(cpi.Env{Config: config.Default()})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Meta(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConfigParse is the config file a CPI process reads on every call.
func BenchmarkConfigParse(b *testing.B) {
	data := []byte(`{"token":"","endpoint":"http://127.0.0.1:8081/v1","image":"ubuntu-24.04","images":["ubuntu-22.04","ubuntu-24.04","debian-12","debian-13"],"network":{"mode":"private","name":"nanobox","ip_range":"10.0.0.0/16"},"labels":{"team":"web"},"defaults":{"region":"nbg1","size":"cx23"},"catalog":{"cache_dir":"/var/cache/nanobox","ttl_seconds":3600,"eur_to_usd":1.08,"price_basis":"gross"},"timeouts":{"call_seconds":45,"poll_interval_ms":500}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := config.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
