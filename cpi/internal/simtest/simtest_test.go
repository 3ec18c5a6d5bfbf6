package simtest_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recordingTB collects what Start reports and the cleanups it registers, so a test can check that Start
// would not fail its test.
type recordingTB struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recordingTB) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// TestStartDoesNotFailForALatencyFaultTheClientOutlives is the CPI's case: hcloud-go's deadline cancels a
// request held by a latency fault; the test using simtest.Start must not fail for it.
func TestStartDoesNotFailForALatencyFaultTheClientOutlives(t *testing.T) {
	tb := &recordingTB{TB: t}
	env := simtest.Start(tb, hcloudsim.Options{})
	env.Sim.AddFault(hcloudsim.Fault{Method: http.MethodGet, Route: "/v1/servers/{id}", Kind: hcloudsim.FaultLatency, Latency: time.Hour, Times: 1})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := env.Client().Server.GetByID(ctx, 42)
		done <- err
	}()
	waitFor(t, "the request to reach the simulator", func() bool { return env.Sim.Requests()["GET /v1/servers/{id}"] == 1 })
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	waitFor(t, "the exchange to be counted as abandoned", func() bool { return env.Abandoned() == 1 })

	// The simulator still answers, and validly.
	s, _, err := env.Client().Server.GetByID(context.Background(), 42)
	require.NoError(t, err)
	assert.Nil(t, s)
	tb.runCleanups()
	assert.Empty(t, tb.errors)
	assert.Equal(t, 1, env.Abandoned())
}
