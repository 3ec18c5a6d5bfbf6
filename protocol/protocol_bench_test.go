package protocol_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Micro-benchmarks of the request path every CPI process runs once:
// decoding the request from stdin, checking it against the method's
// Signature, dispatching, and encoding the response. They run only with
// -bench (make bench); benchstat reads their output.

// benchRequests are requests as the shim writes them: a path-parameter
// call (the one an orchestrator polls) and a body call.
var benchRequests = []struct {
	name string
	data []byte
}{
	{"query_server", []byte(`{"method":"query_server","arguments":["4711"],"context":{"credentials":{"api-token":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"request_id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0"},"api_version":1}`)},
	{"order_server", []byte(`{"method":"order_server","arguments":[{"name":"web-1.example.com","region":"nbg1","size":"cx23","ssh_key":"42","config":{"image":"ubuntu-24.04","backups":"enabled"}}],"context":{"credentials":{"api-token":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"request_id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0"},"api_version":1}`)},
}

func BenchmarkParseRequest(b *testing.B) {
	benchEachRequest(b, func(data []byte) *protocol.Error {
		_, perr := protocol.ParseRequest(data)
		return perr
	})
}

func BenchmarkDecodeRequest(b *testing.B) {
	benchEachRequest(b, func(data []byte) *protocol.Error {
		_, perr := protocol.DecodeRequest(bytes.NewReader(data))
		return perr
	})
}

// benchEachRequest runs decode on each of benchRequests, one sub-benchmark
// each; an error fails it.
func benchEachRequest(b *testing.B, decode func(data []byte) *protocol.Error) {
	for _, r := range benchRequests {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(r.data)))
			for b.Loop() {
				if perr := decode(r.data); perr != nil {
					b.Fatal(perr)
				}
			}
		})
	}
}

func BenchmarkCheckArguments(b *testing.B) {
	for _, r := range benchRequests {
		req, perr := protocol.ParseRequest(r.data)
		if perr != nil {
			b.Fatal(perr)
		}
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, perr := protocol.CheckArguments(req); perr != nil {
					b.Fatal(perr)
				}
			}
		})
	}
}

// benchCPI answers like a CPI without a cloud: query_server returns a
// server, order_server returns an id.
type benchCPI struct{ protocol.NanoboxCPI }

func (benchCPI) QueryServer(_ context.Context, id string) (protocol.Server, error) {
	return protocol.Server{ID: id, Status: "active", Name: "web-1", ExternalIP: "192.0.2.10",
		InternalIP: "10.0.0.2", Config: map[string]any{"image": "ubuntu-24.04", "backups": "disabled"}}, nil
}

func (benchCPI) OrderServer(context.Context, protocol.OrderServerBody) (protocol.IDResult, error) {
	return protocol.IDResult{ID: "4711"}, nil
}

type benchFactory struct{}

func (benchFactory) NewNanobox(protocol.Call) (protocol.NanoboxCPI, error) { return benchCPI{}, nil }

func benchDispatcher() *protocol.Dispatcher {
	return &protocol.Dispatcher{Name: "bench", Version: "0", Nanobox: benchFactory{}}
}

// BenchmarkDispatch is the whole transport of one call: decode, check,
// handler, encode.
func BenchmarkDispatch(b *testing.B) {
	d := benchDispatcher()
	ctx := context.Background()
	for _, r := range benchRequests {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			var out bytes.Buffer
			for b.Loop() {
				out.Reset()
				if err := serve(ctx, d, bytes.NewReader(r.data), &out); err != nil {
					b.Fatal(err)
				}
			}
			var resp protocol.RawResponse
			if err := json.Unmarshal(out.Bytes(), &resp); err != nil || resp.Error != nil {
				b.Fatalf("bad response %s", out.String())
			}
		})
	}
}

// BenchmarkDispatchDecoded is Dispatch on a request already decoded: the
// method table and argument check only.
func BenchmarkDispatchDecoded(b *testing.B) {
	d := benchDispatcher()
	ctx := context.Background()
	req, perr := protocol.ParseRequest(benchRequests[0].data)
	if perr != nil {
		b.Fatal(perr)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Dispatch(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	resp := protocol.Response{Result: protocol.Server{ID: "4711", Status: "active", Name: "web-1", ExternalIP: "192.0.2.10",
		InternalIP: "10.0.0.2", Config: map[string]any{"image": "ubuntu-24.04", "backups": "disabled"}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := protocol.EncodeResponse(io.Discard, resp); err != nil {
			b.Fatal(err)
		}
	}
}
