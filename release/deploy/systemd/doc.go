// Package systemd holds the hardened systemd unit of the shim and the CPI
// (nanobox-cpi-shim.service) and its tests.
package systemd
