package shim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Shim is the HTTP handler. Build it with New.
type Shim struct {
	opts     Options
	basePath string // "" or "/api/v1": no trailing slash
	runner   *Runner
	log      *logrus.Logger
	slots    chan struct{}
	queued   atomic.Int64
	calls    sync.WaitGroup
	handler  http.Handler
	metrics  *metrics
	openapi  openapiCache
	check    cpiCheck
	bufs     sync.Pool
	draining atomic.Bool
	// life is the parent of every CPI call's context; Abort cancels it.
	life   context.Context
	abort  context.CancelFunc
	lifeMu sync.Mutex // orders startCall and Abort
}

// New builds a shim from opts (validated).
func New(opts Options) (*Shim, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	log := opts.Logger
	if log == nil {
		log = logrus.New()
		log.SetOutput(io.Discard)
	}
	cpi, err := resolveCPI(opts.CPI)
	if err != nil {
		return nil, err
	}
	var args []string
	if opts.CPIConfig != "" {
		args = []string{"-configPath", opts.CPIConfig}
	}
	s := &Shim{
		opts:     opts,
		basePath: strings.TrimSuffix(opts.BasePath, "/"),
		runner:   &Runner{Path: cpi, Args: args, Env: childEnv(opts.Env, opts.PassEnv)},
		log:      log,
		slots:    make(chan struct{}, opts.MaxConcurrent),
		metrics:  newMetrics(),
	}
	s.life, s.abort = context.WithCancel(context.Background())
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.handler = s.routes()
	return s, nil
}

// Registry is the shim's own Prometheus registry (served at /metrics).
func (s *Shim) Registry() *prometheus.Registry { return s.metrics.registry }

// ServeHTTP serves one request.
func (s *Shim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Wait blocks until no CPI call is running or ctx ends. After the HTTP
// server is closed, it makes sure every child has been killed and reaped.
func (s *Shim) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.calls.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drain marks the shim as shutting down: /readyz answers 503 from now on,
// so load balancers and Kubernetes stop sending work. Calls are still served.
func (s *Shim) Drain() { s.draining.Store(true) }

// startCall counts a CPI call that is about to run, unless Abort was
// called: then it reports false and the call must not run. Counting and
// aborting exclude each other, so Wait never misses a call.
func (s *Shim) startCall() bool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.life.Err() != nil {
		return false
	}
	s.calls.Add(1)
	return true
}

// Abort ends every running CPI call at once, on the way out of the
// process: their process groups are killed and each call is answered 503
// (see abortedError); calls that arrive later are refused the same way.
// Wait then returns once every child has been reaped.
func (s *Shim) Abort() {
	s.draining.Store(true)
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	s.abort()
}
