// Package e2e holds end-to-end tests of the whole chain: HTTP requests
// through protocol/shim, the real CPI binary (bin/nanobox-hcloud-cpi) and
// the Hetzner API simulator. It has no non-test code. It sits under
// cpi/internal because it needs the simulator's test starter; the shim
// itself stays free of any cloud package.
package e2e
