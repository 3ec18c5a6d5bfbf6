package main

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// pollingNotes is the hand-written reading of the polling scenario's
// figures.
//
//go:embed polling-notes.md
var pollingNotes string

// run is the N series' run of mode and n.
func (r *pollingResults) run(mode string, n int) *pollingRun {
	for _, x := range r.Runs {
		if x.Mode == mode && x.N == n && x.Series != "fleet" {
			return x
		}
	}
	return nil
}

// fleetRun is the fleet series' run with f servers already running.
func (r *pollingResults) fleetRun(f int) *pollingRun {
	for _, x := range r.Runs {
		if x.Series == "fleet" && x.Fleet == f {
			return x
		}
	}
	return nil
}

func perServer(total, n int) float64 { return float64(total) / float64(max(n, 1)) }

// perPoll is the Hetzner requests of the polls per poll answered.
func perPoll(x *pollingRun) float64 { return float64(x.PollRequests) / float64(max(x.Polls, 1)) }

// pollVerdict: met when all requests are within 10 %; for the polls alone
// only, it says so.
func pollVerdict(all, polls float64) string {
	switch {
	case all <= 0.10:
		return verdict(true)
	case polls <= 0.10:
		return "**met for the polls; not with the orders counted** (see below)"
	}
	return verdict(false)
}

// pollingMarkdown is the section of docs/benchmarks.md on the polling
// scenario; "" when it did not run.
func (b *bench) pollingMarkdown() string {
	r := b.res.Polling
	if r == nil || len(r.Runs) == 0 {
		return ""
	}
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	pollingSetup(p, r)
	pollingTargets(p, r)
	pollingFleet(p, r)
	pollingRuns(p, r)
	pollingLatencyTable(p, r)
	p("%s\n\n", strings.TrimSpace(pollingNotes))
	p("Raw data: [bench/polling.csv](bench/polling.csv), and `polling` in [bench/results.json](bench/results.json).\n\n")
	return w.String()
}

// printer appends formatted text to a section.
type printer func(format string, args ...any)

// pollingSetup states how the scenario ran.
func pollingSetup(p printer, r *pollingResults) {
	c := r.Config
	p("## Polling at scale: coalesced reads and the rate-limit budget\n\n")
	p("**Setup.** For each N, N servers are ordered at once through the shim, and each is then polled with `GET /servers/{id}` every %.0f s until it answers `active`, as Nanobox's backend does. ", c.PollSeconds)
	p("Each run has a fresh `bin/hcloud-sim` with Hetzner's bucket (%d requests, one refilled per second), a boot of %.0f s (initializing %.0f s, then starting %.0f s) and %.0f ms added to every request (a realistic round trip), a fresh state dir, and a shim with `--max-concurrent %d`. ",
		c.RateLimit, c.InitSeconds+c.StartSeconds, c.InitSeconds, c.StartSeconds, c.LatencyMs, c.MaxConc)
	p("A key and the private network are made before the counters are reset (the warm path). *per-poll* is the CPI with `polling.coalesce: false` (one Hetzner request per poll); *coalesced* is the default (`polling.window_ms: %d`). ", c.WindowMs)
	if len(r.LoadAvg) == 2 {
		p("The machine is shared: /proc/loadavg was %s at the start and %s at the end, which shows in the poll latencies and times to active, not in the request counts. ", r.LoadAvg[0], r.LoadAvg[1])
	}
	p("A 429 or 503 answer is retried after its Retry-After. Hetzner requests are the simulator's counters; *staleness* of an answer is how long before the poll was sent the status it answered had already ended (0 when it still held); time to active runs from the order sent to the first `active` answer.\n\n")
}

// pollingTargets is the table of the targets at N = 100.
func pollingTargets(p printer, r *pollingResults) {
	c := r.Config
	p("### Targets at N = 100\n\n| target | measured | verdict |\n|---|---|---|\n")
	per, co := r.run("per-poll", 100), r.run("coalesced", 100)
	if per != nil && co != nil {
		ratio := float64(co.APIRequests) / float64(max(per.APIRequests, 1))
		pollRatio := float64(co.PollRequests) / float64(max(per.PollRequests, 1))
		p("| coalesced Hetzner requests ≤ 10%% of one per poll | all requests, orders included: %d vs %d = **%.1f%%**; the polls alone: %d vs %d = **%.1f%%**; per poll answered: %.3f vs %.3f = **%.1f%%** | %s |\n",
			co.APIRequests, per.APIRequests, 100*ratio, co.PollRequests, per.PollRequests, 100*pollRatio,
			perPoll(co), perPoll(per), 100*perPoll(co)/max(perPoll(per), 1e-9), pollVerdict(ratio, pollRatio))
		p("| zero 429s seen by the orchestrator (coalesced) | %d (one per poll: %d) | %s |\n", co.Status429, per.Status429, verdict(co.Status429 == 0))
		p("| staleness within the window (%d ms) | max %.0f ms, p99 %.0f ms | %s |\n", c.WindowMs, co.StaleMaxMs, co.StaleP99Ms, verdict(co.StaleMaxMs <= float64(c.WindowMs)))
	}
	var cells []string
	falling := true
	prev := -1.0
	for _, n := range c.Ns {
		if x := r.run("coalesced", n); x != nil {
			v := perServer(x.APIRequests, n)
			cells = append(cells, fmt.Sprintf("N=%d: %.1f", n, v))
			if prev >= 0 && v >= prev {
				falling = false
			}
			prev = v
		}
	}
	p("| coalesced requests per server fall as N grows | %s | %s |\n\n", strings.Join(cells, ", "), verdict(falling))
}

// pollingFleet is the fleet series: its targets, table and plot.
func pollingFleet(p printer, r *pollingResults) {
	c := r.Config
	if len(c.Fleets) == 0 || r.fleetRun(c.Fleets[0]) == nil {
		return
	}
	p("### Polling in a project that already has servers\n\n")
	p("N = %d servers ordered at once and polled every %.0f s until active, coalesced, in a project where F servers of the adapter's are already running (seeded in the simulator before the orders, at no request). ", c.FleetN, c.PollSeconds)
	p("Hetzner requests per poll counts the polls' requests (GET /servers and GET /servers/{id}) over the polls answered.\n\n")
	p("| F | polls answered | Hetzner requests of the polls | per poll | of them lists / direct reads | all requests | 429s seen | time to active p50 / p99 (s) | staleness max (ms) |\n|---:|---:|---:|---:|---|---:|---:|---:|---:|\n")
	for _, f := range c.Fleets {
		x := r.fleetRun(f)
		if x == nil {
			continue
		}
		p("| %d | %d | %d | %.3f | %d / %d | %d | %d | %.1f / %.1f | %.0f |\n", f, x.Polls, x.PollRequests, perPoll(x),
			x.ByRoute["GET /v1/servers"], x.ByRoute["GET /v1/servers/{id}"], x.APIRequests, x.Status429, x.ActiveP50, x.ActiveP99, x.StaleMaxMs)
	}
	zero, big := r.fleetRun(c.Fleets[0]), r.fleetRun(c.Fleets[len(c.Fleets)-1])
	p("\n| target at F = %d, N = %d | measured | verdict |\n|---|---|---|\n", big.Fleet, c.FleetN)
	p("| ≤ 0.05 Hetzner requests per poll | %.3f | %s |\n", perPoll(big), verdict(perPoll(big) <= 0.05))
	p("| no 429 | %d | %s |\n", big.Status429, verdict(big.Status429 == 0))
	p("| time to active no slower than at F = %d | p50 %.1f s vs %.1f s, p99 %.1f s vs %.1f s | %s |\n\n", zero.Fleet, big.ActiveP50, zero.ActiveP50, big.ActiveP99, zero.ActiveP99,
		verdict(big.ActiveP50 <= zero.ActiveP50 && big.ActiveP99 <= zero.ActiveP99))
	p("![Hetzner requests per poll against the servers already running](bench/polling-fleet.png)\n\n")
	pollingReplicas(p, r)
}

// pollingReplicas is the replicas series: the fleet series' largest run
// through several shims, each with its own state dir, then sharing one.
func pollingReplicas(p printer, r *pollingResults) {
	var runs []*pollingRun
	for _, x := range r.Runs {
		if x.Series == "replicas" {
			runs = append(runs, x)
		}
	}
	if len(runs) == 0 {
		return
	}
	p("**Shim replicas.** The same orders and polls (N = %d, F = %d), sent to %d shims in turn, as a round-robin load balancer does:\n\n", runs[0].N, runs[0].Fleet, runs[0].Replicas)
	p("| shims | state dir | polls answered | Hetzner requests of the polls | per poll | 429s seen | time to active p50 / p99 (s) |\n|---:|---|---:|---:|---:|---:|---:|\n")
	if one := r.fleetRun(runs[0].Fleet); one != nil {
		p("| 1 | its own | %d | %d | %.3f | %d | %.1f / %.1f |\n", one.Polls, one.PollRequests, perPoll(one), one.Status429, one.ActiveP50, one.ActiveP99)
	}
	for _, x := range runs {
		dir := "one each"
		if x.SharedState {
			dir = "one, shared"
		}
		p("| %d | %s | %d | %d | %.3f | %d | %.1f / %.1f |\n", x.Replicas, dir, x.Polls, x.PollRequests, perPoll(x), x.Status429, x.ActiveP50, x.ActiveP99)
	}
	p("\n")
}

// shims says how many shims a run went through, and their state dirs.
func shims(x *pollingRun) string {
	switch {
	case x.Replicas < 2:
		return "1"
	case x.SharedState:
		return fmt.Sprintf("%d, one state dir", x.Replicas)
	}
	return fmt.Sprintf("%d, a state dir each", x.Replicas)
}

// otherAnswers lists the orchestrator's answers other than 200, 201 and
// 429, and the servers never seen active.
func otherAnswers(x *pollingRun) string {
	other := []string{}
	for code, cnt := range x.Orchestrator {
		if code != "200" && code != "201" && code != "429" {
			other = append(other, fmt.Sprintf("%s×%d", code, cnt))
		}
	}
	if x.NotActive > 0 {
		other = append(other, fmt.Sprintf("%d never active", x.NotActive))
	}
	if len(other) == 0 {
		return "none"
	}
	sort.Strings(other)
	return strings.Join(other, ", ")
}

// pollingRuns is the table of every run, the plot and the budget gauges.
func pollingRuns(p printer, r *pollingResults) {
	p("### Every run\n\n")
	p("| mode | N | F | shims | Hetzner requests | per server | of them polls (per server) | polls answered | Hetzner requests per poll | 429s seen | other answers | time to active p50 / p99 (s) | staleness max / p99 (ms) | poll p50 (ms) | run (s) |\n")
	p("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n")
	for _, x := range r.Runs {
		p("| %s | %d | %d | %s | %d | %.1f | %d (%.1f) | %d | %.3f | %d | %s | %.1f / %.1f | %.0f / %.0f | %.0f | %.0f |\n",
			x.Mode, x.N, x.Fleet, shims(x), x.APIRequests, perServer(x.APIRequests, x.N), x.PollRequests, perServer(x.PollRequests, x.N), x.Polls, perPoll(x), x.Status429,
			otherAnswers(x), x.ActiveP50, x.ActiveP99, x.StaleMaxMs, x.StaleP99Ms, x.PollP50Ms, x.Seconds)
	}
	if len(r.Config.Ns) > 0 {
		p("\n![Hetzner requests per server against N](bench/polling.png)\n")
	}
	p("\n")
	p("The remaining budget at the end of each run, as the shim's `/metrics` serves it (from `--cpi-metrics-dir`):\n\n")
	for _, x := range r.Runs {
		if x.BudgetGauge != "" {
			p("- %s N=%d F=%d shims %s: `%s`", x.Mode, x.N, x.Fleet, shims(x), x.BudgetGauge)
			if x.WindowGauge != "" {
				p(", `%s`", x.WindowGauge)
			}
			p("\n")
		}
	}
	p("\n")
}

// pollingLatencyTable is the table of one query_server beside the
// simulator's round trip; nothing when it was not measured.
func pollingLatencyTable(p printer, r *pollingResults) {
	if len(r.Latency) == 0 {
		return
	}
	p("### One query_server beside the %.0f ms round trip\n\n", r.Config.LatencyMs)
	p("Sequential calls (%d each) on a running server, with the simulator's latency. The official hcloud CLI's comparable command (`hcloud server describe`) is in [Beside the hcloud CLI](#beside-the-hcloud-cli) without added latency, and with the same 40 ms round trip in [simulator.md](simulator.md#checked-with-the-official-hcloud-cli).\n\n", r.Latency[0].Runs)
	p("| call | p50 (ms) | p99 (ms) | added over the round trip at p50 |\n|---|---:|---:|---|\n")
	var direct, cpiP50 float64
	for _, l := range r.Latency {
		s := orderStats(l.WallMs)
		added := "(the round trip)"
		switch {
		case strings.HasPrefix(l.Name, "direct"):
			direct = s.P50
		case strings.HasPrefix(l.Name, "CPI"):
			cpiP50 = s.P50
			added = fmt.Sprintf("CPI: +%.1f ms", s.P50-direct)
		case strings.Contains(l.Name, "coalesced"):
			added = fmt.Sprintf("%+.1f ms (most answers need no round trip)", s.P50-direct)
		default:
			added = fmt.Sprintf("+%.1f ms (shim over the CPI: +%.1f ms)", s.P50-direct, s.P50-cpiP50)
		}
		p("| %s | %.1f | %.1f | %s |\n", l.Name, s.P50, s.P99, added)
	}
	p("\n")
}

// writePolling writes polling.csv and polling.png when the scenario ran.
func (b *bench) writePolling(dir string) error {
	r := b.res.Polling
	if r == nil || len(r.Runs) == 0 {
		return nil
	}
	rows := [][]string{{"series", "mode", "n", "fleet", "replicas", "shared_state", "api_requests", "api_requests_per_server", "api_poll_requests", "status_429", "polls", "time_to_active_p50_s", "time_to_active_p99_s", "staleness_max_ms", "staleness_p99_ms", "seconds"}}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	for _, x := range r.Runs {
		series := x.Series
		if series == "" {
			series = "n"
		}
		rows = append(rows, []string{series, x.Mode, strconv.Itoa(x.N), strconv.Itoa(x.Fleet), strconv.Itoa(max(x.Replicas, 1)), strconv.FormatBool(x.SharedState), strconv.Itoa(x.APIRequests), f(perServer(x.APIRequests, x.N)), strconv.Itoa(x.PollRequests),
			strconv.Itoa(x.Status429), strconv.Itoa(x.Polls), f(x.ActiveP50), f(x.ActiveP99), f(x.StaleMaxMs), f(x.StaleP99Ms), f(x.Seconds)})
	}
	file, err := os.Create(filepath.Join(dir, "polling.csv"))
	if err != nil {
		return err
	}
	cw := csv.NewWriter(file)
	_ = cw.WriteAll(rows)
	if err := cw.Error(); err != nil {
		file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	if len(r.Config.Ns) > 0 {
		if err := b.writePollingPlot(filepath.Join(dir, "polling.png")); err != nil {
			return err
		}
	}
	return b.writeFleetPlot(filepath.Join(dir, "polling-fleet.png"))
}

// writeFleetPlot draws the fleet series: Hetzner requests per poll against
// F, beside the target; nothing when the series did not run.
func (b *bench) writeFleetPlot(path string) error {
	r := b.res.Polling
	var xys plotter.XYs
	for _, f := range r.Config.Fleets {
		if x := r.fleetRun(f); x != nil {
			xys = append(xys, plotter.XY{X: float64(f), Y: perPoll(x)})
		}
	}
	if len(xys) == 0 {
		return nil
	}
	pl := plot.New()
	pl.Title.Text = fmt.Sprintf("N = %d polled every %.0f s until active, coalesced", r.Config.FleetN, r.Config.PollSeconds)
	pl.X.Label.Text = "servers already running (F)"
	pl.Y.Label.Text = "Hetzner requests per poll"
	pl.Y.Min = 0
	pl.Add(plotter.NewGrid())
	pl.Legend.Top = true
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	col := color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	line.Color, points.Color = col, col
	pl.Add(line, points)
	pl.Legend.Add("measured", line, points)
	target := plotter.NewFunction(func(float64) float64 { return 0.05 })
	target.Color = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	target.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	pl.Add(target)
	pl.Legend.Add("target (0.05)", target)
	pl.Y.Max = max(0.06, pl.Y.Max)
	return pl.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// writePollingPlot draws Hetzner requests per server against N, one line
// per mode, log-log.
func (b *bench) writePollingPlot(path string) error {
	r := b.res.Polling
	pl := plot.New()
	pl.Title.Text = fmt.Sprintf("Hetzner requests per server, %.0f s boot, polled every %.0f s", r.Config.InitSeconds+r.Config.StartSeconds, r.Config.PollSeconds)
	pl.X.Label.Text = "servers ordered at once (N)"
	pl.Y.Label.Text = "Hetzner requests per server (log scale)"
	pl.X.Scale, pl.Y.Scale = plot.LogScale{}, plot.LogScale{}
	var ticks []plot.Tick
	for _, n := range r.Config.Ns {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: strconv.Itoa(n)})
	}
	pl.X.Tick.Marker = plot.ConstantTicks(ticks)
	var yTicks []plot.Tick
	for _, v := range []float64{0.5, 1, 2, 3, 5, 10, 20, 30, 50, 100} {
		yTicks = append(yTicks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	pl.Y.Tick.Marker = plot.ConstantTicks(yTicks)
	pl.Add(plotter.NewGrid())
	pl.Legend.Top = true
	for i, mode := range []string{"per-poll", "coalesced"} {
		var xys plotter.XYs
		for _, n := range r.Config.Ns {
			if x := r.run(mode, n); x != nil && x.APIRequests > 0 {
				xys = append(xys, plotter.XY{X: float64(n), Y: perServer(x.APIRequests, n)})
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		col := []color.RGBA{{0xd6, 0x27, 0x28, 0xff}, {0x1f, 0x77, 0xb4, 0xff}}[i]
		line.Color, points.Color = col, col
		points.Shape = []draw.GlyphDrawer{draw.TriangleGlyph{}, draw.CircleGlyph{}}[i]
		label := map[string]string{"per-poll": "one request per poll", "coalesced": "coalesced (window 1 s)"}[mode]
		pl.Add(line, points)
		pl.Legend.Add(label, line, points)
	}
	return pl.Save(7*vg.Inch, 4.5*vg.Inch, path)
}
