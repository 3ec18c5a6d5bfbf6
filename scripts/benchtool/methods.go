package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// methodRun is one measured CPI process.
type methodRun struct {
	WallMs      float64        `json:"wall_ms"`
	CPUMs       float64        `json:"cpu_ms"`
	RSSKiB      int64          `json:"max_rss_kib"`
	APIRequests int            `json:"api_requests"`
	Routes      map[string]int `json:"routes"`
}

// scenario is one row of the per-method table: a method in one situation,
// run Runs times.
type scenario struct {
	Name      string      `json:"name"`
	Method    string      `json:"method"`
	Budget    string      `json:"budget"`     // as the issue states it
	BudgetMax int         `json:"budget_max"` // the most requests allowed
	Note      string      `json:"note,omitempty"`
	Runs      []methodRun `json:"runs"`
}

func (s *scenario) wall() summary {
	return summarize(s.field(func(r methodRun) float64 { return r.WallMs }))
}
func (s *scenario) cpu() summary {
	return summarize(s.field(func(r methodRun) float64 { return r.CPUMs }))
}
func (s *scenario) rss() summary {
	return summarize(s.field(func(r methodRun) float64 { return float64(r.RSSKiB) / 1024 }))
}
func (s *scenario) requests() summary {
	return summarize(s.field(func(r methodRun) float64 { return float64(r.APIRequests) }))
}
func (s *scenario) field(f func(methodRun) float64) []float64 {
	out := make([]float64, len(s.Runs))
	for i, r := range s.Runs {
		out[i] = f(r)
	}
	return out
}

// routes lists the API routes of the last run, "GET /v1/x ×n".
func (s *scenario) routes() string {
	if len(s.Runs) == 0 {
		return ""
	}
	r := s.Runs[len(s.Runs)-1].Routes
	var parts []string
	for k, v := range r {
		if v == 1 {
			parts = append(parts, k)
		} else {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// cpiCall builds a protocol request for method with args and the token as
// the api-token credential ("" = none).
func cpiRequest(method string, args []any, token, requestID string) []byte {
	raw := make([]json.RawMessage, 0, len(args))
	for _, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			panic(err) // our own literals
		}
		raw = append(raw, b)
	}
	req := protocol.Request{Method: method, Arguments: raw, APIVersion: protocol.APIVersion,
		Context: protocol.Context{RequestID: requestID}}
	if token != "" {
		req.Context.Credentials = protocol.Credentials{"api-token": token}
	}
	b, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

// runCPI runs one CPI call with the simulator's counters reset before it,
// and returns the measured run and the raw result. A response with an error
// is an error unless wantError names its type.
func (b *bench) runCPI(configPath, method string, args []any, token, wantError string) (methodRun, json.RawMessage, error) {
	return b.runCPIBinary(b.cpi, configPath, method, args, token, wantError)
}

// runCPIBinary is runCPI with another CPI binary (the build variant).
func (b *bench) runCPIBinary(cpiPath, configPath, method string, args []any, token, wantError string) (methodRun, json.RawMessage, error) {
	if err := b.admin.reset(); err != nil {
		return methodRun{}, nil, err
	}
	b.seq++
	req := cpiRequest(method, args, token, fmt.Sprintf("bench-%d", b.seq))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := b.measureProcess(ctx, cpiPath, []string{"-configPath", configPath}, b.childEnv(), req)
	if err != nil {
		return methodRun{}, nil, err
	}
	routes, total, err := b.admin.requests()
	if err != nil {
		return methodRun{}, nil, err
	}
	run := methodRun{WallMs: ms(res.Wall), CPUMs: ms(res.CPU), RSSKiB: res.MaxRSS, APIRequests: total, Routes: routes}
	if res.ExitCode != 0 {
		return run, nil, fmt.Errorf("%s: CPI exited %d: %s", method, res.ExitCode, firstLine(res.Stderr))
	}
	var resp protocol.RawResponse
	if err := json.Unmarshal(res.Stdout, &resp); err != nil {
		return run, nil, fmt.Errorf("%s: CPI answered something that is not a response: %q", method, protocol.Truncate(string(res.Stdout), 200))
	}
	switch {
	case resp.Error != nil && string(resp.Error.Type) != wantError:
		return run, nil, fmt.Errorf("%s: CPI answered %s: %s", method, resp.Error.Type, resp.Error.Message)
	case resp.Error == nil && wantError != "":
		return run, nil, fmt.Errorf("%s: CPI answered a result, want error %s", method, wantError)
	}
	return run, resp.Result, nil
}

// childEnv is the CPI's environment, as the shim gives it: PATH and TMPDIR
// only (no HCLOUD_TOKEN: tokens come from the config or the request).
func (b *bench) childEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + b.tmp}
}

// measure adds a scenario with n runs of call(i).
func (b *bench) measure(s scenario, n int, call func(i int) (methodRun, error)) error {
	for i := 0; i < n; i++ {
		run, err := call(i)
		if err != nil {
			return fmt.Errorf("%s run %d: %w", s.Name, i+1, err)
		}
		s.Runs = append(s.Runs, run)
	}
	b.logf("%-40s wall p50 %6.1f ms  cpu p50 %5.1f ms  rss p50 %5.1f MiB  api requests %s", s.Name, s.wall().Median, s.cpu().Median, s.rss().Median, requestsCell(s.requests()))
	b.res.Methods = append(b.res.Methods, &s)
	return nil
}

// resultID reads {"id": "..."} from a result.
func resultID(raw json.RawMessage) (string, error) {
	var r protocol.IDResult
	if err := json.Unmarshal(raw, &r); err != nil || r.ID == "" {
		return "", fmt.Errorf("result %s has no id", protocol.Truncate(string(raw), 100))
	}
	return r.ID, nil
}

// newPublicKey returns a fresh ed25519 public key in authorized_keys form.
func newPublicKey() (string, error) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " bench", nil
}

// runMethods measures every method against the simulator.
func (b *bench) runMethods() error {
	if err := b.runStatelessMethods(); err != nil {
		return err
	}
	keyIDs, err := b.runKeyMethods()
	if err != nil {
		return err
	}
	warm, err := b.runOrders(keyIDs)
	if err != nil {
		return err
	}
	if err := b.compareBuilds(warm); err != nil {
		return err
	}
	if err := b.runServerChanges(warm); err != nil {
		return err
	}
	return b.runDeleteKeys(keyIDs)
}

// runStatelessMethods measures the floors, meta, catalog, verify and
// install_key.
func (b *bench) runStatelessMethods() error {
	n := b.runs
	tok := b.token
	noTok := b.cfgNoToken
	one := func(cfg, method string, args []any, token, wantErr string) func(int) (methodRun, error) {
		return func(int) (methodRun, error) {
			r, _, err := b.runCPI(cfg, method, args, token, wantErr)
			return r, err
		}
	}

	// The floors, interleaved with meta call for call (trivial, import
	// floor, meta), so the ratios of the meta target compare runs that saw
	// the same background load: a Go binary that does nothing, and one that
	// only imports hcloud-go, through the same exec path.
	triv := scenario{Name: "trivial Go binary (floor)", Method: "-", Budget: "0"}
	imp := scenario{Name: "Go binary that only imports hcloud-go", Method: "-", Budget: "0"}
	floorRun := func(path string) (methodRun, error) {
		res, err := b.measureProcess(context.Background(), path, nil, b.childEnv(), cpiRequest("meta", nil, "", "x"))
		if err != nil {
			return methodRun{}, err
		}
		return methodRun{WallMs: ms(res.Wall), CPUMs: ms(res.CPU), RSSKiB: res.MaxRSS}, nil
	}
	metaWithFloors := func(int) (methodRun, error) {
		r, err := floorRun(b.trivial)
		if err != nil {
			return r, err
		}
		triv.Runs = append(triv.Runs, r)
		if r, err = floorRun(b.importFloor); err != nil {
			return r, err
		}
		imp.Runs = append(imp.Runs, r)
		r, _, err = b.runCPI(noTok, "meta", nil, "", "")
		return r, err
	}
	b.res.Trivial, b.res.ImportFloor = &triv, &imp

	steps := []struct {
		s    scenario
		call func(int) (methodRun, error)
	}{
		{scenario{Name: "meta", Method: "meta", Budget: "0", BudgetMax: 0}, metaWithFloors},
		{scenario{Name: "catalog (embedded: no operator token)", Method: "catalog", Budget: "0", BudgetMax: 0}, one(noTok, "catalog", nil, "", "")},
		{scenario{Name: "catalog (live: operator token, empty cache)", Method: "catalog", Budget: "≤2", BudgetMax: 2,
			Note: "cache directory emptied before each run"}, func(int) (methodRun, error) {
			if err := os.RemoveAll(b.liveCacheDir); err != nil {
				return methodRun{}, err
			}
			r, _, err := b.runCPI(b.cfgLive, "catalog", nil, "", "")
			return r, err
		}},
		{scenario{Name: "catalog (cached: operator token, fresh cache)", Method: "catalog", Budget: "0", BudgetMax: 0,
			Note: "cache warmed by one unmeasured call"}, one(b.cfgCached, "catalog", nil, "", "")},
		{scenario{Name: "verify", Method: "verify", Budget: "2", BudgetMax: 2}, one(noTok, "verify", nil, tok, "")},
		{scenario{Name: "install_key (not supported: reference keys)", Method: "install_key", Budget: "0", BudgetMax: 0,
			Note: "answers NotImplemented by design"}, func(int) (methodRun, error) {
			r, _, err := b.runCPI(noTok, "install_key", []any{"1", map[string]string{"id": "k", "key": "ssh-ed25519 AAAA"}}, tok, string(protocol.NotImplemented))
			return r, err
		}},
	}
	// Warm the cached catalog once, unmeasured.
	if _, _, err := b.runCPI(b.cfgCached, "catalog", nil, "", ""); err != nil {
		return err
	}
	for i, st := range steps {
		if err := b.measure(st.s, n, st.call); err != nil {
			return err
		}
		if i == 0 {
			for _, f := range []*scenario{&triv, &imp} {
				b.logf("%-40s wall p50 %6.1f ms  cpu p50 %5.1f ms  rss p50 %5.1f MiB", f.Name, f.wall().Median, f.cpu().Median, f.rss().Median)
			}
		}
	}
	return nil
}

// runKeyMethods measures create_key and query_key; it returns the keys'
// ids.
func (b *bench) runKeyMethods() ([]string, error) {
	n := b.runs
	tok := b.token
	noTok := b.cfgNoToken
	// Keys: create, query; deleted at the end.
	var keyIDs []string
	if err := b.measure(scenario{Name: "create_key", Method: "create_key", Budget: "1", BudgetMax: 1}, n, func(i int) (methodRun, error) {
		pub, err := newPublicKey()
		if err != nil {
			return methodRun{}, err
		}
		r, res, err := b.runCPI(noTok, "create_key", []any{map[string]string{"id": fmt.Sprintf("bench-key-%d", i), "key": pub}}, tok, "")
		if err != nil {
			return r, err
		}
		id, err := resultID(res)
		keyIDs = append(keyIDs, id)
		return r, err
	}); err != nil {
		return nil, err
	}
	if err := b.measure(scenario{Name: "query_key", Method: "query_key", Budget: "1", BudgetMax: 1}, n, func(i int) (methodRun, error) {
		r, _, err := b.runCPI(noTok, "query_key", []any{keyIDs[i]}, tok, "")
		return r, err
	}); err != nil {
		return nil, err
	}

	b.firstKeyID = keyIDs[0]
	return keyIDs, nil
}

// runOrders measures order_server (first, cold, warm) and query_server; it
// returns the servers of the warm orders.
func (b *bench) runOrders(keyIDs []string) ([]string, error) {
	n := b.runs
	tok := b.token
	noTok := b.cfgNoToken
	// Servers: the very first order creates the private network.
	var serverIDs []string
	order := func(name string) (methodRun, error) {
		body := map[string]any{"name": name, "region": "nbg1", "size": "cx23", "ssh_key": keyIDs[0]}
		r, res, err := b.runCPI(noTok, "order_server", []any{body}, tok, "")
		if err != nil {
			return r, err
		}
		id, err := resultID(res)
		serverIDs = append(serverIDs, id)
		return r, err
	}
	if err := b.measure(scenario{Name: "order_server (first ever: creates the network)", Method: "order_server", Budget: "—", BudgetMax: -1,
		Note: "one run: happens once per project"}, 1, func(int) (methodRun, error) { return order("bench-first") }); err != nil {
		return nil, err
	}
	if err := b.measure(scenario{Name: "order_server (cold: network id not cached)", Method: "order_server", Budget: "—", BudgetMax: -1,
		Note: "state directory emptied before each run"}, n, func(i int) (methodRun, error) {
		if err := os.RemoveAll(b.stateDir); err != nil {
			return methodRun{}, err
		}
		return order(fmt.Sprintf("bench-cold-%d", i))
	}); err != nil {
		return nil, err
	}
	if err := b.measure(scenario{Name: "order_server (warm)", Method: "order_server", Budget: "≤3", BudgetMax: 3},
		n, func(i int) (methodRun, error) { return order(fmt.Sprintf("bench-warm-%d", i)) }); err != nil {
		return nil, err
	}
	b.loadServer = serverIDs[0]
	b.res.LoadServerID = b.loadServer

	warm := serverIDs[len(serverIDs)-n:]
	if err := b.measure(scenario{Name: "query_server", Method: "query_server", Budget: "1", BudgetMax: 1}, n, func(i int) (methodRun, error) {
		r, _, err := b.runCPI(noTok, "query_server", []any{warm[i]}, tok, "")
		return r, err
	}); err != nil {
		return nil, err
	}
	return warm, nil
}

// compareBuilds measures meta and query_server with both builds of the
// CPI, when the earlier build is there.
func (b *bench) compareBuilds(warm []string) error {
	n := b.runs
	tok := b.token
	noTok := b.cfgNoToken
	if b.variantCPI != "" {
		// Both builds, interleaved call for call, so background load hits
		// both alike.
		calls := []struct {
			method string
			args   func(i int) []any
			token  string
		}{
			{"meta", func(int) []any { return nil }, ""},
			{"query_server", func(i int) []any { return []any{warm[i]} }, tok},
		}
		for _, c := range calls {
			bc := &buildCompare{Method: c.method}
			for i := 0; i < n; i++ {
				r, _, err := b.runCPI(noTok, c.method, c.args(i), c.token, "")
				if err != nil {
					return err
				}
				bc.Current.Runs = append(bc.Current.Runs, r)
				r, _, err = b.runCPIBinary(b.variantCPI, noTok, c.method, c.args(i), c.token, "")
				if err != nil {
					return err
				}
				bc.Previous.Runs = append(bc.Previous.Runs, r)
			}
			b.res.BuildCompare = append(b.res.BuildCompare, bc)
			b.logf("%-40s wall p50 %6.1f ms (earlier build %6.1f ms)  rss p50 %5.1f MiB (%5.1f MiB)", c.method+": make build vs earlier build",
				bc.Current.wall().Median, bc.Previous.wall().Median, bc.Current.rss().Median, bc.Previous.rss().Median)
		}
	}
	return nil
}

// runServerChanges measures update_config, reboot_server, rename_server
// and cancel_server on the warm servers.
func (b *bench) runServerChanges(warm []string) error {
	n := b.runs
	tok := b.token
	noTok := b.cfgNoToken
	if err := b.measure(scenario{Name: "update_config (1 changed setting: backups)", Method: "update_config", Budget: "≤5", BudgetMax: 5},
		n, func(i int) (methodRun, error) {
			r, _, err := b.runCPI(noTok, "update_config", []any{warm[i], map[string]string{"backups": "enabled"}}, tok, "")
			return r, err
		}); err != nil {
		return err
	}
	if err := b.measure(scenario{Name: "update_config (no change)", Method: "update_config", Budget: "≤1", BudgetMax: 1},
		n, func(i int) (methodRun, error) {
			r, _, err := b.runCPI(noTok, "update_config", []any{warm[i], map[string]string{"backups": "enabled"}}, tok, "")
			return r, err
		}); err != nil {
		return err
	}
	if err := b.measure(scenario{Name: "reboot_server", Method: "reboot_server", Budget: "≤2", BudgetMax: 2}, n, func(i int) (methodRun, error) {
		r, _, err := b.runCPI(noTok, "reboot_server", []any{warm[i]}, tok, "")
		return r, err
	}); err != nil {
		return err
	}
	if err := b.measure(scenario{Name: "rename_server", Method: "rename_server", Budget: "≤2", BudgetMax: 2}, n, func(i int) (methodRun, error) {
		r, _, err := b.runCPI(noTok, "rename_server", []any{warm[i], map[string]string{"name": fmt.Sprintf("bench-renamed-%d", i)}}, tok, "")
		return r, err
	}); err != nil {
		return err
	}
	if err := b.measure(scenario{Name: "cancel_server", Method: "cancel_server", Budget: "≤2", BudgetMax: 2}, n, func(i int) (methodRun, error) {
		r, _, err := b.runCPI(noTok, "cancel_server", []any{warm[i]}, tok, "")
		return r, err
	}); err != nil {
		return err
	}
	return nil
}

// runDeleteKeys measures delete_key on every key but the first.
func (b *bench) runDeleteKeys(keyIDs []string) error {
	n := b.runs
	tok := b.token
	noTok := b.cfgNoToken
	// Key 0 stays (the direct GET /v1/ssh_keys/{id} reads it): one more
	// key, unmeasured, so n can be deleted.
	pub, err := newPublicKey()
	if err != nil {
		return err
	}
	_, res, err := b.runCPI(noTok, "create_key", []any{map[string]string{"id": "bench-key-extra", "key": pub}}, tok, "")
	if err != nil {
		return err
	}
	extra, err := resultID(res)
	if err != nil {
		return err
	}
	keyIDs = append(keyIDs, extra)
	if err := b.measure(scenario{Name: "delete_key", Method: "delete_key", Budget: "≤2", BudgetMax: 2}, n, func(i int) (methodRun, error) {
		r, _, err := b.runCPI(noTok, "delete_key", []any{keyIDs[i+1]}, tok, "")
		return r, err
	}); err != nil {
		return err
	}
	return nil
}

// directResult is one direct HTTP exchange with the simulator, timed in
// process on a fresh connection: the cloud round trip the CPI cannot avoid.
type directResult struct {
	Name     string    `json:"name"`
	Method   string    `json:"method"` // the CPI method it stands beside
	Requests int       `json:"requests"`
	WallMs   []float64 `json:"wall_ms"`
}

// runDirect times the API requests behind the read methods, each on a new
// TCP connection as a fresh process would make it.
func (b *bench) runDirect() error {
	rows := []struct {
		name, method string
		reqs         [][2]string // verb, path under /v1
		status       int         // the expected status of every request
	}{
		{"GET /v1/servers/{id}", "query_server", [][2]string{{"GET", "/servers/" + b.loadServer}}, http.StatusOK},
		{"GET /v1/ssh_keys/{id}", "query_key", [][2]string{{"GET", "/ssh_keys/" + b.keepKey()}}, http.StatusOK},
		{"DELETE /v1/ssh_keys/{max int64} (404)", "verify", [][2]string{{"DELETE", "/ssh_keys/9223372036854775807"}}, http.StatusNotFound},
		{"GET /v1/locations + GET /v1/server_types", "catalog", [][2]string{{"GET", "/locations"}, {"GET", "/server_types"}}, http.StatusOK},
	}
	for _, row := range rows {
		d := directResult{Name: row.name, Method: row.method, Requests: len(row.reqs)}
		for i := 0; i < b.runs; i++ {
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: false, MaxIdleConnsPerHost: 1}}
			start := time.Now()
			for _, rq := range row.reqs {
				req, err := http.NewRequest(rq[0], b.simURL+rq[1], nil)
				if err != nil {
					return err
				}
				req.Header.Set("Authorization", "Bearer "+b.token)
				resp, err := client.Do(req)
				if err != nil {
					return fmt.Errorf("direct %s: %w", row.name, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != row.status {
					return fmt.Errorf("direct %s %s: %s, want %d", rq[0], rq[1], resp.Status, row.status)
				}
			}
			d.WallMs = append(d.WallMs, ms(time.Since(start)))
			client.CloseIdleConnections()
		}
		b.res.Direct = append(b.res.Direct, &d)
		b.logf("%-40s wall p50 %6.2f ms", "direct "+d.Name, summarize(d.WallMs).Median)
	}
	return nil
}

// keepKey is an SSH key id that still exists (the first one created).
func (b *bench) keepKey() string { return b.firstKeyID }

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return protocol.Truncate(s, 300)
}
