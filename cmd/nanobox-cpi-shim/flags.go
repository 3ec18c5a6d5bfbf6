package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

// defaultPassEnv are the variables the Hetzner CPI reads from its
// environment: the shim passes them, and no others, besides PATH and TMPDIR.
var defaultPassEnv = []string{"HCLOUD_TOKEN", "HCLOUD_ENDPOINT", "STATE_DIRECTORY", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"}

// defaultShutdownGrace is how long in-flight calls may take after SIGTERM.
const defaultShutdownGrace = 30 * time.Second

// flags are the command line; each flag can also come from the environment
// (see withEnv). Every value is taken as text and checked by
// settingsFrom, so that one run reports every problem together instead of
// stopping at the first value the flag parser cannot read.
func flags() []cli.Flag {
	fs := []cli.Flag{
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to listen on (host:port)"},
		&cli.StringFlag{Name: "cpi", Usage: "path of the CPI binary (required)"},
		&cli.StringFlag{Name: "cpi-config", Usage: "CPI config file, passed to the CPI as -configPath"},
		&cli.StringFlag{Name: "cpi-metrics-dir", Usage: "directory where the CPI leaves Prometheus text files (*.prom), served in /metrics (the Hetzner CPI's state_dir: its rate-limit budget)"},
		&cli.IntFlag{Name: "cpi-metrics-series", Value: shim.DefaultCPIMetricsSeries, Usage: "label sets served per CPI metric (for the Hetzner CPI, projects), newest first; the rest are folded into one series labelled \"other\""},
		&cli.StringSliceFlag{Name: "pass-env", Value: cli.NewStringSlice(defaultPassEnv...),
			Usage: "name of an environment variable the CPI gets, besides PATH and TMPDIR (repeatable, or comma-separated in the environment variable; setting it replaces the default list)",
		},
		&cli.StringFlag{Name: "base-path", Value: "/", Usage: "path prefix of the Nanobox routes, e.g. /api/v1"},
		&cli.StringFlag{Name: "timeout", Value: shim.DefaultTimeout.String(), Usage: "bound on each CPI call (a duration); its process group is killed past it"},
		&cli.StringFlag{Name: "max-body", Value: strconv.Itoa(shim.DefaultMaxBody), Usage: "largest request body in bytes (413 past it)"},
		&cli.StringFlag{Name: "max-concurrent", Value: strconv.Itoa(shim.DefaultMaxConcurrent()), Usage: "most CPI processes at once"},
		&cli.StringFlag{Name: "queue-wait", Value: shim.DefaultQueueWait.String(), Usage: "how long a request waits for a free CPI slot before 503 with Retry-After (0: no waiting)"},
		&cli.StringFlag{Name: "max-queue", Value: "0", Usage: "most requests waiting for a slot; more get 503 at once (0: 16 x max-concurrent)"},
		&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate file (PEM); serve HTTPS with --tls-key"},
		&cli.StringFlag{Name: "tls-key", Usage: "TLS private key file (PEM)"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn, error"},
		&cli.StringFlag{Name: "shutdown-grace", Value: defaultShutdownGrace.String(), Usage: "on SIGTERM/SIGINT, how long in-flight calls may take to finish (a duration); a second signal ends them at once"},
	}
	for _, f := range fs {
		withEnv(f)
	}
	return fs
}

// withEnv lets f also come from NANOBOX_SHIM_<NAME> (--cpi-config:
// NANOBOX_SHIM_CPI_CONFIG), for service managers and containers.
func withEnv(f cli.Flag) {
	env := []string{"NANOBOX_SHIM_" + strings.ToUpper(strings.ReplaceAll(f.Names()[0], "-", "_"))}
	switch f := f.(type) {
	case *cli.StringFlag:
		f.EnvVars = env
	case *cli.StringSliceFlag:
		f.EnvVars = env
	}
}

// boolFlags are the flags cli adds that take no value.
var boolFlags = map[string]bool{"help": true, "h": true, "version": true, "v": true}

// splitArgs separates the arguments the flag parser can take from the
// problems it would stop at: unknown flags, a value flag without its
// value, and positional arguments (the shim takes none).
func splitArgs(args []string, fs []cli.Flag) (known, problems []string) {
	valueFlags := map[string]bool{}
	for _, f := range fs {
		for _, n := range f.Names() {
			valueFlags[n] = true
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			for _, rest := range args[i+1:] {
				problems = append(problems, fmt.Sprintf("unexpected argument %q: the shim takes flags only", rest))
			}
			break
		}
		if len(a) < 2 || a[0] != '-' {
			problems = append(problems, fmt.Sprintf("unexpected argument %q: the shim takes flags only", a))
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		switch {
		case boolFlags[name]:
			known = append(known, a)
		case !valueFlags[name]:
			problems = append(problems, fmt.Sprintf("unknown flag %s", a))
		case hasValue:
			known = append(known, a)
		case i+1 < len(args):
			known = append(known, a, args[i+1])
			i++
		default:
			problems = append(problems, fmt.Sprintf("flag --%s needs a value", name))
		}
	}
	return known, problems
}

// settings are the checked flags.
type settings struct {
	opts     shim.Options
	listener net.Listener // open once every flag checked out
	certFile string       // "" for plain HTTP
	keyFile  string
	grace    time.Duration
}

// checker collects the problems found while reading the flags.
type checker struct {
	c        *cli.Context
	problems []string
}

func (k *checker) problem(format string, args ...any) {
	k.problems = append(k.problems, fmt.Sprintf(format, args...))
}

// duration reads a duration flag; min0 allows 0, else it must be positive.
func (k *checker) duration(name string, min0 bool) (time.Duration, bool) {
	return boundedFlag(k, name, min0, time.ParseDuration, "a duration (e.g. 60s, 2m)")
}

// integer reads an integer flag; min0 allows 0, else it must be positive.
func (k *checker) integer(name string, min0 bool) (int64, bool) {
	parse := func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
	return boundedFlag(k, name, min0, parse, "an integer")
}

// boundedFlag reads flag name with parse; min0 allows 0, else the value
// must be positive. A problem is recorded, naming what the value must be.
func boundedFlag[T int64 | time.Duration](k *checker, name string, min0 bool, parse func(string) (T, error), what string) (T, bool) {
	v, err := parse(k.c.String(name))
	switch {
	case err != nil:
		k.problem("--%s %q: not %s", name, k.c.String(name), what)
	case v < 0 || (v == 0 && !min0):
		k.problem("--%s must be %s", name, map[bool]string{true: "0 or more", false: "positive"}[min0])
	default:
		return v, true
	}
	return 0, false
}

// settingsFrom checks every flag, collecting every problem, and opens the
// listener (a busy or malformed address is one more problem). The logger
// gets its format and level.
func settingsFrom(c *cli.Context, logger *logrus.Logger) (settings, []string) {
	k := &checker{c: c}
	k.logging(logger)
	set := settings{opts: shim.Options{
		CPI:              c.String("cpi"),
		CPIConfig:        c.String("cpi-config"),
		CPIMetricsDir:    c.String("cpi-metrics-dir"),
		CPIMetricsSeries: c.Int("cpi-metrics-series"),
		BasePath:         c.String("base-path"),
		PassEnv:          c.StringSlice("pass-env"),
		Logger:           logger,
		Version:          version,
	}}
	if set.opts.CPI == "" {
		k.problem("--cpi is required: the path of the CPI binary")
	}
	k.limits(&set.opts)
	if d, ok := k.duration("shutdown-grace", true); ok {
		set.grace = d
	}
	set.certFile, set.keyFile = k.tls()
	if set.opts.CPI != "" {
		if err := set.opts.Validate(); err != nil {
			k.problem("%v", err)
		}
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		k.problem("--listen %q: %v", c.String("listen"), err)
	} else {
		set.listener = ln
	}
	if len(k.problems) > 0 && set.listener != nil {
		_ = set.listener.Close()
		set.listener = nil
	}
	return set, k.problems
}

func (k *checker) logging(logger *logrus.Logger) {
	switch k.c.String("log-format") {
	case "text":
		logger.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableColors: true})
	case "json":
		logger.SetFormatter(&logrus.JSONFormatter{})
	default:
		k.problem("--log-format %q: want text or json", k.c.String("log-format"))
	}
	level, err := logrus.ParseLevel(k.c.String("log-level"))
	if err != nil {
		k.problem("--log-level: %v", err)
		return
	}
	logger.SetLevel(level)
}

// limits reads the bounds on calls into opts; a bad value leaves the
// option at its default, so it is reported once.
func (k *checker) limits(opts *shim.Options) {
	if d, ok := k.duration("timeout", false); ok {
		opts.Timeout = d
	}
	if n, ok := k.integer("max-body", false); ok {
		opts.MaxBody = n
	}
	if n, ok := k.integer("max-concurrent", false); ok {
		opts.MaxConcurrent = int(n)
	}
	if d, ok := k.duration("queue-wait", true); ok {
		opts.QueueWait = d
		if d == 0 {
			opts.QueueWait = -1 // the flag's 0 means no waiting; the option's 0 means the default
		}
	}
	if n, ok := k.integer("max-queue", true); ok {
		opts.MaxQueue = int(n)
	}
}

// tls checks the certificate and key: both or neither, and loadable.
func (k *checker) tls() (certFile, keyFile string) {
	certFile, keyFile = k.c.String("tls-cert"), k.c.String("tls-key")
	switch {
	case certFile == "" && keyFile == "":
		return "", ""
	case certFile == "" || keyFile == "":
		k.problem("--tls-cert and --tls-key go together")
	default:
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			k.problem("--tls-cert/--tls-key: %v", err)
		}
	}
	return certFile, keyFile
}

// reportProblems writes every flag problem, one a line.
func reportProblems(w io.Writer, problems []string) {
	fmt.Fprintf(w, "nanobox-cpi-shim: %d problem(s) with the flags (see --help):\n", len(problems))
	for _, p := range problems {
		fmt.Fprintln(w, "  "+p)
	}
}
