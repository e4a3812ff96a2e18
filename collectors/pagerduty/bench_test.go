package pagerduty

import (
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick/collectors/pagerduty/pagerdutyfake"
	"github.com/yardstick-dev/yardstick/fixtures"
)

// BenchmarkSyncRequests reports how many PagerDuty requests the collector makes
// for the demo organisation (the fixtures generator's default org, ~100
// services): a full sync of 90 days, an incremental sync 15 minutes later with
// a few changes (2 new incidents, 1 acknowledged, 1 resolved), and a quiet one.
func BenchmarkSyncRequests(b *testing.B) {
	var ids []string
	for _, c := range fixtures.Generate(fixtures.GenConfig{}).Components {
		if c.PagerDutyID != "" {
			ids = append(ids, c.PagerDutyID)
		}
	}
	var full, incremental, quiet, incidents int
	for b.Loop() {
		e := newEnvFor(b, ids, pagerdutyfake.Config{Seed: 1}, Config{})
		e.run(b)
		full, incidents = e.fake.Requests(), len(e.fake.Incidents(""))

		e.clock.Advance(15 * time.Minute)
		a, _ := e.fake.Trigger(ids[0], "Error rate above 5%")
		c, _ := e.fake.Trigger(ids[1], "Disk 95% full")
		if err := e.fake.Acknowledge(a); err != nil {
			b.Fatal(err)
		}
		if err := e.fake.Resolve(c); err != nil {
			b.Fatal(err)
		}
		if _, err := e.fake.Trigger(ids[2], "Queue backlog growing"); err != nil {
			b.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		e.fake.ResetCounts()
		e.run(b)
		incremental = e.fake.Requests()

		e.clock.Advance(15 * time.Minute)
		e.fake.ResetCounts()
		e.run(b)
		quiet = e.fake.Requests()
	}
	b.ReportMetric(float64(len(ids)), "services")
	b.ReportMetric(float64(incidents), "incidents")
	b.ReportMetric(float64(full), "requests/full-sync")
	b.ReportMetric(float64(incremental), "requests/incremental-sync")
	b.ReportMetric(float64(quiet), "requests/quiet-sync")
}
