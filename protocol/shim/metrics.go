package shim

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the shim's Prometheus series, in a registry of its own. Their
// labels are route patterns, statuses, method names and fixed reasons:
// never anything a client chose.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec   // route, status
	cpiDuration *prometheus.HistogramVec // cpi_method, outcome
	inFlight    prometheus.Gauge
	queued      prometheus.Gauge
	rejections  *prometheus.CounterVec // reason
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "nanobox_shim", Name: "http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "status"}),
		cpiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "nanobox_shim", Name: "cpi_duration_seconds",
			Help:    "Wall time of CPI processes by method and outcome (ok, error, failed, timeout).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"cpi_method", "outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "nanobox_shim", Name: "cpi_in_flight",
			Help: "CPI processes running now.",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "nanobox_shim", Name: "queued",
			Help: "Requests waiting for a free CPI slot.",
		}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "nanobox_shim", Name: "rejections_total",
			Help: "Requests refused before the CPI ran, by reason (concurrency, body_too_large, malformed_body, body_unreadable, ambiguous_credentials).",
		}, []string{"reason"}),
	}
	m.registry.MustRegister(m.requests, m.cpiDuration, m.inFlight, m.queued, m.rejections,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, reason := range []string{"concurrency", "body_too_large", "malformed_body"} {
		m.rejections.WithLabelValues(reason)
	}
	return m
}

func (m *metrics) handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
