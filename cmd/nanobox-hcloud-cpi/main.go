// Command nanobox-hcloud-cpi is the Hetzner Cloud CPI for Nanobox: run with
// no arguments it reads one JSON request on stdin and writes one JSON
// response on stdout, the way BOSH runs an external CPI. It serves the
// Nanobox methods (package cpi/nanobox) and the BOSH methods (package
// cpi/bosh) on the shared core of package cpi; cli.go is its command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
