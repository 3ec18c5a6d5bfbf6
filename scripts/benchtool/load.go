package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// loadLevel is one load run: a route at one concurrency for a duration.
type loadLevel struct {
	Target      string         `json:"target"` // "shim" or "direct CPI"
	Route       string         `json:"route"`  // "GET /servers/{id}", "GET /meta"
	Clients     int            `json:"clients"`
	MaxConc     int            `json:"max_concurrent,omitempty"`
	Seconds     float64        `json:"seconds"`
	Requests    int            `json:"requests"` // completed, any outcome
	Errors      int            `json:"errors"`
	ErrorKinds  map[string]int `json:"error_kinds,omitempty"`
	ReqPerSec   float64        `json:"req_per_sec"` // successful requests per second
	P50Ms       float64        `json:"p50_ms"`
	P95Ms       float64        `json:"p95_ms"`
	P99Ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	PeakRSSMiB  float64        `json:"peak_rss_mib,omitempty"`            // shim VmHWM during the run
	PeakReset   bool           `json:"peak_reset,omitempty"`              // VmHWM was reset before the run
	CPIChildren int            `json:"cpi_children_after"`                // children of the shim right after
	CPIByExe    int            `json:"cpi_by_exe_after"`                  // processes running the CPI binary right after
	APIRequests int            `json:"api_requests"`                      // simulator requests during the run
	Quantiles   []float64      `json:"quantiles_ms"`                      // p0..p100 of successful latencies, ms
	ShimCPUMs   float64        `json:"shim_cpu_ms_per_request,omitempty"` // the shim's own CPU time per request
	CPICPUMs    float64        `json:"cpi_cpu_ms_per_request,omitempty"`  // its CPI children's CPU time per request
	SimCPUMs    float64        `json:"sim_cpu_ms_per_request,omitempty"`  // the simulator's CPU time per request
}

// outcome of one request: its latency and "" or what went wrong.
type outcome struct {
	d   time.Duration
	err string
}

// drive runs clients workers calling do until the duration passes and
// returns every outcome and the elapsed time (until the last worker ended).
func drive(clients int, duration time.Duration, do func() string) ([]outcome, time.Duration) {
	var mu sync.Mutex
	var all []outcome
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(duration)
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []outcome
			for time.Now().Before(end) {
				t := time.Now()
				e := do()
				mine = append(mine, outcome{time.Since(t), e})
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, time.Since(start)
}

// fill computes the level's figures from the outcomes. Percentiles are of
// successful requests only; errors are counted apart.
func (l *loadLevel) fill(outs []outcome, elapsed time.Duration) {
	var ok durations
	for _, o := range outs {
		if o.err != "" {
			l.Errors++
			if l.ErrorKinds == nil {
				l.ErrorKinds = map[string]int{}
			}
			l.ErrorKinds[o.err]++
			continue
		}
		ok = append(ok, o.d)
	}
	ok = ok.sorted()
	l.Requests = len(outs)
	l.Seconds = elapsed.Seconds()
	l.ReqPerSec = float64(len(ok)) / elapsed.Seconds()
	l.P50Ms, l.P95Ms, l.P99Ms = ms(ok.percentile(50)), ms(ok.percentile(95)), ms(ok.percentile(99))
	if len(ok) > 0 {
		l.MaxMs = ms(ok[len(ok)-1])
		for q := 0; q <= 100; q++ {
			if q == 0 {
				l.Quantiles = append(l.Quantiles, ms(ok[0]))
				continue
			}
			l.Quantiles = append(l.Quantiles, ms(ok.percentile(float64(q))))
		}
	}
}

// shimRoute is a route the load test drives.
type shimRoute struct {
	name   string // as in the tables
	path   string
	status int // success status (the spec's: 201 for GET /servers/{id})
	method string
	args   func(b *bench) []any
}

func loadRoutes() []shimRoute {
	return []shimRoute{
		{"GET /servers/{id}", "/servers/", http.StatusCreated, "query_server", func(b *bench) []any { return []any{b.loadServer} }},
		{"GET /meta", "/meta", http.StatusOK, "meta", func(*bench) []any { return nil }},
	}
}

// startShim starts the shim on a free port with maxConc CPI slots.
func (b *bench) startShim(maxConc int, tag string) (*server, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"--listen", addr, "--cpi", b.cpi, "--cpi-config", b.cfgNoToken, "--log-level", "info"}
	if maxConc > 0 {
		args = append(args, "--max-concurrent", strconv.Itoa(maxConc))
	}
	srv, _, err := startServer("shim", b.shim, args, b.childEnv(), filepath.Join(b.tmp, "shim-"+tag+".log"))
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	if err := waitHTTP(base+"/healthz", 15*time.Second); err != nil {
		srv.stop()
		return nil, "", err
	}
	b.res.ShimArgs = append(b.res.ShimArgs, fmt.Sprint(args))
	return srv, base, nil
}

// loadShim drives one route of the shim at one concurrency.
func (b *bench) loadShim(shimSrv *server, base string, rt shimRoute, clients, maxConc int, duration time.Duration) (*loadLevel, error) {
	url := base + rt.path
	if rt.method == "query_server" {
		url += b.loadServer
	}
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 90 * time.Second}
	defer tr.CloseIdleConnections()
	do := func() string {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return "request: " + err.Error()
		}
		req.Header.Set("Auth-Api-Token", b.token)
		resp, err := client.Do(req)
		if err != nil {
			return "transport error"
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != rt.status {
			return "HTTP " + strconv.Itoa(resp.StatusCode)
		}
		return ""
	}
	if maxConc == 0 {
		maxConc = b.res.ShimDefaultMaxConc
	}
	l := &loadLevel{Target: "shim", Route: rt.name, Clients: clients, MaxConc: maxConc}
	l.PeakReset = resetPeakRSS(shimSrv.pid())
	if err := b.admin.reset(); err != nil {
		return nil, err
	}
	self0, kids0, cpuErr := procCPU(shimSrv.pid())
	sim0, _, simErr := procCPU(b.simPid)
	outs, elapsed := drive(clients, duration, do)
	if sim1, _, err := procCPU(b.simPid); err == nil && simErr == nil && len(outs) > 0 {
		l.SimCPUMs = ms(sim1-sim0) / float64(len(outs))
	}
	l.CPIChildren, l.CPIByExe = cpiProcesses(shimSrv.pid(), b.cpi)
	if self1, kids1, err := procCPU(shimSrv.pid()); err == nil && cpuErr == nil && len(outs) > 0 {
		l.ShimCPUMs = ms(self1-self0) / float64(len(outs))
		l.CPICPUMs = ms(kids1-kids0) / float64(len(outs))
	}
	if hwm, err := procStatusKiB(shimSrv.pid(), "VmHWM"); err == nil {
		l.PeakRSSMiB = float64(hwm) / 1024
	}
	if _, total, err := b.admin.requests(); err == nil {
		l.APIRequests = total
	}
	l.fill(outs, elapsed)
	b.logf("shim %-18s c=%-3d max-conc=%-3d %7.1f req/s  p50 %6.1f  p95 %6.1f  p99 %6.1f ms  errors %d  rss %.1f MiB  cpi left %d/%d  cpu/req shim %.2f cpi %.2f ms",
		rt.name, clients, maxConc, l.ReqPerSec, l.P50Ms, l.P95Ms, l.P99Ms, l.Errors, l.PeakRSSMiB, l.CPIChildren, l.CPIByExe, l.ShimCPUMs, l.CPICPUMs)
	return l, nil
}

// loadDirect runs the CPI directly (no shim), clients at a time, for the
// same method: what the shim adds shows as the difference.
func (b *bench) loadDirect(rt shimRoute, clients int, duration time.Duration) (*loadLevel, error) {
	req := cpiRequest(rt.method, rt.args(b), b.token, "bench-direct")
	do := func() string {
		res, err := measureExec(context.Background(), b.cpi, []string{"-configPath", b.cfgNoToken}, b.childEnv(), req)
		if err != nil {
			return "exec error"
		}
		if res.ExitCode != 0 {
			return "exit " + strconv.Itoa(res.ExitCode)
		}
		var resp protocol.RawResponse
		if json.Unmarshal(res.Stdout, &resp) != nil || resp.Error != nil {
			return "error response"
		}
		return ""
	}
	l := &loadLevel{Target: "direct CPI", Route: rt.name, Clients: clients}
	if err := b.admin.reset(); err != nil {
		return nil, err
	}
	outs, elapsed := drive(clients, duration, do)
	if _, total, err := b.admin.requests(); err == nil {
		l.APIRequests = total
	}
	l.fill(outs, elapsed)
	b.logf("direct %-16s c=%-3d %7.1f calls/s p50 %6.1f  p95 %6.1f  p99 %6.1f ms  errors %d",
		rt.name, clients, l.ReqPerSec, l.P50Ms, l.P95Ms, l.P99Ms, l.Errors)
	return l, nil
}

// runLoad drives the shim and the direct CPI at every concurrency.
func (b *bench) runLoad() error {
	b.res.ShimDefaultMaxConc = 4 * runtime.NumCPU() // shim.DefaultMaxConcurrent
	shimSrv, base, err := b.startShim(b.maxConc, "main")
	if err != nil {
		return err
	}
	defer shimSrv.stop()
	routes := loadRoutes()
	// Warm-up, unmeasured: page cache, connection pool, the shim's first calls.
	drive(4, time.Second, func() string {
		resp, err := http.Get(base + "/meta")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return ""
	})
	if err := b.runOverhead(base, b.overheadPairs); err != nil {
		return err
	}
	for _, rt := range routes {
		for _, c := range b.clients {
			l, err := b.loadShim(shimSrv, base, rt, c, b.maxConc, b.loadDuration)
			if err != nil {
				return err
			}
			b.res.Load = append(b.res.Load, l)
		}
	}
	shimSrv.stop()
	b.res.ShimExit = fmt.Sprint(shimSrv.err)

	// The same shim with a CPI slot for every client: no queueing in the
	// shim, every process competes for the cores at once.
	if b.compareConc > 0 {
		def, base2, err := b.startShim(b.compareConc, "compare")
		if err != nil {
			return err
		}
		maxC := 0
		for _, c := range b.clients {
			maxC = max(maxC, c)
		}
		l, err := b.loadShim(def, base2, routes[0], maxC, b.compareConc, b.loadDuration)
		def.stop()
		if err != nil {
			return err
		}
		b.res.LoadCompare = l
	}

	for _, rt := range routes {
		for _, c := range b.clients {
			l, err := b.loadDirect(rt, c, b.directDuration)
			if err != nil {
				return err
			}
			b.res.LoadDirect = append(b.res.LoadDirect, l)
		}
	}
	return nil
}

// overheadPair is the shim's overhead measured A/B: the same call through
// the shim and exec'd directly, alternating, one at a time, so background
// load on the machine hits both alike.
type overheadPair struct {
	Route        string    `json:"route"`
	Pairs        int       `json:"pairs"`
	ShimP50Ms    float64   `json:"shim_p50_ms"`
	DirectP50Ms  float64   `json:"direct_p50_ms"`
	DiffP50Ms    float64   `json:"median_of_differences_ms"`
	DiffSamples  []float64 `json:"differences_ms"`
	ShimErrors   int       `json:"shim_errors"`
	DirectErrors int       `json:"direct_errors"`
}

// runOverhead measures the shim's overhead per route with pairs calls.
func (b *bench) runOverhead(shimBase string, pairs int) error {
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	defer tr.CloseIdleConnections()
	for _, rt := range loadRoutes() {
		url := shimBase + rt.path
		if rt.method == "query_server" {
			url += b.loadServer
		}
		req := cpiRequest(rt.method, rt.args(b), b.token, "bench-overhead")
		o := &overheadPair{Route: rt.name}
		var shimD, directD []float64
		for i := 0; i < pairs; i++ {
			hr, err := http.NewRequest(http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			hr.Header.Set("Auth-Api-Token", b.token)
			t := time.Now()
			resp, err := client.Do(hr)
			var sd time.Duration
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				sd = time.Since(t)
			}
			if err != nil || resp.StatusCode != rt.status {
				o.ShimErrors++
				continue
			}
			t = time.Now()
			res, err := measureExec(context.Background(), b.cpi, []string{"-configPath", b.cfgNoToken}, b.childEnv(), req)
			dd := time.Since(t)
			if err != nil || res.ExitCode != 0 {
				o.DirectErrors++
				continue
			}
			shimD = append(shimD, ms(sd))
			directD = append(directD, ms(dd))
			o.DiffSamples = append(o.DiffSamples, ms(sd)-ms(dd))
		}
		o.Pairs = len(o.DiffSamples)
		o.ShimP50Ms = summarize(shimD).Median
		o.DirectP50Ms = summarize(directD).Median
		o.DiffP50Ms = summarize(o.DiffSamples).Median
		b.res.Overhead = append(b.res.Overhead, o)
		b.logf("overhead %-16s %d pairs: shim p50 %.2f ms, direct p50 %.2f ms, median difference %.2f ms",
			rt.name, o.Pairs, o.ShimP50Ms, o.DirectP50Ms, o.DiffP50Ms)
	}
	return nil
}
