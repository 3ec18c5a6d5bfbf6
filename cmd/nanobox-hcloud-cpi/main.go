// Command nanobox-hcloud-cpi is the Hetzner Cloud CPI for Nanobox: run with
// no arguments it reads one JSON request on stdin and writes one JSON
// response on stdout, the way BOSH runs an external CPI.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/nanobox"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is the whole program behind an io seam: args as os.Args, the three
// streams and the environment. It returns the exit code (protocol.CLI.Run).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return protocol.CLI{
		Name:    "nanobox-hcloud-cpi",
		Usage:   "the Hetzner Cloud CPI for Nanobox: one JSON request on stdin, one JSON response on stdout",
		Version: version,
		Description: "Environment: HCLOUD_TOKEN (token when the request carries none), " +
			"HCLOUD_ENDPOINT (API endpoint when the config sets none).",
		Setup: func(configPath string) protocol.Setup {
			return cpi.Process{ConfigPath: configPath, Version: version, Getenv: getenv, Stderr: stderr,
				Nanobox: func(e cpi.Env) protocol.NanoboxFactory { return nanobox.New(e) }, Bosh: boshFactory}.Setup
		},
	}.Run(ctx, args, stdin, stdout, stderr)
}

// boshFactory registers the BOSH methods (package cpi/bosh) with the CPI.
func boshFactory(e cpi.Env) protocol.BoshFactory {
	return bosh.Factory{Env: bosh.Env{Env: e}}
}
