package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// The polling scenario: N servers ordered at once through the shim, each
// polled every second until active, as Nanobox's backend does, against a
// simulator with a realistic boot time and latency and Hetzner's bucket of
// 3600 requests. The N series runs each N with one request per poll and
// coalesced; the fleet series runs N = FleetN coalesced in a project that
// already has F servers running. Each run gets a fresh simulator (a full
// bucket), state dir and shim.

// pollingConfig is the scenario's setup.
type pollingConfig struct {
	Ns           []int   `json:"n"`
	InitSeconds  float64 `json:"initializing_seconds"`
	StartSeconds float64 `json:"starting_seconds"`
	LatencyMs    float64 `json:"latency_ms"`
	RateLimit    int     `json:"rate_limit"`
	PollSeconds  float64 `json:"poll_interval_seconds"`
	WindowMs     int     `json:"window_ms"`
	MaxConc      int     `json:"shim_max_concurrent"`
	Fleets       []int   `json:"fleet"`    // the fleet series: servers already running
	FleetN       int     `json:"fleet_n"`  // servers ordered in each run of the fleet series
	Replicas     int     `json:"replicas"` // shims of the replicas series (0: none), at the largest fleet
}

// pollingRun is one (mode, N).
type pollingRun struct {
	Mode          string         `json:"mode"` // "per-poll" or "coalesced"
	N             int            `json:"n"`
	Fleet         int            `json:"fleet"`                  // servers already running, seeded before the orders
	Series        string         `json:"series"`                 // "n", "fleet" or "replicas"
	Replicas      int            `json:"replicas,omitempty"`     // shims the orchestrator's requests went to in turn
	SharedState   bool           `json:"shared_state,omitempty"` // the replicas shared one state dir
	Seconds       float64        `json:"seconds"`
	APIRequests   int            `json:"api_requests"`      // every Hetzner request of the run
	PollRequests  int            `json:"api_poll_requests"` // GET /servers and GET /servers/{id}
	ByRoute       map[string]int `json:"api_requests_by_route"`
	Polls         int            `json:"polls"`
	Orchestrator  map[string]int `json:"orchestrator_answers"` // by HTTP status, orders and polls
	Status429     int            `json:"status_429"`
	NotActive     int            `json:"not_active"`           // servers never seen active
	ActiveP50     float64        `json:"time_to_active_p50_s"` // order sent to first "active" answer
	ActiveP99     float64        `json:"time_to_active_p99_s"`
	ActiveMax     float64        `json:"time_to_active_max_s"`
	StaleMaxMs    float64        `json:"staleness_max_ms"`
	StaleP99Ms    float64        `json:"staleness_p99_ms"`
	StaleAnswers  int            `json:"stale_answers"` // answers whose status had already ended when the poll was sent
	BudgetGauge   string         `json:"shim_budget_gauge,omitempty"`
	WindowGauge   string         `json:"shim_window_gauge,omitempty"`
	PollP50Ms     float64        `json:"poll_p50_ms"`
	ServersActive int            `json:"servers"`
}

// pollingLatency is the user-facing time of one query_server beside the
// simulated round trip, sequential calls.
type pollingLatency struct {
	Name   string    `json:"name"`
	Runs   int       `json:"runs"`
	WallMs []float64 `json:"wall_ms"`
}

type pollingResults struct {
	LoadAvg []string          `json:"loadavg_start_end"`
	Config  pollingConfig     `json:"config"`
	Runs    []*pollingRun     `json:"runs"`
	Latency []*pollingLatency `json:"latency"`
}

// pollingWorld is one simulator and one or more shims (replicas), each
// with its CPI config; the orchestrator's requests go to them in turn.
type pollingWorld struct {
	dir, token, simURL, shimURL, stateDir, cfgPath string
	shimURLs                                       []string
	turn                                           atomic.Int64
	admin                                          *simAdmin
	sim                                            *server
	shims                                          []*server
	http                                           *http.Client
}

// worldShape is how many shims a world runs, and whether they share one
// state dir.
type worldShape struct {
	replicas int
	shared   bool
}

func (w *pollingWorld) stop() {
	for _, s := range w.shims {
		s.stop()
	}
	if w.sim != nil {
		w.sim.stop()
	}
}

// startPollingWorld starts a simulator with the scenario's delays, latency
// and bucket, and the shape's shims over a CPI configured with coalesce.
func (b *bench) startPollingWorld(tag string, coalesce bool, cfg pollingConfig, shape worldShape) (*pollingWorld, error) {
	w := &pollingWorld{dir: filepath.Join(b.tmp, "polling-"+tag), token: "poll-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	w.stateDir = filepath.Join(w.dir, "state")
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		return nil, err
	}
	ms := func(s float64) string { return strconv.Itoa(int(s*1000)) + "ms" }
	args := []string{"--listen", "127.0.0.1:0", "--token", w.token, "--rate-limit", strconv.Itoa(cfg.RateLimit), "--rate-refill", "1s",
		"--delay-initializing", ms(cfg.InitSeconds), "--delay-starting", ms(cfg.StartSeconds), "--latency", ms(cfg.LatencyMs / 1000), "--log-level", "warn"}
	sim, out, err := startServer("hcloud-sim", b.sim, args, b.childEnv(), filepath.Join(w.dir, "sim.log"))
	if err != nil {
		return nil, err
	}
	w.sim = sim
	url, err := readURL(out)
	if err != nil {
		w.stop()
		return nil, err
	}
	w.simURL = url
	w.admin = &simAdmin{base: strings.TrimSuffix(url, "/v1"), token: w.token, http: newAdminClient()}
	for r := range max(shape.replicas, 1) {
		stateDir := w.stateDir
		if r > 0 && !shape.shared {
			stateDir += "-" + strconv.Itoa(r)
		}
		if err := b.startPollingShim(w, r, stateDir, coalesce, cfg); err != nil {
			w.stop()
			return nil, err
		}
	}
	w.shimURL = w.shimURLs[0]
	w.http = &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 0}}
	return w, nil
}

// startPollingShim writes replica r's CPI config, with stateDir, and
// starts its shim.
func (b *bench) startPollingShim(w *pollingWorld, r int, stateDir string, coalesce bool, cfg pollingConfig) error {
	conf := map[string]any{
		"endpoint":                 w.simURL,
		"operator_token_for_calls": false,
		"state_dir":                stateDir,
		"catalog":                  map[string]any{"cache_dir": filepath.Join(w.dir, "catalog")},
		"polling":                  map[string]any{"coalesce": coalesce, "window_ms": cfg.WindowMs},
	}
	data, err := json.Marshal(conf)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(w.dir, "cpi-"+strconv.Itoa(r)+".json")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		return err
	}
	if r == 0 {
		w.cfgPath = cfgPath
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	shimArgs := []string{"--listen", addr, "--cpi", b.cpi, "--cpi-config", cfgPath, "--cpi-metrics-dir", stateDir,
		"--max-concurrent", strconv.Itoa(cfg.MaxConc), "--queue-wait", "30s", "--log-level", "warn"}
	shim, _, err := startServer("shim", b.shim, shimArgs, b.childEnv(), filepath.Join(w.dir, "shim-"+strconv.Itoa(r)+".log"))
	if err != nil {
		return err
	}
	w.shims = append(w.shims, shim)
	url := "http://" + addr
	w.shimURLs = append(w.shimURLs, url)
	return waitHTTP(url+"/healthz", 15*time.Second)
}

func readURL(out *bufio.Reader) (string, error) {
	line := make(chan string, 1)
	go func() {
		l, _ := out.ReadString('\n')
		line <- strings.TrimSpace(l)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case url := <-line:
		if !strings.HasPrefix(url, "http://") {
			return "", fmt.Errorf("hcloud-sim printed %q, not its URL", url)
		}
		return url, nil
	case <-time.After(15 * time.Second):
		return "", errors.New("hcloud-sim did not print its URL within 15s")
	}
}

// call sends one request to the shim and returns the status, body and
// Retry-After.
func (w *pollingWorld) call(method, path, body string) (int, []byte, time.Duration, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	base := w.shimURLs[int(w.turn.Add(1))%len(w.shimURLs)]
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Auth-Api-Token", w.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, data, time.Duration(retry) * time.Second, err
}

// pollLog is what one server's orchestrator loop saw.
type pollLog struct {
	id       string
	ordered  time.Time
	active   time.Time // first "active" answer; zero when never
	answers  []answer
	statuses map[int]int
}

type answer struct {
	sent, got time.Time
	status    string
}

// runPolling runs every (mode, N) and the latency comparison.
func (b *bench) runPolling() error {
	cfg := b.pollingCfg
	res := &pollingResults{Config: cfg, LoadAvg: []string{readTrim("/proc/loadavg")}}
	b.res.Polling = res
	defer func() { res.LoadAvg = append(res.LoadAvg, readTrim("/proc/loadavg")) }()
	type plan struct {
		series   string
		n, fleet int
		coalesce bool
		shape    worldShape
	}
	var plans []plan
	for _, n := range cfg.Ns {
		plans = append(plans, plan{"n", n, 0, false, worldShape{}}, plan{"n", n, 0, true, worldShape{}})
	}
	for _, f := range cfg.Fleets {
		plans = append(plans, plan{"fleet", cfg.FleetN, f, true, worldShape{}})
	}
	if cfg.Replicas > 1 && len(cfg.Fleets) > 0 {
		f := cfg.Fleets[len(cfg.Fleets)-1]
		plans = append(plans, plan{"replicas", cfg.FleetN, f, true, worldShape{cfg.Replicas, false}}, plan{"replicas", cfg.FleetN, f, true, worldShape{cfg.Replicas, true}})
	}
	for _, pl := range plans {
		run, err := b.pollingRun(pl.n, pl.fleet, pl.coalesce, cfg, pl.shape)
		if err != nil {
			return err
		}
		run.Series, run.SharedState = pl.series, pl.shape.shared
		if pl.shape.replicas > 1 {
			run.Replicas = pl.shape.replicas
		}
		res.Runs = append(res.Runs, run)
		b.logf("polling %s N=%d F=%d: %d requests (%.1f per server, %.3f per poll), %d 429s, active p50 %.1fs p99 %.1fs, staleness max %.0f ms, %.0f s",
			run.Mode, pl.n, pl.fleet, run.APIRequests, float64(run.APIRequests)/float64(pl.n), perPoll(run), run.Status429, run.ActiveP50, run.ActiveP99, run.StaleMaxMs, run.Seconds)
	}
	lat, err := b.pollingLatency(cfg)
	if err != nil {
		return err
	}
	res.Latency = lat
	return nil
}

func modeName(coalesce bool) string {
	if coalesce {
		return "coalesced"
	}
	return "per-poll"
}

// pollingRun seeds a fleet of servers already running, then orders n
// servers at once and polls each every second until active.
func (b *bench) pollingRun(n, fleet int, coalesce bool, cfg pollingConfig, shape worldShape) (*pollingRun, error) {
	w, err := b.startPollingWorld(fmt.Sprintf("%s-%d-%d-%d-%v", modeName(coalesce), n, fleet, shape.replicas, shape.shared), coalesce, cfg, shape)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	keyID, labels, err := w.warmUp()
	if err != nil {
		return nil, err
	}
	if fleet > 0 {
		err := w.admin.do(http.MethodPost, "/_sim/fleet", map[string]any{"count": fleet, "name_prefix": "fleet", "server_type": "cx23", "location": "nbg1", "labels": labels}, nil)
		if err != nil {
			return nil, fmt.Errorf("seeding %d servers: %w", fleet, err)
		}
	}
	if err := w.admin.reset(); err != nil {
		return nil, err
	}
	start := time.Now()
	logs := make([]*pollLog, n)
	var wg sync.WaitGroup
	deadline := start.Add(time.Duration((cfg.InitSeconds+cfg.StartSeconds)*float64(time.Second)) + 3*time.Minute)
	for i := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logs[i] = w.orchestrate(fmt.Sprintf("poll-%d-%d", n, i), keyID, time.Duration(cfg.PollSeconds*float64(time.Second)), deadline)
		}()
	}
	wg.Wait()
	run := &pollingRun{Mode: modeName(coalesce), N: n, Fleet: fleet, Seconds: time.Since(start).Seconds(), Orchestrator: map[string]int{}}
	byRoute, total, err := w.admin.requests()
	if err != nil {
		return nil, err
	}
	run.APIRequests, run.ByRoute = total, byRoute
	run.PollRequests = byRoute["GET /v1/servers"] + byRoute["GET /v1/servers/{id}"]
	created, err := w.createdAt()
	if err != nil {
		return nil, err
	}
	init := time.Duration(cfg.InitSeconds * float64(time.Second))
	boot := init + time.Duration(cfg.StartSeconds*float64(time.Second))
	var toActive, stale, pollMs []float64
	for _, l := range logs {
		for code, c := range l.statuses {
			run.Orchestrator[strconv.Itoa(code)] += c
		}
		run.Polls += len(l.answers)
		if l.active.IsZero() {
			run.NotActive++
		} else {
			toActive = append(toActive, l.active.Sub(l.ordered).Seconds())
			run.ServersActive++
		}
		at, ok := created[l.id]
		for _, a := range l.answers {
			pollMs = append(pollMs, float64(a.got.Sub(a.sent))/1e6)
			if !ok {
				continue
			}
			// How long before the poll was sent the answered status had
			// already ended (0 when it still held).
			var ended time.Time
			switch a.status {
			case "initializing":
				ended = at.Add(init)
			case "starting":
				ended = at.Add(boot)
			default:
				continue
			}
			s := float64(a.sent.Sub(ended)) / 1e6
			if s > 0 {
				run.StaleAnswers++
			}
			stale = append(stale, max(0, s))
		}
	}
	run.Status429 = run.Orchestrator["429"]
	a := orderStats(toActive)
	run.ActiveP50, run.ActiveP99, run.ActiveMax = a.P50, a.P99, a.Max
	s := orderStats(stale)
	run.StaleMaxMs, run.StaleP99Ms = s.Max, s.P99
	run.PollP50Ms = orderStats(pollMs).P50
	run.BudgetGauge = w.gauge("nanobox_cpi_rate_limit_remaining{")
	run.WindowGauge = w.gauge("nanobox_cpi_polling_window_seconds{")
	return run, nil
}

// warmUp creates the SSH key and the private network (an order and a
// cancel), so that the measured orders are the warm path. It returns the
// key's id and the labels the adapter gave the ordered server.
func (w *pollingWorld) warmUp() (string, map[string]string, error) {
	pub, err := newPublicKey()
	if err != nil {
		return "", nil, err
	}
	status, body, _, err := w.call(http.MethodPost, "/keys", fmt.Sprintf(`{"id":"bench-poll","key":%q}`, pub))
	if err != nil || status != http.StatusCreated {
		return "", nil, fmt.Errorf("create_key: %d %s %v", status, body, err)
	}
	keyID, err := resultID(body)
	if err != nil {
		return "", nil, err
	}
	status, body, _, err = w.call(http.MethodPost, "/servers", fmt.Sprintf(`{"name":"warm-up","region":"nbg1","size":"cx23","ssh_key":%q}`, keyID))
	if err != nil || status != http.StatusCreated {
		return "", nil, fmt.Errorf("warm-up order: %d %s %v", status, body, err)
	}
	id, err := resultID(body)
	if err != nil {
		return "", nil, err
	}
	var state struct {
		Servers []struct {
			ID     int64             `json:"id"`
			Labels map[string]string `json:"labels"`
		} `json:"servers"`
	}
	if err := w.admin.do(http.MethodGet, "/_sim/state", nil, &state); err != nil {
		return "", nil, err
	}
	var labels map[string]string
	for _, s := range state.Servers {
		if strconv.FormatInt(s.ID, 10) == id {
			labels = s.Labels
		}
	}
	if status, body, _, err = w.call(http.MethodDelete, "/servers/"+id, ""); err != nil || status >= 300 {
		return "", nil, fmt.Errorf("warm-up cancel: %d %s %v", status, body, err)
	}
	if labels == nil {
		return "", nil, fmt.Errorf("warm-up order: server %s not in the simulator's state", id)
	}
	return keyID, labels, nil
}

// orchestrate is one server's life as Nanobox's backend drives it: order,
// then poll every interval until "active"; a 429 or 503 is retried after
// its Retry-After.
func (w *pollingWorld) orchestrate(name, keyID string, interval time.Duration, deadline time.Time) *pollLog {
	l := &pollLog{statuses: map[int]int{}}
	l.ordered = time.Now()
	for time.Now().Before(deadline) {
		status, body, retry, err := w.call(http.MethodPost, "/servers", fmt.Sprintf(`{"name":%q,"region":"nbg1","size":"cx23","ssh_key":%q}`, name, keyID))
		if err == nil {
			l.statuses[status]++
		}
		if err == nil && status == http.StatusCreated {
			l.id, _ = resultID(body)
			break
		}
		time.Sleep(max(retry, time.Second))
	}
	if l.id == "" {
		return l
	}
	next := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(time.Until(next))
		sent := time.Now()
		next = sent.Add(interval)
		status, body, retry, err := w.call(http.MethodGet, "/servers/"+l.id, "")
		got := time.Now()
		if err != nil {
			continue
		}
		l.statuses[status]++
		if status != http.StatusCreated && status != http.StatusOK {
			next = sent.Add(max(retry, interval))
			continue
		}
		var srv struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(body, &srv) != nil {
			continue
		}
		l.answers = append(l.answers, answer{sent: sent, got: got, status: srv.Status})
		if srv.Status == "active" {
			l.active = got
			return l
		}
	}
	return l
}

// createdAt is the creation time of every server the simulator made.
func (w *pollingWorld) createdAt() (map[string]time.Time, error) {
	var out []struct {
		Kind string
		ID   int64
		At   time.Time
	}
	if err := w.admin.do(http.MethodGet, "/_sim/created", nil, &out); err != nil {
		return nil, err
	}
	m := map[string]time.Time{}
	for _, c := range out {
		if c.Kind == "server" {
			m[strconv.FormatInt(c.ID, 10)] = c.At
		}
	}
	return m, nil
}

// gauge is the line of the shim's /metrics that starts with prefix.
func (w *pollingWorld) gauge(prefix string) string {
	resp, err := w.http.Get(w.shimURL + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return sc.Text()
		}
	}
	return ""
}

// pollingLatency measures, with the simulator's latency, one query_server
// as the user sees it: the direct HTTP round trip, the CPI process (one
// request per poll), the shim over it, and the shim answering from a
// fresh snapshot. Calls run one at a time.
func (b *bench) pollingLatency(cfg pollingConfig) ([]*pollingLatency, error) {
	const runs = 40
	cfg.InitSeconds, cfg.StartSeconds = 0, 0
	out := []*pollingLatency{}
	for _, coalesce := range []bool{false, true} {
		w, err := b.startPollingWorld("latency-"+modeName(coalesce), coalesce, cfg, worldShape{})
		if err != nil {
			return nil, err
		}
		keyID, _, err := w.warmUp()
		if err != nil {
			w.stop()
			return nil, err
		}
		_, body, _, err := w.call(http.MethodPost, "/servers", fmt.Sprintf(`{"name":"lat","region":"nbg1","size":"cx23","ssh_key":%q}`, keyID))
		if err != nil {
			w.stop()
			return nil, err
		}
		id, err := resultID(body)
		if err != nil {
			w.stop()
			return nil, err
		}
		measure := func(name string, gap time.Duration, fn func() error) error {
			l := &pollingLatency{Name: name, Runs: runs}
			for i := 0; i < runs; i++ {
				time.Sleep(gap)
				t := time.Now()
				if err := fn(); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				l.WallMs = append(l.WallMs, float64(time.Since(t))/1e6)
			}
			out = append(out, l)
			return nil
		}
		shimGet := func() error {
			status, body, _, err := w.call(http.MethodGet, "/servers/"+id, "")
			if err == nil && status != http.StatusCreated && status != http.StatusOK {
				err = fmt.Errorf("HTTP %d: %s", status, body)
			}
			return err
		}
		if !coalesce {
			direct := &http.Client{Timeout: 30 * time.Second}
			err = measure("direct HTTP GET /v1/servers/{id}", 0, func() error {
				req, _ := http.NewRequest(http.MethodGet, w.simURL+"/servers/"+id, nil)
				req.Header.Set("Authorization", "Bearer "+w.token)
				resp, err := direct.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				return resp.Body.Close()
			})
			if err == nil {
				err = measure("CPI process, query_server, one request per poll", 0, func() error {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					res, err := measureExec(ctx, b.cpi, []string{"-configPath", w.cfgPath}, b.childEnv(), cpiRequest("query_server", []any{id}, w.token, "bench-latency"))
					if err == nil && (res.ExitCode != 0 || !strings.Contains(string(res.Stdout), `"error":null`)) {
						err = fmt.Errorf("CPI answered %q", protocol.Truncate(string(res.Stdout), 200))
					}
					return err
				})
			}
			if err == nil {
				err = measure("shim GET /servers/{id}, one request per poll", 0, shimGet)
			}
		} else {
			// Sequential polls 50 ms apart within a 1 s window: all but
			// the first of each window are snapshot hits.
			err = measure("shim GET /servers/{id}, coalesced (snapshot hits and refreshes)", 50*time.Millisecond, shimGet)
		}
		w.stop()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pollingSummary is a few order statistics of a sample.
type pollingSummary struct{ P50, P99, Max float64 }

// orderStats is the nearest-rank p50 and p99 and the maximum of v.
func orderStats(v []float64) pollingSummary {
	if len(v) == 0 {
		return pollingSummary{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	rank := func(p float64) float64 {
		r := int(math.Ceil(p / 100 * float64(len(s))))
		return s[min(max(r, 1), len(s))-1]
	}
	return pollingSummary{P50: rank(50), P99: rank(99), Max: s[len(s)-1]}
}
