// Command nanobox-cpi-shim serves the Nanobox custom-provider HTTP API by
// executing a CPI binary once per request (package protocol/shim).
//
//	nanobox-cpi-shim --listen 127.0.0.1:8080 --cpi bin/nanobox-hcloud-cpi [--cpi-config cpi.json]
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

var version = "dev"

func main() {
	logger := logrus.New()
	logger.SetOutput(os.Stderr)
	if err := newApp(logger).Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "nanobox-cpi-shim:", err)
		os.Exit(1)
	}
}

func newApp(logger *logrus.Logger) *cli.App {
	return &cli.App{
		Name:    "nanobox-cpi-shim",
		Usage:   "serve the Nanobox custom-provider HTTP API by executing a CPI once per request",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to listen on (host:port)", EnvVars: []string{"NANOBOX_SHIM_LISTEN"}},
			&cli.StringFlag{Name: "cpi", Required: true, Usage: "path of the CPI binary", EnvVars: []string{"NANOBOX_SHIM_CPI"}},
			&cli.StringFlag{Name: "cpi-config", Usage: "CPI config file, passed to the CPI as -configPath", EnvVars: []string{"NANOBOX_SHIM_CPI_CONFIG"}},
			&cli.StringFlag{Name: "base-path", Value: "/", Usage: "path prefix of the Nanobox routes, e.g. /api/v1"},
			&cli.DurationFlag{Name: "timeout", Value: shim.DefaultTimeout, Usage: "bound on each CPI call; its process group is killed past it"},
			&cli.Int64Flag{Name: "max-body", Value: shim.DefaultMaxBody, Usage: "largest request body in bytes (413 past it)"},
			&cli.IntFlag{Name: "max-concurrent", Value: shim.DefaultMaxConcurrent(), Usage: "most CPI processes at once"},
			&cli.DurationFlag{Name: "queue-wait", Value: shim.DefaultQueueWait, Usage: "how long a request waits for a free CPI slot before 503 with Retry-After (0: no waiting)"},
			&cli.IntFlag{Name: "max-queue", Usage: "most requests waiting for a slot; more get 503 at once (default 16 x max-concurrent)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate file (PEM); serve HTTPS with --tls-key"},
			&cli.StringFlag{Name: "tls-key", Usage: "TLS private key file (PEM)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn, error"},
			&cli.DurationFlag{Name: "shutdown-grace", Value: 30 * time.Second, Usage: "on SIGTERM/SIGINT, how long in-flight calls may take to finish"},
		},
		Action: func(c *cli.Context) error { return run(c, logger) },
	}
}

func run(c *cli.Context, logger *logrus.Logger) error {
	var problems []string
	switch c.String("log-format") {
	case "text":
		logger.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableColors: true})
	case "json":
		logger.SetFormatter(&logrus.JSONFormatter{})
	default:
		problems = append(problems, fmt.Sprintf("--log-format %q: want text or json", c.String("log-format")))
	}
	level, err := logrus.ParseLevel(c.String("log-level"))
	if err != nil {
		problems = append(problems, fmt.Sprintf("--log-level: %v", err))
	} else {
		logger.SetLevel(level)
	}
	certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
	if (certFile == "") != (keyFile == "") {
		problems = append(problems, "--tls-cert and --tls-key go together")
	}
	if c.Duration("timeout") <= 0 {
		problems = append(problems, "--timeout must be positive")
	}
	if c.Int64("max-body") <= 0 {
		problems = append(problems, "--max-body must be positive")
	}
	if c.Int("max-concurrent") <= 0 {
		problems = append(problems, "--max-concurrent must be positive")
	}
	if c.Duration("queue-wait") < 0 {
		problems = append(problems, "--queue-wait must not be negative")
	}
	if c.Int("max-queue") < 0 {
		problems = append(problems, "--max-queue must not be negative")
	}
	queueWait := c.Duration("queue-wait")
	if queueWait == 0 {
		queueWait = -1 // the flag's 0 means no waiting; the option's 0 means the default
	}
	if c.Duration("shutdown-grace") < 0 {
		problems = append(problems, "--shutdown-grace must not be negative")
	}
	opts := shim.Options{
		CPI:           c.String("cpi"),
		CPIConfig:     c.String("cpi-config"),
		BasePath:      c.String("base-path"),
		Timeout:       c.Duration("timeout"),
		MaxBody:       c.Int64("max-body"),
		MaxConcurrent: c.Int("max-concurrent"),
		QueueWait:     queueWait,
		MaxQueue:      c.Int("max-queue"),
		Logger:        logger,
		Version:       version,
	}
	if err := opts.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	sh, err := shim.New(opts)
	if err != nil {
		return err
	}

	errLog := logger.WriterLevel(logrus.WarnLevel)
	defer errLog.Close()
	srv := &http.Server{
		Handler:           sh,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A response may wait for a slot, then for the CPI: allow both.
		WriteTimeout:   opts.Timeout + max(queueWait, 0) + 15*time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       log.New(errLog, "", 0),
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	scheme := "http"
	if certFile != "" {
		scheme = "https"
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	served := make(chan error, 1)
	go func() {
		if certFile != "" {
			served <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			served <- srv.Serve(ln)
		}
	}()
	logger.WithFields(logrus.Fields{
		"url": fmt.Sprintf("%s://%s%s", scheme, ln.Addr(), strings.TrimSuffix(opts.BasePath, "/")),
		"cpi": opts.CPI, "version": version, "max_concurrent": opts.MaxConcurrent, "timeout": opts.Timeout.String(),
	}).Info("listening")

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	stop()
	grace := c.Duration("shutdown-grace")
	logger.WithField("grace", grace.String()).Info("shutting down: no new connections; waiting for in-flight calls")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.WithError(err).Warn("grace period over: closing connections; running CPI calls are killed")
		_ = srv.Close()
	}
	// Closing cancels the remaining requests, which kills their CPI
	// process groups; wait until every child has been reaped.
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := sh.Wait(wctx); err != nil {
		return fmt.Errorf("CPI calls still running after shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}
