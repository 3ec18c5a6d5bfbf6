package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// hiddenAttempt is one thing an orchestrator might try on a hidden object,
// and the only answer that keeps it hidden.
type hiddenAttempt struct {
	label    string
	verb     string
	path     string
	body     any
	want     int    // the final answer once faults are retried away
	wantType string // its protocol error type
}

func hiddenAttempts(p planted, ownKey string) []hiddenAttempt {
	var out []hiddenAttempt
	for i, id := range p.HiddenServers {
		sid := strconv.FormatInt(id, 10)
		out = append(out,
			hiddenAttempt{"query server " + sid, http.MethodGet, "/servers/" + sid, nil, http.StatusNotFound, "NotFound"},
			hiddenAttempt{"cancel server " + sid, http.MethodDelete, "/servers/" + sid, nil, http.StatusNotFound, "NotFound"},
			hiddenAttempt{"reboot server " + sid, http.MethodPatch, "/servers/" + sid + "/reboot", nil, http.StatusNotFound, "NotFound"},
			hiddenAttempt{"rename server " + sid, http.MethodPatch, "/servers/" + sid + "/rename", protocol.RenameBody{Name: "taken-over"}, http.StatusNotFound, "NotFound"},
			hiddenAttempt{"reconfigure server " + sid, http.MethodPatch, "/servers/" + sid + "/config", map[string]any{"backups": "enabled"}, http.StatusNotFound, "NotFound"},
			hiddenAttempt{"install key on server " + sid, http.MethodPatch, "/servers/" + sid + "/keys", protocol.KeyBody{ID: "k", Key: p.HiddenKeyPubs[0]}, http.StatusNotImplemented, "NotImplemented"},
			// An order under a hidden server's name must not adopt it.
			hiddenAttempt{"order under the name of server " + sid, http.MethodPost, "/servers",
				protocol.OrderServerBody{Name: fmt.Sprintf("hidden-server-%d", i), Region: "nbg1", Size: "cx23", SSHKey: ownKey}, http.StatusConflict, "Conflict"},
		)
	}
	for i, id := range p.HiddenKeys {
		kid := strconv.FormatInt(id, 10)
		out = append(out,
			hiddenAttempt{"query key " + kid, http.MethodGet, "/keys/" + kid, nil, http.StatusNotFound, "NotFound"},
			hiddenAttempt{"delete key " + kid, http.MethodDelete, "/keys/" + kid, nil, http.StatusNotFound, "NotFound"},
			// Creating the same public key must not hand out the hidden key's id.
			hiddenAttempt{"create the public key of key " + kid, http.MethodPost, "/keys",
				protocol.KeyBody{ID: fmt.Sprintf("mine-%d", i), Key: p.HiddenKeyPubs[i]}, http.StatusConflict, "Conflict"},
		)
	}
	return out
}

// tryHidden makes one attempt on a hidden object, with the orchestrator's
// retries, under fault kind ("" = none): it may not succeed nor reveal
// anything of the hidden objects (secrets).
func tryHidden(ctx context.Context, t *testing.T, w *world, stats *chaosStats, kind hcloudsim.FaultKind, secrets []string, i int, a hiddenAttempt) {
	o := &orchestrator{w: w, stats: stats, rng: rand.New(rand.NewPCG(99, uint64(i)))}
	r, err := o.call(ctx, a.label, a.verb, a.path, a.body, a.want)
	if err != nil && (r.Status == 0 || retryable(r)) && kind != "" {
		// Patience ran out under the fault: still hidden, but
		// check nothing was revealed on the way.
		r = reply{}
	} else if err != nil {
		t.Errorf("fault %q, %s: %v", kind, a.label, err)
	}
	for _, line := range append(o.trace, string(r.Body)) {
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("fault %q, %s: an answer revealed a hidden object: %s", kind, a.label, line)
			}
		}
	}
	if r.Status >= 200 && r.Status < 300 {
		t.Errorf("fault %q, %s: succeeded on a hidden object: %s", kind, a.label, r)
	}
}

// TestNanoboxFalseNeverTouched plants servers and keys labelled
// nanobox=false in three letter cases, then, with no fault and under every
// fault kind (half of all requests), tries everything an orchestrator can
// on them, retrying while the answer allows. Every final answer must keep
// them hidden (NotFound, or Conflict for a name or key they hold), no answer
// may ever succeed or carry their data, no request other than a GET may
// touch their ids, and the simulator must hold them unchanged.
func TestNanoboxFalseNeverTouched(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{Seed: 99})
	fixtures := w.plant(t, rand.New(rand.NewPCG(9, 9)))
	before := w.snapshotOf(t, fixtures)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stats := newChaosStats()
	kinds := faultPasses()
	// A key of Nanobox's own, so the orders below are valid but for the name.
	kb, err := json.Marshal(protocol.KeyBody{ID: "own-key", Key: newPublicKey(t, rand.New(rand.NewPCG(10, 10)), "own")})
	require.NoError(t, err)
	r, err := w.Do(ctx, http.MethodPost, "/keys", w.Auth(), kb)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, r.Status, "create_key: %s", r)
	var own protocol.IDResult
	require.NoError(t, json.Unmarshal(r.Body, &own))
	// What must never come back: the hidden objects' labels and keys.
	secrets := []string{"billing"}
	for _, pub := range fixtures.HiddenKeyPubs {
		secrets = append(secrets, strings.Fields(pub)[1])
	}
	attempts := hiddenAttempts(fixtures, own.ID)
	tried := 0
	for _, kind := range kinds {
		if kind != "" {
			w.Env.Sim.AddFault(hcloudsim.Fault{Kind: kind, Probability: 0.5})
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i, a := range attempts {
			wg.Add(1)
			go func(i int, a hiddenAttempt) {
				defer wg.Done()
				tryHidden(ctx, t, w, stats, kind, secrets, i, a)
				mu.Lock()
				tried++
				mu.Unlock()
			}(i, a)
		}
		wg.Wait()
		w.Env.Sim.ClearFaults()
	}

	assert.Equal(t, before, w.snapshotOf(t, fixtures), "a nanobox=false object changed")
	hidden := map[string][]int64{"server": fixtures.HiddenServers, "ssh_key": fixtures.HiddenKeys}
	reads := 0
	for kind, ids := range hidden {
		for _, r := range touching(w.API.Requests(), kind, ids) {
			if r.Method != http.MethodGet {
				t.Errorf("a %s request touched a nanobox=false %s: %s?%s", r.Method, kind, r.Path, r.Query)
			} else {
				reads++
			}
		}
	}
	// An order must not have adopted a hidden server: every server the
	// adapter created is named as the orchestrator asked, never hidden-*.
	for _, c := range w.Env.Sim.Created() {
		if c.Kind == "server" && !strings.HasPrefix(c.Name, "hidden-") && !strings.HasPrefix(c.Name, "foreign-") {
			t.Errorf("a server was created: %d %q", c.ID, c.Name)
		}
	}
	data, _ := json.Marshal(stats.byStatus)
	t.Logf("safety: %d attempts on %d hidden objects over %d fault kinds; answers that failed by status %s; %d GETs of hidden ids (the label check), 0 writes",
		tried, len(fixtures.HiddenServers)+len(fixtures.HiddenKeys), len(kinds), data, reads)
	require.True(t, w.Healthy(ctx))
}
