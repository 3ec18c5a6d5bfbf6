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
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
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
	chaosRaces    = flag.Bool("chaos.races", true, "the race kinds: capacity gone between commit and answer, objects relabelled Nanobox=false mid-run, config racing a converging query, back-to-back changes")
	chaosShimKill = flag.Int("chaos.shim-kills", -1, "times the shim is killed with SIGKILL mid-run and restarted (default: 1, 3 with -soak; 0 with -chaos.races=false)")
	chaosActDelay = flag.Duration("chaos.action-delay", 50*time.Millisecond, "how long a server action (reboot, enable_backup, ...) holds its server locked, unless -chaos.delay is set")
)

// capacityGoneRate is the probability of commit_then_capacity_gone on a
// create (checked first): the create is carried out, the size then sells
// out in that location (until the run's restorer brings it back), the
// answer is 504.
const capacityGoneRate = 0.08

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
	if *chaosRaces {
		fs = append(fs, hcloudsim.Fault{Method: http.MethodPost, Route: "/v1/servers", Kind: hcloudsim.FaultCommitThenCapacityGone, Probability: capacityGoneRate})
	}
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
	locked409  int            // answers 409 that say the server was locked
	races      int            // update_config sent while a query converged backups
	backToBack int            // lifecycles that sent their changes back to back
	shimKills  int            // times the shim was killed with SIGKILL and restarted
	lost       []string       // acknowledged changes found undone
	relabelled []relabelled   // objects their owner labelled Nanobox=false mid-run
}

// newChaosStats is empty statistics, ready to count.
func newChaosStats() *chaosStats {
	return &chaosStats{byStatus: map[int]int{}, byType: map[string]int{}}
}

// relabelled is an object the chaos run's owner labelled Nanobox=false
// mid-run; after mark (an index into the API log) no write may name it.
type relabelled struct {
	kind string
	id   int64
	mark int
}

func (s *chaosStats) addLost(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost = append(s.lost, fmt.Sprintf(format, args...))
}

func (s *chaosStats) bump(n *int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*n++
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
		if r.Status == http.StatusConflict && strings.Contains(strings.Join(r.Messages(), " "), "locked") {
			s.locked409++
		}
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
	race    bool     // switch the ordered backups off while a query converges them
	relabel bool     // the owner labels the server and key Nanobox=false once it is active
	burst   bool     // send the changes back to back: reboot, reboot, config, rename, reboot
	trace   []string // what happened, for the failure message

	wantBackups bool // the last acknowledged backups wish
}

// twin is a second orchestrator of the same world and statistics, with
// jitter of its own: a client sending at the same time as o.
func (o *orchestrator) twin() *orchestrator {
	return &orchestrator{w: o.w, stats: o.stats, rng: rand.New(rand.NewPCG(o.rng.Uint64(), o.rng.Uint64()))}
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
	twin := o.twin()
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
// update config (checked by two queries) → cancel → delete key, with the
// variants the orchestrator's flags choose.
func (o *orchestrator) lifecycle(ctx context.Context, t testing.TB, name string) error {
	pub := newPublicKey(t, o.rng, name)
	keyID, err := o.maybeTwice("create_key", func(o *orchestrator) (string, error) { return o.createKey(ctx, name, pub) })
	if err != nil {
		return err
	}
	serverID, err := o.maybeTwice("order_server", func(o *orchestrator) (string, error) { return o.orderServer(ctx, name, keyID) })
	if err != nil {
		return err
	}
	o.wantBackups = o.backups
	if o.abort {
		// The user changed their mind: cancel while the server boots.
		return o.cancelAndDeleteKey(ctx, serverID, keyID, false)
	}
	if o.race {
		if err := o.raceConfigWithQuery(ctx, serverID); err != nil {
			return err
		}
	}
	if err := o.pollUntilActive(ctx, serverID, name); err != nil {
		return err
	}
	if o.relabel {
		return o.relabelledMidRun(ctx, serverID, keyID)
	}
	if err := o.changes(ctx, serverID, name); err != nil {
		return err
	}
	return o.cancelAndDeleteKey(ctx, serverID, keyID, o.overlap)
}

// query asks for a server once (with the orchestrator's retries).
func (o *orchestrator) query(ctx context.Context, serverID string) (protocol.Server, error) {
	var s protocol.Server
	r, err := o.call(ctx, "query_server", http.MethodGet, "/servers/"+serverID, nil, http.StatusCreated)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(r.Body, &s); err != nil {
		return s, fmt.Errorf("query_server answered %s", r)
	}
	return s, nil
}

// pollUntilActive polls until the server is active and has the backups
// last acknowledged (settings applied to a running server may converge
// over a few more queries).
func (o *orchestrator) pollUntilActive(ctx context.Context, serverID, name string) error {
	for poll := 1; ; poll++ {
		s, err := o.query(ctx, serverID)
		if err != nil {
			return err
		}
		if s.ID != serverID || s.Name != name {
			return fmt.Errorf("query_server answered server %q named %q, want %q named %q", s.ID, s.Name, serverID, name)
		}
		if s.Status == "active" {
			want := backupsSetting(o.wantBackups)
			for settle := 0; s.Config["backups"] != want; settle++ {
				if settle >= maxSettle {
					return fmt.Errorf("server %s should have backups %s but has %v after %d queries since it is active",
						serverID, want, s.Config["backups"], settle)
				}
				if s, err = o.query(ctx, serverID); err != nil {
					return err
				}
			}
			return nil
		}
		if poll >= maxPolls {
			return fmt.Errorf("server %s not active after %d polls (status %q)", serverID, poll, s.Status)
		}
	}
}

func backupsSetting(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}

// raceConfigWithQuery: right after an order with backups,
// while the server's first queries enable them, update_config switches
// them off. Once both calls have answered, the server must have backups
// off: the acknowledged change, not the convergence, wins.
func (o *orchestrator) raceConfigWithQuery(ctx context.Context, serverID string) error {
	twin := o.twin()
	done := make(chan error, 1)
	go func() {
		_, err := twin.query(ctx, serverID)
		done <- err
	}()
	_, err := o.call(ctx, "update_config", http.MethodPatch, "/servers/"+serverID+"/config", map[string]any{"backups": "disabled"}, http.StatusOK)
	qerr := <-done
	o.trace = append(o.trace, prefixed("racing query ", twin.trace)...)
	if err != nil {
		return err
	}
	if qerr != nil {
		return qerr
	}
	o.wantBackups = false
	o.stats.bump(&o.stats.races)
	if on, found := o.w.backupsOn(serverID); found && on {
		o.stats.addLost("server %s: update_config answered backups disabled while a query converged; afterwards backups are on", serverID)
	}
	return nil
}

// backupsOn reports whether the simulator's server has backups on.
func (w *world) backupsOn(serverID string) (on, found bool) {
	for _, s := range w.Env.Sim.Snapshot().Servers {
		if strconv.FormatInt(s.ID, 10) == serverID {
			return s.BackupWindow != nil, true
		}
	}
	return false, false
}

// changes sends reboot, rename and update_config one after the other
// (back to back, with two more reboots, in a burst lifecycle: each may
// meet the previous one's action), then checks that two queries report the
// config change and the simulator holds it.
func (o *orchestrator) changes(ctx context.Context, serverID, name string) error {
	flip := !o.wantBackups
	type step struct {
		name, path string
		body       any
	}
	reboot := step{"reboot_server", "/servers/" + serverID + "/reboot", nil}
	rename := step{"rename_server", "/servers/" + serverID + "/rename", protocol.RenameBody{Name: name + "-renamed"}}
	config := step{"update_config", "/servers/" + serverID + "/config", map[string]any{"backups": backupsSetting(flip)}}
	steps := []step{reboot, rename, config}
	if o.burst {
		steps = []step{reboot, reboot, config, rename, reboot}
		o.stats.bump(&o.stats.backToBack)
	}
	for _, st := range steps {
		if _, err := o.call(ctx, st.name, http.MethodPatch, st.path, st.body, http.StatusOK); err != nil {
			return err
		}
	}
	o.wantBackups = flip
	// The change holds: later queries report it (and do not undo it).
	for check := 0; check < 2; check++ {
		s, err := o.query(ctx, serverID)
		if err != nil {
			return err
		}
		if s.Config["backups"] != backupsSetting(flip) {
			o.stats.addLost("server %s: update_config set backups %s, query_server #%d after it reports %v", serverID, backupsSetting(flip), check+1, s.Config["backups"])
			return fmt.Errorf("update_config set backups %s, query_server #%d after it reports %v", backupsSetting(flip), check+1, s.Config["backups"])
		}
		if s.Name != name+"-renamed" || s.Status != "active" {
			return fmt.Errorf("after rename_server and update_config, query_server #%d reports %q %q, want %q active", check+1, s.Name, s.Status, name+"-renamed")
		}
	}
	if on, found := o.w.backupsOn(serverID); found && on != flip {
		o.stats.addLost("server %s: update_config set backups %s; the simulator's server has them %v", serverID, backupsSetting(flip), on)
	}
	return nil
}

// relabelledMidRun: the owner labels the active server and its
// key Nanobox=false in the console. From then on they do not exist for
// Nanobox: every change answers 404 and no write may name them.
func (o *orchestrator) relabelledMidRun(ctx context.Context, serverID, keyID string) error {
	sid, _ := strconv.ParseInt(serverID, 10, 64)
	kid, _ := strconv.ParseInt(keyID, 10, 64)
	mark := len(o.w.API.Requests())
	owner := map[string]string{"Nanobox": "false", "team": "ops"}
	if err := o.w.Env.Sim.SetLabels("server", sid, owner); err != nil {
		return fmt.Errorf("relabelling server %s: %w", serverID, err)
	}
	if err := o.w.Env.Sim.SetLabels("ssh_key", kid, owner); err != nil {
		return fmt.Errorf("relabelling key %s: %w", keyID, err)
	}
	o.stats.mu.Lock()
	o.stats.relabelled = append(o.stats.relabelled, relabelled{"server", sid, mark}, relabelled{"ssh_key", kid, mark})
	o.stats.mu.Unlock()
	for _, st := range []struct{ step, verb, path string }{
		{"reboot_server", http.MethodPatch, "/servers/" + serverID + "/reboot"},
		{"update_config", http.MethodPatch, "/servers/" + serverID + "/config"},
		{"cancel_server", http.MethodDelete, "/servers/" + serverID},
		{"delete_key", http.MethodDelete, "/keys/" + keyID},
	} {
		var body any
		if st.step == "update_config" {
			body = map[string]any{"backups": backupsSetting(!o.wantBackups)}
		}
		if _, err := o.call(ctx, st.step, st.verb, st.path, body, http.StatusNotFound); err != nil {
			return fmt.Errorf("after the owner labelled it Nanobox=false: %w", err)
		}
	}
	return nil
}

// cancelAndDeleteKey cancels the server (twice at once when twice) and
// deletes the key.
func (o *orchestrator) cancelAndDeleteKey(ctx context.Context, serverID, keyID string, twice bool) error {
	cancel := func(o *orchestrator) (string, error) {
		_, err := o.call(ctx, "cancel_server", http.MethodDelete, "/servers/"+serverID, nil, http.StatusOK)
		return "", err
	}
	var err error
	if twice {
		_, err = o.maybeTwice("cancel_server", cancel)
	} else {
		_, err = cancel(o)
	}
	if err != nil {
		return err
	}
	_, err = o.call(ctx, "delete_key", http.MethodDelete, "/keys/"+keyID, nil, http.StatusOK)
	return err
}

// TestChaosLifecycles runs N concurrent Nanobox lifecycles through the shim
// binary, the CPI binary and the simulator while the simulator injects
// faults into about 20% of requests, then checks: every lifecycle reached
// its end; no server or key name was ever created twice; nothing is left
// behind; no acknowledged change was undone; no object labelled
// Nanobox=false (planted, or relabelled by its owner mid-run) was touched;
// no CPI process is alive; the shim's open files and memory are back near
// their baseline.
func TestChaosLifecycles(t *testing.T) {
	t.Parallel()
	run := newChaosRun(t)
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	run.baseline(ctx)
	run.lifecycles(ctx)
	run.check(ctx)
	run.report()
}

// chaosRun is one run of TestChaosLifecycles: its settings, world and figures.
type chaosRun struct {
	t                   *testing.T
	n, parallel         int
	seed                int64
	w                   *world
	fixtures            planted
	before              string // the planted objects before the run
	base, peak, after   procStats
	createdBefore       int
	elapsed             time.Duration
	stats               *chaosStats
	failures            []string
	injected            map[hcloudsim.FaultKind]int
	duplicates, orphans int
	touched, relabelled int
	created             map[string]map[string]int
	apiRequests         int
}

func newChaosRun(t *testing.T) *chaosRun {
	r := &chaosRun{t: t, n: *chaosN, seed: *chaosSeed, parallel: *chaosParallel, stats: newChaosStats()}
	if r.n <= 0 {
		r.n = 20
		if *soak {
			r.n = 500
		}
	}
	if r.seed == 0 {
		r.seed = time.Now().UnixNano() % 1_000_000_007
	}
	if r.parallel <= 0 {
		r.parallel = min(r.n, 32)
	}
	t.Logf("chaos: %d lifecycles, %d at once, fault rate %.0f%%, seed %d (replay: -chaos.seed %d)", r.n, r.parallel, *chaosRate*100, r.seed, r.seed)
	delays := hcloudsim.Delays{Initializing: *chaosDelay, Starting: *chaosDelay / 2, Action: *chaosDelay / 2}
	if *chaosDelay == 0 && *chaosRaces {
		delays.Action = *chaosActDelay // back-to-back changes meet each other's actions
	}
	r.w = newWorld(t, worldOptions{Seed: r.seed, MaxConcurrent: *chaosShimMax, Delays: delays})
	r.fixtures = r.w.plant(t, rand.New(rand.NewPCG(uint64(r.seed), 1)))
	r.before = r.w.snapshotOf(t, r.fixtures)
	return r
}

// baseline takes the shim's figures after a warm-up call, with no fault
// rules yet, then adds the rules.
func (r *chaosRun) baseline(ctx context.Context) {
	t := r.t
	resp, err := r.w.Do(ctx, http.MethodGet, "/meta", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status, "meta: %s", resp)
	r.w.Client.CloseIdleConnections()
	require.True(t, eventually(10*time.Second, func() bool {
		r.base, err = readProcStats(r.w.ShimPID())
		return err == nil
	}))
	for _, f := range chaosFaults(*chaosRate) {
		require.NoError(t, f.Validate())
		r.w.Env.Sim.AddFault(f)
	}
	r.createdBefore = len(r.w.Env.Sim.Created())
}

// lifecycles runs the N lifecycles, parallel at once. Every fourth sends
// its creates and its cancel twice at once; every third orders with
// backups; every fifth cancels its server right after the order. With
// the race kinds: every sixth (of those with backups) switches them off
// while a query converges them, every tenth is relabelled Nanobox=false
// by its owner once active, every seventh sends its changes back to back;
// meanwhile the size of a create that met commit_then_capacity_gone comes
// back within 100 ms.
func (r *chaosRun) lifecycles(ctx context.Context) {
	stop := r.restoreCapacity()
	defer stop()
	prefix := fmt.Sprintf("chaos-%d", r.seed)
	var mu sync.Mutex
	sem := make(chan struct{}, r.parallel)
	var wg sync.WaitGroup
	start := time.Now()
	kills := r.shimKills()
	for i := 0; i < r.n; i++ {
		if len(kills) > 0 && i == kills[0] {
			// Mid-run, with up to parallel lifecycles in flight: their
			// requests fail without an answer and are retried, the
			// killed shim's CPI processes die with it.
			kills = kills[1:]
			r.w.KillAndRestartShim(r.t)
			r.stats.bump(&r.stats.shimKills)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			o := r.orchestrator(i)
			name := fmt.Sprintf("%s-%d", prefix, i)
			err := o.lifecycle(ctx, r.t, name)
			st, serr := readProcStats(r.w.ShimPID())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.failures = append(r.failures, fmt.Sprintf("%s: %v\n    trace: %s", name, err, strings.Join(o.trace, "\n           ")))
			}
			if serr == nil {
				r.peak.RSSKiB = max(r.peak.RSSKiB, st.RSSKiB)
				r.peak.FDs = max(r.peak.FDs, st.FDs)
			}
		}(i)
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.w.Env.Sim.ClearFaults()
	r.injected = r.w.Env.Sim.FaultsInjected()
}

// shimKills are the lifecycle indexes before which the shim is killed and
// restarted, spread evenly over the run.
func (r *chaosRun) shimKills() []int {
	k := *chaosShimKill
	if k < 0 {
		k = 0
		if *chaosRaces {
			k = 1
			if *soak {
				k = 3
			}
		}
	}
	var at []int
	for j := 1; j <= k; j++ {
		at = append(at, j*r.n/(k+1))
	}
	return at
}

// orchestrator is lifecycle i's orchestrator, with its variants.
func (r *chaosRun) orchestrator(i int) *orchestrator {
	o := &orchestrator{w: r.w, stats: r.stats, rng: rand.New(rand.NewPCG(uint64(r.seed), uint64(i)+2)),
		overlap: i%4 == 1, backups: *chaosBackups && i%3 == 2, hangUps: *chaosHangUps, abort: i%5 == 3}
	if *chaosRaces {
		o.race = o.backups && i%6 == 5
		o.relabel = i%10 == 7
		o.burst = i%7 == 4
		if o.race || o.relabel {
			o.abort = false
		}
		if o.relabel {
			o.overlap = false // the orchestrator's own requests only
		}
	}
	return o
}

// restoreCapacity brings back, every 100 ms, the size the lifecycles order
// (commit_then_capacity_gone sells it out); the returned func stops it.
func (r *chaosRun) restoreCapacity() func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = r.w.Env.Sim.SetAvailability("cx23", "nbg1", true)
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		_ = r.w.Env.Sim.SetAvailability("cx23", "nbg1", true)
	}
}

// check asserts the run's promises.
func (r *chaosRun) check(ctx context.Context) {
	t := r.t
	sort.Strings(r.failures)
	assert.Empty(t, r.failures, "%d of %d lifecycles did not finish (seed %d)", len(r.failures), r.n, r.seed)
	r.checkDuplicates()
	r.checkForeignUntouched()
	r.checkOrphans()
	r.stats.mu.Lock()
	assert.Empty(t, r.stats.lost, "acknowledged changes undone")
	assert.Zero(t, r.stats.locked409, "answers 409 locked (a change should wait out the running action)")
	r.stats.mu.Unlock()

	// No CPI process is alive.
	assert.True(t, eventually(10*time.Second, func() bool { return len(livePIDsOf(r.w.CPI)) == 0 }),
		"CPI processes still alive: %v", livePIDsOf(r.w.CPI))

	// The shim's open files and memory are back near their baseline.
	r.w.Client.CloseIdleConnections()
	var err error
	fdsBack := eventually(10*time.Second, func() bool {
		r.after, err = readProcStats(r.w.ShimPID())
		return err == nil && r.after.FDs <= r.base.FDs+2
	})
	assert.True(t, fdsBack, "shim open fds: %d at baseline, %d after the run", r.base.FDs, r.after.FDs)
	const rssSlackKiB = 64 << 10
	assert.LessOrEqual(t, r.after.RSSKiB, r.base.RSSKiB+rssSlackKiB, "shim RSS: %d KiB at baseline, %d KiB after the run", r.base.RSSKiB, r.after.RSSKiB)
	assert.True(t, r.w.Healthy(ctx), "the shim no longer answers /healthz")
}

// checkDuplicates: no server or key name was ever created twice.
func (r *chaosRun) checkDuplicates() {
	created := r.w.Env.Sim.Created()[r.createdBefore:]
	r.created = map[string]map[string]int{"server": {}, "ssh_key": {}, "network": {}}
	for _, c := range created {
		if r.created[c.Kind] != nil {
			r.created[c.Kind][c.Name]++
		}
	}
	for kind, byName := range r.created {
		for name, count := range byName {
			if count > 1 {
				r.duplicates += count - 1
				r.t.Errorf("duplicate: %s %q was created %d times", kind, name, count)
			}
		}
	}
	assert.Len(r.t, r.created["server"], r.n-countFailedBefore(r.failures, "order_server", "create_key"), "servers created")
}

// checkForeignUntouched: the planted objects are unchanged and no request
// named them; no write named an object after its owner relabelled it.
func (r *chaosRun) checkForeignUntouched() {
	t := r.t
	assert.Equal(t, r.before, r.w.snapshotOf(t, r.fixtures), "a planted object changed")
	apiLog := r.w.API.Requests()
	r.apiRequests = len(apiLog)
	for kind, ids := range r.fixtures.All() {
		for _, req := range touching(apiLog, kind, ids) {
			r.touched++
			t.Errorf("a request touched a planted %s: %s %s?%s", kind, req.Method, req.Path, req.Query)
		}
	}
	r.stats.mu.Lock()
	defer r.stats.mu.Unlock()
	r.relabelled = len(r.stats.relabelled)
	for _, o := range r.stats.relabelled {
		for _, req := range touching(apiLog[o.mark:], o.kind, []int64{o.id}) {
			if req.Method != http.MethodGet {
				r.touched++
				t.Errorf("a write touched %s %d after its owner labelled it Nanobox=false: %s %s", o.kind, o.id, req.Method, req.Path)
			}
		}
	}
}

// checkOrphans: nothing is left but the shared private network, the
// planted objects and what owners took over (which are then removed).
func (r *chaosRun) checkOrphans() {
	keep := r.fixtures.All()
	r.stats.mu.Lock()
	for _, o := range r.stats.relabelled {
		keep[o.kind] = append(keep[o.kind], o.id)
	}
	r.stats.mu.Unlock()
	st := r.w.Env.Sim.Snapshot()
	for _, s := range st.Servers {
		if !slices.Contains(keep["server"], s.ID) {
			r.orphans++
			r.t.Errorf("orphan: server %d %q (labels %v) is still there", s.ID, s.Name, s.Labels)
		}
	}
	for _, k := range st.SSHKeys {
		if !slices.Contains(keep["ssh_key"], k.ID) {
			r.orphans++
			r.t.Errorf("orphan: SSH key %d %q is still there", k.ID, k.Name)
		}
	}
}

// report prints the figures (and writes them with -chaos.report or -soak).
func (r *chaosRun) report() {
	t := r.t
	var b strings.Builder
	fmt.Fprintf(&b, "chaos run: seed %d, %d lifecycles (%d at once), %s wall time\n", r.seed, r.n, r.parallel, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "  lifecycles finished:  %d of %d\n", r.n-len(r.failures), r.n)
	fmt.Fprintf(&b, "  duplicates:           %d (servers created: %d, SSH keys created: %d, networks created: %d)\n",
		r.duplicates, len(r.created["server"]), len(r.created["ssh_key"]), len(r.created["network"]))
	fmt.Fprintf(&b, "  orphans:              %d\n", r.orphans)
	r.stats.mu.Lock()
	fmt.Fprintf(&b, "  acknowledged changes lost: %d (config changes raced with a converging query: %d)\n", len(r.stats.lost), r.stats.races)
	fmt.Fprintf(&b, "  Nanobox=false objects touched: %d (planted: %d; relabelled by their owner mid-run: %d)\n",
		r.touched, len(r.fixtures.All()["server"])+len(r.fixtures.All()["ssh_key"]), r.relabelled)
	fmt.Fprintf(&b, "  back-to-back change bursts: %d; answers 409 locked: %d\n", r.stats.backToBack, r.stats.locked409)
	fmt.Fprintf(&b, "  shim killed with SIGKILL mid-run and restarted: %d times\n", r.stats.shimKills)
	r.stats.mu.Unlock()
	fmt.Fprintf(&b, "  Hetzner API requests: %d (via the recording proxy), simulator total %d\n", r.apiRequests, r.w.Env.Sim.TotalRequests())
	totalFaults := 0
	var kinds []string
	for k, v := range r.injected {
		totalFaults += v
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "  faults injected:      %d (%s)\n", totalFaults, strings.Join(kinds, " "))
	r.stats.writeTo(&b)
	fmt.Fprintf(&b, "  shim RSS:             %d KiB baseline, %d KiB peak, %d KiB after\n", r.base.RSSKiB, r.peak.RSSKiB, r.after.RSSKiB)
	fmt.Fprintf(&b, "  shim open fds:        %d baseline, %d peak, %d after\n", r.base.FDs, r.peak.FDs, r.after.FDs)
	fmt.Fprintf(&b, "  CPI processes alive:  %d\n", len(livePIDsOf(r.w.CPI)))
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
	r.removeTakenOver()
}

// writeTo writes the orchestrator's figures.
func (s *chaosStats) writeTo(b *strings.Builder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(b, "  shim requests:        %d, of which retries %d (by step %v), orders re-sent after giving up %d, no HTTP answer %d\n",
		s.calls, s.retries, s.retriedBy, s.reorders, s.transport)
	fmt.Fprintf(b, "  requests abandoned by the orchestrator mid-call: %d (about %.0f%% of requests)\n", s.hungUp, hangUpRate*100)
	fmt.Fprintf(b, "  steps sent twice at once: %d (create_key, order_server, cancel_server of every 4th lifecycle)\n", s.overlapped)
	fmt.Fprintf(b, "  failed answers:       by status %v, by type %v\n", s.byStatus, s.byType)
}

// removeTakenOver deletes, as their owner would, the objects relabelled
// Nanobox=false mid-run (the adapter may not).
func (r *chaosRun) removeTakenOver() {
	ctx := context.Background()
	client := r.w.Env.Client()
	r.stats.mu.Lock()
	defer r.stats.mu.Unlock()
	for _, o := range r.stats.relabelled {
		switch o.kind {
		case "server":
			_, _, _ = client.Server.DeleteWithResult(ctx, &hcloud.Server{ID: o.id})
		case "ssh_key":
			_, _ = client.SSHKey.Delete(ctx, &hcloud.SSHKey{ID: o.id})
		}
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
