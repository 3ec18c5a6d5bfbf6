// Command benchtool measures the nanobox-hcloud adapter on loopback against
// bin/hcloud-sim (faults off, simulated delays zero, rate limit raised so it
// never throttles) and writes docs/benchmarks.md with its raw data under
// docs/bench/. scripts/bench (make bench) runs it after the Go
// micro-benchmarks.
//
// It measures, in one run:
//   - every CPI method as a whole process (wall time, CPU time, peak RSS from
//     rusage) with the simulator's request counters reset before each call,
//     beside the method's API request budget;
//   - the floors: a trivial Go binary's exec and the direct HTTP requests;
//   - the official hcloud CLI doing the same, when it is on PATH;
//   - the shim under load at several concurrencies, and the CPI run
//     directly at the same concurrencies.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// results is everything one run measured (docs/bench/results.json).
type results struct {
	Env          map[string]string `json:"environment"`
	Started      time.Time         `json:"started"`
	Seconds      float64           `json:"seconds"`
	Runs         int               `json:"runs_per_method"`
	Clients      []int             `json:"clients"`
	LoadSeconds  float64           `json:"load_seconds_per_level"`
	DirectSecs   float64           `json:"direct_seconds_per_level"`
	MaxConc      int               `json:"max_concurrent_flag"`
	RSSMethod    string            `json:"rss_method"`
	LoadAvg      []string          `json:"loadavg_start_end"`
	SimArgs      []string          `json:"sim_args"`
	ShimArgs     []string          `json:"shim_args"`
	ShimExit     string            `json:"shim_exit"`
	LoadServerID string            `json:"load_server_id"`
	Trivial      *scenario         `json:"trivial"`
	ImportFloor  *scenario         `json:"hcloud_go_import"`
	Methods      []*scenario       `json:"methods"`
	// BuildCompare is meta and query_server with the CPI as make build
	// builds it and as it was built before (cgo, urfave/cli docs),
	// interleaved call for call.
	BuildCompare []*buildCompare `json:"build_compare,omitempty"`
	Direct       []*directResult `json:"direct_http"`
	CLI          struct {
		Absent  bool      `json:"absent"`
		Path    string    `json:"path,omitempty"`
		Version string    `json:"version,omitempty"`
		Rows    []*cliRow `json:"rows,omitempty"`
	} `json:"hcloud_cli"`
	Load               []*loadLevel    `json:"shim_load"`
	LoadCompare        *loadLevel      `json:"shim_load_compare_max_concurrent,omitempty"`
	ShimDefaultMaxConc int             `json:"shim_default_max_concurrent"`
	LoadDirect         []*loadLevel    `json:"direct_cpi_load"`
	Overhead           []*overheadPair `json:"shim_overhead_paired"`
	Polling            *pollingResults `json:"polling,omitempty"`
}

// bench holds the run's configuration and state.
type bench struct {
	binDir, outDir, tmp string
	cpi, shim, sim      string
	trivial             string
	importFloor         string
	launcher            string
	runs                int
	clients             []int
	loadDuration        time.Duration
	directDuration      time.Duration
	maxConc             int
	compareConc         int
	overheadPairs       int
	simPid              int
	variant             bool
	variantCPI          string
	microFiles          []string
	polling             bool
	keep                bool
	pollingCfg          pollingConfig

	token        string
	simURL       string // ends in /v1
	admin        *simAdmin
	stateDir     string
	liveCacheDir string
	cfgNoToken   string
	cfgLive      string
	cfgCached    string
	seq          int
	loadServer   string
	firstKeyID   string

	res results
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func main() {
	b := &bench{}
	var clients, micro string
	flag.StringVar(&b.binDir, "bin", "bin", "directory of hcloud-sim, nanobox-hcloud-cpi and nanobox-cpi-shim")
	flag.StringVar(&b.outDir, "out", "docs", "docs directory: writes benchmarks.md and bench/")
	flag.IntVar(&b.runs, "runs", 20, "runs per method (the median of these is reported)")
	flag.StringVar(&clients, "clients", "1,8,32,128", "concurrent clients of the load runs")
	flag.DurationVar(&b.loadDuration, "load-duration", 10*time.Second, "duration of each shim load run")
	flag.DurationVar(&b.directDuration, "direct-duration", 4*time.Second, "duration of each direct-CPI load run")
	flag.IntVar(&b.maxConc, "max-concurrent", 0, "the shim's --max-concurrent in the load runs (0: the shim's default, 4 per core, as an operator runs it)")
	flag.IntVar(&b.overheadPairs, "overhead-pairs", 300, "alternating shim/direct calls per route for the shim's overhead")
	flag.BoolVar(&b.variant, "variant", true, "also build the CPI the earlier way (CGO_ENABLED=1, without -tags urfave_cli_no_docs) and measure meta and query_server with both, interleaved")
	flag.IntVar(&b.compareConc, "compare-max-concurrent", 128, "also drive the shim with this --max-concurrent at the most clients (0: skip)")
	flag.StringVar(&micro, "micro", "", "comma-separated files of micro-benchmark output to include (go test -bench, benchstat)")
	var renderOnly, pollingOnly bool
	flag.BoolVar(&b.keep, "keep", false, "keep the temporary directory (binaries, configs, the simulators' and shims' logs) and print its path")
	flag.BoolVar(&renderOnly, "render-only", false, "only rewrite benchmarks.md and the plot from <out>/bench/results.json (after editing notes.md)")
	var pollingNs string
	var pollInit, pollStart, pollLatency time.Duration
	flag.BoolVar(&b.polling, "polling", true, "run the polling scenario: N servers ordered at once, each polled every second until active, one request per poll and coalesced")
	flag.BoolVar(&pollingOnly, "polling-only", false, "run only the polling scenario and replace its figures; the other figures are kept from <out>/bench/results.json")
	flag.StringVar(&pollingNs, "polling-n", "10,50,100,200", "servers ordered at once in the polling scenario's N series (\"\": none)")
	var pollingFleets string
	flag.StringVar(&pollingFleets, "polling-fleet", "0,300,1000", "servers already running in the polling scenario's fleet series (coalesced, -polling-fleet-n ordered; \"\": none)")
	flag.IntVar(&b.pollingCfg.FleetN, "polling-fleet-n", 50, "servers ordered at once in the fleet series")
	flag.IntVar(&b.pollingCfg.Replicas, "polling-replicas", 2, "shims of the replicas series, at the largest fleet: each with its own state dir, then sharing one (0: none)")
	flag.DurationVar(&pollInit, "polling-initializing", 10*time.Second, "simulated time a new server is initializing")
	flag.DurationVar(&pollStart, "polling-starting", 20*time.Second, "simulated time it is then starting (boot = both)")
	flag.DurationVar(&pollLatency, "polling-latency", 40*time.Millisecond, "simulated Hetzner round trip")
	flag.IntVar(&b.pollingCfg.WindowMs, "polling-window-ms", 1000, "the CPI's polling.window_ms in coalesced mode")
	flag.IntVar(&b.pollingCfg.MaxConc, "polling-max-concurrent", 64, "the shim's --max-concurrent in the polling scenario")
	flag.Parse()
	b.pollingCfg.InitSeconds, b.pollingCfg.StartSeconds = pollInit.Seconds(), pollStart.Seconds()
	b.pollingCfg.LatencyMs = float64(pollLatency) / 1e6
	b.pollingCfg.RateLimit, b.pollingCfg.PollSeconds = 3600, 1
	for _, f := range splitList(pollingNs) {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("-polling-n: %q is not a positive number", f)
		}
		b.pollingCfg.Ns = append(b.pollingCfg.Ns, n)
	}
	for _, f := range splitList(pollingFleets) {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			fatalf("-polling-fleet: %q is not a number of servers", f)
		}
		b.pollingCfg.Fleets = append(b.pollingCfg.Fleets, n)
	}
	if b.pollingCfg.FleetN < 1 {
		fatalf("-polling-fleet-n must be at least 1")
	}
	for _, f := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("-clients: %q is not a positive number", f)
		}
		b.clients = append(b.clients, n)
	}
	if micro != "" {
		b.microFiles = strings.Split(micro, ",")
	}
	if b.runs < 1 {
		fatalf("-runs must be at least 1")
	}
	if renderOnly {
		if err := b.render(); err != nil {
			fatalf("%v", err)
		}
		return
	}
	if pollingOnly {
		if err := b.runPollingOnly(); err != nil {
			fatalf("%v", err)
		}
		return
	}
	if err := b.run(); err != nil {
		fatalf("%v", err)
	}
}

// splitList splits a comma-separated flag; "" is no element.
func splitList(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return strings.Split(v, ",")
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchtool: "+format+"\n", args...)
	os.Exit(1)
}

func (b *bench) run() error {
	start := time.Now()
	b.res.Started = start.UTC()
	b.res.Runs = b.runs
	b.res.Clients = b.clients
	b.res.LoadSeconds = b.loadDuration.Seconds()
	b.res.DirectSecs = b.directDuration.Seconds()
	b.res.MaxConc = b.maxConc
	if err := b.copyBinaries(); err != nil {
		return err
	}
	defer b.cleanUp()
	b.res.Env = environment(b)

	b.res.LoadAvg = append(b.res.LoadAvg, readTrim("/proc/loadavg"))
	b.buildLauncher()
	if err := b.buildTrivial(); err != nil {
		return err
	}
	if b.variant {
		if err := b.buildVariant(); err != nil {
			return err
		}
	}
	simSrv, err := b.startSim()
	if err != nil {
		return err
	}
	defer simSrv.stop()
	b.simPid = simSrv.pid()
	if err := b.writeConfigs(); err != nil {
		return err
	}

	steps := []struct {
		name string
		fn   func() error
	}{
		{"per-method runs", b.runMethods},
		{"direct HTTP baselines", b.runDirect},
		{"hcloud CLI", b.runCLI},
		{"shim load", b.runLoad},
	}
	if b.polling {
		steps = append(steps, struct {
			name string
			fn   func() error
		}{"polling scenario", b.runPolling})
	}
	for _, s := range steps {
		b.logf("== %s", s.name)
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	simSrv.stop()
	b.res.LoadAvg = append(b.res.LoadAvg, readTrim("/proc/loadavg"))
	b.res.Seconds = time.Since(start).Seconds()
	return b.write()
}

// cleanUp removes the temporary directory, unless -keep.
func (b *bench) cleanUp() {
	if b.keep {
		b.logf("kept %s", b.tmp)
		return
	}
	os.RemoveAll(b.tmp)
}

// copyBinaries copies bin/ into a new temporary directory: a concurrent
// `make build` cannot swap them mid-run, and CPI processes found by
// /proc/<pid>/exe are this run's.
func (b *bench) copyBinaries() error {
	var err error
	if b.tmp, err = os.MkdirTemp("", "nanobox-bench-"); err != nil {
		return err
	}
	binCopy := filepath.Join(b.tmp, "bin")
	if err := os.MkdirAll(binCopy, 0o755); err != nil {
		return err
	}
	for name, dst := range map[string]*string{"nanobox-hcloud-cpi": &b.cpi, "nanobox-cpi-shim": &b.shim, "hcloud-sim": &b.sim} {
		src := filepath.Join(b.binDir, name)
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("%s: %w (run make build)", src, err)
		}
		*dst = filepath.Join(binCopy, name)
		if err := os.WriteFile(*dst, data, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// runPollingOnly runs the polling scenario alone and rewrites the page and
// results.json with its figures and the other figures of the last full run.
func (b *bench) runPollingOnly() error {
	if err := b.load(); err != nil {
		return fmt.Errorf("-polling-only needs a full run's results.json: %w", err)
	}
	if err := b.copyBinaries(); err != nil {
		return err
	}
	defer b.cleanUp()
	b.logf("== polling scenario")
	if err := b.runPolling(); err != nil {
		return fmt.Errorf("polling scenario: %w", err)
	}
	return b.write()
}

// buildTrivial builds `package main; func main(){}` with the same toolchain
// and flags as the CPI: the floor of any exec. It also builds a binary that
// only imports hcloud-go (in this module, so the pinned version): the floor
// of any Go program on hcloud-go, whose package initialisation (prometheus,
// protobuf, label regexps) runs before main.
func (b *bench) buildTrivial() error {
	if err := b.buildFloor("hcloud-go-import", "package main\n\nimport _ \"github.com/hetznercloud/hcloud-go/v2/hcloud\"\n\nfunc main() {}\n", true, &b.importFloor); err != nil {
		return err
	}
	return b.buildFloor("trivial", "package main\n\nfunc main() {}\n", false, &b.trivial)
}

// buildFloor builds one floor binary from src; inModule builds it with this
// module's requirements (from the working directory, the repo root).
func (b *bench) buildFloor(name, src string, inModule bool, dst *string) error {
	dir := filepath.Join(b.tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		return err
	}
	*dst = filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", *dst, filepath.Join(dir, "main.go"))
	if !inModule {
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+name+"\n\ngo 1.26\n"), 0o644); err != nil {
			return err
		}
		cmd = exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", *dst, ".")
		cmd.Dir = dir
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as the Makefile builds bin/
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the %s binary: %w", name, err)
	}
	return nil
}

// startSim starts bin/hcloud-sim with zero delays, no faults and a rate
// limit far above anything the bench sends.
func (b *bench) startSim() (*server, error) {
	b.token = "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	args := []string{"--listen", "127.0.0.1:0", "--token", b.token,
		"--rate-limit", "100000000", "--rate-refill", "1ms", "--log-level", "warn"}
	srv, out, err := startServer("hcloud-sim", b.sim, args, b.childEnv(), filepath.Join(b.tmp, "sim.log"))
	if err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		l, _ := out.ReadString('\n')
		line <- strings.TrimSpace(l)
		_, _ = out.WriteTo(discard{})
	}()
	select {
	case url := <-line:
		if !strings.HasPrefix(url, "http://") {
			srv.stop()
			return nil, fmt.Errorf("hcloud-sim printed %q, not its URL", url)
		}
		b.simURL = url
	case <-time.After(15 * time.Second):
		srv.stop()
		return nil, fmt.Errorf("hcloud-sim did not print its URL within 15s")
	}
	b.admin = &simAdmin{base: strings.TrimSuffix(b.simURL, "/v1"), token: b.token, http: newAdminClient()}
	shown := append([]string(nil), args...)
	for i := range shown {
		if shown[i] == b.token {
			shown[i] = "<token>"
		}
	}
	b.res.SimArgs = shown
	return srv, nil
}

// writeConfigs writes the three CPI configs: no operator token (calls
// bring their own), and with the operator token for the live and the
// cached catalog.
func (b *bench) writeConfigs() error {
	b.stateDir = filepath.Join(b.tmp, "state")
	b.liveCacheDir = filepath.Join(b.tmp, "cache-live")
	write := func(name string, cfg map[string]any) (string, error) {
		p := filepath.Join(b.tmp, name)
		data, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return "", err
		}
		return p, os.WriteFile(p, data, 0o600)
	}
	base := func(cacheDir string) map[string]any {
		return map[string]any{
			"endpoint":  b.simURL,
			"state_dir": b.stateDir,
			"catalog":   map[string]any{"cache_dir": cacheDir},
		}
	}
	var err error
	if b.cfgNoToken, err = write("cpi-calls.json", base(filepath.Join(b.tmp, "cache-none"))); err != nil {
		return err
	}
	live := base(b.liveCacheDir)
	live["token"] = b.token
	if b.cfgLive, err = write("cpi-live.json", live); err != nil {
		return err
	}
	cached := base(filepath.Join(b.tmp, "cache-warm"))
	cached["token"] = b.token
	b.cfgCached, err = write("cpi-cached.json", cached)
	return err
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// render rewrites benchmarks.md and the plot from a previous run's
// results.json, with the current notes.md.
func (b *bench) render() error {
	if err := b.load(); err != nil {
		return err
	}
	return b.write()
}

// load reads a previous run's results.json and the settings it ran with.
func (b *bench) load() error {
	data, err := os.ReadFile(filepath.Join(b.outDir, "bench", "results.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &b.res); err != nil {
		return fmt.Errorf("results.json: %w", err)
	}
	b.clients = b.res.Clients
	b.loadDuration = time.Duration(b.res.LoadSeconds * float64(time.Second))
	b.directDuration = time.Duration(b.res.DirectSecs * float64(time.Second))
	b.maxConc = b.res.MaxConc
	b.runs = b.res.Runs
	if len(b.microFiles) == 0 {
		b.microFiles = []string{filepath.Join(b.outDir, "bench", "micro-benchstat.txt")}
		if f := filepath.Join(b.outDir, "bench", "micro-failures.txt"); fileExists(f) {
			b.microFiles = append(b.microFiles, f)
		}
	}
	if len(b.clients) == 0 {
		return fmt.Errorf("results.json has no load levels")
	}
	return nil
}

// buildCompare is one method run with both builds.
type buildCompare struct {
	Method   string   `json:"method"`
	Current  scenario `json:"current"`  // bin/ as make build built it
	Previous scenario `json:"previous"` // variantFlags
}

// variantFlags describe the earlier build of the CPI: cgo on (a dynamically
// linked binary) and urfave/cli's Markdown/man generators linked in.
var variantFlags = []string{"CGO_ENABLED=1", "without -tags urfave_cli_no_docs"}

// buildVariant builds the CPI from the working tree the earlier way (with
// the Makefile's -trimpath -ldflags '-s -w').
func (b *bench) buildVariant() error {
	b.variantCPI = filepath.Join(b.tmp, "variant", "nanobox-hcloud-cpi")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", b.variantCPI, "./cmd/nanobox-hcloud-cpi")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the CPI variant: %w", err)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
