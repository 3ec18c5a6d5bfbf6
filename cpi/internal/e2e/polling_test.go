package e2e_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/repotest"
)

// TestConcurrentCPIProcessesCauseOneRefresh: 50 CPI processes polling 5
// new servers at once share one snapshot refresh (one list request, as
// the simulator counts it): the single flight holds across processes.
func TestConcurrentCPIProcessesCauseOneRefresh(t *testing.T) {
	token := canary("polling")
	e := newE2E(t, token, map[string]any{"polling": map[string]any{"window_ms": 60000}})
	var key protocol.IDResult
	e.ok(e.request(token, "create_key", map[string]string{"id": "poll-key", "key": publicKey(t)}), &key)
	var ids []string
	for _, name := range []string{"p1", "p2", "p3", "p4", "p5"} {
		var res protocol.IDResult
		e.ok(e.request(token, "order_server", map[string]any{"name": name, "region": "nbg1", "size": "cx23", "ssh_key": key.ID}), &res)
		ids = append(ids, res.ID)
	}
	e.sim.Sim.ResetRequests()

	bin := repotest.Binary(t, "nanobox-hcloud-cpi")
	const pollers = 50
	outs := make([]string, pollers)
	errs := make([]error, pollers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range outs {
		req, err := json.Marshal(map[string]any{"method": "query_server", "arguments": []string{ids[i%len(ids)]}, "api_version": 1,
			"context": map[string]any{"credentials": map[string]string{"api-token": token}}})
		require.NoError(t, err)
		cmd := exec.Command(bin, "-configPath", e.configPath)
		cmd.Env = e.env
		cmd.Stdin = bytes.NewReader(req)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = cmd.Run()
			outs[i] = stdout.String()
		}()
	}
	close(start)
	wg.Wait()
	for i, out := range outs {
		require.NoError(t, errs[i])
		var resp protocol.RawResponse
		require.NoError(t, json.Unmarshal([]byte(out), &resp), out)
		require.Nil(t, resp.Error, "%+v", resp.Error)
		var srv protocol.Server
		require.NoError(t, json.Unmarshal(resp.Result, &srv))
		require.Equal(t, ids[i%len(ids)], srv.ID)
		require.False(t, strings.Contains(out, token))
	}
	require.Equal(t, map[string]int{"GET /v1/servers": 1}, e.sim.Sim.Requests())
}
