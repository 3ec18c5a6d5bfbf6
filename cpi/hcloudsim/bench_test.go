package hcloudsim

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func benchDo(b *testing.B, sim *Sim, method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer T")
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	if rec.Code >= 300 {
		b.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body.String())
	}
	return rec
}

// BenchmarkCreateServer measures POST /v1/servers in-process.
func BenchmarkCreateServer(b *testing.B) {
	sim := New(Options{Token: "T", RateLimit: 1 << 40})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		benchDo(b, sim, http.MethodPost, "/v1/servers", fmt.Sprintf(`{"name":"s%d","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1"}`, i))
	}
}

// BenchmarkPollActionsWithHistory measures what Action.WaitFor costs per poll when the project has a
// long history of actions (here 20 000).
func BenchmarkPollActionsWithHistory(b *testing.B) {
	sim := New(Options{Token: "T", RateLimit: 1 << 40})
	for i := range 10000 {
		benchDo(b, sim, http.MethodPost, "/v1/servers", fmt.Sprintf(`{"name":"s%d","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1"}`, i))
	}
	b.ReportAllocs()
	for b.Loop() {
		benchDo(b, sim, http.MethodGet, "/v1/actions?id=1002&id=1003&sort=status&sort=id&page=1&per_page=50", "")
	}
}

// BenchmarkListServersPage measures one page of GET /v1/servers over 1000 servers.
func BenchmarkListServersPage(b *testing.B) {
	sim := New(Options{Token: "T", RateLimit: 1 << 40})
	for i := range 1000 {
		benchDo(b, sim, http.MethodPost, "/v1/servers", fmt.Sprintf(`{"name":"s%d","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1","labels":{"nanobox":"true"}}`, i))
	}
	b.ReportAllocs()
	for b.Loop() {
		benchDo(b, sim, http.MethodGet, "/v1/servers?label_selector=nanobox%3Dtrue&per_page=50", "")
	}
}
