// Command nanobox-cpi-shim serves the Nanobox custom-provider HTTP API by
// executing a CPI binary once per request (package protocol/shim, whose
// Command is this command line).
//
//	nanobox-cpi-shim --listen 127.0.0.1:8080 --cpi bin/nanobox-hcloud-cpi [--cpi-config cpi.json]
//
// Exit status: 0 after a clean stop, 2 for flag problems (all reported
// together), 1 for any other failure.
package main

import (
	"os"

	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	logger := logrus.New()
	logger.SetOutput(os.Stderr)
	os.Exit(shim.Command{
		Name: "nanobox-cpi-shim", Version: version, Getenv: os.Getenv,
		Stdout: os.Stdout, Stderr: os.Stderr, Logger: logger,
	}.Run(os.Args[1:]))
}
