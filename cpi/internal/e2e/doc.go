// Package e2e holds end-to-end tests of the real binaries against the
// Hetzner API simulator: HTTP requests through protocol/shim in front of
// bin/nanobox-hcloud-cpi (lifecycle_test.go), the CPI binary alone through
// stdin and its command line (cpi_binary_test.go), and `make run`
// (makerun_test.go). It has no non-test code. It sits under cpi/internal
// because it needs the simulator's test starter; the shim and the mains
// stay free of it.
package e2e
