package hcloudsim

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func idOrName(s string) schema.IDOrName { return schema.IDOrName{Name: s} }

// TestNoPanicOnHostileInput throws malformed bodies, IDs and query strings at every route: each answer is
// a JSON body with a status below 500, and the simulator still works afterwards.
func TestNoPanicOnHostileInput(t *testing.T) {
	sim := New(Options{Token: "T", RateLimit: 1 << 30})
	do := func(method, target, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/", strings.NewReader(body))
		req.URL.Path = target
		if i := strings.IndexByte(target, '?'); i >= 0 {
			req.URL.Path, req.URL.RawQuery = target[:i], target[i+1:]
		}
		req.Header.Set("Authorization", "Bearer T")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		return rec
	}
	// A live server and key, so bodies reach deep validation.
	short := func(b string) string { return b[:min(len(b), 40)] }
	rec := do("POST", "/v1/servers", `{"name":"x","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	paths := []string{
		"/v1/servers", "/v1/servers/1001", "/v1/ssh_keys", "/v1/ssh_keys/1", "/v1/networks", "/v1/networks/1",
		"/v1/firewalls", "/v1/firewalls/1", "/v1/placement_groups", "/v1/placement_groups/1", "/v1/actions",
		"/v1/actions/1", "/v1/servers/1001/actions", "/v1/servers/1001/actions/1", "/v1/servers/actions/1",
		"/v1/images", "/v1/locations/1", "/v1/server_types/1", "/v1/datacenters/1", "/v1/pricing",
		"/v1/firewalls/1/actions/apply_to_resources",
	}
	for name := range serverActions {
		paths = append(paths, "/v1/servers/1001/actions/"+name)
	}
	ids := []string{"0", "-1", "abc", "99999999999999999999", "1.5", "%00", ""}
	bodies := []string{"", "{", "null", "[]", "42", `"x"`, `{"name":null}`, `{"name":123}`, `{"labels":"x"}`,
		`{"name":"a","server_type":{},"image":[]}`, `{"network":"x"}`, `{"apply_to":[{"type":"server"}]}`,
		`{"subnets":[{"type":"cloud","ip_range":"zzz"}],"ip_range":"10.0.0.0/8","name":"n"}`,
		`{"image":null}`, `{"placement_group":-5}`, `{"delete":"yes"}`, `{"rules":[{"direction":"in"}],"name":"f"}`,
		`{"name":"k","public_key":"ssh-ed25519 AAAA"}`, strings.Repeat("[", 10000), "\xff\xfe"}
	queries := []string{"", "?page=-1", "?per_page=0", "?per_page=999999999999999999999", "?page=99999999999",
		"?sort=", "?sort=id:sideways", "?label_selector=(((", "?label_selector=a%20in%20(", "?status=bogus",
		"?id=0", "?id=abc", "?name=%ff", "?label_selector=!", "?fingerprint=x&name=y"}
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH"}
	for _, p := range paths {
		variants := []string{p}
		for _, id := range ids {
			variants = append(variants, strings.Replace(p, "1001", id, 1))
		}
		for _, v := range variants {
			for _, m := range methods {
				for _, b := range bodies {
					rec := do(m, v, b)
					assert.Less(t, rec.Code, 500, "%s %s %q", m, v, short(b))
					assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), "%s %s %q", m, v, short(b))
				}
				for _, q := range queries {
					rec := do(m, v+q, "")
					assert.Less(t, rec.Code, 500, "%s %s%s", m, v, q)
				}
			}
		}
	}
	rec = do("POST", "/v1/servers", `{"name":"after","server_type":"cx23","image":"ubuntu-24.04","location":"nbg1"}`)
	assert.Equal(t, http.StatusCreated, rec.Code, "still works: %s", rec.Body.String())
}

// TestConcurrentClients hammers one simulator from many goroutines (run with -race): every request is
// counted, every 201 is exactly one recorded creation and one live server.
func TestConcurrentClients(t *testing.T) {
	sim := New(Options{Token: "T"})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sim.AddFault(Fault{Method: http.MethodGet, Kind: FaultConflict, Probability: 0.2})
	var wg sync.WaitGroup
	var mu sync.Mutex
	createdOK := 0
	const workers, each = 8, 15
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Names collide across workers on purpose: uniqueness must hold under concurrency.
				body := fmt.Sprintf(`{"name":"s-%d-%d","server_type":"cx23","image":"ubuntu-24.04","location":"fsn1"}`, w%4, i)
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/servers", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer T")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					if resp.StatusCode == http.StatusCreated {
						mu.Lock()
						createdOK++
						mu.Unlock()
					}
					_ = resp.Body.Close()
				}
				req, _ = http.NewRequest(http.MethodGet, srv.URL+"/v1/servers?per_page=50", nil)
				req.Header.Set("Authorization", "Bearer T")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					_ = resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, workers*each*2, sim.TotalRequests())
	assert.Equal(t, 4*each, createdOK, "each name exactly once")
	assert.Len(t, sim.Created(), createdOK)
	assert.Len(t, sim.Snapshot().Servers, createdOK)
	assert.Positive(t, sim.FaultsInjected()[FaultConflict])
}
