package shim_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

// Micro-benchmarks of the shim's request path with the stub CPI (built by
// TestMain): the HTTP handler alone and the whole loopback round trip on
// GET /servers/{id}, the route an orchestrator polls. They run only with
// -bench (make bench). BenchmarkRunner and BenchmarkDirectExec
// (bench_test.go) give the exec floor they compare with.

const benchToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func benchShim(b *testing.B, maxConcurrent int) *shim.Shim {
	b.Helper()
	s, err := shim.New(shim.Options{CPI: stubCPI, MaxConcurrent: maxConcurrent, Env: []string{}})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// serveGet is one GET of path with the bench token through the handler.
func serveGet(s *shim.Shim, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Auth-Api-Token", benchToken)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// BenchmarkServeHTTP is one GET /servers/{id} through the handler (no
// network): routing, credentials, request encoding, the CPI exec, response
// checks and redaction.
func BenchmarkServeHTTP(b *testing.B) {
	for _, path := range []string{"/servers/4711", "/meta"} {
		b.Run(path[1:], func(b *testing.B) {
			s := benchShim(b, 4)
			b.ReportAllocs()
			for b.Loop() {
				if rec := serveGet(s, path); rec.Code >= 300 {
					b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
				}
			}
		})
	}
}

// BenchmarkServeHTTPParallel is ServeHTTP from GOMAXPROCS goroutines at once.
func BenchmarkServeHTTPParallel(b *testing.B) {
	s := benchShim(b, 64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rec := serveGet(s, "/servers/4711"); rec.Code >= 300 {
				b.Errorf("%d %s", rec.Code, rec.Body.String())
				return
			}
		}
	})
}

// BenchmarkLoopback is the whole round trip over loopback HTTP with a
// keep-alive client, as the load test drives it.
func BenchmarkLoopback(b *testing.B) {
	srv := httptest.NewServer(benchShim(b, 4))
	defer srv.Close()
	client := srv.Client()
	b.ReportAllocs()
	for b.Loop() {
		benchGet(b, client, srv.URL+"/servers/4711", benchToken, http.StatusCreated)
	}
}

// BenchmarkCredentials is the Auth-* header collection on every request.
func BenchmarkCredentials(b *testing.B) {
	h := http.Header{}
	h.Set("Auth-Api-Token", benchToken)
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "nanobox-odin/1.0")
	h.Set("X-Request-Id", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
	b.ReportAllocs()
	for b.Loop() {
		if c, err := shim.Credentials(h); err != nil || len(c) != 1 {
			b.Fatal(c)
		}
	}
}
