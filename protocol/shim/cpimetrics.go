package shim

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"
)

// maxCPIMetricsFile bounds one metrics file the CPI wrote.
const maxCPIMetricsFile = 64 << 10

// DefaultCPIMetricsSeries is how many label sets of one CPI metric /metrics
// serves by default (Options.CPIMetricsSeries).
const DefaultCPIMetricsSeries = 50

// OtherLabel is the value of every label of the series that folds a CPI
// metric's label sets past the bound.
const OtherLabel = "other"

// cpiMetrics serves the gauges a CPI leaves between calls: every *.prom
// file (Prometheus text format) in a directory the CPI writes, read at each
// scrape. A CPI process lives for one call, so what it knows beyond the
// call (for the Hetzner CPI, the project's rate-limit budget) is a file.
// Only gauges and untyped series are served; a file that does not parse is
// skipped, as is one past maxCPIMetricsFile, a symbolic link, and one
// another user owns. Files are read newest first, and each metric keeps
// at most maxSeries label sets (the newest files'): the rest are folded
// into one series whose labels are all OtherLabel, holding their lowest
// value (for a budget: the project closest to its limit).
type cpiMetrics struct {
	dir       string
	maxSeries int
}

// Gather implements prometheus.Gatherer.
func (g cpiMetrics) Gather() ([]*dto.MetricFamily, error) {
	files, err := filepath.Glob(filepath.Join(g.dir, "*.prom"))
	if err != nil {
		return nil, nil
	}
	parsed := make([]metricsFile, 0, len(files))
	for _, f := range files {
		if mf, ok := parseMetricsFile(f); ok {
			parsed = append(parsed, mf)
		}
	}
	sort.SliceStable(parsed, func(i, j int) bool {
		if parsed[i].mtime != parsed[j].mtime {
			return parsed[i].mtime > parsed[j].mtime
		}
		return parsed[i].path < parsed[j].path
	})
	merged := map[string]*dto.MetricFamily{}
	for _, f := range parsed {
		for name, fam := range f.families {
			if t := fam.GetType(); t != dto.MetricType_GAUGE && t != dto.MetricType_UNTYPED {
				continue
			}
			if prev, ok := merged[name]; ok && prev.GetType() == fam.GetType() {
				prev.Metric = append(prev.Metric, fam.Metric...)
				continue
			}
			merged[name] = fam
		}
	}
	out := make([]*dto.MetricFamily, 0, len(merged))
	for _, fam := range merged {
		fam.Metric = foldSeries(fam.Metric, g.maxSeries)
		out = append(out, fam)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// foldSeries keeps the first max series and folds the rest into one whose
// labels are all OtherLabel and whose value is their lowest.
func foldSeries(series []*dto.Metric, max int) []*dto.Metric {
	if max <= 0 || len(series) <= max {
		return series
	}
	folded := &dto.Metric{}
	for _, l := range series[max].GetLabel() {
		folded.Label = append(folded.Label, &dto.LabelPair{Name: l.Name, Value: ptrTo(OtherLabel)})
	}
	low := math.Inf(1)
	for _, m := range series[max:] {
		low = math.Min(low, metricValue(m))
	}
	if series[max].Gauge != nil {
		folded.Gauge = &dto.Gauge{Value: &low}
	} else {
		folded.Untyped = &dto.Untyped{Value: &low}
	}
	return append(series[:max:max], folded)
}

func metricValue(m *dto.Metric) float64 {
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Untyped.GetValue()
}

func ptrTo[T any](v T) *T { return &v }

// metricsFile is one parsed *.prom file.
type metricsFile struct {
	path     string
	mtime    int64
	families map[string]*dto.MetricFamily
}

// parseMetricsFile reads a metrics file: a regular file of the shim's own
// user, opened without following a symbolic link, of at most
// maxCPIMetricsFile bytes.
func parseMetricsFile(path string) (metricsFile, bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return metricsFile{}, false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() || info.Size() > maxCPIMetricsFile {
		return metricsFile{}, false
	}
	if st, ok := info.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return metricsFile{}, false
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(f)
	if err != nil {
		return metricsFile{}, false
	}
	return metricsFile{path: path, mtime: info.ModTime().UnixNano(), families: fams}, true
}

// gatherer is what /metrics serves: the shim's registry, and the CPI's
// gauges when Options.CPIMetricsDir is set.
func (s *Shim) gatherer() prometheus.Gatherer {
	if s.opts.CPIMetricsDir == "" {
		return s.metrics.registry
	}
	return prometheus.Gatherers{s.metrics.registry, cpiMetrics{dir: s.opts.CPIMetricsDir, maxSeries: s.opts.CPIMetricsSeries}}
}
