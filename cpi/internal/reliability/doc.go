// Package reliability holds the adapter's reliability suite: tests that drive
// the real binaries (orchestrator → bin/nanobox-cpi-shim → bin/nanobox-hcloud-cpi
// → the Hetzner simulator) through injected faults, hostile input and
// credential canaries, and check the promises the adapter makes: no duplicate
// servers or keys, nothing left behind, no leaked secret, no crash, and no
// object labelled nanobox=false ever touched.
//
// The package has no production code; everything is in its tests:
//
//	go test ./cpi/internal/reliability                      # the short run (make test): 20 chaos lifecycles, 8 BOSH ones
//	go test ./cpi/internal/reliability -run TestChaosLifecycles -soak   # 500 lifecycles, figures printed (make soak)
//	go test ./cpi/internal/reliability -run TestBoshChaosLifecycles -soak   # 200 BOSH lifecycles (make soak runs both)
//	go test ./cpi/internal/reliability -run TestChaosLifecycles -chaos.n 100 -chaos.seed 42 -v
//
// The chaos run prints its seed; the same seed replays the same fault
// decisions in the simulator (the interleaving of concurrent calls still
// varies).
package reliability
