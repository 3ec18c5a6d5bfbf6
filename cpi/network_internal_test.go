package cpi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// fakeNetworkAPI serves just what ensureNetwork needs for a network that
// exists without a subnet in the wanted zone (the simulator has no
// add_subnet yet): the lookup by name, add_subnet, and the action poll.
type fakeNetworkAPI struct {
	mu       sync.Mutex
	subnets  []map[string]any
	added    []map[string]any
	requests []string
}

func (f *fakeNetworkAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	action := map[string]any{"id": 99, "command": "add_subnet", "status": "success", "progress": 100,
		"started": "2026-11-22T10:00:00Z", "finished": "2026-11-22T10:00:01Z", "resources": []any{}, "error": nil}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/networks":
		_ = json.NewEncoder(w).Encode(map[string]any{
			"networks": []any{map[string]any{
				"id": 7, "name": "nanobox", "ip_range": "10.0.0.0/16", "subnets": f.subnets, "routes": []any{},
				"servers": []any{}, "labels": map[string]string{"nanobox": "true"}, "created": "2026-11-22T10:00:00Z",
				"protection": map[string]bool{"delete": false}, "load_balancers": []any{}, "expose_routes_to_vswitch": false,
			}},
			"meta": map[string]any{"pagination": map[string]any{"page": 1, "per_page": 50, "previous_page": nil, "next_page": nil, "last_page": 1, "total_entries": 1}},
		})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/networks/7/actions/add_subnet":
		body, _ := io.ReadAll(r.Body)
		var sub map[string]any
		_ = json.Unmarshal(body, &sub)
		f.added = append(f.added, sub)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"action": action})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/actions":
		_ = json.NewEncoder(w).Encode(map[string]any{"actions": []any{action},
			"meta": map[string]any{"pagination": map[string]any{"page": 1, "per_page": 25, "last_page": 1, "total_entries": 1}}})
	default:
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": "not_found", "message": "no route"}})
	}
}

func fakeHetzner(t *testing.T, api http.Handler) *Hetzner {
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	cfg := config.Default()
	log := logrus.New()
	log.SetOutput(io.Discard)
	client := hcloud.NewClient(hcloud.WithToken("t"), hcloud.WithEndpoint(srv.URL+"/v1"),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: func(int) time.Duration { return 0 }, MaxRetries: 1}),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(time.Millisecond)}))
	return &Hetzner{client: client, cfg: cfg, log: log, state: newStateStore(t.TempDir(), srv.URL, "t")}
}

func TestEnsureNetworkAddsTheZonesSubnetToAnExistingNetwork(t *testing.T) {
	api := &fakeNetworkAPI{subnets: []map[string]any{
		{"type": "cloud", "ip_range": "10.0.0.0/18", "network_zone": "eu-central", "gateway": "10.0.0.1"},
	}}
	h := fakeHetzner(t, api)
	id, fromCache, err := h.ensureNetwork(context.Background(), "us-west")
	require.NoError(t, err)
	require.Equal(t, int64(7), id)
	require.False(t, fromCache)
	require.Equal(t, []map[string]any{{"type": "cloud", "ip_range": "10.0.128.0/18", "network_zone": "us-west"}}, api.added)

	// Cached now, for both zones: no request at all.
	api.requests = nil
	for _, zone := range []string{"us-west", "eu-central"} {
		id, fromCache, err = h.ensureNetwork(context.Background(), zone)
		require.NoError(t, err)
		require.Equal(t, int64(7), id)
		require.True(t, fromCache)
	}
	require.Empty(t, api.requests)
}

func TestEnsureNetworkRefusesWhenTheZonesRangeIsTaken(t *testing.T) {
	api := &fakeNetworkAPI{subnets: []map[string]any{
		{"type": "cloud", "ip_range": "10.0.64.0/20", "network_zone": "eu-central", "gateway": "10.0.64.1"},
	}}
	h := fakeHetzner(t, api)
	_, _, err := h.ensureNetwork(context.Background(), "us-east")
	var pe *protocol.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, protocol.Conflict, pe.Type)
	require.Contains(t, pe.Message, "10.0.64.0/18")
	require.Empty(t, api.added, "nothing changed")
}
