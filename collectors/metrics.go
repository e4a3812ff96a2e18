package collectors

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the collector-side Prometheus series. Labels are bounded: the
// collector name and the HTTP status class, never a repository or URL.
type Metrics struct {
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	rows        *prometheus.CounterVec
	runs        *prometheus.CounterVec
	requests    *prometheus.CounterVec
	retries     *prometheus.CounterVec
	headroom    *prometheus.GaugeVec
}

// NewMetrics registers the collector metrics on reg. Pass a fresh registry in tests.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "yardstick_collector_duration_seconds", Help: "Duration of one collector run.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, []string{"collector"}),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "yardstick_collector_last_success_timestamp_seconds", Help: "Unix time of the last run that ended without error.",
		}, []string{"collector"}),
		rows: f.NewCounterVec(prometheus.CounterOpts{
			Name: "yardstick_collector_rows_total", Help: "Events and facts written by collectors.",
		}, []string{"collector", "kind"}),
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "yardstick_collector_runs_total", Help: "Collector runs by result (ok, partial, error).",
		}, []string{"collector", "result"}),
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "yardstick_api_requests_total", Help: "HTTP requests to source APIs by status code class.",
		}, []string{"collector", "code"}),
		retries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "yardstick_api_retries_total", Help: "Retried source API requests by reason (rate_limit, server_error, transport).",
		}, []string{"collector", "reason"}),
		headroom: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "yardstick_api_ratelimit_remaining", Help: "Requests left in the current rate-limit window, as the API last reported.",
		}, []string{"collector"}),
	}
}
