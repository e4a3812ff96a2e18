package ui_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/serve/servebench"
)

// BenchmarkPageData measures every page's data endpoint (/api/v1/…, the same
// view the HTML page renders) on a generated organisation of 1,000 components
// and about 10,000,000 events (1,000 days of history), scored by the demo
// rules. After one refresh of the metric observations (reported as refresh-s)
// it reports per endpoint the first request's latency (cold-ms: no result
// cached yet) and p50 and p95 over 30 requests per iteration after it. YARDSTICK_BENCH_COMPONENTS and
// YARDSTICK_BENCH_DAYS shrink it for a quick look; YARDSTICK_BENCH_EVENTS
// (e.g. 100000000) sets the days for about that many events instead.
func BenchmarkPageData(b *testing.B) {
	components, days := envInt("YARDSTICK_BENCH_COMPONENTS", 1000), envInt("YARDSTICK_BENCH_DAYS", 1000)
	if n := envInt("YARDSTICK_BENCH_EVENTS", 0); n > 0 {
		days = fixtures.DaysForEvents(components, n)
	}
	start := time.Now()
	d := mustDemo(b, components, days)
	var events uint64
	counts, err := d.db.EventCounts(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range counts {
		events += n
	}
	b.Logf("organisation: %d components, %d events over %d days; set up in %s", components, events, days, time.Since(start).Round(time.Second))
	// What serve does on its schedule: turn events into observations.
	refreshStart := time.Now()
	if err := d.metrics.Refresh(b.Context()); err != nil {
		b.Fatal(err)
	}
	refresh := time.Since(refreshStart)
	b.Logf("metric refresh (events → observations) took %s", refresh.Round(time.Millisecond))
	// serve warms the default views after each refresh (the overview over
	// every offered range, the squads list); "cold" below is the first request
	// after that: a view nobody asked for since the refresh, or a warmed one.
	warmStart := time.Now()
	if err := d.srv.Warm(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Logf("warming the default views took %s", time.Since(warmStart).Round(time.Millisecond))
	ts := httptest.NewServer(d.srv.Handler())
	b.Cleanup(ts.Close)

	squad := yardstick.NewEntityRef("group", "", d.org.Squads[0].Name)
	tribe := yardstick.NewEntityRef("group", "", d.org.Tribes[0].Name)
	comp := yardstick.NewEntityRef("component", "", d.org.Components[0].Name)
	sc, camp := d.defs.Scorecards[0].ID, d.defs.Campaigns[0].ID
	endpoints := []struct{ name, path string }{
		{"overview", "/api/v1/overview"},
		{"overview-tribe", "/api/v1/overview?group=" + string(tribe)},
		{"overview-52w", "/api/v1/overview?range=52w"},
		// A range serve does not warm: its cold-ms is what computing a year
		// of the organisation's overview costs.
		{"overview-51w-unwarmed", "/api/v1/overview?range=51w"},
		{"squads", "/api/v1/squads"},
		{"squad", "/api/v1/squads/default/" + squad.Name()},
		{"component", "/api/v1/entities/component/default/" + comp.Name()},
		{"scorecards", "/api/v1/scorecards"},
		{"scorecard", "/api/v1/scorecards/" + sc},
		{"campaigns", "/api/v1/campaigns"},
		{"campaign", "/api/v1/campaigns/" + camp},
		{"campaign-csv", "/api/v1/campaigns/" + camp + "/remaining.csv"},
		{"search", "/api/v1/search?q=" + comp.Name()},
	}
	const perIteration = 30
	for _, ep := range endpoints {
		b.Run(ep.name, func(b *testing.B) {
			get := func() time.Duration {
				t0 := time.Now()
				resp, err := http.Get(ts.URL + ep.path)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s = %d", ep.path, resp.StatusCode)
				}
				return time.Since(t0)
			}
			cold := get() // first request after the refresh: nothing cached
			var lat []time.Duration
			b.ResetTimer()
			for b.Loop() {
				for i := 0; i < perIteration; i++ {
					lat = append(lat, get())
				}
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(servebench.Millis(servebench.Percentile(lat, 0.50)), "p50-ms")
			b.ReportMetric(servebench.Millis(servebench.Percentile(lat, 0.95)), "p95-ms")
			b.ReportMetric(servebench.Millis(cold), "cold-ms")
			b.ReportMetric(refresh.Seconds(), "refresh-s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
