package reliability

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

var (
	soak          = flag.Bool("soak", false, "run the chaos soak: 500 lifecycles (unless -chaos.n says otherwise), figures printed")
	chaosN        = flag.Int("chaos.n", 0, "number of chaos lifecycles (default 20, 500 with -soak)")
	chaosSeed     = flag.Int64("chaos.seed", 0, "seed of the injected faults and the client's choices (default: from the clock; always printed)")
	chaosParallel = flag.Int("chaos.parallel", 0, "lifecycles running at once (default: all of them, at most 32)")
	chaosRate     = flag.Float64("chaos.rate", 0.20, "share of API requests that get an injected fault")
	chaosBackups  = flag.Bool("chaos.backups", true, "order every third server with backups enabled")
	chaosHangUps  = flag.Bool("chaos.hangups", true, "abandon about 5% of requests mid-call, as a client with a short timeout would")
	chaosDelay    = flag.Duration("chaos.delay", 0, "the simulator's server boot and action time (0: state changes on the next read)")
	chaosKinds    = flag.String("chaos.kinds", "", "comma-separated fault kinds injected on every route instead of the default eight (e.g. add resource_unavailable,action_error)")
	chaosShimMax  = flag.Int("chaos.shim-max", 24, "the shim's --max-concurrent (CPI processes at once; busier answers 503)")
	chaosReport   = flag.String("chaos.report", "", "also write the figures to this file")
)

// Bounds of the orchestrator's patience.
const (
	maxAttempts = 12  // tries of one call while the answer says ok_to_retry
	maxOrders   = 8   // orders of one server (a failed order is re-ordered under the same name)
	maxPolls    = 300 // queries until a server is active
	maxSettle   = 10  // further queries until an active server has the ordered settings
)

// generalFaultKinds are injected on every route, in equal shares.
var generalFaultKinds = []hcloudsim.FaultKind{
	hcloudsim.FaultRateLimit, hcloudsim.FaultInternal, hcloudsim.FaultBadGateway, hcloudsim.FaultUnavailable,
	hcloudsim.FaultGatewayTimeout, hcloudsim.FaultLocked, hcloudsim.FaultConflict, hcloudsim.FaultDrop,
}

// commitThenFailRoutes are the creates and deletes that get commit_then_fail:
// the change is applied, the client is told it timed out.
var commitThenFailRoutes = []struct{ Method, Route string }{
	{http.MethodPost, "/v1/servers"},
	{http.MethodDelete, "/v1/servers/{id}"},
	{http.MethodPost, "/v1/ssh_keys"},
	{http.MethodDelete, "/v1/ssh_keys/{id}"},
}

// hangUpRate is the share of requests the orchestrator abandons after
// 20-420 ms when hang-ups are on.
const hangUpRate = 0.05

// commitThenFailRate is the probability of commit_then_fail on those routes
// (checked before the general rules).
const commitThenFailRate = 0.10

// chaosFaults are the simulator's rules: commit_then_fail on creates and
// deletes, then every general kind with an equal unconditional share of
// rate. The simulator checks rules in order and the first that fires wins,
// so rule i gets probability q/(1-i*q) with q = rate/len(kinds).
func chaosFaults(rate float64) []hcloudsim.Fault {
	kinds := generalFaultKinds
	if *chaosKinds != "" {
		kinds = nil
		for _, k := range strings.Split(*chaosKinds, ",") {
			kinds = append(kinds, hcloudsim.FaultKind(strings.TrimSpace(k)))
		}
	}
	var fs []hcloudsim.Fault
	for _, r := range commitThenFailRoutes {
		fs = append(fs, hcloudsim.Fault{Method: r.Method, Route: r.Route, Kind: hcloudsim.FaultCommitThenFail, Probability: commitThenFailRate})
	}
	q := rate / float64(len(kinds))
	for i, k := range kinds {
		f := hcloudsim.Fault{Kind: k, Probability: q / (1 - float64(i)*q)}
		if k == hcloudsim.FaultLatency {
			f.Latency = 200 * time.Millisecond
		}
		fs = append(fs, f)
	}
	return fs
}

// chaosStats are the orchestrator's figures.
type chaosStats struct {
	mu         sync.Mutex
	calls      int            // HTTP requests to the shim
	retries    int            // of which repeated a call
	reorders   int            // orders sent again after a failed order
	byStatus   map[int]int    // failed answers by status
	byType     map[string]int // failed answers by protocol error type
	transport  int            // requests that got no HTTP answer
	retriedBy  map[string]int // repeated calls by step (order_server: re-orders)
	overlapped int            // steps sent twice at once
	hungUp     int            // requests the orchestrator abandoned mid-call
}

func (s *chaosStats) record(step string, r reply, err error, retried bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if retried {
		s.retries++
		if s.retriedBy == nil {
			s.retriedBy = map[string]int{}
		}
		s.retriedBy[step]++
	}
	switch {
	case err != nil:
		s.transport++
	case r.Status >= 300:
		s.byStatus[r.Status]++
		if t := r.ErrorType(); t != "" {
			s.byType[t]++
		} else {
			s.byType["(shim)"]++
		}
	}
}

// retryable is the orchestrator's reading of ok_to_retry over HTTP: the
// CPI's own ok_to_retry (X-Cpi-Ok-To-Retry), else the default of the
// protocol error type (X-Cpi-Error-Type), else, for the shim's own answers,
// 503 busy and 504 CPI timeout.
func retryable(r reply) bool {
	switch r.Header.Get("X-Cpi-Ok-To-Retry") {
	case "true":
		return true
	case "false":
		return false
	}
	if t := r.ErrorType(); t != "" {
		return protocol.ErrorType(t).Retryable()
	}
	return r.Status == http.StatusServiceUnavailable || r.Status == http.StatusGatewayTimeout
}

// orchestrator drives one lifecycle the way Nanobox would.
type orchestrator struct {
	w       *world
	stats   *chaosStats
	rng     *rand.Rand
	overlap bool     // send create_key, order_server and cancel_server twice at once
	backups bool     // order with backups enabled, then switch them off
	hangUps bool     // abandon some requests mid-call (hangUpRate)
	abort   bool     // cancel right after the order, while the server boots
	trace   []string // what happened, for the failure message
}

// call sends one request and repeats it while the answer is retryable, with
// a small jittered backoff, until want comes back or patience runs out.
func (o *orchestrator) call(ctx context.Context, step, verb, path string, body any, want int) (reply, error) {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return reply{}, err
		}
	}
	for attempt := 1; ; attempt++ {
		actx, acancel := ctx, context.CancelFunc(func() {})
		if o.hangUps && o.rng.Float64() < hangUpRate {
			// The orchestrator's side gives up on this request early
			// (its own timeout, a dropped connection): the shim must
			// kill the CPI, and the retry must cope with whatever
			// the killed call had already done.
			actx, acancel = context.WithTimeout(ctx, time.Duration(20+o.rng.IntN(400))*time.Millisecond)
		}
		r, err := o.w.Do(actx, verb, path, o.w.Auth(), data)
		hungUp := err != nil && actx.Err() != nil && ctx.Err() == nil
		acancel()
		o.stats.record(step, r, err, attempt > 1)
		if hungUp {
			o.stats.mu.Lock()
			o.stats.hungUp++
			o.stats.mu.Unlock()
		}
		if err == nil && r.Status == want {
			return r, nil
		}
		if err != nil {
			o.trace = append(o.trace, fmt.Sprintf("%s #%d: %v", step, attempt, err))
		} else {
			o.trace = append(o.trace, fmt.Sprintf("%s #%d: %s", step, attempt, r))
		}
		if (err == nil && !retryable(r)) || attempt >= maxAttempts || ctx.Err() != nil {
			if err != nil {
				return r, fmt.Errorf("%s: %w", step, err)
			}
			return r, fmt.Errorf("%s: %s", step, r)
		}
		backoff := time.Duration(5+o.rng.IntN(20)) * time.Millisecond * time.Duration(min(attempt, 8))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
	}
}

// orderServer orders a server, re-ordering under the same name after a
// failed order, and returns its id.
func (o *orchestrator) orderServer(ctx context.Context, name, keyID string) (string, error) {
	body := protocol.OrderServerBody{Name: name, Region: "nbg1", Size: "cx23", SSHKey: keyID}
	if o.backups {
		body.Config = map[string]any{"backups": "enabled"}
	}
	for order := 1; ; order++ {
		r, err := o.call(ctx, "order_server", http.MethodPost, "/servers", body, http.StatusCreated)
		if err == nil {
			var server protocol.IDResult
			if jerr := json.Unmarshal(r.Body, &server); jerr != nil || server.ID == "" {
				return "", fmt.Errorf("order_server answered %s", r)
			}
			return server.ID, nil
		}
		if order >= maxOrders || ctx.Err() != nil {
			return "", err
		}
		o.stats.mu.Lock()
		o.stats.reorders++
		o.stats.mu.Unlock()
	}
}

// createKey registers the public key and returns its id.
func (o *orchestrator) createKey(ctx context.Context, name, pub string) (string, error) {
	r, err := o.call(ctx, "create_key", http.MethodPost, "/keys", protocol.KeyBody{ID: name, Key: pub}, http.StatusCreated)
	if err != nil {
		return "", err
	}
	var key protocol.IDResult
	if err := json.Unmarshal(r.Body, &key); err != nil || key.ID == "" {
		return "", fmt.Errorf("create_key answered %s", r)
	}
	return key.ID, nil
}

// maybeTwice runs step once, or, when the lifecycle overlaps its calls, on
// this orchestrator and a twin at the same time, as an orchestrator does
// whose first request timed out on its side while the shim still worked on
// it. Both must come back with the same answer.
func (o *orchestrator) maybeTwice(step string, fn func(*orchestrator) (string, error)) (string, error) {
	if !o.overlap {
		return fn(o)
	}
	twin := &orchestrator{w: o.w, stats: o.stats, rng: rand.New(rand.NewPCG(o.rng.Uint64(), o.rng.Uint64()))}
	var wg sync.WaitGroup
	var twinID string
	var twinErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		twinID, twinErr = fn(twin)
	}()
	id, err := fn(o)
	wg.Wait()
	o.trace = append(o.trace, prefixed("twin ", twin.trace)...)
	o.stats.mu.Lock()
	o.stats.overlapped++
	o.stats.mu.Unlock()
	switch {
	case err != nil:
		return "", err
	case twinErr != nil:
		return "", fmt.Errorf("%s sent twice: the second failed: %w", step, twinErr)
	case id != twinID:
		return "", fmt.Errorf("%s sent twice at once answered two different ids: %q and %q", step, id, twinID)
	}
	return id, nil
}

func prefixed(p string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = p + l
	}
	return out
}

// lifecycle: create key → order → poll until active → reboot → rename →
// update config (checked by two queries) → cancel → delete key.
func (o *orchestrator) lifecycle(ctx context.Context, t testing.TB, name string) error {
	pub := newPublicKey(t, o.rng, name)
	keyID, err := o.maybeTwice("create_key", func(o *orchestrator) (string, error) { return o.createKey(ctx, name, pub) })
	if err != nil {
		return err
	}
	key := protocol.IDResult{ID: keyID}
	serverID, err := o.maybeTwice("order_server", func(o *orchestrator) (string, error) { return o.orderServer(ctx, name, key.ID) })
	if err != nil {
		return err
	}
	server := protocol.IDResult{ID: serverID}
	var r reply

	if o.abort {
		// The user changed their mind: cancel while the server boots.
		if _, err := o.call(ctx, "cancel_server", http.MethodDelete, "/servers/"+server.ID, nil, http.StatusOK); err != nil {
			return err
		}
		_, err := o.call(ctx, "delete_key", http.MethodDelete, "/keys/"+key.ID, nil, http.StatusOK)
		return err
	}

	for poll := 1; ; poll++ {
		r, err = o.call(ctx, "query_server", http.MethodGet, "/servers/"+server.ID, nil, http.StatusCreated)
		if err != nil {
			return err
		}
		var s protocol.Server
		if err := json.Unmarshal(r.Body, &s); err != nil {
			return fmt.Errorf("query_server answered %s", r)
		}
		if s.ID != server.ID || s.Name != name {
			return fmt.Errorf("query_server answered server %q named %q, want %q named %q", s.ID, s.Name, server.ID, name)
		}
		if s.Status == "active" {
			// Settings that can only be applied to a running server may
			// converge over the next few queries.
			want := map[bool]string{true: "enabled", false: "disabled"}[o.backups]
			for settle := 0; s.Config["backups"] != want; settle++ {
				if settle >= maxSettle {
					return fmt.Errorf("server %s was ordered with backups %s but has backups %v after %d queries since it is active",
						server.ID, want, s.Config["backups"], settle)
				}
				if r, err = o.call(ctx, "query_server", http.MethodGet, "/servers/"+server.ID, nil, http.StatusCreated); err != nil {
					return err
				}
				if err := json.Unmarshal(r.Body, &s); err != nil {
					return fmt.Errorf("query_server answered %s", r)
				}
			}
			break
		}
		if poll >= maxPolls {
			return fmt.Errorf("server %s not active after %d polls (status %q)", server.ID, poll, s.Status)
		}
	}

	if _, err := o.call(ctx, "reboot_server", http.MethodPatch, "/servers/"+server.ID+"/reboot", nil, http.StatusOK); err != nil {
		return err
	}
	if _, err := o.call(ctx, "rename_server", http.MethodPatch, "/servers/"+server.ID+"/rename",
		protocol.RenameBody{Name: name + "-renamed"}, http.StatusOK); err != nil {
		return err
	}
	newBackups := map[bool]string{true: "disabled", false: "enabled"}[o.backups]
	if _, err := o.call(ctx, "update_config", http.MethodPatch, "/servers/"+server.ID+"/config",
		map[string]any{"backups": newBackups}, http.StatusOK); err != nil {
		return err
	}
	// The change holds: later queries report it (and do not undo it).
	for check := 0; check < 2; check++ {
		r, err = o.call(ctx, "query_server", http.MethodGet, "/servers/"+server.ID, nil, http.StatusCreated)
		if err != nil {
			return err
		}
		var s protocol.Server
		if err := json.Unmarshal(r.Body, &s); err != nil {
			return fmt.Errorf("query_server answered %s", r)
		}
		if s.Config["backups"] != newBackups {
			return fmt.Errorf("update_config set backups %s, query_server #%d after it reports %v", newBackups, check+1, s.Config["backups"])
		}
	}
	if _, err := o.maybeTwice("cancel_server", func(o *orchestrator) (string, error) {
		_, err := o.call(ctx, "cancel_server", http.MethodDelete, "/servers/"+server.ID, nil, http.StatusOK)
		return "", err
	}); err != nil {
		return err
	}
	if _, err := o.call(ctx, "delete_key", http.MethodDelete, "/keys/"+key.ID, nil, http.StatusOK); err != nil {
		return err
	}
	return nil
}

// TestChaosLifecycles runs N concurrent Nanobox lifecycles through the shim
// binary, the CPI binary and the simulator while the simulator injects
// faults into about 20% of requests, then checks: every lifecycle reached
// its end; no server or key name was ever created twice; nothing is left
// behind; no CPI process is alive; the shim's open files and memory are back
// near their baseline; the planted nanobox=false and foreign objects were
// never touched.
func TestChaosLifecycles(t *testing.T) {
	t.Parallel()
	n := *chaosN
	if n <= 0 {
		n = 20
		if *soak {
			n = 500
		}
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_007
	}
	parallel := *chaosParallel
	if parallel <= 0 {
		parallel = min(n, 32)
	}
	t.Logf("chaos: %d lifecycles, %d at once, fault rate %.0f%%, seed %d (replay: -chaos.seed %d)", n, parallel, *chaosRate*100, seed, seed)

	w := newWorld(t, worldOptions{Seed: seed, MaxConcurrent: *chaosShimMax,
		Delays: hcloudsim.Delays{Initializing: *chaosDelay, Starting: *chaosDelay / 2, Action: *chaosDelay / 2}})
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	fixtures := w.plant(t, rng)
	before := w.snapshotOf(t, fixtures)

	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	// Baseline after a warm-up call, with no fault rules yet.
	r, err := w.Do(ctx, http.MethodGet, "/meta", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status, "meta: %s", r)
	w.Client.CloseIdleConnections()
	var base procStats
	require.True(t, eventually(10*time.Second, func() bool {
		base, err = readProcStats(w.Shim.PID())
		return err == nil
	}))

	for _, f := range chaosFaults(*chaosRate) {
		require.NoError(t, f.Validate())
		w.Env.Sim.AddFault(f)
	}
	createdBefore := len(w.Env.Sim.Created())
	start := time.Now()

	stats := &chaosStats{byStatus: map[int]int{}, byType: map[string]int{}}
	prefix := fmt.Sprintf("chaos-%d", seed)
	var mu sync.Mutex
	var failures []string
	var peak procStats
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			// Every fourth lifecycle sends its creates and its cancel
			// twice at once; every third orders with backups; every
			// fifth cancels its server right after the order.
			o := &orchestrator{w: w, stats: stats, rng: rand.New(rand.NewPCG(uint64(seed), uint64(i)+2)),
				overlap: i%4 == 1, backups: *chaosBackups && i%3 == 2, hangUps: *chaosHangUps, abort: i%5 == 3}
			name := fmt.Sprintf("%s-%d", prefix, i)
			if err := o.lifecycle(ctx, t, name); err != nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s: %v\n    trace: %s", name, err, strings.Join(o.trace, "\n           ")))
				mu.Unlock()
			}
			if st, err := readProcStats(w.Shim.PID()); err == nil {
				mu.Lock()
				peak.RSSKiB = max(peak.RSSKiB, st.RSSKiB)
				peak.FDs = max(peak.FDs, st.FDs)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	w.Env.Sim.ClearFaults()
	injected := w.Env.Sim.FaultsInjected()

	// Every lifecycle reached its end state.
	sort.Strings(failures)
	assert.Empty(t, failures, "%d of %d lifecycles did not finish (seed %d)", len(failures), n, seed)

	// No server or key was ever created twice.
	created := w.Env.Sim.Created()[createdBefore:]
	names := map[string]map[string]int{"server": {}, "ssh_key": {}, "network": {}}
	for _, c := range created {
		if names[c.Kind] != nil {
			names[c.Kind][c.Name]++
		}
	}
	duplicates := 0
	for kind, byName := range names {
		for name, count := range byName {
			if count > 1 {
				duplicates += count - 1
				t.Errorf("duplicate: %s %q was created %d times", kind, name, count)
			}
		}
	}
	assert.Len(t, names["server"], n-countFailedBefore(failures, "order_server", "create_key"), "servers created")

	// Nothing left behind but the shared private network and the plants.
	planted := fixtures.All()
	isPlanted := func(kind string, id int64) bool {
		for _, p := range planted[kind] {
			if p == id {
				return true
			}
		}
		return false
	}
	st := w.Env.Sim.Snapshot()
	orphans := 0
	for _, s := range st.Servers {
		if !isPlanted("server", s.ID) {
			orphans++
			t.Errorf("orphan: server %d %q (labels %v) is still there", s.ID, s.Name, s.Labels)
		}
	}
	for _, k := range st.SSHKeys {
		if !isPlanted("ssh_key", k.ID) {
			orphans++
			t.Errorf("orphan: SSH key %d %q is still there", k.ID, k.Name)
		}
	}

	// The planted objects are unchanged and no request touched them.
	assert.Equal(t, before, w.snapshotOf(t, fixtures), "a planted object changed")
	apiLog := w.API.Requests()
	touched := 0
	for kind, ids := range planted {
		for _, r := range touching(apiLog, kind, ids) {
			touched++
			t.Errorf("a request touched a planted %s: %s %s?%s", kind, r.Method, r.Path, r.Query)
		}
	}

	// No CPI process is alive.
	assert.True(t, eventually(10*time.Second, func() bool { return len(livePIDsOf(w.CPI)) == 0 }),
		"CPI processes still alive: %v", livePIDsOf(w.CPI))

	// The shim's open files and memory are back near their baseline.
	w.Client.CloseIdleConnections()
	var after procStats
	fdsBack := eventually(10*time.Second, func() bool {
		after, err = readProcStats(w.Shim.PID())
		return err == nil && after.FDs <= base.FDs+2
	})
	assert.True(t, fdsBack, "shim open fds: %d at baseline, %d after the run", base.FDs, after.FDs)
	const rssSlackKiB = 64 << 10
	assert.LessOrEqual(t, after.RSSKiB, base.RSSKiB+rssSlackKiB, "shim RSS: %d KiB at baseline, %d KiB after the run", base.RSSKiB, after.RSSKiB)
	assert.True(t, w.Healthy(ctx), "the shim no longer answers /healthz")

	// The figures.
	var b strings.Builder
	fmt.Fprintf(&b, "chaos run: seed %d, %d lifecycles (%d at once), %s wall time\n", seed, n, parallel, elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "  lifecycles finished:  %d of %d\n", n-len(failures), n)
	fmt.Fprintf(&b, "  duplicates:           %d (servers created: %d, SSH keys created: %d, networks created: %d)\n",
		duplicates, len(names["server"]), len(names["ssh_key"]), len(names["network"]))
	fmt.Fprintf(&b, "  orphans:              %d\n", orphans)
	fmt.Fprintf(&b, "  planted objects touched: %d (of %d)\n", touched, len(planted["server"])+len(planted["ssh_key"]))
	fmt.Fprintf(&b, "  Hetzner API requests: %d (via the recording proxy), simulator total %d\n", len(apiLog), w.Env.Sim.TotalRequests())
	totalFaults := 0
	var kinds []string
	for k, v := range injected {
		totalFaults += v
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "  faults injected:      %d (%s)\n", totalFaults, strings.Join(kinds, " "))
	stats.mu.Lock()
	fmt.Fprintf(&b, "  shim requests:        %d, of which retries %d (by step %v), orders re-sent after giving up %d, no HTTP answer %d\n",
		stats.calls, stats.retries, stats.retriedBy, stats.reorders, stats.transport)
	fmt.Fprintf(&b, "  requests abandoned by the orchestrator mid-call: %d (about %.0f%% of requests)\n", stats.hungUp, hangUpRate*100)
	fmt.Fprintf(&b, "  steps sent twice at once: %d (create_key, order_server, cancel_server of every 4th lifecycle)\n", stats.overlapped)
	fmt.Fprintf(&b, "  failed answers:       by status %v, by type %v\n", stats.byStatus, stats.byType)
	stats.mu.Unlock()
	fmt.Fprintf(&b, "  shim RSS:             %d KiB baseline, %d KiB peak, %d KiB after\n", base.RSSKiB, peak.RSSKiB, after.RSSKiB)
	fmt.Fprintf(&b, "  shim open fds:        %d baseline, %d peak, %d after\n", base.FDs, peak.FDs, after.FDs)
	fmt.Fprintf(&b, "  CPI processes alive:  %d\n", len(livePIDsOf(w.CPI)))
	t.Log("\n" + b.String())
	report := *chaosReport
	if report == "" && *soak {
		report = filepath.Join(os.TempDir(), "nanobox-soak-report.txt")
	}
	if report != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(report), 0o755))
		require.NoError(t, os.WriteFile(report, []byte(b.String()), 0o644))
	}
	if *soak {
		// Shown by go test -v (a passing package's output is hidden without it).
		fmt.Print(b.String())
		fmt.Println("  report written to", report)
	}
}

// countFailedBefore counts failures that ended before a server could exist.
func countFailedBefore(failures []string, steps ...string) int {
	n := 0
	for _, f := range failures {
		_, rest, _ := strings.Cut(f, ": ")
		for _, s := range steps {
			if strings.HasPrefix(rest, s+":") {
				n++
				break
			}
		}
	}
	return n
}
