package bosh_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/catalog"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func TestArgumentsAreChecked(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		method string
		args   []any
		want   protocol.ErrorType
		msg    string
	}{
		{"a method without a binding", protocol.MethodPing, []any{}, protocol.BoshNotImplemented, "not implemented"},
		{"update_disk", protocol.MethodUpdateDisk, []any{"1", 10240, map[string]any{}}, bosh.NotSupported, "resize_disk"},
		{"too few", protocol.MethodAttachDisk, []any{"1"}, bosh.CpiError, "takes 2 argument(s)"},
		{"cid not a string", protocol.MethodHasVM, []any{1}, bosh.CpiError, "vm_cid"},
		{"empty cid", protocol.MethodHasDisk, []any{""}, bosh.CpiError, "disk_cid"},
		{"cid not ours", protocol.MethodHasVM, []any{"vm-abc"}, bosh.CpiError, "not a VM cid"},
		{"size not a number", protocol.MethodCreateDisk, []any{"10", map[string]any{}, nil}, bosh.CpiError, "size"},
		{"cloud properties not an object", protocol.MethodCreateVM, []any{"a", "1", []any{}, map[string]any{}, nil, nil}, bosh.CpiError, "cloud_properties"},
		{"unknown disk property", protocol.MethodCreateDisk, []any{1024, map[string]any{"type": "ssd"}, nil}, bosh.CpiError, `unknown field "type" (known: location, labels)`},
		{"wrong property type", protocol.MethodCreateDisk, []any{1024, map[string]any{"location": 1}, nil}, bosh.CpiError, "location"},
		{"unknown VM property", protocol.MethodCreateVM, []any{"a", "1", map[string]any{"server_typ": "cx23"}, map[string]any{}, nil, nil}, bosh.CpiError, `unknown field "server_typ"`},
		{"a long cid is cut at a character", protocol.MethodHasVM, []any{strings.Repeat("a", 39) + "€€"}, bosh.CpiError, "not a VM cid"},
		{"snapshot_disk", protocol.MethodSnapshotDisk, []any{"1", map[string]any{}}, bosh.NotSupported, "no snapshots"},
		{"delete_snapshot", protocol.MethodDeleteSnapshot, []any{"1"}, bosh.NotSupported, "no snapshots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.call(2, tt.method, tt.args...)
			pe := boshErr(t, err, tt.want)
			assert.Contains(t, pe.Message, tt.msg)
			assert.True(t, utf8.ValidString(pe.Message) && !strings.Contains(pe.Message, `\x`), "no character cut in half: %s", pe.Message)
			assert.False(t, pe.OkToRetry)
		})
	}
	t.Run("extra arguments are ignored", func(t *testing.T) {
		got, err := f.call(2, protocol.MethodHasVM, "12345", "extra")
		require.NoError(t, err)
		assert.Equal(t, false, got)
	})
}

func TestNoTokenIsACpiErrorOnlyForMethodsThatNeedTheAPI(t *testing.T) {
	f := newFixture(t)
	f.cfg.Token = ""
	_, err := f.call(2, protocol.MethodHasVM, "1")
	pe := boshErr(t, err, bosh.CpiError)
	assert.Contains(t, pe.Message, "nanobox_hcloud.token")
	_, err = f.call(2, protocol.MethodCalculateVMCloudProperties, map[string]any{"cpu": 1, "ram": 1024, "ephemeral_disk_size": 1024})
	require.NoError(t, err)
}

func TestCpiConfigContextWinsOverTheJobConfig(t *testing.T) {
	f := newFixture(t)
	token := f.cfg.Token
	f.cfg.Token = "job-token-that-the-simulator-refuses"
	ctx := `{"director_uuid": "d", "request_id": "cpi-123456", "token": "` + token + `", "agent": {"mbus": "nats://n:p@10.0.0.6:4222"}}`
	c := f.cpi(ctx)
	has, err := c.HasVM(context.Background(), "1")
	require.NoError(t, err, "the context's token is used")
	assert.False(t, has)

	// Through the dispatcher, as a director sends it.
	got, err := f.callWithContext(map[string]any{"director_uuid": "d", "request_id": "cpi-123456", "token": token}, 2, protocol.MethodHasVM, "1")
	require.NoError(t, err, "the context's token is used")
	assert.Equal(t, false, got)
	_, err = f.callWithContext(map[string]any{"director_uuid": "d"}, 2, protocol.MethodHasVM, "1")
	boshErr(t, err, bosh.CloudError)

	_, err = bosh.New(bosh.Env{Env: cpi.Env{Config: f.cfg}, Context: json.RawMessage(`{"agent": {"mbus": "ftp://x"}}`)})
	pe := boshErr(t, err, bosh.CpiError)
	assert.Contains(t, pe.Message, "agent.mbus")
	_, err = bosh.New(bosh.Env{Env: cpi.Env{Config: f.cfg}, Context: json.RawMessage(`{"token": "secret-value", "labels": {"managed-by": "x"}}`)})
	pe = boshErr(t, err, bosh.CpiError)
	assert.NotContains(t, pe.Message, "secret-value")
}

func TestCalculateVMCloudPropertiesPicksTheCheapestFit(t *testing.T) {
	f := newFixture(t)
	m, err := catalog.Embedded()
	require.NoError(t, err)
	tests := []struct {
		name          string
		cpu, ram, eph int64
	}{
		{"small", 1, 1024, 10 * 1024},
		{"4 cores 8 GiB", 4, 8 * 1024, 50 * 1024},
		{"big disk", 2, 2048, 200 * 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.call(2, protocol.MethodCalculateVMCloudProperties, map[string]any{"cpu": tt.cpu, "ram": tt.ram, "ephemeral_disk_size": tt.eph})
			require.NoError(t, err)
			name := got.(map[string]any)["server_type"].(string)
			chosen, ok := m.ServerType(name)
			require.True(t, ok)
			require.True(t, m.Orderable("nbg1", name))
			assert.GreaterOrEqual(t, int64(chosen.Cores), tt.cpu)
			assert.GreaterOrEqual(t, int64(chosen.MemoryGB*1024), tt.ram)
			assert.GreaterOrEqual(t, int64(chosen.DiskGB)*1e9/(1<<20), tt.eph)
			price := func(st catalog.ServerType) string { p, _ := st.PriceIn("nbg1"); return p.MonthlyGross }
			for _, other := range m.OrderableTypes("nbg1") {
				p, _ := other.PriceIn("nbg1")
				if other.Architecture != "x86" || p.Unavailable || int64(other.Cores) < tt.cpu || int64(other.MemoryGB*1024) < tt.ram || int64(other.DiskGB)*1e9/(1<<20) < tt.eph {
					continue
				}
				assert.LessOrEqual(t, parse(t, price(chosen)), parse(t, price(other)), "%s is cheaper than %s", other.Name, name)
			}
		})
	}
	_, err = f.call(2, protocol.MethodCalculateVMCloudProperties, map[string]any{"cpu": 1000, "ram": 1024, "ephemeral_disk_size": 0})
	boshErr(t, err, bosh.CloudError)
	_, err = f.call(2, protocol.MethodCalculateVMCloudProperties, map[string]any{"cpu": 0, "ram": 1024})
	boshErr(t, err, bosh.CpiError)
}

func parse(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	require.NoError(t, json.Unmarshal([]byte(s), &f))
	return f
}

// TestAPassedDeadlineIsARetryableCloudError: a call whose deadline passed
// before Hetzner answered may succeed later.
func TestAPassedDeadlineIsARetryableCloudError(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), -1)
	defer cancel()
	_, err := f.cpi("").HasVM(ctx, "1")
	pe := boshErr(t, err, bosh.CloudError)
	assert.True(t, pe.OkToRetry)
	assert.Contains(t, pe.Message, "has_vm: deadline exceeded")
}

// TestMalformedContextTokenIsRefusedUnsent: a token in the request's
// context that no Hetzner token can be (a newline, a control character,
// over-long) is a CpiError with ok_to_retry false before any request: a
// retry could never succeed.
func TestMalformedContextTokenIsRefusedUnsent(t *testing.T) {
	f := newFixture(t)
	cases := []struct{ name, token string }{
		{"newline", f.cfg.Token + "\nX-Injected: 1"},
		{"carriage return", f.cfg.Token + "\r"},
		{"NUL", "abc\x00def"},
		{"tab inside", "abc\tdef"},
		{"DEL", "abc\x7fdef"},
		{"non-ASCII", "tök3n"},
		{"over-long", strings.Repeat("a", config.MaxTokenLength+1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.sim.Sim.ResetRequests()
			_, err := f.callWithContext(map[string]any{"director_uuid": "d", "token": tc.token}, 2, protocol.MethodHasVM, "1")
			pe := boshErr(t, err, bosh.CpiError)
			assert.False(t, pe.OkToRetry)
			assert.Contains(t, pe.Message, "token")
			assert.NotContains(t, pe.Message, tc.token)
			assert.Zero(t, f.sim.Sim.TotalRequests(), "nothing is sent: %v", f.sim.Sim.Requests())
		})
	}
}
