package shim_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"testing"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

var metaRequest = []byte(`{"method":"meta","arguments":[],"context":{},"api_version":1}`)

// BenchmarkDirectExec is the baseline: one plain exec of the stub CPI per
// call, as a caller without the shim would do it.
func BenchmarkDirectExec(b *testing.B) {
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(stubCPI)
		cmd.Stdin = bytes.NewReader(metaRequest)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if _, err := cmd.Output(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunner is the shim's exec path alone (process group, waitid,
// bounded buffers).
func BenchmarkRunner(b *testing.B) {
	r := &shim.Runner{Path: stubCPI, Env: []string{"PATH=" + os.Getenv("PATH")}}
	for i := 0; i < b.N; i++ {
		out, err := r.Run(b.Context(), metaRequest)
		if err != nil || out.ExitCode != 0 {
			b.Fatal(err, out.ExitCode)
		}
	}
}

// BenchmarkShimGetMeta is GET /meta over HTTP through the shim: the
// difference to BenchmarkDirectExec is the shim's overhead.
func BenchmarkShimGetMeta(b *testing.B) {
	ts := startShim(b, shim.Options{})
	client := &http.Client{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchGet(b, client, ts.URL+"/meta", "", http.StatusOK)
	}
}

// BenchmarkShimGetMetaParallel is GET /meta from GOMAXPROCS*8 clients.
func BenchmarkShimGetMetaParallel(b *testing.B) {
	ts := startShim(b, shim.Options{MaxQueue: 1 << 12})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchGet(b, client, ts.URL+"/meta", "", http.StatusOK)
		}
	})
}

// benchGet is one GET of url (with the token as Auth-Api-Token, when not
// ""), its body read; any status but want fails the benchmark.
func benchGet(b *testing.B, client *http.Client, url, token string, want int) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Auth-Api-Token", token)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("status %d", resp.StatusCode)
	}
}
