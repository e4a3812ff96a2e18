package clustertest_test

import (
	"context"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkClusterPageData reads the metrics behind the pages (the org, a
// squad and a component with weekly series, every component's figures) on
// the 2-shard cluster and on one server holding the same generated
// organisation, and reports each side by side: single-<read>-ms,
// cluster-<read>-ms and cluster/single-<read>. Each read uses a new
// store.Metrics, so nothing is cached. It also reports the full refresh on
// each. YARDSTICK_CLUSTER_BENCH_COMPONENTS (default 200) and
// YARDSTICK_CLUSTER_BENCH_EVENTS (default 500,000) size the organisation,
// whose events are streamed into each store, never held. They are its own:
// YARDSTICK_BENCH_EVENTS=100000000, which `make bench` takes for the 100M
// one-server figures, would otherwise load 100M events into three servers
// on loopback as well.
func BenchmarkClusterPageData(b *testing.B) {
	components := envInt("YARDSTICK_CLUSTER_BENCH_COMPONENTS", 200)
	cfg := fixtures.GenConfig{Components: components, Days: fixtures.DaysForEvents(components, envInt("YARDSTICK_CLUSTER_BENCH_EVENTS", 500_000))}
	o := fixtures.Generate(cfg)
	entities := storetest.MustCatalog(b, o)
	clusterDB, single, _ := newDBPair(b, "cl_bench")
	mcfg := store.MetricsConfig{}
	dbs := []struct {
		name string
		db   *store.DB
	}{{"single", single}, {"cluster", clusterDB}}
	refresh := map[string]float64{}
	for _, d := range dbs {
		if _, err := d.db.ReplaceCatalog(context.Background(), entities); err != nil {
			b.Fatalf("%s: ReplaceCatalog() = %v", d.name, err)
		}
		wrote, _ := storetest.MustStreamOrg(b, d.db, o, nil)
		b.Logf("%s: %d components, %d events over %d days", d.name, components, wrote, cfg.Days)
		start := time.Now()
		if err := store.NewMetrics(d.db, mcfg).Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		refresh[d.name] = time.Since(start).Seconds()
	}
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	w := yardstick.Window{From: end.AddDate(0, 0, -84), To: end}
	var squad, comp yardstick.EntityRef
	var comps []yardstick.EntityRef
	for _, e := range entities {
		switch {
		case e.Kind == "Group" && e.Type == "team" && squad == "":
			squad = e.Ref
		case e.Kind == "Component":
			comps = append(comps, e.Ref)
		}
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i] < comps[j] })
	comp = comps[0]
	if squad == "" {
		squad = comps[0]
	}
	reads := []struct {
		name string
		q    yardstick.MetricQuery
	}{
		{"overview", yardstick.MetricQuery{Names: yardstick.MetricNames(), Subjects: []yardstick.EntityRef{yardstick.OrgRef}, Window: w, Weekly: true}},
		{"squad", yardstick.MetricQuery{Names: yardstick.MetricNames(), Subjects: []yardstick.EntityRef{squad}, Window: w, Weekly: true}},
		{"component", yardstick.MetricQuery{Names: yardstick.MetricNames(), Subjects: []yardstick.EntityRef{comp}, Window: w, Weekly: true}},
		{"components", yardstick.MetricQuery{Names: yardstick.MetricNames(), Subjects: comps, Window: w}},
	}
	const perRead = 5
	b.ResetTimer()
	for range b.N {
		for _, r := range reads {
			var ms [2]float64
			for i, d := range dbs {
				var best time.Duration
				for range perRead {
					m := store.NewMetrics(d.db, mcfg)
					start := time.Now()
					if _, err := m.Metrics(context.Background(), r.q); err != nil {
						b.Fatalf("%s %s: %v", d.name, r.name, err)
					}
					if t := time.Since(start); best == 0 || t < best {
						best = t
					}
				}
				ms[i] = float64(best.Microseconds()) / 1000
				b.ReportMetric(ms[i], d.name+"-"+r.name+"-ms")
			}
			b.ReportMetric(ms[1]/ms[0], "cluster/single-"+r.name)
		}
	}
	// After the loop: ResetTimer drops metrics reported before it.
	for name, s := range refresh {
		b.ReportMetric(s, name+"-refresh-s")
	}
}
