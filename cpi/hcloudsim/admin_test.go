package hcloudsim_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
)

func TestFaultJSON(t *testing.T) {
	fs, err := hcloudsim.ParseFaults(strings.NewReader(`[
		{"method":"GET","route":"/v1/actions","kind":"latency","latency":"250ms","probability":0.5},
		{"kind":"latency","latency":1000000,"times":2},
		{"kind":"drop"}]`))
	require.NoError(t, err)
	require.Len(t, fs, 3)
	assert.Equal(t, 250*time.Millisecond, fs[0].Latency)
	assert.Equal(t, time.Millisecond, fs[1].Latency)
	assert.Equal(t, hcloudsim.FaultDrop, fs[2].Kind)

	b, err := json.Marshal(fs[0])
	require.NoError(t, err)
	assert.JSONEq(t, `{"method":"GET","route":"/v1/actions","kind":"latency","latency":"250ms","probability":0.5}`, string(b))
	var back hcloudsim.Fault
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, fs[0], back)

	for _, bad := range []string{
		`[{"kind":"latency","latency":"soon"}]`,
		`[{"kind":"latency"}]`,
		`[{"kind":"teleport"}]`,
		`[{"kind":"drop","colour":"red"}]`,
		`[{"kind":"drop","probability":1.5}]`,
		`{"kind":"drop"}`,
	} {
		_, err := hcloudsim.ParseFaults(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}
