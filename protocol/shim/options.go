package shim

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults for Options.
const (
	DefaultTimeout       = 60 * time.Second
	DefaultMaxBody       = 64 << 10
	DefaultHealthTimeout = 10 * time.Second
)

// DefaultMaxConcurrent is the default bound on CPI processes: 4 per core.
func DefaultMaxConcurrent() int { return 4 * runtime.NumCPU() }

// DefaultQueueWait is how long a request waits for a CPI slot by default:
// short bursts queue, sustained overload gets 503.
const DefaultQueueWait = 2 * time.Second

// DefaultMaxQueue is the default bound on waiting requests: 16 per slot.
func DefaultMaxQueue(maxConcurrent int) int { return 16 * maxConcurrent }

// BaseEnv are the variables every CPI process gets from Options.Env when
// they are set: what any program needs to run. Everything else must be
// named in Options.PassEnv.
var BaseEnv = []string{"PATH", "TMPDIR"}

// Options configure a Shim. Only CPI is required.
type Options struct {
	CPI       string // path of the CPI binary
	CPIConfig string // passed to the CPI as -configPath when set
	// BasePath prefixes every Nanobox route ("/" or "" for none, "/api/v1").
	BasePath string
	// Timeout bounds each CPI call; the CPI's process group is killed past it.
	Timeout time.Duration
	// MaxBody bounds request bodies in bytes; larger ones get 413.
	MaxBody int64
	// MaxConcurrent bounds CPI processes running at once.
	MaxConcurrent int
	// QueueWait is how long a request may wait for a free CPI slot before
	// it gets 503 with Retry-After: 0 means DefaultQueueWait, a negative
	// value means no waiting at all.
	QueueWait time.Duration
	// MaxQueue bounds the requests waiting for a slot; past it a request
	// gets 503 at once. 0 means DefaultMaxQueue(MaxConcurrent).
	MaxQueue int
	// Env is the environment the CPI's is chosen from; nil means
	// os.Environ().
	Env []string
	// PassEnv names the variables of Env the CPI gets besides BaseEnv
	// (exact names, e.g. the cloud's token and endpoint variables). No other
	// variable reaches it.
	PassEnv []string
	// Logger receives the access log and CPI diagnostics; nil discards.
	Logger *logrus.Logger
	// Version is the shim's version, shown in /healthz.
	Version string
	// CPIMetricsDir is a directory where the CPI leaves metrics between
	// calls as Prometheus text files (*.prom); their gauges are served in
	// /metrics beside the shim's. The Hetzner CPI writes its rate-limit
	// budget into its state_dir. "" serves none.
	CPIMetricsDir string
	// CPIMetricsSeries bounds the label sets of each CPI metric served
	// (for the Hetzner CPI, one per project): the newest files' are
	// served, the rest folded into one series labelled OtherLabel. 0 means
	// DefaultCPIMetricsSeries.
	CPIMetricsSeries int
}

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var problems []string
	if _, err := resolveCPI(o.CPI); err != nil {
		problems = append(problems, err.Error())
	}
	if o.CPIConfig != "" {
		if _, err := os.Stat(o.CPIConfig); err != nil {
			problems = append(problems, fmt.Sprintf("CPI config %s: %v", o.CPIConfig, err))
		}
	}
	problems = append(problems, basePathProblems(o.BasePath)...)
	for _, n := range []struct {
		name  string
		value int64
	}{
		{"timeout", int64(o.Timeout)}, {"max body", o.MaxBody},
		{"max concurrent", int64(o.MaxConcurrent)}, {"max queue", int64(o.MaxQueue)},
		{"CPI metrics series", int64(o.CPIMetricsSeries)},
	} {
		if n.value < 0 {
			problems = append(problems, n.name+" must not be negative")
		}
	}
	for _, name := range o.PassEnv {
		if !validEnvName(name) {
			problems = append(problems, fmt.Sprintf("pass-env %q is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)", name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid shim options: %s", strings.Join(problems, "; "))
	}
	return nil
}

func basePathProblems(p string) []string {
	var problems []string
	if p != "" && !strings.HasPrefix(p, "/") {
		problems = append(problems, fmt.Sprintf("base path %q must start with /", p))
	}
	if strings.ContainsAny(p, "{}? #") {
		problems = append(problems, fmt.Sprintf("base path %q may not contain {, }, ?, # or spaces", p))
	}
	return problems
}

// withDefaults fills in every zero option.
func (o Options) withDefaults() Options {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody == 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = DefaultMaxConcurrent()
	}
	if o.QueueWait == 0 {
		o.QueueWait = DefaultQueueWait
	}
	if o.MaxQueue == 0 {
		o.MaxQueue = DefaultMaxQueue(o.MaxConcurrent)
	}
	if o.CPIMetricsSeries == 0 {
		o.CPIMetricsSeries = DefaultCPIMetricsSeries
	}
	if o.Env == nil {
		o.Env = os.Environ()
	}
	return o
}

// resolveCPI finds the CPI binary once: a bare name through PATH, any
// path made absolute, and it must be an executable file.
func resolveCPI(path string) (string, error) {
	if path == "" {
		return "", errors.New("the CPI binary path is empty")
	}
	found, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("CPI binary %s: %v", path, err)
	}
	abs, err := filepath.Abs(found)
	if err != nil {
		return "", fmt.Errorf("CPI binary %s: %v", path, err)
	}
	return abs, nil
}

// validEnvName reports whether name is a portable environment variable name.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// childEnv selects the CPI's environment from env: the variables named in
// BaseEnv and pass, nothing else.
func childEnv(env, pass []string) []string {
	wanted := map[string]bool{}
	for _, name := range BaseEnv {
		wanted[name] = true
	}
	for _, name := range pass {
		wanted[name] = true
	}
	out := []string{}
	for _, kv := range env {
		if name, _, ok := strings.Cut(kv, "="); ok && wanted[name] {
			out = append(out, kv)
		}
	}
	return out
}
