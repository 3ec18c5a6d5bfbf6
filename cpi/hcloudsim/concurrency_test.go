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
)

func idOrName(s string) schema.IDOrName { return schema.IDOrName{Name: s} }

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
