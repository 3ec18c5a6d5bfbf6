package shim

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// Serve runs the HTTP server on set.Listener until SIGTERM or SIGINT, then
// shuts down (see shutdown). On every way out, running CPI calls are ended
// and their children reaped before serve returns.
func Serve(set Settings, logger *logrus.Logger) error {
	opts := set.Options
	sh, err := New(opts)
	if err != nil {
		_ = set.Listener.Close()
		return err
	}
	errLog := logger.WriterLevel(logrus.WarnLevel)
	defer errLog.Close()
	srv := &http.Server{
		Handler:           sh,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A response may wait for a slot, then for the CPI: allow both.
		WriteTimeout:   opts.Timeout + max(opts.QueueWait, 0) + 15*time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       log.New(errLog, "", 0),
	}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)

	served := make(chan error, 1)
	go func() {
		if set.CertFile != "" {
			served <- srv.ServeTLS(set.Listener, set.CertFile, set.KeyFile)
		} else {
			served <- srv.Serve(set.Listener)
		}
	}()
	scheme := "http"
	if set.CertFile != "" {
		scheme = "https"
	}
	logger.WithFields(logrus.Fields{
		"url": fmt.Sprintf("%s://%s%s", scheme, set.Listener.Addr(), strings.TrimSuffix(opts.BasePath, "/")),
		"cpi": opts.CPI, "version": opts.Version, "max_concurrent": opts.MaxConcurrent, "timeout": opts.Timeout.String(),
	}).Info("listening")

	select {
	case err := <-served:
		sh.Abort()
		_ = srv.Close()
		if werr := waitForChildren(sh); werr != nil {
			logger.WithError(werr).Error("CPI calls still running")
		}
		return fmt.Errorf("serving: %w", err)
	case sig := <-signals:
		logger.WithField("signal", sig.String()).Info("signal received")
	}
	return shutdown(srv, sh, set.Grace, signals, logger)
}

// shutdown stops accepting connections and lets in-flight calls finish
// within grace. When grace is over, or at a second signal, it ends the
// calls still running (Abort: their process groups are killed and each is
// answered 503), lets those answers go out, and waits until every child
// has been reaped.
func shutdown(srv *http.Server, sh *Shim, grace time.Duration, signals <-chan os.Signal, logger *logrus.Logger) error {
	logger.WithField("grace", grace.String()).Info("shutting down: no new connections; waiting for in-flight calls")
	sh.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- srv.Shutdown(sctx) }()
	select {
	case err := <-drained:
		if err != nil {
			logger.WithError(err).Warn("grace period over: ending the running CPI calls; their process groups are killed")
			// Shutdown gave up on the busy connections: watch them again
			// while their calls are ended and answered.
			go func() { drained <- srv.Shutdown(context.Background()) }()
		} else {
			drained <- nil
		}
	case sig := <-signals:
		logger.WithField("signal", sig.String()).Warn("second signal: ending the running CPI calls; their process groups are killed")
	}
	sh.Abort()
	err := waitForChildren(sh)
	// The ended calls have been answered: let the answers leave, for a
	// bounded time, then close what is left.
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
	_ = srv.Close()
	if err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// waitForChildren waits, for a bounded time, until every CPI call has
// ended and its child has been reaped.
func waitForChildren(sh *Shim) error {
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := sh.Wait(wctx); err != nil {
		return fmt.Errorf("CPI calls still running after shutdown: %w", err)
	}
	return nil
}
