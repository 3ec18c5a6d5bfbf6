package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim/specvalidate"
)

// newApp is the command line: flags (checked together by checkOptions),
// then run serves until SIGTERM or SIGINT.
func newApp() *cli.App {
	return &cli.App{
		Name:    "hcloud-sim",
		Usage:   "serve a simulated Hetzner Cloud API (/v1) for tests and demos",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8081", Usage: "address to listen on (host:port; port 0 picks a free one)"},
			&cli.StringFlag{Name: "token", Required: true, Usage: "API token with read/write access (also guards /_sim/)", EnvVars: []string{"HCLOUD_SIM_TOKEN"}},
			&cli.StringFlag{Name: "readonly-token", Usage: "API token that may only read (writes get 403 forbidden)"},
			&cli.IntFlag{Name: "rate-limit", Value: 3600, Usage: "rate limit bucket size (requests)"},
			&cli.DurationFlag{Name: "rate-refill", Value: time.Second, Usage: "one request is refilled per this duration"},
			&cli.DurationFlag{Name: "delay-initializing", Usage: "how long a new server stays initializing"},
			&cli.DurationFlag{Name: "delay-starting", Usage: "how long a new server then stays starting"},
			&cli.DurationFlag{Name: "delay-action", Usage: "how long every other action runs (the server is locked meanwhile)"},
			&cli.DurationFlag{Name: "latency", Usage: "time added to every /v1 request, as a real round trip (e.g. 40ms); also POST /_sim/latency"},
			&cli.Int64Flag{Name: "seed", Usage: "seed of the random source behind probabilistic faults"},
			&cli.IntFlag{Name: "max-servers", Usage: "project server limit (403 resource_limit_exceeded beyond it); 0 = none"},
			&cli.PathFlag{Name: "faults", Usage: "JSON file with an array of fault rules to start with"},
			&cli.PathFlag{Name: "validate-spec", Usage: "Hetzner OpenAPI document: validate every exchange the client waited for; failures at GET /_sim/spec-failures"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level (debug, info, warn, error)"},
		},
		Action: run,
	}
}

func run(c *cli.Context) error {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	level, err := logrus.ParseLevel(c.String("log-level"))
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log.SetLevel(level)

	opts := hcloudsim.Options{
		Token:         c.String("token"),
		ReadOnlyToken: c.String("readonly-token"),
		RateLimit:     c.Int("rate-limit"),
		RateRefill:    c.Duration("rate-refill"),
		Delays: hcloudsim.Delays{
			Initializing: c.Duration("delay-initializing"),
			Starting:     c.Duration("delay-starting"),
			Action:       c.Duration("delay-action"),
		},
		Seed:       c.Int64("seed"),
		MaxServers: c.Int("max-servers"),
		Latency:    c.Duration("latency"),
	}
	if err := checkOptions(opts); err != nil {
		return err
	}
	sim := hcloudsim.New(opts)
	if path := c.Path("faults"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("--faults: %w", err)
		}
		fs, err := hcloudsim.ParseFaults(f)
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("--faults %s: %w", path, err)
		}
		if err := sim.SetFaults(fs); err != nil {
			return fmt.Errorf("--faults %s: %w", path, err)
		}
		log.WithField("rules", len(fs)).Info("fault rules loaded")
	}

	handler, err := newHandler(sim, c.Path("validate-spec"), opts.Token, log)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/v1"
	fmt.Fprintln(os.Stdout, url)
	log.WithField("url", url).Info("hcloud-sim listening")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// checkOptions reports every invalid flag together.
func checkOptions(o hcloudsim.Options) error {
	var problems []string
	if strings.TrimSpace(o.Token) == "" {
		problems = append(problems, "--token must not be empty")
	}
	if o.ReadOnlyToken != "" && o.ReadOnlyToken == o.Token {
		problems = append(problems, "--readonly-token must differ from --token")
	}
	if o.RateLimit < 1 {
		problems = append(problems, "--rate-limit must be at least 1")
	}
	if o.RateRefill <= 0 {
		problems = append(problems, "--rate-refill must be positive")
	}
	if o.MaxServers < 0 {
		problems = append(problems, "--max-servers must not be negative")
	}
	if o.Delays.Initializing < 0 || o.Delays.Starting < 0 || o.Delays.Action < 0 {
		problems = append(problems, "--delay-* must not be negative")
	}
	if o.Latency < 0 {
		problems = append(problems, "--latency must not be negative")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// newHandler routes /_sim/ to the admin hooks and everything else to the simulator, optionally through the
// OpenAPI validator, and logs each request (never the Authorization header).
func newHandler(sim *hcloudsim.Sim, specPath, token string, log *logrus.Logger) (http.Handler, error) {
	var api http.Handler = sim
	mux := http.NewServeMux()
	admin := sim.AdminHandler()
	if specPath != "" {
		v, err := specvalidate.Load(specPath)
		if err != nil {
			return nil, fmt.Errorf("--validate-spec: %w", err)
		}
		vh := specvalidate.NewHandler(v, sim)
		api = vh
		mux.Handle("GET /_sim/spec-failures", requireToken(token, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, map[string]any{"failures": nonNil(vh.Failures()), "abandoned": vh.Abandoned()})
		})))
	}
	mux.Handle("/_sim/", admin)
	mux.Handle("/", api)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(sw, r)
		log.WithFields(logrus.Fields{
			"method": r.Method, "path": r.URL.Path, "status": sw.status, "duration": time.Since(start).Round(time.Microsecond).String(),
		}).Debug("request")
	}), nil
}
