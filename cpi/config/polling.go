package config

import "time"

// Polling configures how query_server reads servers and how the project's
// rate-limit budget is spent. Reads are answered from a snapshot of the
// project's Nanobox servers that every CPI process shares through
// state_dir: one labelled list request refreshes it for every poll within
// the window, and each change the adapter makes updates it.
type Polling struct {
	// Whether query_server answers from the shared snapshot. false: one
	// API request per poll.
	Coalesce *bool `json:"coalesce"`
	// How long a snapshot answers polls, 100 to 60000 ms: no status
	// answered is older.
	WindowMS int `json:"window_ms"`
	// The share of the project's rate limit kept for writes, 1 to 90
	// percent: while less than twice this share is left, the window widens
	// in proportion, to low_budget_window_ms at the share itself.
	ReservePercent int `json:"reserve_percent"`
	// The bound the window widens to as the budget falls, in force at or
	// below the reserve, window_ms to 600000 ms. Empty: 10000, or
	// window_ms if larger.
	LowBudgetWindowMS int `json:"low_budget_window_ms"`
}

func (p *Polling) applyDefaults() {
	if p.Coalesce == nil {
		t := true
		p.Coalesce = &t
	}
	if p.WindowMS == 0 {
		p.WindowMS = 1000
	}
	if p.ReservePercent == 0 {
		p.ReservePercent = 10
	}
	if p.LowBudgetWindowMS == 0 {
		p.LowBudgetWindowMS = max(10000, p.WindowMS)
	}
}

// validate adds the problems of the polling section.
func (p *Polling) validate(add func(format string, args ...any)) {
	if p.WindowMS < 100 || p.WindowMS > 60000 {
		add("polling.window_ms: %d must be between 100 and 60000", p.WindowMS)
	}
	if p.ReservePercent < 1 || p.ReservePercent > 90 {
		add("polling.reserve_percent: %d must be between 1 and 90", p.ReservePercent)
	}
	if p.LowBudgetWindowMS < p.WindowMS || p.LowBudgetWindowMS > 600000 {
		add("polling.low_budget_window_ms: %d must be between window_ms (%d) and 600000", p.LowBudgetWindowMS, p.WindowMS)
	}
}

// Window is how long the shared server snapshot answers polls while the
// budget is at least twice the reserve.
func (p *Polling) Window() time.Duration { return time.Duration(p.WindowMS) * time.Millisecond }

// LowBudgetWindow is the bound the snapshot's window widens to as the
// budget falls, in force at or below the reserve.
func (p *Polling) LowBudgetWindow() time.Duration {
	return time.Duration(p.LowBudgetWindowMS) * time.Millisecond
}
