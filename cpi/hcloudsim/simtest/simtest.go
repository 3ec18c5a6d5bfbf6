// Package simtest forwards to cpi/internal/simtest, the test starter of the simulator, for the tests outside
// cpi/ that Go's internal rule keeps from importing it (protocol/shim/e2e, cmd/nanobox-hcloud-cpi). Tests
// under cpi/ import cpi/internal/simtest. No production code imports either.
//
// Deprecated: move the remaining importers under cpi/ and delete this package.
package simtest

import (
	"testing"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

// DefaultToken is the token Start uses when opts.Token is empty.
const DefaultToken = simtest.DefaultToken

// Env is a running simulator (simtest.Env).
type Env = simtest.Env

// Start is simtest.Start.
func Start(t testing.TB, opts hcloudsim.Options) *Env { return simtest.Start(t, opts) }
