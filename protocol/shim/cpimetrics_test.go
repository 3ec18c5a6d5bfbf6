package shim_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestCPIMetricsBounded: however many projects leave metrics, each CPI
// metric has at most CPIMetricsSeries label sets, the newest files'; the
// rest are one series labelled "other" with their lowest value. A
// symbolic link, or a file of another user, is never served.
func TestCPIMetricsBounded(t *testing.T) {
	dir := t.TempDir()
	const projects, bound = 200, 3
	base := time.Now().Add(-time.Hour)
	for i := range projects {
		path := filepath.Join(dir, fmt.Sprintf("budget-%03d.prom", i))
		content := "# TYPE nanobox_cpi_rate_limit_remaining gauge\n" +
			fmt.Sprintf("nanobox_cpi_rate_limit_remaining{project=\"p%03d\"} %d\n", i, 1000+i)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		mtime := base.Add(time.Duration(i) * time.Second) // p199 is the newest
		require.NoError(t, os.Chtimes(path, mtime, mtime))
	}
	forged := filepath.Join(t.TempDir(), "forged.prom")
	require.NoError(t, os.WriteFile(forged, []byte("nanobox_cpi_rate_limit_remaining{project=\"forged\"} 1\n"), 0o600))
	require.NoError(t, os.Symlink(forged, filepath.Join(dir, "zz-link.prom")))
	if os.Geteuid() == 0 {
		theirs := filepath.Join(dir, "zz-theirs.prom")
		require.NoError(t, os.WriteFile(theirs, []byte("nanobox_cpi_rate_limit_remaining{project=\"theirs\"} 2\n"), 0o600))
		require.NoError(t, os.Chown(theirs, 65534, 65534))
	}
	ts := startShim(t, shim.Options{CPIMetricsDir: dir, CPIMetricsSeries: bound})
	resp := ts.do(t, http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusOK, resp.Status)
	var series []string
	for _, line := range strings.Split(string(resp.Body), "\n") {
		if strings.HasPrefix(line, "nanobox_cpi_rate_limit_remaining{") {
			series = append(series, line)
		}
	}
	assert.ElementsMatch(t, []string{
		`nanobox_cpi_rate_limit_remaining{project="p199"} 1199`,
		`nanobox_cpi_rate_limit_remaining{project="p198"} 1198`,
		`nanobox_cpi_rate_limit_remaining{project="p197"} 1197`,
		`nanobox_cpi_rate_limit_remaining{project="other"} 1000`,
	}, series)
}
