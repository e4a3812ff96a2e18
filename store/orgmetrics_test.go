package store_test

import (
	"context"
	"math"
	"testing"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
)

// The organisation alone is computed without a key set (orgmetrics.go); it
// must give what the organisation gets among other subjects, which goes
// through the keyed join.
func TestOrganisationMetricsMatchKeyedQuery(t *testing.T) {
	db := mustMetricDB(t)
	ctx := context.Background()
	for _, weekly := range []bool{false, true} {
		keyed, err := store.NewMetrics(db, store.MetricsConfig{}).Metrics(ctx, yardstick.MetricQuery{
			Names: yardstick.MetricNames(), Subjects: []yardstick.EntityRef{api, yardstick.OrgRef}, Window: metricWindow, Weekly: weekly})
		if err != nil {
			t.Fatal(err)
		}
		alone, err := store.NewMetrics(db, store.MetricsConfig{}).Metrics(ctx, yardstick.MetricQuery{
			Names: yardstick.MetricNames(), Subjects: []yardstick.EntityRef{yardstick.OrgRef}, Window: metricWindow, Weekly: weekly})
		if err != nil {
			t.Fatal(err)
		}
		want, got := keyed[yardstick.OrgRef], alone[yardstick.OrgRef]
		if len(want.Values) == 0 {
			t.Fatal("keyed query has no organisation values: the fixture proves nothing")
		}
		for name, w := range want.Values {
			g, ok := got.Values[name]
			if !ok || g.Count != w.Count || math.Abs(g.Value-w.Value) > 1e-9 {
				t.Errorf("weekly=%v %s = %+v (present %v), want %+v", weekly, name, g, ok, w)
			}
		}
		for name := range got.Values {
			if _, ok := want.Values[name]; !ok {
				t.Errorf("weekly=%v %s present alone, absent keyed", weekly, name)
			}
		}
		for name, w := range want.Series {
			g := got.Series[name]
			if len(g) != len(w) {
				t.Errorf("weekly series %s = %v, want %v", name, g, w)
				continue
			}
			for i := range w {
				if !g[i].Week.Equal(w[i].Week) || g[i].Count != w[i].Count || math.Abs(g[i].Value-w[i].Value) > 1e-9 {
					t.Errorf("weekly series %s[%d] = %+v, want %+v", name, i, g[i], w[i])
				}
			}
		}
	}
}

// The organisation's CI workflows read every mapped scope without a key set;
// in the fixture only alpha's repositories run CI, so they must match alpha's.
func TestOrganisationWorkflowStats(t *testing.T) {
	db := mustMetricDB(t)
	m := store.NewMetrics(db, store.MetricsConfig{})
	ctx := context.Background()
	org, err := m.WorkflowStats(ctx, yardstick.OrgRef, metricWindow)
	if err != nil {
		t.Fatalf("WorkflowStats(org) = %v", err)
	}
	alphaStats, err := m.WorkflowStats(ctx, alpha, metricWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(org) == 0 || len(org) != len(alphaStats) {
		t.Fatalf("WorkflowStats(org) = %+v, want alpha's %+v", org, alphaStats)
	}
	for i := range org {
		if org[i].Workflow != alphaStats[i].Workflow || org[i].Runs != alphaStats[i].Runs || math.Abs(org[i].SuccessRate-alphaStats[i].SuccessRate) > 1e-9 {
			t.Errorf("WorkflowStats(org)[%d] = %+v, want %+v", i, org[i], alphaStats[i])
		}
	}
}
