package jira

import (
	"fmt"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
	"github.com/yardstick-dev/yardstick/collectors/jira/jirafake"
)

// demoOrg is a demo-sized organisation: 40 projects of 24 issues, each mapped
// by one catalog entity, a few of them narrowed to a label. The fake pages
// like Jira Cloud: 100 issues a search page, the 40 most recent histories
// embedded in search results, 100 histories a changelog page.
func demoOrg(flavor string) (jirafake.Options, *collectortest.Store) {
	opts := jirafake.Options{Flavor: flavor, MaxResults: 100, ChangelogInSearch: 40, ChangelogPageSize: 100, BulkChangelogPageSize: 1000}
	var scopes []yardstick.Scope
	for i := 0; i < 40; i++ {
		key := fmt.Sprintf("S%c%c", 'A'+i/26, 'A'+i%26)
		opts.Projects = append(opts.Projects, key)
		switch i % 10 {
		case 3:
			scopes = append(scopes, ProjectScope(key, "", "backend"))
		default:
			scopes = append(scopes, ProjectScope(key, "", ""))
		}
	}
	return opts, catalogOf(scopes...)
}

// cold replaces the harness's collector by a new one with the same
// configuration and cursors, as one `yardstick collect jira` process starts:
// no cached status list or time zone.
func (h *harness) cold(tb testing.TB) {
	tb.Helper()
	c, err := New(h.c.cfg, h.httpClient, h.c.catalog, h.cursors, h.c.logger)
	mustDo(tb, err)
	h.c = c.WithClock(func() time.Time { return testNow })
}

// BenchmarkFullSync reports the requests one full sync of the demo
// organisation sends to Jira, from a cold start.
func BenchmarkFullSync(b *testing.B) {
	for _, flavor := range []string{"cloud", "server"} {
		b.Run(flavor, func(b *testing.B) {
			opts, cat := demoOrg(flavor)
			h := mustHarness(b, opts, cat, nil)
			var reqs, events int
			for b.Loop() {
				b.StopTimer()
				h.cold(b)
				h.fake.ResetRequests()
				before := h.w.writtenCount()
				b.StartTimer()
				h.mustCollect(b, time.Time{})
				reqs, events = h.fake.Requests(), h.w.writtenCount()-before
			}
			b.ReportMetric(float64(reqs), "requests/sync")
			b.ReportMetric(float64(events), "events/sync")
		})
	}
}

// BenchmarkIncrementalSync reports the requests of an incremental sync of the
// demo organisation after five issues changed, from a cold start (a
// long-running serve saves the status list and time zone requests).
func BenchmarkIncrementalSync(b *testing.B) {
	for _, flavor := range []string{"cloud", "server"} {
		b.Run(flavor, func(b *testing.B) {
			opts, cat := demoOrg(flavor)
			h := mustHarness(b, opts, cat, nil)
			next := h.mustCollect(b, time.Time{})
			var reqs, events int
			for b.Loop() {
				b.StopTimer()
				at := next.Add(time.Hour)
				for i, key := range []string{"SAA-3", "SAK-5", "SBA-7", "SBE-11", "SAE-1"} {
					mustDo(b, h.fake.Transition(key, []string{"In Progress", "Done"}[i%2], at.Add(time.Duration(i)*time.Minute)))
				}
				h.cold(b)
				h.fake.ResetRequests()
				before := h.w.writtenCount()
				b.StartTimer()
				next = h.mustCollect(b, next)
				reqs, events = h.fake.Requests(), h.w.writtenCount()-before
			}
			b.ReportMetric(float64(reqs), "requests/sync")
			b.ReportMetric(float64(events), "events/sync")
		})
	}
}
