package shim

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Command is the shim's command line (cmd/nanobox-cpi-shim): flags, each
// of which may also come from the environment, checked all at once, then
// Serve until a signal.
type Command struct {
	Name    string // the binary's name, for messages and --help
	Version string
	Getenv  func(string) string // os.Getenv in production
	Stdout  io.Writer           // --help and --version
	Stderr  io.Writer           // flag problems and the failure that ends serving
	Logger  *logrus.Logger      // the shim's log; the flags set its format and level
}

// Exit statuses of Command.Run.
const (
	ExitOK    = 0
	ExitError = 1 // serving failed
	ExitUsage = 2 // a flag problem (all of them reported together)
)

// DefaultPassEnv are the variables the Hetzner CPI reads from its
// environment: the shim passes them, and no others, besides BaseEnv.
var DefaultPassEnv = []string{"HCLOUD_TOKEN", "HCLOUD_ENDPOINT", "STATE_DIRECTORY", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"}

// DefaultShutdownGrace is how long in-flight calls may take after SIGTERM.
const DefaultShutdownGrace = 30 * time.Second

// commandFlag is one flag of the command line. Every value is taken as
// text and checked by settingsFrom, so that one run reports every problem
// together instead of stopping at the first value a parser cannot read.
type commandFlag struct {
	name, value, usage string
	list               bool // repeatable; comma-separated in the environment
}

func commandFlags() []commandFlag {
	return []commandFlag{
		{name: "listen", value: "127.0.0.1:8080", usage: "address to listen on (host:port)"},
		{name: "cpi", usage: "path of the CPI binary (required)"},
		{name: "cpi-config", usage: "CPI config file, passed to the CPI as -configPath"},
		{name: "cpi-metrics-dir", usage: "directory where the CPI leaves Prometheus text files (*.prom), served in /metrics (the Hetzner CPI's state_dir: its rate-limit budget)"},
		{name: "cpi-metrics-series", value: strconv.Itoa(DefaultCPIMetricsSeries), usage: "label sets served per CPI metric (for the Hetzner CPI, projects), newest first; the rest are folded into one series labelled \"other\""},
		{name: "pass-env", value: strings.Join(DefaultPassEnv, ","), list: true,
			usage: "name of an environment variable the CPI gets, besides PATH and TMPDIR (repeatable, or comma-separated in the environment variable; setting it replaces the default list)"},
		{name: "base-path", value: "/", usage: "path prefix of the Nanobox routes, e.g. /api/v1"},
		{name: "timeout", value: DefaultTimeout.String(), usage: "bound on each CPI call (a duration); its process group is killed past it"},
		{name: "max-body", value: strconv.Itoa(DefaultMaxBody), usage: "largest request body in bytes (413 past it)"},
		{name: "max-concurrent", value: strconv.Itoa(DefaultMaxConcurrent()), usage: "most CPI processes at once"},
		{name: "queue-wait", value: DefaultQueueWait.String(), usage: "how long a request waits for a free CPI slot before 503 with Retry-After (0: no waiting)"},
		{name: "max-queue", value: "0", usage: "most requests waiting for a slot; more get 503 at once (0: 16 x max-concurrent)"},
		{name: "tls-cert", usage: "TLS certificate file (PEM); serve HTTPS with --tls-key"},
		{name: "tls-key", usage: "TLS private key file (PEM)"},
		{name: "log-format", value: "text", usage: "log format: text or json"},
		{name: "log-level", value: "info", usage: "log level: debug, info, warn, error"},
		{name: "shutdown-grace", value: DefaultShutdownGrace.String(), usage: "on SIGTERM/SIGINT, how long in-flight calls may take to finish (a duration); a second signal ends them at once"},
	}
}

// envName is the variable a flag may come from: NANOBOX_SHIM_<NAME>
// (--cpi-config: NANOBOX_SHIM_CPI_CONFIG), for service managers and
// containers. A flag on the command line wins.
func envName(flagName string) string {
	return "NANOBOX_SHIM_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// listValue is a repeatable flag: the first use replaces the default.
type listValue struct {
	items []string
	set   bool
}

func (l *listValue) String() string { return strings.Join(l.items, ",") }

func (l *listValue) Set(s string) error {
	if !l.set {
		l.items, l.set = nil, true
	}
	l.items = append(l.items, s)
	return nil
}

// values are the flags as read: text, checked later.
type values struct {
	text        map[string]*string
	lists       map[string]*listValue
	help, about *bool // --help, --version
}

func (v values) get(name string) string { return *v.text[name] }

// flagSet declares every flag on a new set, with the environment's value
// (when set) as its default.
func (c Command) flagSet() (*flag.FlagSet, values) {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v := values{text: map[string]*string{}, lists: map[string]*listValue{}, help: new(bool), about: new(bool)}
	for _, f := range commandFlags() {
		def := f.value
		if env := c.getenv(envName(f.name)); env != "" {
			def = env
		}
		if f.list {
			l := &listValue{items: splitList(def)}
			v.lists[f.name] = l
			fs.Var(l, f.name, f.usage)
			continue
		}
		v.text[f.name] = fs.String(f.name, def, f.usage)
	}
	fs.BoolVar(v.help, "help", false, "show help")
	fs.BoolVar(v.help, "h", false, "show help")
	fs.BoolVar(v.about, "version", false, "print the version")
	fs.BoolVar(v.about, "v", false, "print the version")
	return fs, v
}

func (c Command) getenv(k string) string {
	if c.Getenv == nil {
		return ""
	}
	return c.Getenv(k)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Run is the whole command: it checks every flag, then serves until a
// signal, and returns the exit status. args are the arguments after the
// program's name.
func (c Command) Run(args []string) int {
	fs, v := c.flagSet()
	known, problems := splitArgs(args, fs)
	if err := fs.Parse(known); err != nil && !errors.Is(err, flag.ErrHelp) {
		problems = append(problems, err.Error())
	}
	switch {
	case *v.help:
		c.usage(fs)
		return ExitOK
	case *v.about:
		fmt.Fprintf(c.Stdout, "%s version %s\n", c.Name, c.Version)
		return ExitOK
	}
	set, more := c.settingsFrom(v)
	problems = append(problems, more...)
	if len(problems) > 0 {
		c.reportProblems(problems)
		return ExitUsage
	}
	if err := Serve(set, c.Logger); err != nil {
		fmt.Fprintf(c.Stderr, "%s: %v\n", c.Name, err)
		return ExitError
	}
	return ExitOK
}

// usage is --help: what the command does and every flag with its default
// and its variable.
func (c Command) usage(fs *flag.FlagSet) {
	w := c.Stdout
	fmt.Fprintf(w, "%s - serve the Nanobox custom-provider HTTP API by executing a CPI once per request\n\n", c.Name)
	fmt.Fprintf(w, "Usage: %s --cpi PATH [flags]\n\nFlags (each also from the variable named in brackets):\n", c.Name)
	for _, f := range commandFlags() {
		def := ""
		if f.value != "" {
			def = fmt.Sprintf(" (default %q)", fs.Lookup(f.name).DefValue)
		}
		fmt.Fprintf(w, "  --%s VALUE\n\t%s%s [$%s]\n", f.name, f.usage, def, envName(f.name))
	}
	fmt.Fprintf(w, "  --help, -h\n\tshow help\n  --version, -v\n\tprint the version\n")
}

// splitArgs separates the arguments the flag parser can take from the
// problems it would stop at: unknown flags, a value flag without its
// value, and positional arguments (the shim takes none).
func splitArgs(args []string, fs *flag.FlagSet) (known, problems []string) {
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
		f := fs.Lookup(name)
		isBool := false
		if b, ok := flagValue(f).(interface{ IsBoolFlag() bool }); ok {
			isBool = b.IsBoolFlag()
		}
		switch {
		case f == nil:
			problems = append(problems, fmt.Sprintf("unknown flag %s", a))
		case isBool, hasValue:
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

func flagValue(f *flag.Flag) flag.Value {
	if f == nil {
		return nil
	}
	return f.Value
}

// Settings are the checked flags: what Serve runs.
type Settings struct {
	Options  Options
	Listener net.Listener // open once every flag checked out
	CertFile string       // "" for plain HTTP
	KeyFile  string
	Grace    time.Duration // see DefaultShutdownGrace
}

// checker collects the problems found while reading the flags.
type checker struct {
	v        values
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
	v, err := parse(k.v.get(name))
	switch {
	case err != nil:
		k.problem("--%s %q: not %s", name, k.v.get(name), what)
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
func (c Command) settingsFrom(v values) (Settings, []string) {
	k := &checker{v: v}
	k.logging(c.Logger)
	set := Settings{Options: Options{
		CPI:           v.get("cpi"),
		CPIConfig:     v.get("cpi-config"),
		CPIMetricsDir: v.get("cpi-metrics-dir"),
		BasePath:      v.get("base-path"),
		PassEnv:       v.lists["pass-env"].items,
		Logger:        c.Logger,
		Version:       c.Version,
	}}
	if set.Options.CPI == "" {
		k.problem("--cpi is required: the path of the CPI binary")
	}
	k.limits(&set.Options)
	if d, ok := k.duration("shutdown-grace", true); ok {
		set.Grace = d
	}
	set.CertFile, set.KeyFile = k.tls()
	if set.Options.CPI != "" {
		if err := set.Options.Validate(); err != nil {
			k.problem("%v", err)
		}
	}
	ln, err := net.Listen("tcp", v.get("listen"))
	if err != nil {
		k.problem("--listen %q: %v", v.get("listen"), err)
	} else {
		set.Listener = ln
	}
	if len(k.problems) > 0 && set.Listener != nil {
		_ = set.Listener.Close()
		set.Listener = nil
	}
	return set, k.problems
}

func (k *checker) logging(logger *logrus.Logger) {
	switch k.v.get("log-format") {
	case "text":
		logger.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableColors: true})
	case "json":
		logger.SetFormatter(&logrus.JSONFormatter{})
	default:
		k.problem("--log-format %q: want text or json", k.v.get("log-format"))
	}
	level, err := logrus.ParseLevel(k.v.get("log-level"))
	if err != nil {
		k.problem("--log-level: %v", err)
		return
	}
	logger.SetLevel(level)
}

// limits reads the bounds on calls into opts; a bad value leaves the
// option at its default, so it is reported once.
func (k *checker) limits(opts *Options) {
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
	if n, ok := k.integer("cpi-metrics-series", false); ok {
		opts.CPIMetricsSeries = int(n)
	}
}

// tls checks the certificate and key: both or neither, and loadable.
func (k *checker) tls() (certFile, keyFile string) {
	certFile, keyFile = k.v.get("tls-cert"), k.v.get("tls-key")
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
func (c Command) reportProblems(problems []string) {
	fmt.Fprintf(c.Stderr, "%s: %d problem(s) with the flags (see --help):\n", c.Name, len(problems))
	for _, p := range problems {
		fmt.Fprintln(c.Stderr, "  "+p)
	}
}
