package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// A cluster reads several families per query (familyReads), whose
// aggregates keep each family's own rows; one server reads one family per
// query. Both must give every figure alike, on the hand-made organisation
// and on a generated one where every family has rows and weeks lack some
// families.
func TestGroupedReadsEqualOneReadPerFamily(t *testing.T) {
	ctx := context.Background()
	gen := newDB(t)
	org := fixtures.Generate(fixtures.GenConfig{Components: 12, Days: 120, Seed: 7})
	storetest.MustImportOrg(t, gen, org)
	storetest.MustStreamOrg(t, gen, org, func(yardstick.Event) bool { return true })
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)

	for _, tc := range []struct {
		name string
		db   *store.DB
		w    yardstick.Window
	}{
		{"hand-made", mustMetricDB(t), metricWindow},
		{"generated", gen, yardstick.Window{From: end.AddDate(0, 0, -84), To: end}},
	} {
		perFamily, grouped := store.NewMetrics(tc.db, store.MetricsConfig{}), store.NewMetrics(tc.db, store.MetricsConfig{})
		store.SetGroupReads(perFamily, false)
		store.SetGroupReads(grouped, true)
		byEntity, err := perFamily.MetricsByEntity(ctx, yardstick.MetricNames(), tc.w)
		if err != nil {
			t.Fatal(err)
		}
		var subjects []yardstick.EntityRef
		for ref := range byEntity {
			subjects = append(subjects, ref)
		}
		if len(subjects) < 2 {
			t.Fatalf("%s: %d subjects with metrics: the fixture proves nothing", tc.name, len(subjects))
		}
		queries := []yardstick.MetricQuery{
			{Subjects: []yardstick.EntityRef{yardstick.OrgRef}, Weekly: true},
			{Subjects: []yardstick.EntityRef{yardstick.OrgRef}},
			{Subjects: subjects[:1], Weekly: true},
			{Subjects: subjects},
			{Subjects: subjects, Weekly: true},
			{Subjects: subjects[:1], Names: []string{yardstick.MetricLeadTimeP50Hours, yardstick.MetricCIRuns}, Weekly: true},
		}
		for i, q := range queries {
			if q.Names == nil {
				q.Names = yardstick.MetricNames()
			}
			q.Window = tc.w
			want, err := perFamily.Metrics(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := grouped.Metrics(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			values := 0
			for _, r := range want {
				values += len(r.Values)
			}
			if values == 0 {
				t.Fatalf("%s query %d: no values: the fixture proves nothing", tc.name, i)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("%s query %d (%d subjects, weekly %v): grouped reads differ from one read per family (-want +got):\n%s", tc.name, i, len(q.Subjects), q.Weekly, diff)
			}
		}
		got, err := grouped.MetricsByEntity(ctx, yardstick.MetricNames(), tc.w)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(byEntity, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
			t.Errorf("%s: MetricsByEntity: grouped reads differ from one read per family (-want +got):\n%s", tc.name, diff)
		}
	}
}
