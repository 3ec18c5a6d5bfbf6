package shim_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

// TestCPIMetricsDir: the gauges a CPI leaves in --cpi-metrics-dir are
// served in /metrics, read at each scrape; other kinds, damaged files and
// other file names are not, and the shim's own series stay.
func TestCPIMetricsDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	gauge := func(project, v string) string {
		return "# HELP nanobox_cpi_rate_limit_remaining Requests left.\n# TYPE nanobox_cpi_rate_limit_remaining gauge\n" +
			`nanobox_cpi_rate_limit_remaining{project="` + project + `"} ` + v + "\n"
	}
	write("budget-a.prom", gauge("a", "3412"))
	write("budget-b.prom", gauge("b", "17"))
	write("counter.prom", "# TYPE some_total counter\nsome_total 5\n")
	write("broken.prom", "this is { not the text format")
	write("budget-c.json", `{"remaining": 1}`)
	ts := startShim(t, shim.Options{CPIMetricsDir: dir})

	metrics := func() string {
		resp := ts.do(t, http.MethodGet, "/metrics", "")
		require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
		return string(resp.Body)
	}
	body := metrics()
	assert.Contains(t, body, `nanobox_cpi_rate_limit_remaining{project="a"} 3412`)
	assert.Contains(t, body, `nanobox_cpi_rate_limit_remaining{project="b"} 17`)
	assert.Contains(t, body, "# TYPE nanobox_cpi_rate_limit_remaining gauge")
	assert.NotContains(t, body, "some_total")
	assert.Contains(t, body, "nanobox_shim_cpi_in_flight")

	write("budget-a.prom", gauge("a", "3399"))
	assert.Contains(t, metrics(), `nanobox_cpi_rate_limit_remaining{project="a"} 3399`, "read at each scrape")

	// Without the option, nothing of the directory is served.
	plain := startShim(t, shim.Options{})
	resp := plain.do(t, http.MethodGet, "/metrics", "")
	assert.False(t, strings.Contains(string(resp.Body), "nanobox_cpi_rate_limit_remaining"))
}
