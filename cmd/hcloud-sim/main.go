// Command hcloud-sim serves the Hetzner Cloud API simulator (package cpi/hcloudsim) over HTTP:
// /v1/... as the real API, and test hooks under /_sim/ (see hcloudsim.Sim.AdminHandler).
package main

import (
	"fmt"
	"os"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "hcloud-sim:", err)
		os.Exit(1)
	}
}
