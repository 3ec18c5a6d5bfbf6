package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

// boshCommitThenFailRoutes are the BOSH creates and deletes that get
// commit_then_fail (the change is applied, the answer lost), on top of the
// Nanobox run's fault mix.
var boshCommitThenFailRoutes = []struct{ Method, Route string }{
	{http.MethodPost, "/v1/volumes"},
	{http.MethodDelete, "/v1/volumes/{id}"},
}

// boshFaults is the Nanobox run's fault mix (chaosFaults) plus
// commit_then_fail on the volume creates and deletes.
func boshFaults(rate float64) []hcloudsim.Fault {
	var fs []hcloudsim.Fault
	for _, r := range boshCommitThenFailRoutes {
		fs = append(fs, hcloudsim.Fault{Method: r.Method, Route: r.Route, Kind: hcloudsim.FaultCommitThenFail, Probability: commitThenFailRate})
	}
	return append(fs, chaosFaults(rate)...)
}

// boshRun is one run of TestBoshChaosLifecycles.
type boshRun struct {
	t           *testing.T
	n, parallel int
	seed        int64
	sim         *simtest.Env
	cpi, config string
	image       string // the light stemcell's empty image file
	network     int64

	mu         sync.Mutex
	calls      int            // CPI processes run
	failedBy   map[string]int // failed answers by method
	retries    map[string]int // calls repeated by method (create_vm: with a new agent id)
	duplicates []string       // lifecycles that saw two finished servers or volumes of their own
	failures   []string
	elapsed    time.Duration
	injected   map[hcloudsim.FaultKind]int

	markedLeft, orphans, leakedIPs int
}

// boshCPIResponse is the CPI's answer.
type boshCPIResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Type      string `json:"type"`
		Message   string `json:"message"`
		OkToRetry bool   `json:"ok_to_retry"`
	} `json:"error"`
}

// TestBoshChaosLifecycles runs N concurrent BOSH lifecycles, as create-env
// and a director drive them, through the CPI binary (one process per call)
// against the simulator under the Nanobox run's fault mix (plus lost
// answers on volume creates and deletes): create_stemcell, create_vm on a
// manual network with a static IP of its own, create_disk, attach_disk,
// detach_disk, delete_vm, delete_disk. A failed call is repeated, create_vm
// with a new agent id every time (bosh-cli makes one per VM). Then: no
// server or volume is left (0 orphans, after one more call that sweeps
// what the last failed calls left), no lifecycle ever saw two finished
// servers or volumes (0 duplicates), and no static IP is held (0 leaked).
func TestBoshChaosLifecycles(t *testing.T) {
	t.Parallel()
	r := newBoshRun(t)
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	r.lifecycles(ctx)
	r.check(ctx)
	r.report()
}

func newBoshRun(t *testing.T) *boshRun {
	r := &boshRun{t: t, n: *chaosN, seed: *chaosSeed, parallel: *chaosParallel, failedBy: map[string]int{}, retries: map[string]int{}}
	if r.n <= 0 {
		r.n = 8
		if *soak {
			r.n = 200
		}
	}
	if r.seed == 0 {
		r.seed = time.Now().UnixNano() % 1_000_000_007
	}
	if r.parallel <= 0 {
		r.parallel = min(r.n, 16)
	}
	t.Logf("bosh chaos: %d lifecycles, %d at once, fault rate %.0f%%, seed %d (replay: -chaos.seed %d)", r.n, r.parallel, *chaosRate*100, r.seed, r.seed)
	r.sim = simtest.Start(t, hcloudsim.Options{Token: "reliability-bosh-token-0123456789", Seed: r.seed, RateLimit: 1 << 30, RateRefill: time.Millisecond,
		Delays: hcloudsim.Delays{Action: *chaosActDelay}})
	dir := t.TempDir()
	cfg, err := json.Marshal(map[string]any{
		"token": r.sim.Token, "endpoint": r.sim.URL, "state_dir": filepath.Join(dir, "state"),
		"catalog":  map[string]any{"cache_dir": filepath.Join(dir, "catalog")},
		"timeouts": map[string]any{"call_seconds": 60, "poll_interval_ms": 20},
		"agent":    map[string]any{"mbus": "https://mbus:secret@0.0.0.0:6868"},
	})
	require.NoError(t, err)
	r.image = filepath.Join(dir, "image")
	require.NoError(t, os.WriteFile(r.image, nil, 0o600))
	r.config = filepath.Join(dir, "cpi.json")
	require.NoError(t, os.WriteFile(r.config, cfg, 0o600))
	r.cpi = filepath.Join(dir, "nanobox-hcloud-cpi")
	require.NoError(t, copyFile(bins.cpi, r.cpi))
	_, ipRange, _ := net.ParseCIDR("10.0.0.0/16")
	_, subnet, _ := net.ParseCIDR("10.0.0.0/17")
	n, _, err := r.sim.Client().Network.Create(context.Background(), hcloud.NetworkCreateOpts{Name: "bosh", IPRange: ipRange,
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneEUCentral, IPRange: subnet}}})
	require.NoError(t, err)
	r.network = n.ID
	return r
}

// ip is lifecycle i's static IP.
func (r *boshRun) ip(i int) string { return fmt.Sprintf("10.0.%d.%d", 1+i/200, 10+i%200) }

// run executes one CPI call as bosh-cli does (info first is left out: it
// makes no API call).
func (r *boshRun) run(ctx context.Context, method string, args ...any) (boshCPIResponse, error) {
	req, err := json.Marshal(map[string]any{"method": method, "arguments": args, "api_version": 2,
		"context": map[string]any{"director_uuid": "soak", "vm": map[string]any{"stemcell": map[string]any{"api_version": 3}}}})
	if err != nil {
		return boshCPIResponse{}, err
	}
	cmd := exec.CommandContext(ctx, r.cpi, "-configPath", r.config)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(r.config)}
	cmd.Stdin = bytes.NewReader(req)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		return boshCPIResponse{}, fmt.Errorf("%s: the CPI exited: %w", method, err)
	}
	var resp boshCPIResponse
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return resp, fmt.Errorf("%s: the answer is not JSON: %q", method, stdout.String())
	}
	r.mu.Lock()
	r.calls++
	if resp.Error != nil {
		r.failedBy[method]++
	}
	r.mu.Unlock()
	return resp, nil
}

// call repeats a call until it succeeds (at most maxAttempts times), with
// args(attempt) giving each attempt's arguments, and decodes the result.
func (r *boshRun) call(ctx context.Context, rng *rand.Rand, trace *[]string, v any, method string, args func() []any) error {
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			r.mu.Lock()
			r.retries[method]++
			r.mu.Unlock()
		}
		resp, err := r.run(ctx, method, args()...)
		if err != nil {
			return err
		}
		if resp.Error == nil {
			if v == nil {
				return nil
			}
			return json.Unmarshal(resp.Result, v)
		}
		*trace = append(*trace, fmt.Sprintf("%s #%d: %s: %s (ok_to_retry %v)", method, attempt, resp.Error.Type, resp.Error.Message, resp.Error.OkToRetry))
		if attempt >= maxAttempts || ctx.Err() != nil {
			return fmt.Errorf("%s failed %d times", method, attempt)
		}
		select {
		case <-time.After(time.Duration(5+rng.IntN(20)) * time.Millisecond * time.Duration(min(attempt, 8))):
		case <-ctx.Done():
		}
	}
}

// lifecycle i: the calls create-env and a director make for one VM with a
// persistent disk, from the stemcell to the deletes.
func (r *boshRun) lifecycle(ctx context.Context, i int) error {
	rng := rand.New(rand.NewPCG(uint64(r.seed), uint64(i)+7))
	var trace []string
	fail := func(err error) error {
		return fmt.Errorf("%w\n    trace: %s", err, strings.Join(trace, "\n           "))
	}
	tag := map[string]string{"lc": strconv.Itoa(i)}
	var stemcell, vm, disk string
	if err := r.call(ctx, rng, &trace, &stemcell, "create_stemcell", func() []any {
		return []any{r.image, map[string]any{"image_name": "ubuntu-24.04", "architecture": "x86"}}
	}); err != nil {
		return fail(err)
	}
	networks := map[string]any{"private": map[string]any{"type": "manual", "ip": r.ip(i), "netmask": "255.255.128.0", "gateway": "10.0.0.1",
		"dns": []string{"185.12.64.1"}, "default": []string{"dns", "gateway"}, "cloud_properties": map[string]any{"network": "bosh"}}}
	env := map[string]any{"bosh": map[string]any{"blobstores": []any{map[string]any{"provider": "local", "options": map[string]any{"blobstore_path": "/var/vcap/micro_bosh/data/cache"}}}}}
	var created []json.RawMessage
	if err := r.call(ctx, rng, &trace, &created, "create_vm", func() []any {
		// A new agent id on every attempt, as bosh-cli makes one per VM.
		return []any{uuid.NewString(), stemcell, map[string]any{"server_type": "cx23", "location": "nbg1", "labels": tag}, networks, []string{}, env}
	}); err != nil {
		return fail(err)
	}
	if len(created) != 2 || json.Unmarshal(created[0], &vm) != nil {
		return fail(fmt.Errorf("create_vm answered %s", created))
	}
	r.checkOne(i, "server", vm)
	if err := r.call(ctx, rng, &trace, &disk, "create_disk", func() []any { return []any{10 * 1024, map[string]any{"labels": tag}, vm} }); err != nil {
		return fail(err)
	}
	r.checkOne(i, "volume", disk)
	steps := []struct {
		method string
		args   []any
	}{
		{"attach_disk", []any{vm, disk}},
		{"detach_disk", []any{vm, disk}},
		{"delete_vm", []any{vm}},
		{"delete_disk", []any{disk}},
	}
	for _, s := range steps {
		if err := r.call(ctx, rng, &trace, nil, s.method, func() []any { return s.args }); err != nil {
			return fail(err)
		}
	}
	return nil
}

// checkOne records a duplicate when lifecycle i has a finished (unmarked)
// server or volume other than cid: an object BOSH was not told about that
// no sweep would ever delete. Unfinished ones are the sweeps' business.
func (r *boshRun) checkOne(i int, kind, cid string) {
	api := r.sim.Sim.Snapshot()
	var others []string
	if kind == "server" {
		for _, s := range api.Servers {
			if s.Labels["lc"] == strconv.Itoa(i) && s.Labels["bosh-creating"] == "" && strconv.FormatInt(s.ID, 10) != cid {
				others = append(others, strconv.FormatInt(s.ID, 10))
			}
		}
	} else {
		for _, v := range api.Volumes {
			if v.Labels["lc"] == strconv.Itoa(i) && v.Labels["bosh-creating"] == "" && strconv.FormatInt(v.ID, 10) != cid {
				others = append(others, strconv.FormatInt(v.ID, 10))
			}
		}
	}
	if len(others) > 0 {
		r.mu.Lock()
		r.duplicates = append(r.duplicates, fmt.Sprintf("lifecycle %d: %s %s answered, finished %ss %v also exist", i, kind, cid, kind, others))
		r.mu.Unlock()
	}
}

func (r *boshRun) lifecycles(ctx context.Context) {
	for _, f := range boshFaults(*chaosRate) {
		require.NoError(r.t, f.Validate())
		r.sim.Sim.AddFault(f)
	}
	stop := make(chan struct{})
	restored := make(chan struct{})
	go func() { // commit_then_capacity_gone sells cx23 out; bring it back
		defer close(restored)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = r.sim.Sim.SetAvailability("cx23", "nbg1", true)
			}
		}
	}()
	sem := make(chan struct{}, r.parallel)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < r.n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.lifecycle(ctx, i); err != nil {
				r.mu.Lock()
				r.failures = append(r.failures, fmt.Sprintf("lifecycle %d: %v", i, err))
				r.mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	close(stop)
	<-restored
	_ = r.sim.Sim.SetAvailability("cx23", "nbg1", true)
	r.elapsed = time.Since(start)
	r.injected = r.sim.Sim.FaultsInjected()
	r.sim.Sim.ClearFaults()
}

// check: every lifecycle finished; after one more call (which sweeps what
// the last failed calls left), no server, volume or held IP remains.
func (r *boshRun) check(ctx context.Context) {
	t := r.t
	sort.Strings(r.failures)
	assert.Empty(t, r.failures, "%d of %d lifecycles did not finish (seed %d)", len(r.failures), r.n, r.seed)
	assert.Empty(t, r.duplicates, "duplicates (seed %d)", r.seed)
	st := r.sim.Sim.Snapshot()
	for _, s := range st.Servers {
		if s.Labels["bosh-creating"] != "" {
			r.markedLeft++
		}
	}
	for _, v := range st.Volumes {
		if v.Labels["bosh-creating"] != "" {
			r.markedLeft++
		}
	}
	resp, err := r.run(ctx, "delete_disk", "999999999")
	require.NoError(t, err)
	require.Nil(t, resp.Error, "the sweeping call")
	st = r.sim.Sim.Snapshot()
	for _, s := range st.Servers {
		r.orphans++
		t.Errorf("orphan: server %d %q (labels %v)", s.ID, s.Name, s.Labels)
		if len(s.PrivateNet) > 0 {
			r.leakedIPs++
		}
	}
	for _, v := range st.Volumes {
		r.orphans++
		t.Errorf("orphan: volume %d %q (labels %v)", v.ID, v.Name, v.Labels)
	}
	for _, n := range st.Networks {
		if n.ID == r.network && len(n.Servers) > 0 {
			t.Errorf("network bosh still has servers %v", n.Servers)
		}
	}
	assert.True(t, eventually(10*time.Second, func() bool { return len(livePIDsOf(r.cpi)) == 0 }), "CPI processes still alive")
}

func (r *boshRun) report() {
	var b strings.Builder
	fmt.Fprintf(&b, "bosh chaos run: seed %d, %d lifecycles (%d at once), %s wall time\n", r.seed, r.n, r.parallel, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "  lifecycles finished:  %d of %d\n", r.n-len(r.failures), r.n)
	fmt.Fprintf(&b, "  orphans:              %d (unfinished objects awaiting a sweep before the last call: %d)\n", r.orphans, r.markedLeft)
	fmt.Fprintf(&b, "  duplicates:           %d\n", len(r.duplicates))
	fmt.Fprintf(&b, "  leaked static IPs:    %d\n", r.leakedIPs)
	fmt.Fprintf(&b, "  CPI calls:            %d; failed answers by method: %v; repeated calls by method: %v\n", r.calls, r.failedBy, r.retries)
	total := 0
	var kinds []string
	for k, v := range r.injected {
		total += v
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "  faults injected:      %d (%s)\n", total, strings.Join(kinds, " "))
	fmt.Fprintf(&b, "  Hetzner API requests: %d\n", r.sim.Sim.TotalRequests())
	r.t.Log("\n" + b.String())
	if *soak {
		path := filepath.Join(os.TempDir(), "nanobox-bosh-soak-report.txt")
		if *chaosReport != "" {
			path = *chaosReport + ".bosh"
		}
		_ = os.WriteFile(path, []byte(b.String()), 0o600)
		fmt.Print(b.String())
	}
}
