package store_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/jira"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// BenchmarkMetricRefresh measures a full metric refresh and what follows 1 %
// new events, on a generated organisation of
// YARDSTICK_BENCH_REFRESH_COMPONENTS components (default 100) over
// YARDSTICK_BENCH_REFRESH_DAYS days (default 1000): about 1,100,000 events
// (1000 components give about 11,000,000). After the full refresh of the base
// history come two sets of new events, each about 1 % of all, each followed
// by a refresh:
//
//   - few-scopes: the newest fifth of the history of every 20th component
//     (what a backfill, or a busy hour of a large organisation, looks like);
//   - newest: the newest 1 % of everything else, which touches every active
//     scope (a day or more of the whole organisation).
//
// It reports full-s, and for each set its refresh's seconds, its share of the
// full refresh, the keys it recomputed, the share of scopes whose failure
// signals it read (100 when it rebuilt) and how many signals it attributed
// again (-failure-signals); and after each refresh
// the best of three uncached reads of the organisation's weekly metrics
// (-read-ms: after an incremental refresh, reads take its time slices).
//
// YARDSTICK_BENCH_EVENTS (e.g. 100000000), as `make bench` takes it, sizes
// the organisation by its events instead: as many components as give about
// that many events over the days (10,000 components for 100M over 1000 days).
func BenchmarkMetricRefresh(b *testing.B) {
	days := benchEnvInt(b, "YARDSTICK_BENCH_REFRESH_DAYS", 1000)
	components := 100
	if n := benchEnvInt(b, "YARDSTICK_BENCH_EVENTS", 0); n > 0 {
		components = fixtures.ComponentsForEvents(days, n)
	}
	components = benchEnvInt(b, "YARDSTICK_BENCH_REFRESH_COMPONENTS", components)
	org := fixtures.Generate(fixtures.GenConfig{Components: components, Days: days})
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC) // the generator's fixed end of history
	few := map[yardstick.Scope]bool{}
	for i, c := range org.Components {
		if i%20 == 0 {
			few[github.RepoScope(c.Repo)] = true
			few[jira.ProjectScope(c.JiraKey, c.Name, "")] = true
			few[pagerduty.ServiceScope(c.PagerDutyID)] = true
		}
	}
	fewCut := end.AddDate(0, 0, -days/5)
	inFew := func(e yardstick.Event) bool { return few[e.Scope] && !e.Time.Before(fewCut) }
	// The newest 1 % of the events outside the few-scopes set.
	var times []int64
	if err := org.EachEvent(func(e yardstick.Event) error {
		if !inFew(e) {
			times = append(times, e.Time.Unix())
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	slices.Sort(times)
	cut := time.Unix(times[len(times)*99/100], 0).UTC()
	times = nil
	inNewest := func(e yardstick.Event) bool { return !inFew(e) && !e.Time.Before(cut) }

	for i := 0; i < b.N; i++ {
		db := newDB(b)
		storetest.MustImportOrg(b, db, org)
		base, _ := storetest.MustStreamOrg(b, db, org, func(e yardstick.Event) bool { return !inFew(e) && !inNewest(e) })
		// The base history is written just before the full refresh here; in
		// production it is older than any write in flight, and merged: the
		// full refresh starts once the server runs no merge. (At 11M events
		// that was so within 2 s of the last write in every run we made.)
		storetest.MustSettle(b, db)
		m := store.NewMetrics(db, store.MetricsConfig{WriteLag: 100 * time.Millisecond})
		time.Sleep(200 * time.Millisecond)
		full := mustRefresh(b, m)
		if !full.Full {
			b.Fatal("first refresh was incremental, want full")
		}
		b.Logf("full refresh of %d events: %s; by family: %v", base, full.Duration.Round(time.Millisecond), full.Families)
		b.ReportMetric(full.Duration.Seconds(), "full-s")
		b.ReportMetric(readMs(b, db, end), "full-read-ms")
		total := base
		for _, set := range []struct {
			name string
			keep func(yardstick.Event) bool
		}{{"few-scopes", inFew}, {"newest", inNewest}} {
			n, _ := storetest.MustStreamOrg(b, db, org, set.keep)
			total += n
			// As before the full refresh: in production refreshes run minutes
			// apart, so the previous refresh's merges (up to 9M observation
			// rows at 11M events, 5–6 CPU-s) are over, and the new events'
			// parts are merged as far as the server chooses to.
			storetest.MustSettle(b, db)
			res := mustRefresh(b, m)
			share := 100.0
			if !res.Full {
				share = 100 * float64(res.FailureScopes) / float64(res.MappedScopes)
			}
			b.Logf("%s: %d new events; refresh %s, full=%v, recomputed %d keys %v, %d observations written, failure signals of %d of %d mapped scopes read, %d of them attributed again; cuts %v; by step: %v",
				set.name, n, res.Duration.Round(time.Millisecond), res.Full, res.Keys(), res.TouchedKeys, res.Rows, res.FailureScopes, res.MappedScopes, res.FailureSignals, res.Cuts, res.Families)
			b.ReportMetric(res.Duration.Seconds(), set.name+"-s")
			b.ReportMetric(100*res.Duration.Seconds()/full.Duration.Seconds(), set.name+"-%full")
			b.ReportMetric(float64(res.Keys()), set.name+"-keys")
			b.ReportMetric(share, set.name+"-%failure-scopes")
			b.ReportMetric(float64(res.FailureSignals), set.name+"-failure-signals")
			b.ReportMetric(readMs(b, db, end), set.name+"-read-ms")
		}
		b.ReportMetric(float64(total), "events")
	}
}

// readMs is the best of three uncached reads of the organisation's metrics
// over the 12 weeks before end, weekly: what the overview reads, over the
// newest refresh's slices.
func readMs(b *testing.B, db *store.DB, end time.Time) float64 {
	b.Helper()
	q := yardstick.MetricQuery{Names: yardstick.MetricNames(), Subjects: []yardstick.EntityRef{yardstick.OrgRef},
		Window: yardstick.Window{From: end.AddDate(0, 0, -84), To: end}, Weekly: true}
	var best time.Duration
	for range 3 {
		m := store.NewMetrics(db, store.MetricsConfig{WriteLag: 100 * time.Millisecond})
		start := time.Now()
		if _, err := m.Metrics(context.Background(), q); err != nil {
			b.Fatal(err)
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	return float64(best.Microseconds()) / 1000
}

func mustRefresh(b *testing.B, m *store.Metrics) store.RefreshResult {
	b.Helper()
	res, err := m.RefreshStats(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return res
}

func benchEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
