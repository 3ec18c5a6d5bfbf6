package shim

import (
	"os"
	"path/filepath"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// maxCPIMetricsFile bounds one metrics file the CPI wrote.
const maxCPIMetricsFile = 64 << 10

// cpiMetrics serves the gauges a CPI leaves between calls: every *.prom
// file (Prometheus text format) in a directory the CPI writes, read at each
// scrape. A CPI process lives for one call, so what it knows beyond the
// call (for the Hetzner CPI, the project's rate-limit budget) is a file.
// Only gauges and untyped series are served; a file that does not parse is
// skipped, as is one past maxCPIMetricsFile.
type cpiMetrics struct{ dir string }

// Gather implements prometheus.Gatherer.
func (g cpiMetrics) Gather() ([]*dto.MetricFamily, error) {
	files, err := filepath.Glob(filepath.Join(g.dir, "*.prom"))
	if err != nil {
		return nil, nil
	}
	sort.Strings(files)
	merged := map[string]*dto.MetricFamily{}
	for _, f := range files {
		for name, fam := range parseMetricsFile(f) {
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
		out = append(out, fam)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

func parseMetricsFile(path string) map[string]*dto.MetricFamily {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() || info.Size() > maxCPIMetricsFile {
		return nil
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(f)
	if err != nil {
		return nil
	}
	return fams
}

// gatherer is what /metrics serves: the shim's registry, and the CPI's
// gauges when Options.CPIMetricsDir is set.
func (s *Shim) gatherer() prometheus.Gatherer {
	if s.opts.CPIMetricsDir == "" {
		return s.metrics.registry
	}
	return prometheus.Gatherers{s.metrics.registry, cpiMetrics{dir: s.opts.CPIMetricsDir}}
}
