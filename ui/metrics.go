package ui

import (
	"context"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/yardstick-dev/yardstick"
)

// serverMetrics are the server's Prometheus series. Labels stay bounded: route
// templates (not paths), scorecard and level names from the rules, campaign ids
// and squad refs from the catalog.
type serverMetrics struct {
	requests       *prometheus.HistogramVec
	levels         *prometheus.GaugeVec
	campaignDone   *prometheus.GaugeVec
	campaignTotal  *prometheus.GaugeVec
	gaugesRefreshT prometheus.Gauge
}

func newServerMetrics(reg prometheus.Registerer) *serverMetrics {
	f := promauto.With(reg)
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return f.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	return &serverMetrics{
		requests: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "yardstick_http_request_duration_seconds", Help: "Duration of HTTP requests by route template and status code.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		levels:        gaugeVec("yardstick_scorecard_entities", "Entities at each level of each scorecard, per the latest scoring.", "scorecard", "level"),
		campaignDone:  gaugeVec("yardstick_campaign_done_entities", "Entities done with a campaign, per owning squad.", "campaign", "squad"),
		campaignTotal: gaugeVec("yardstick_campaign_entities", "Entities a campaign applies to, per owning squad.", "campaign", "squad"),
		gaugesRefreshT: f.NewGauge(prometheus.GaugeOpts{
			Name: "yardstick_dashboard_gauges_refreshed_timestamp_seconds", Help: "Unix time the scorecard and campaign gauges were last refreshed.",
		}),
	}
}

func (s *Server) instrument(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		// Errors are answered here, through the one error handler, so the
		// recorded code is the one sent (503 for an outage, not 500).
		if err := next(c); err != nil {
			c.Error(err)
		}
		code := c.Response().Status
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.metrics.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
		return nil
	}
}

// RefreshGauges recomputes the scorecard level and campaign progress gauges
// from the store, and drops the cached score aggregates. serve calls it after
// each scoring run (never inside a Prometheus Collect).
func (s *Server) RefreshGauges(ctx context.Context) error {
	s.scores.reset() // a run was written: the cached aggregates are stale
	cat, err := s.catalog.get(ctx)
	if err != nil {
		return err
	}
	rules := s.rules()
	dist, err := s.levelDistribution(ctx, rules, cat, "")
	if err != nil {
		return err
	}
	s.metrics.levels.Reset()
	for _, d := range dist {
		for _, c := range d.Counts {
			s.metrics.levels.WithLabelValues(d.Scorecard, c.Level).Set(float64(c.Count))
		}
	}
	s.metrics.campaignDone.Reset()
	s.metrics.campaignTotal.Reset()
	for _, def := range rules.Campaigns {
		st, err := s.campaignStatusesIn(ctx, def.ID, cat, "")
		if err != nil {
			return err
		}
		done, total := map[yardstick.EntityRef]int{}, map[yardstick.EntityRef]int{}
		for _, x := range st {
			total[x.Owner]++
			if x.Done {
				done[x.Owner]++
			}
		}
		for sq, n := range total {
			s.metrics.campaignTotal.WithLabelValues(def.ID, string(sq)).Set(float64(n))
			s.metrics.campaignDone.WithLabelValues(def.ID, string(sq)).Set(float64(done[sq]))
		}
	}
	s.metrics.gaugesRefreshT.Set(float64(s.now().Unix()))
	return nil
}
